//! The SCP03 session engine shared by the host, the card and the trace observer (Amendment D
//! v1.2 §6.2.3–§6.2.7).
//!
//! - C-MAC (§6.2.4): CMAC(S-MAC, MAC chaining value ‖ CLA' INS P1 P2 Lc' ‖ data'); the first 8
//!   (S8) or all 16 (S16) bytes are sent; the full 16 bytes become the next chaining value.
//!   CLA' has the logical channel zeroed and b3 ('04') set; the channel is put back afterwards
//!   (channels 4–19 signal secure messaging with b6). Lc' counts the MAC; Le is never MACed.
//!   The chaining value starts at 16 × '00' for EXTERNAL AUTHENTICATE (§6.2.3).
//! - C-DECRYPTION (§6.2.6): an encryption counter starts at 1 for the first command after
//!   EXTERNAL AUTHENTICATE and counts every command, with or without data; ICV =
//!   AES-ECB(S-ENC, counter as a 16-byte block); data is padded `80 00…` and CBC-encrypted
//!   before the MAC is computed. Commands without data are not encrypted.
//! - R-MAC (§6.2.5): CMAC(S-RMAC, chaining value ‖ response data ‖ SW1 SW2), only for '9000'
//!   and warnings '62xx'/'63xx'; it does not change the chaining value.
//! - R-ENCRYPTION (§6.2.7): ICV from the same counter block with its first byte set to '80';
//!   no encryption when the response has no data.
//!
//! Lengths: Lc' above 255 is an error unless extended APDUs are enabled; the MAC then covers the
//! extended Lc (`00 Lc1 Lc2`), chosen exactly when [`CommandApdu::needs_extended`] chooses it.

use super::cipher::{cbc_decrypt, cbc_encrypt_padded, ecb_encrypt_block, unpad};
use super::cryptogram::{ScpMode, SecurityLevel};
use super::initialize_update::has_secure_messaging;
use super::kdf::aes_cmac;
use super::keys::SessionKeys;
use super::ScpError;
use crate::apdu::{cla_with_channel, CommandApdu, ResponseApdu, EXTENDED_LC_MAX, SHORT_LE_MAX};
use crate::status::StatusWord;
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Whether a status word gets R-MAC/R-ENCRYPTION (§6.2.5: '9000' and warnings '62xx', '63xx').
pub fn is_protected_status(sw: StatusWord) -> bool {
    sw == StatusWord::Success || sw.is_warning()
}

/// Checks a class byte and returns its C-MAC form (channel 0, GP secure messaging bit) and
/// its logical channel.
fn mac_class(cla: u8) -> Result<(u8, u8), ScpError> {
    if cla == 0xFF || (cla & 0x40 == 0 && cla & 0x20 != 0) {
        return Err(ScpError::BadClass(cla));
    }
    if cla & 0x10 != 0 {
        return Err(ScpError::CommandChaining(cla));
    }
    Ok(((cla & 0x80) | 0x04, crate::apdu::channel_of(cla)))
}

/// The MAC chaining value, zeroized on drop.
#[derive(Clone, Default)]
struct Chaining([u8; 16]);

impl Drop for Chaining {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A command whose C-MAC has been checked but whose data may still be encrypted.
#[derive(Debug)]
pub struct CheckedCommand {
    header: [u8; 4],
    le: Option<usize>,
    data: Vec<u8>,
    counter: u128,
    encrypted: bool,
    /// `Some(result)` when the command carried a C-MAC, `None` when it was sent in clear.
    pub mac_ok: Option<bool>,
}

/// A response whose R-MAC has been checked but whose data may still be encrypted.
#[derive(Debug)]
pub struct CheckedResponse {
    data: Vec<u8>,
    sw: StatusWord,
    encrypted: bool,
    /// `Some(result)` when an R-MAC was expected, `None` when none applies.
    pub mac_ok: Option<bool>,
}

/// The state of an open secure channel session, identical on both ends.
#[derive(Clone)]
pub struct SecureMessaging {
    keys: SessionKeys,
    mode: ScpMode,
    level: SecurityLevel,
    chaining: Chaining,
    counter: u128,
    extended: bool,
}

impl fmt::Debug for SecureMessaging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureMessaging")
            .field("mode", &self.mode)
            .field("level", &self.level)
            .field("counter", &self.counter)
            .field("extended", &self.extended)
            .finish_non_exhaustive()
    }
}

impl SecureMessaging {
    /// A session before EXTERNAL AUTHENTICATE: chaining value 16 × '00', counter 0.
    pub fn new(keys: SessionKeys, mode: ScpMode, level: SecurityLevel) -> Self {
        Self {
            keys,
            mode,
            level,
            chaining: Chaining::default(),
            counter: 0,
            extended: false,
        }
    }

    /// Allows extended-length APDUs when a wrapped command no longer fits a short Lc.
    #[must_use]
    pub fn with_extended_length(mut self, allowed: bool) -> Self {
        self.extended = allowed;
        self
    }

    /// The session's security level.
    pub fn level(&self) -> SecurityLevel {
        self.level
    }

    /// S8 or S16.
    pub fn mode(&self) -> ScpMode {
        self.mode
    }

    /// The encryption counter of the last command (0 before the first).
    pub fn counter(&self) -> u128 {
        self.counter
    }

    /// The current MAC chaining value (the full C-MAC of the last command).
    pub fn mac_chaining_value(&self) -> [u8; 16] {
        self.chaining.0
    }

    fn next_counter(&mut self) -> Result<u128, ScpError> {
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(ScpError::CounterExhausted)?;
        Ok(self.counter)
    }

    /// ICV for command encryption: AES-ECB(S-ENC, counter block).
    pub fn command_icv(&self, counter: u128) -> [u8; 16] {
        ecb_encrypt_block(&self.keys.s_enc, counter.to_be_bytes())
    }

    /// ICV for response encryption: AES-ECB(S-ENC, counter block with first byte '80').
    pub fn response_icv(&self, counter: u128) -> [u8; 16] {
        let mut block = counter.to_be_bytes();
        block[0] = 0x80;
        ecb_encrypt_block(&self.keys.s_enc, block)
    }

    /// Full CMAC over chaining ‖ CLA' INS P1 P2 Lc' ‖ data'.
    fn c_mac(&self, header: [u8; 4], lc: usize, extended: bool, data: &[u8]) -> [u8; 16] {
        let [hi, lo] = u16::try_from(lc).unwrap_or(u16::MAX).to_be_bytes();
        let lc_bytes: &[u8] = if extended { &[0, hi, lo] } else { &[lo] };
        aes_cmac(
            &self.keys.s_mac,
            &[&self.chaining.0, &header, lc_bytes, data],
        )
    }

    /// Adds the C-MAC to a command without encrypting it or counting it (EXTERNAL
    /// AUTHENTICATE, §6.2.3).
    pub fn mac_only(&mut self, cmd: &CommandApdu) -> Result<CommandApdu, ScpError> {
        self.protect(cmd, false)
    }

    /// Host side: protects a command at the session's level. Every call counts, even at level
    /// '00' where the command goes out unchanged. Nothing changes when an error is returned.
    pub fn wrap_command(&mut self, cmd: &CommandApdu) -> Result<CommandApdu, ScpError> {
        self.protect(cmd, true)
    }

    fn protect(&mut self, cmd: &CommandApdu, counted: bool) -> Result<CommandApdu, ScpError> {
        let (mac_cla, channel) = mac_class(cmd.cla)?;
        if has_secure_messaging(cmd.cla) {
            return Err(ScpError::AlreadySecured(cmd.cla));
        }
        let sent_cla = cla_with_channel(mac_cla, channel)?;
        if counted && !self.level.c_mac() {
            self.next_counter()?;
            return Ok(cmd.clone());
        }
        let encrypt = counted && self.level.c_dec() && !cmd.data.is_empty();
        let data_len = if encrypt {
            (cmd.data.len() / 16 + 1) * 16
        } else {
            cmd.data.len()
        };
        let mac_len = self.mode.mac_len();
        let lc = data_len + mac_len;
        if lc > 255 && !self.extended {
            return Err(ScpError::LcTooLong(lc));
        }
        if lc > EXTENDED_LC_MAX {
            return Err(crate::apdu::ApduError::DataTooLong(lc).into());
        }
        if counted {
            self.next_counter()?;
        }
        let mut data = if encrypt {
            cbc_encrypt_padded(&self.keys.s_enc, &self.command_icv(self.counter), &cmd.data)
        } else {
            cmd.data.clone()
        };
        let extended = lc > 255 || cmd.le.is_some_and(|le| le > SHORT_LE_MAX);
        let mac = self.c_mac([mac_cla, cmd.ins, cmd.p1, cmd.p2], lc, extended, &data);
        self.chaining = Chaining(mac);
        data.extend_from_slice(&mac[..mac_len]);
        Ok(CommandApdu {
            cla: sent_cla,
            ins: cmd.ins,
            p1: cmd.p1,
            p2: cmd.p2,
            data,
            le: cmd.le,
        })
    }

    /// Card side, step 1: counts the command and checks its C-MAC (if it has one), updating
    /// the chaining value. A command in clear at a level that requires a C-MAC is an error; a
    /// command with a C-MAC at level '00' is checked too. `mac_ok` reports the comparison.
    pub fn check_command(&mut self, cmd: &CommandApdu) -> Result<CheckedCommand, ScpError> {
        self.next_counter()?;
        self.check(cmd, true)
    }

    /// Checks the C-MAC of EXTERNAL AUTHENTICATE (no counter, no decryption).
    pub fn check_external_authenticate(
        &mut self,
        cmd: &CommandApdu,
    ) -> Result<CheckedCommand, ScpError> {
        self.check(cmd, false)
    }

    fn check(&mut self, cmd: &CommandApdu, counted: bool) -> Result<CheckedCommand, ScpError> {
        let (mac_cla, channel) = mac_class(cmd.cla)?;
        let plain_cla = cla_with_channel(cmd.cla & 0x80, channel)?;
        let header = [plain_cla, cmd.ins, cmd.p1, cmd.p2];
        let counter = self.counter;
        if !has_secure_messaging(cmd.cla) {
            if !counted || self.level.c_mac() {
                return Err(ScpError::BelowSecurityLevel(cmd.cla));
            }
            return Ok(CheckedCommand {
                header,
                le: cmd.le,
                data: cmd.data.clone(),
                counter,
                encrypted: false,
                mac_ok: None,
            });
        }
        if cmd.cla & 0x40 == 0 && cmd.cla & 0x0C != 0x04 {
            // ISO secure messaging ('08'/'0C'), not GlobalPlatform's.
            return Err(ScpError::BadClass(cmd.cla));
        }
        let mac_len = self.mode.mac_len();
        let Some(split) = cmd.data.len().checked_sub(mac_len) else {
            return Err(ScpError::CMacMissing(mac_len));
        };
        let (data, mac) = cmd.data.split_at(split);
        let full = self.c_mac(
            [mac_cla, cmd.ins, cmd.p1, cmd.p2],
            cmd.data.len(),
            cmd.needs_extended(),
            data,
        );
        let ok = bool::from(full[..mac_len].ct_eq(mac));
        self.chaining = Chaining(full);
        Ok(CheckedCommand {
            header,
            le: cmd.le,
            data: data.to_vec(),
            counter,
            encrypted: counted && self.level.c_dec(),
            mac_ok: Some(ok),
        })
    }

    /// Card side, step 2: decrypts the data of a checked command and returns the plain command
    /// (CLA without secure messaging, channel kept). `strict_padding` requires the padding to
    /// fit one block, as a card checks it.
    pub fn open_command(
        &self,
        checked: CheckedCommand,
        strict_padding: bool,
    ) -> Result<CommandApdu, ScpError> {
        let [cla, ins, p1, p2] = checked.header;
        let data = if checked.encrypted && !checked.data.is_empty() {
            let icv = self.command_icv(checked.counter);
            let padded = cbc_decrypt(&self.keys.s_enc, &icv, &checked.data)?;
            unpad(&padded, strict_padding)?
        } else {
            checked.data
        };
        Ok(CommandApdu {
            cla,
            ins,
            p1,
            p2,
            data,
            le: checked.le,
        })
    }

    /// Card side: protects a response to the last command (R-ENCRYPTION, then R-MAC) when the
    /// level asks for it and the status word is '9000', '62xx' or '63xx'.
    pub fn wrap_response(&self, resp: &ResponseApdu) -> ResponseApdu {
        if !self.level.r_mac() || !is_protected_status(resp.sw) {
            return resp.clone();
        }
        let mut data = if self.level.r_enc() && !resp.data.is_empty() {
            cbc_encrypt_padded(
                &self.keys.s_enc,
                &self.response_icv(self.counter),
                &resp.data,
            )
        } else {
            resp.data.clone()
        };
        let mac = self.r_mac(&data, resp.sw);
        data.extend_from_slice(&mac[..self.mode.mac_len()]);
        ResponseApdu::new(data, resp.sw)
    }

    fn r_mac(&self, data: &[u8], sw: StatusWord) -> [u8; 16] {
        aes_cmac(&self.keys.s_rmac, &[&self.chaining.0, data, &sw.to_bytes()])
    }

    /// Host side, step 1: checks the R-MAC of a response to the last command.
    pub fn check_response(&self, resp: &ResponseApdu) -> Result<CheckedResponse, ScpError> {
        if !self.level.r_mac() || !is_protected_status(resp.sw) {
            return Ok(CheckedResponse {
                data: resp.data.clone(),
                sw: resp.sw,
                encrypted: false,
                mac_ok: None,
            });
        }
        let mac_len = self.mode.mac_len();
        let Some(split) = resp.data.len().checked_sub(mac_len) else {
            return Err(ScpError::RMacMissing(mac_len));
        };
        let (data, mac) = resp.data.split_at(split);
        let full = self.r_mac(data, resp.sw);
        Ok(CheckedResponse {
            data: data.to_vec(),
            sw: resp.sw,
            encrypted: self.level.r_enc(),
            mac_ok: Some(bool::from(full[..mac_len].ct_eq(mac))),
        })
    }

    /// Host side, step 2: decrypts the data of a checked response. Padding past one block is
    /// accepted (some cards write it).
    pub fn open_response(&self, checked: CheckedResponse) -> Result<ResponseApdu, ScpError> {
        let data = if checked.encrypted && !checked.data.is_empty() {
            let icv = self.response_icv(self.counter);
            let padded = cbc_decrypt(&self.keys.s_enc, &icv, &checked.data)?;
            unpad(&padded, false)?
        } else {
            checked.data
        };
        Ok(ResponseApdu::new(data, checked.sw))
    }
}

#[cfg(test)]
mod tests;
