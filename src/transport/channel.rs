//! Whole responses over any transport: `61xx` resolved with GET RESPONSE, `6Cxx` by resending
//! the command with the right Le (ISO/IEC 7816-3 §12.2.2 and §12.2.3, ISO/IEC 7816-4 §5.3.4,
//! ETSI TS 102 221 §7.3.1.1.4).
//!
//! - `61xx`: the data so far is kept and GET RESPONSE `0X C0 00 00 xx` is sent: class `00` on
//!   the logical channel of the original command (no secure messaging: GPCS v2.3.1 §11.1.5.2,
//!   GET RESPONSE is never wrapped), Le = `xx` (`00` = 256). Repeated while the card answers
//!   `61xx`; the data of every answer is concatenated and the last status word ends it.
//! - `6Cxx`: the card did not process the command; it is sent again, in the same (short or
//!   extended) form, with Le = `xx` (`00` = 256). If the card answers `6Cxx` to a command that
//!   already had that Le, the answer is returned as it is.
//! - `9Fxx` (GSM 11.11 / ETSI TS 51.011 §9.4.1, "length xx of the response data"): resolved
//!   like `61xx`, but only for commands whose class says UICC or SIM: `A0` (GSM; its GET
//!   RESPONSE also uses class `A0`) and the interindustry classes `00`–`7F`. For proprietary
//!   classes (`80`–`FF` other than `A0`, e.g. GlobalPlatform `80`/`84`), `9Fxx` has no defined
//!   meaning and is passed through.
//!
//! - `62xx`/`63xx` without data to a command with data (case 4 under T=0, ETSI TS 102 221
//!   §7.3.1.1.4 4b): the card may hold data and announce it with the warning; GET RESPONSE
//!   with Le `00` is sent once, and its `6Cxx` leads to the data with the warning. When the
//!   card has none (it answers the GET RESPONSE with an error), the warning is the answer.
//!
//! A card that never stops asking for more is cut off after [`MAX_ROUNDS`] exchanges with
//! [`TransportError::ResponseNeverEnds`].

use super::{Transport, TransportError};
use smsr_proto::apdu::{channel_of, cla_with_channel, SHORT_LE_MAX};
use smsr_proto::CommandApdu;

/// Exchanges allowed for one command (256 rounds of 256 bytes is a full extended response).
pub const MAX_ROUNDS: usize = 300;

/// GET RESPONSE.
pub const INS_GET_RESPONSE: u8 = 0xC0;

/// The GSM class byte (ETSI TS 51.011).
const CLA_GSM: u8 = 0xA0;

/// A decorator that hands callers whole responses.
#[derive(Debug)]
pub struct ResponseAssembler<T> {
    inner: T,
}

impl<T: Transport> ResponseAssembler<T> {
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped transport.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the decorator.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// The GET RESPONSE that fetches `sw2` bytes for a command of class `cla`.
pub fn get_response(cla: u8, sw2: u8) -> Vec<u8> {
    let class = if cla == CLA_GSM {
        CLA_GSM
    } else {
        // A channel number from a class byte is at most 19: always accepted.
        cla_with_channel(0x00, channel_of(cla)).unwrap_or(0x00)
    };
    vec![class, INS_GET_RESPONSE, 0x00, 0x00, sw2]
}

/// Whether `9Fxx` is a "response data available" for a command of class `cla`.
fn gsm_response_applies(cla: u8) -> bool {
    cla == CLA_GSM || cla & 0x80 == 0
}

/// `command` with Ne = `sw2` (`00` = 256), in the form it was in; `None` if it is not a valid
/// APDU or already asks for that length.
fn with_le(command: &[u8], sw2: u8) -> Option<Vec<u8>> {
    let parsed = CommandApdu::parse(command).ok()?;
    let ne = if sw2 == 0 {
        SHORT_LE_MAX
    } else {
        usize::from(sw2)
    };
    if parsed.le == Some(ne) {
        return None;
    }
    let extended = command.len() >= 7 && command[4] == 0;
    parsed.with_le(ne).encode(extended).ok()
}

impl<T: Transport> Transport for ResponseAssembler<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let cla = command.first().copied().unwrap_or_default();
        let mut current = command.to_vec();
        let mut data = Vec::new();
        // Case 4: a warning alone may announce data (4b); asked for once, kept if none comes.
        let mut case_4_warning = CommandApdu::parse(command).is_ok_and(|c| !c.data.is_empty());
        let mut warning: Option<Vec<u8>> = None;
        for _ in 0..MAX_ROUNDS {
            let mut response = self.inner.transmit(&current)?;
            let [.., sw1, sw2] = response[..] else {
                return Err(TransportError::ResponseTooShort {
                    reader: self.inner.reader_name(),
                    len: response.len(),
                });
            };
            match sw1 {
                0x6C => {
                    if let Some(again) = with_le(&current, sw2) {
                        current = again;
                        continue;
                    }
                }
                0x62 | 0x63
                    if response.len() == 2
                        && data.is_empty()
                        && std::mem::take(&mut case_4_warning) =>
                {
                    warning = Some(response);
                    current = get_response(cla, 0);
                    continue;
                }
                _ if warning.is_some() && response.len() == 2 && sw1 != 0x61 => {
                    // No data behind the warning after all.
                    return Ok(warning.unwrap_or(response));
                }
                0x61 => {
                    response.truncate(response.len() - 2);
                    data.extend_from_slice(&response);
                    current = get_response(cla, sw2);
                    continue;
                }
                0x9F if gsm_response_applies(cla) => {
                    response.truncate(response.len() - 2);
                    data.extend_from_slice(&response);
                    current = get_response(cla, sw2);
                    continue;
                }
                _ => {}
            }
            data.extend_from_slice(&response);
            return Ok(data);
        }
        Err(TransportError::ResponseNeverEnds {
            reader: self.inner.reader_name(),
            rounds: MAX_ROUNDS,
        })
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.inner.reset()
    }

    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn reader_name(&self) -> String {
        self.inner.reader_name()
    }
}

#[cfg(test)]
mod tests;
