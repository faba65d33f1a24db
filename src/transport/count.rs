//! A decorator that counts the APDU exchanges and bytes that reach the card, for the timing
//! tables of `smsr provision` and the provisioning benchmark. The counts are per thread
//! ([`Counts::snapshot`]): a service that drives many cards at once, one operation per thread,
//! counts each operation's exchanges alone.

use super::{Transport, TransportError};
use std::cell::Cell;

thread_local! {
    static EXCHANGES: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// Exchanges and bytes (command + response) so far on this thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub exchanges: u64,
    pub bytes: u64,
}

impl Counts {
    pub fn snapshot() -> Self {
        Self {
            exchanges: EXCHANGES.get(),
            bytes: BYTES.get(),
        }
    }

    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            exchanges: self.exchanges.saturating_sub(earlier.exchanges),
            bytes: self.bytes.saturating_sub(earlier.bytes),
        }
    }
}

/// Counts what passes through it.
#[derive(Debug)]
pub struct Counting<T>(pub T);

impl<T: Transport> Transport for Counting<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let r = self.0.transmit(command)?;
        let n = u64::try_from(command.len() + r.len()).unwrap_or(u64::MAX);
        EXCHANGES.set(EXCHANGES.get().saturating_add(1));
        BYTES.set(BYTES.get().saturating_add(n));
        crate::progress::exchange(n);
        Ok(r)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.0.reset()
    }

    fn atr(&self) -> Vec<u8> {
        self.0.atr()
    }

    fn reader_name(&self) -> String {
        self.0.reader_name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::fake_card::FakeCard;

    #[test]
    fn counts_exchanges_and_bytes() {
        let mut card = Counting(FakeCard::new());
        card.0.answer_always(vec![0x90, 0x00]);
        let before = Counts::snapshot();
        card.transmit(&[0x00, 0xA4, 0x04, 0x00]).unwrap();
        card.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x09]).unwrap();
        let d = Counts::snapshot().since(before);
        // Other tests may count at the same time: at least ours.
        assert!(d.exchanges >= 2 && d.bytes >= 13, "{d:?}");
    }
}
