//! ETSI TS 102 226 §5.1.2 compact remote response: the answer to a command packet whose secured
//! data is a plain concatenation of C-APDUs (§5.1.1, the format of SIM RFM/RAM before the
//! expanded format; SGP.02 uses the expanded one, [`super::script`]).
//!
//! ```text
//! number of executed commands (1) ‖ SW1 SW2 of the last one ‖ its response data
//! ```

use crate::status::StatusWord;
use thiserror::Error;

/// A compact response shorter than its three fixed bytes.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("compact remote response of {0} bytes: at least 3 needed")]
pub struct CompactTooShort(pub usize);

/// A compact remote response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactResponse {
    pub executed: u8,
    /// Status word of the last executed command.
    pub sw: StatusWord,
    /// Response data of the last executed command.
    pub data: Vec<u8>,
}

impl CompactResponse {
    /// Parses the additional data of a PoR.
    pub fn parse(bytes: &[u8]) -> Result<Self, CompactTooShort> {
        match bytes {
            [n, sw1, sw2, data @ ..] => Ok(Self {
                executed: *n,
                sw: StatusWord::from_bytes(*sw1, *sw2),
                data: data.to_vec(),
            }),
            _ => Err(CompactTooShort(bytes.len())),
        }
    }

    /// Encodes it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.executed];
        out.extend_from_slice(&self.sw.to_bytes());
        out.extend_from_slice(&self.data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_pors() {
        // pySim test_ota.py: one command, SW 6132 (SELECT MF answered 61xx by a sysmoISIM).
        let r = CompactResponse::parse(&hex::decode("016132").unwrap()).unwrap();
        assert_eq!(r.executed, 1);
        assert_eq!(r.sw, StatusWord::BytesAvailable(0x32));
        assert!(r.data.is_empty());
        // asterix test_SPI1531: GET DATA E0 answered by a real card.
        let b = hex::decode("019000E012C00401018210C00402018210C00403018210").unwrap();
        let r = CompactResponse::parse(&b).unwrap();
        assert_eq!(r.sw, StatusWord::Success);
        assert_eq!(r.data[..2], [0xE0, 0x12]);
        assert_eq!(r.to_bytes(), b);
        assert_eq!(CompactResponse::parse(&[1, 0x90]), Err(CompactTooShort(2)));
    }
}
