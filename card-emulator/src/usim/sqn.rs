//! The USIM's sequence-number check (3GPP TS 33.102 §6.3.3 and Annex C.2, the profile's
//! `akaParameter` SQN settings): SQN = SEQ ‖ IND with a 5-bit IND (32 array entries, the size
//! of SAIP `sqnInit`); an SQN is fresh when its SEQ is above the entry of its IND and at most
//! `sqnDelta` above the highest SEQ accepted so far (Annex C.2.2). The age limit (C.2.3,
//! `sqnAgeLimit`, time-based) is not applied.
//!
//! The array is what SAIP `sqnInit` holds ("sequence numbers do not include the index"): SEQ
//! values, one per IND, which is how the state file keeps it (in the package's akaParameter).
//! The same check is applied to the test algorithm, although SAIP says its SQN settings are
//! ignored: TS.48 test profiles then still answer a replayed AUTN with AUTS.

use smsr_proto::auth::authenticate::SqnCheck;
use smsr_proto::auth::SQN_LEN;
use smsr_proto::saip::aka::PeAkaParameter;

/// Bits of IND (TS 33.102 Annex C.3.2 example value, and the 32 entries of `sqnInit`).
pub const IND_BITS: u32 = 5;
const ENTRIES: usize = 1 << IND_BITS;

/// The SEQ array and Δ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqnState {
    seq: [u64; ENTRIES],
    delta: u64,
}

fn from_be(b: &[u8; SQN_LEN]) -> u64 {
    b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

fn to_be(v: u64) -> [u8; SQN_LEN] {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

impl SqnState {
    /// From an akaParameter: `sqnInit` (absent: zeros) and `sqnDelta`.
    pub fn from_pe(pe: &PeAkaParameter) -> Self {
        let mut seq = [0u64; ENTRIES];
        if let Some(init) = &pe.sqn_init {
            for (s, v) in seq.iter_mut().zip(init) {
                *s = from_be(v);
            }
        }
        Self {
            seq,
            delta: from_be(&pe.sqn_delta),
        }
    }

    /// The array as `sqnInit` (absent while all zero, the DEFAULT).
    pub fn sqn_init(&self) -> Option<Vec<[u8; SQN_LEN]>> {
        self.seq
            .iter()
            .any(|s| *s != 0)
            .then(|| self.seq.iter().map(|s| to_be(*s)).collect())
    }

    /// The same Δ with the SEQ array replaced by `init` (as [`SqnState::sqn_init`] gave it;
    /// missing entries are zero).
    pub fn with_init(&self, init: &[[u8; SQN_LEN]]) -> Self {
        let mut seq = [0u64; ENTRIES];
        for (s, v) in seq.iter_mut().zip(init) {
            *s = from_be(v);
        }
        Self {
            seq,
            delta: self.delta,
        }
    }

    fn highest(&self) -> (u64, usize) {
        self.seq
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i))
            .max()
            .unwrap_or((0, 0))
    }
}

impl SqnCheck for SqnState {
    fn accept(&mut self, sqn: &[u8; SQN_LEN]) -> bool {
        let sqn = from_be(sqn);
        let seq = sqn >> IND_BITS;
        let ind = usize::try_from(sqn & (ENTRIES as u64 - 1)).unwrap_or(0);
        let (seq_ms, _) = self.highest();
        let Some(entry) = self.seq.get_mut(ind) else {
            return false;
        };
        if seq <= *entry || seq.saturating_sub(seq_ms) > self.delta {
            return false;
        }
        *entry = seq;
        true
    }

    /// SQN_MS: the highest accepted SEQ with its IND (TS 33.102 §6.3.5).
    fn sqn_ms(&self) -> [u8; SQN_LEN] {
        let (seq, ind) = self.highest();
        to_be((seq << IND_BITS) | ind as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SqnState {
        SqnState {
            seq: [0; ENTRIES],
            delta: 1 << 28,
        }
    }

    fn sqn(seq: u64, ind: u64) -> [u8; 6] {
        to_be((seq << 5) | ind)
    }

    #[test]
    fn annex_c_rules() {
        let mut s = state();
        assert!(s.accept(&sqn(1, 0)));
        assert!(!s.accept(&sqn(1, 0)), "replay");
        assert!(s.accept(&sqn(1, 3)), "another IND");
        assert!(s.accept(&sqn(5, 0)));
        assert!(!s.accept(&sqn(4, 0)), "older than the IND's entry");
        assert!(s.accept(&sqn(2, 7)), "older than SEQ_MS but new for IND 7");
        assert!(!s.accept(&sqn(5 + (1 << 28) + 1, 1)), "beyond delta");
        assert_eq!(s.sqn_ms(), sqn(5, 0));
        let init = s.sqn_init().unwrap();
        assert_eq!(init.len(), 32);
        assert_eq!(from_be(&init[0]), 5);
        assert_eq!(state().sqn_init(), None);
    }
}
