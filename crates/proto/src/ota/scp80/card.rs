//! The receiving entity (the card side of ETSI TS 102 225 §5.1 and 3GPP TS 31.115 §4): TAR
//! lookup, minimum security level, deciphering and RC/CC check, counter rules, and the Proof of
//! Receipt policy.
//!
//! Checks run in this order, each failure giving its response status:
//!
//! | step | failure | status |
//! |---|---|---|
//! | CPL and header present | no PoR at all (the packet cannot be addressed) | — |
//! | TAR known | | `09` TAR unknown |
//! | SPI valid, algorithms supported, keys present, CHL | | `06` unidentified security error |
//! | SPI1 meets the TAR's minimum security level | | `0A` insufficient security level |
//! | deciphering, PCNTR | | `05` ciphering error |
//! | RC/CC | | `01` RC/CC/DS failed |
//! | counter (see [`check_counter`]) | | `02` low, `03` high, `04` blocked |
//!
//! A PoR is sent when SPI2 asks for one (always, or on error only); rejections with the statuses
//! of [`PorStatus::is_sent_unsecured`] go back unciphered and without RC/CC.

use super::packet::{ClearHeader, CommandHeader, CommandPacket, KeySet, Tar};
use super::por::{PorStatus, ResponsePacket};
use super::spi::{CounterMode, Integrity, PorRequest, Spi};
use super::{Scp80Error, COUNTER_MAX};

/// Minimum security level of a TAR (TS 102 226 §8.2.1.3.2.4.2), coded like SPI1: b2..b1 the
/// least RC/CC/DS (`00` none < `01` RC < `10` CC < `11` DS), b3 ciphering required, b5..b4 the
/// least counter mode (`00` < `01` available < `10` higher < `11` one higher).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MinimumSecurityLevel(pub u8);

impl MinimumSecurityLevel {
    /// No requirement.
    pub const NONE: Self = Self(0x00);
    /// CC, ciphering and a counter that must be higher (SPI1 `16`).
    pub const CC_CIPHERED_COUNTER: Self = Self(0x16);

    /// Whether a command's SPI meets this level.
    pub fn is_met_by(self, spi: &Spi) -> bool {
        let spi1 = spi.to_bytes()[0];
        (spi1 & 0x03) >= (self.0 & 0x03)
            && (spi1 & 0x04) >= (self.0 & 0x04)
            && (spi1 & 0x18) >= (self.0 & 0x18)
    }
}

/// Applies the counter rule of SPI1 b5..b4 (TS 102 225 §5.1.1) to a received counter and the
/// receiving entity's counter; returns the new RE counter (`None`: unchanged).
///
/// A counter that has reached `FF FF FF FF FF` is blocked for the modes that check it. "No
/// counter" and "counter available" do not check or change the RE counter.
pub fn check_counter(
    mode: CounterMode,
    received: u64,
    current: u64,
) -> Result<Option<u64>, PorStatus> {
    match mode {
        CounterMode::None | CounterMode::Available => Ok(None),
        _ if current >= COUNTER_MAX => Err(PorStatus::CounterBlocked),
        CounterMode::Higher if received > current => Ok(Some(received)),
        CounterMode::Higher => Err(PorStatus::CounterLow),
        CounterMode::OneHigher if received == current + 1 => Ok(Some(received)),
        CounterMode::OneHigher if received <= current => Err(PorStatus::CounterLow),
        CounterMode::OneHigher => Err(PorStatus::CounterHigh),
    }
}

/// The result of receiving a command packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reception {
    /// Security verified and the counter updated: run `data` and answer with
    /// [`ReceivingEntity::por`].
    Accepted(CommandPacket),
    /// Refused with `status`; `por` is the PoR user data to send back, if SPI2 asks for one.
    Rejected {
        status: PorStatus,
        error: Option<Scp80Error>,
        por: Option<Vec<u8>>,
    },
    /// Too malformed to address a PoR.
    Dropped(Scp80Error),
}

/// The card's SCP80 state: key sets (with their counters) and the TARs it serves.
#[derive(Clone, Debug, Default)]
pub struct ReceivingEntity {
    pub keysets: Vec<KeySet>,
    pub tars: Vec<(Tar, MinimumSecurityLevel)>,
}

impl ReceivingEntity {
    /// Checks and opens a command packet (CPL onwards).
    pub fn receive(&mut self, packet: &[u8]) -> Reception {
        let clear = match CommandPacket::peek(packet) {
            Ok(c) => c,
            Err(e) => return Reception::Dropped(e),
        };
        let spi = clear.spi.clone().ok();
        let reject = |keysets: &[KeySet], status, error, counter| {
            rejection(keysets, &clear, spi, status, error, counter)
        };
        let Some(&(_, msl)) = self.tars.iter().find(|(t, _)| *t == clear.tar) else {
            return reject(&self.keysets, PorStatus::TarUnknown, None, 0);
        };
        let Some(spi) = spi else {
            let error = clear.spi.clone().err();
            return reject(
                &self.keysets,
                PorStatus::UnidentifiedSecurityError,
                error,
                0,
            );
        };
        if !msl.is_met_by(&spi) {
            return reject(&self.keysets, PorStatus::InsufficientSecurityLevel, None, 0);
        }
        let cmd = match CommandPacket::decode(packet, &self.keysets) {
            Ok(c) => c,
            Err(e) => {
                let status = match e {
                    Scp80Error::NotBlockAligned(_) | Scp80Error::BadPadding { .. } => {
                        PorStatus::CipheringError
                    }
                    Scp80Error::ChecksumMismatch => PorStatus::RcCcDsFailed,
                    Scp80Error::Truncated { .. } if spi.ciphered => PorStatus::CipheringError,
                    _ => PorStatus::UnidentifiedSecurityError,
                };
                return reject(&self.keysets, status, Some(e), 0);
            }
        };
        let counter_kvn = if spi.integrity == Integrity::Cc {
            clear.kid.key_version()
        } else {
            clear.kic.key_version()
        };
        let received = cmd.header.counter;
        if !matches!(spi.counter, CounterMode::None | CounterMode::Available) {
            let checked = match self.keysets.iter_mut().find(|k| k.kvn == counter_kvn) {
                None => Err((
                    PorStatus::UnidentifiedSecurityError,
                    Some(Scp80Error::MissingKey("counter")),
                )),
                Some(ks) => match check_counter(spi.counter, received, ks.counter) {
                    Ok(new) => {
                        ks.counter = new.unwrap_or(ks.counter);
                        Ok(())
                    }
                    Err(status) => Err((status, None)),
                },
            };
            if let Err((status, error)) = checked {
                return reject(&self.keysets, status, error, received);
            }
        }
        Reception::Accepted(cmd)
    }

    /// The PoR for an accepted command, if SPI2 asks for one: always, or (PoR on error) only
    /// when `status` is not [`PorStatus::Ok`].
    pub fn por(
        &self,
        command: &CommandHeader,
        status: PorStatus,
        data: &[u8],
    ) -> Result<Option<Vec<u8>>, Scp80Error> {
        let wanted = match command.spi.por {
            PorRequest::None => false,
            PorRequest::Always => true,
            PorRequest::OnError => status != PorStatus::Ok,
        };
        if !wanted {
            return Ok(None);
        }
        ResponsePacket {
            tar: command.tar,
            counter: command.counter,
            status,
            data: data.to_vec(),
        }
        .encode(command, &self.keysets)
        .map(Some)
    }
}

/// A rejection, with the PoR SPI2 asks for (unsecured for the statuses that require it).
fn rejection(
    keysets: &[KeySet],
    clear: &ClearHeader,
    spi: Option<Spi>,
    status: PorStatus,
    error: Option<Scp80Error>,
    counter: u64,
) -> Reception {
    let por = spi.filter(|s| s.por != PorRequest::None).and_then(|s| {
        let r = ResponsePacket {
            tar: clear.tar,
            counter,
            status,
            data: Vec::new(),
        };
        let header = CommandHeader {
            spi: s,
            kic: clear.kic,
            kid: clear.kid,
            tar: clear.tar,
            counter,
        };
        if status.is_sent_unsecured() {
            r.encode_unsecured().ok()
        } else {
            r.encode(&header, keysets).ok()
        }
    });
    Reception::Rejected { status, error, por }
}
