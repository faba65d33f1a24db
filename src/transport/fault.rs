//! A fault-injecting decorator for tests: loses or corrupts responses, fails transmits and
//! resets the card at chosen points, so the layers above can be tested against the failures
//! real readers and cards produce.
//!
//! Faults are scheduled by the 1-based number of the [`Transport::transmit`] call they hit
//! (counted at this layer: placed under a [`super::channel::ResponseAssembler`], every GET
//! RESPONSE counts).

use super::{Transport, TransportError};
use std::collections::BTreeMap;

/// One failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The command reaches the card but its response is lost:
    /// [`TransportError::ResponseLost`].
    DropResponse,
    /// The response comes back with the byte at `offset` XORed with `mask` (an offset past the
    /// end hits the last byte).
    CorruptResponse { offset: usize, mask: u8 },
    /// The transmit fails before the command reaches the card:
    /// [`TransportError::ResponseLost`].
    FailTransmit,
    /// The card is reset instead of receiving the command: [`TransportError::CardReset`], as
    /// PC/SC reports a reset by another program. The next command goes to the fresh card.
    ResetCard,
    /// The process ends (abort) before the command reaches the card: a crash, `kill -9` or a
    /// power cut of the host at that point.
    AbortBefore,
    /// The process ends (abort) after the card handled the command, before its answer is used.
    AbortAfter,
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// `drop`, `fail`, `reset`, `corrupt` (the response's first byte flipped), `abort-before`,
    /// `abort-after`.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "drop" => Self::DropResponse,
            "fail" => Self::FailTransmit,
            "reset" => Self::ResetCard,
            "corrupt" => Self::CorruptResponse {
                offset: 0,
                mask: 0x01,
            },
            "abort-before" => Self::AbortBefore,
            "abort-after" => Self::AbortAfter,
            other => {
                return Err(format!(
                    "fault {other:?}: drop, fail, reset, corrupt, abort-before or abort-after"
                ))
            }
        })
    }
}

/// The variable that schedules faults in any `smsr` command that opens a card, for the fault
/// campaign (`scripts/fault-campaign.sh`) and its tests: `KIND@N[,KIND@N…]`, N the 1-based
/// APDU exchange (GET RESPONSE included) the fault hits, e.g. `SMSR_FAULT=abort-after@17`.
pub const FAULT_VARIABLE: &str = "SMSR_FAULT";

/// Reads a fault schedule (`KIND@N[,KIND@N…]`).
pub fn parse_schedule(text: &str) -> Result<Vec<(usize, Fault)>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|part| {
            let (kind, n) = part.trim().split_once('@').ok_or_else(|| {
                format!("{FAULT_VARIABLE} {part:?}: KIND@N expected, e.g. drop@12")
            })?;
            let n: usize = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("{FAULT_VARIABLE} {part:?}: N is an exchange number from 1")
            })?;
            Ok((n, kind.parse()?))
        })
        .collect()
}

/// The decorator.
#[derive(Debug)]
pub struct FaultInjector<T> {
    inner: T,
    faults: BTreeMap<usize, Fault>,
    transmits: usize,
    injected: Vec<(usize, Fault)>,
}

impl<T: Transport> FaultInjector<T> {
    /// No faults scheduled yet.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            faults: BTreeMap::new(),
            transmits: 0,
            injected: Vec::new(),
        }
    }

    /// Schedules `fault` for the `n`-th transmit (1-based, counted from creation).
    #[must_use]
    pub fn at(mut self, n: usize, fault: Fault) -> Self {
        self.schedule(n, fault);
        self
    }

    /// Schedules `fault` for the `n`-th transmit (1-based, counted from creation).
    pub fn schedule(&mut self, n: usize, fault: Fault) {
        self.faults.insert(n, fault);
    }

    /// Schedules `fault` for the next transmit.
    pub fn next(&mut self, fault: Fault) {
        self.schedule(self.transmits + 1, fault);
    }

    /// Transmits seen so far.
    pub fn transmits(&self) -> usize {
        self.transmits
    }

    /// The faults injected so far, with the transmit they hit.
    pub fn injected(&self) -> &[(usize, Fault)] {
        &self.injected
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: Transport> Transport for FaultInjector<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.transmits += 1;
        let Some(fault) = self.faults.remove(&self.transmits) else {
            return self.inner.transmit(command);
        };
        self.injected.push((self.transmits, fault));
        let reader = self.inner.reader_name();
        match fault {
            Fault::DropResponse => {
                self.inner.transmit(command)?;
                Err(TransportError::ResponseLost {
                    reader,
                    detail: "response dropped (injected fault)".to_owned(),
                })
            }
            Fault::CorruptResponse { offset, mask } => {
                let mut response = self.inner.transmit(command)?;
                let at = offset.min(response.len().saturating_sub(1));
                if let Some(byte) = response.get_mut(at) {
                    *byte ^= mask;
                }
                Ok(response)
            }
            Fault::FailTransmit => Err(TransportError::ResponseLost {
                reader,
                detail: "transmit failed (injected fault)".to_owned(),
            }),
            Fault::ResetCard => {
                self.inner.reset()?;
                Err(TransportError::CardReset { reader })
            }
            Fault::AbortBefore => {
                eprintln!(
                    "smsr: injected fault: abort before exchange {}",
                    self.transmits
                );
                std::process::abort()
            }
            Fault::AbortAfter => {
                let _ = self.inner.transmit(command);
                eprintln!(
                    "smsr: injected fault: abort after exchange {}",
                    self.transmits
                );
                std::process::abort()
            }
        }
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
mod tests {
    use super::*;
    use crate::transport::fake_card::{FakeCard, AID};

    #[test]
    fn schedules_read_from_the_variable() {
        assert_eq!(
            parse_schedule("drop@3, abort-after@17").unwrap(),
            vec![(3, Fault::DropResponse), (17, Fault::AbortAfter)]
        );
        assert!(parse_schedule("drop@0").is_err());
        assert!(parse_schedule("melt@3").is_err());
        assert!(parse_schedule("drop").is_err());
    }

    fn select() -> Vec<u8> {
        let mut c = vec![0x00, 0xA4, 0x04, 0x00, 0x08];
        c.extend_from_slice(&AID);
        c.push(0x00);
        c
    }

    #[test]
    fn each_fault_once_at_its_transmit() {
        let mut t = FaultInjector::new(FakeCard::new())
            .at(2, Fault::DropResponse)
            .at(
                3,
                Fault::CorruptResponse {
                    offset: 99,
                    mask: 0xFF,
                },
            )
            .at(4, Fault::FailTransmit)
            .at(5, Fault::ResetCard);
        let clean = t.transmit(&select()).unwrap();
        assert_eq!(&clean[clean.len() - 2..], [0x90, 0x00]);
        assert!(matches!(
            t.transmit(&select()),
            Err(TransportError::ResponseLost { .. })
        ));
        assert_eq!(
            t.inner().log.len(),
            2,
            "the dropped command reached the card"
        );
        let corrupt = t.transmit(&select()).unwrap();
        assert_eq!(corrupt.len(), clean.len());
        assert_eq!(corrupt[..corrupt.len() - 1], clean[..clean.len() - 1]);
        assert_eq!(corrupt[corrupt.len() - 1], 0xFF);
        assert!(matches!(
            t.transmit(&select()),
            Err(TransportError::ResponseLost { .. })
        ));
        assert_eq!(
            t.inner().log.len(),
            3,
            "the failed command never reached the card"
        );
        assert!(matches!(
            t.transmit(&select()),
            Err(TransportError::CardReset { .. })
        ));
        assert_eq!(t.inner().resets, 1);
        assert_eq!(t.transmit(&select()).unwrap(), clean);
        assert_eq!(t.transmits(), 6);
        assert_eq!(
            t.injected().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
    }

    #[test]
    fn next_schedules_the_following_transmit() {
        let mut t = FaultInjector::new(FakeCard::new());
        t.transmit(&select()).unwrap();
        t.next(Fault::CorruptResponse {
            offset: 0,
            mask: 0x01,
        });
        let r = t.transmit(&select()).unwrap();
        assert_eq!(r[0], 0x6F ^ 0x01);
        assert_eq!(t.transmit(&select()).unwrap()[0], 0x6F);
    }
}
