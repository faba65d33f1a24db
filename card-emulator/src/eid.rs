//! The eUICC identifier (EID): GSMA SGP.29 §10 / SGP.02 Annex J.
//!
//! An EID is 32 decimal digits, stored and sent as 16 bytes with two digits per byte (high nibble
//! first), e.g. `89 04 40 11 …`. The last two digits are check digits computed as in ISO/IEC 7064
//! MOD 97-10 (the IBAN rule): the whole 32-digit number is congruent to 1 modulo 97.

use std::fmt;

/// Length of an EID in bytes (32 digits).
pub const EID_LEN: usize = 16;

/// The fixed leading 13 digits of the EIDs this emulator generates: `89` (telecommunications
/// industry identifier), `001` (a test country code), `999` (a test issuer), `00001`
/// (platform and OS version). A fictitious EUM; no real manufacturer uses it.
const GENERATED_PREFIX: &[u8; 13] = b"8900199900001";

/// Why a string or a byte string is not an EID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EidError {
    #[error("an EID has 32 digits, got {0} characters")]
    Length(usize),
    #[error("an EID is made of decimal digits, found {found:?} at position {position}")]
    NotADigit { position: usize, found: char },
    #[error("EID check digits are {found:02}, expected {expected:02} (ISO/IEC 7064 MOD 97-10)")]
    CheckDigits { found: u8, expected: u8 },
}

/// Parses 32 decimal digits into the 16-byte EID, checking the MOD 97-10 check digits.
pub fn parse_eid(text: &str) -> Result<[u8; EID_LEN], EidError> {
    let count = text.chars().count();
    if count != 2 * EID_LEN {
        return Err(EidError::Length(count));
    }
    if let Some((position, found)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(EidError::NotADigit { position, found });
    }
    // Only ASCII digits from here on: one byte each.
    let digits = text.as_bytes();
    let mut eid = [0u8; EID_LEN];
    for (byte, pair) in eid.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = ((pair[0] - b'0') << 4) | (pair[1] - b'0');
    }
    let found = (digits[30] - b'0') * 10 + (digits[31] - b'0');
    let expected = check_digits(&digits[..30]);
    if found != expected {
        return Err(EidError::CheckDigits { found, expected });
    }
    Ok(eid)
}

/// Whether 16 bytes are 32 decimal digits whose MOD 97-10 check is valid.
pub fn is_valid_eid(eid: &[u8; EID_LEN]) -> bool {
    parse_eid(&eid_to_string(eid)).is_ok()
}

/// The EID as its 32 digits (upper-case hexadecimal nibbles, so any 16 bytes print).
pub fn eid_to_string(eid: &[u8; EID_LEN]) -> String {
    hex::encode_upper(eid)
}

/// A fresh EID: the fixed prefix `8900199900001`, 17 random digits from `random`, check digits.
///
/// `random` yields bytes; values of 250 and above are skipped so every digit is uniform.
pub fn generate_eid(mut random: impl FnMut() -> u8) -> [u8; EID_LEN] {
    let mut digits = [b'0'; 2 * EID_LEN];
    digits[..GENERATED_PREFIX.len()].copy_from_slice(GENERATED_PREFIX);
    for d in &mut digits[GENERATED_PREFIX.len()..30] {
        let r = loop {
            let r = random();
            if r < 250 {
                break r;
            }
        };
        *d = b'0' + r % 10;
    }
    let check = check_digits(&digits[..30]);
    digits[30] = b'0' + check / 10;
    digits[31] = b'0' + check % 10;
    let mut eid = [0u8; EID_LEN];
    for (byte, pair) in eid.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = ((pair[0] - b'0') << 4) | (pair[1] - b'0');
    }
    eid
}

/// ISO/IEC 7064 MOD 97-10 check digits for 30 leading digits (the protocol core's rule).
fn check_digits(leading: &[u8]) -> u8 {
    smsr_proto::gp::get_data::eid_check_digits(leading)
}

/// Displays an EID as 32 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EidDisplay<'a>(pub &'a [u8; EID_LEN]);

impl fmt::Display for EidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for EidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Valid EIDs published by Infineon ("How to verify an EID", optiga-connect-iot wiki,
    /// citing SGP.02 Annex J).
    const PUBLISHED_VALID: [&str; 4] = [
        "89034011560010000000000000000121",
        "89001012012341234012345678901224",
        "89001567010203040506070809101152",
        "89044011112233441122334411223321",
    ];

    #[test]
    fn published_eids_are_valid() {
        for text in PUBLISHED_VALID {
            let eid = parse_eid(text).unwrap();
            assert_eq!(eid_to_string(&eid), text);
            assert!(is_valid_eid(&eid));
        }
    }

    #[test]
    fn wrong_check_digits_are_rejected() {
        assert_eq!(
            parse_eid("89034011560010000000000000000122"),
            Err(EidError::CheckDigits {
                found: 22,
                expected: 21
            })
        );
    }

    #[test]
    fn malformed_text_is_rejected() {
        assert_eq!(parse_eid("8903"), Err(EidError::Length(4)));
        assert!(matches!(
            parse_eid("8903401156001000000000000000012A"),
            Err(EidError::NotADigit { position: 31, .. })
        ));
        assert_eq!(
            parse_eid("8903401156001000000000000000012é"),
            Err(EidError::NotADigit {
                position: 31,
                found: 'é'
            })
        );
        assert!(!is_valid_eid(&[0xAB; EID_LEN]));
    }

    #[test]
    fn display_is_hex() {
        let eid = parse_eid(PUBLISHED_VALID[0]).unwrap();
        assert_eq!(EidDisplay(&eid).to_string(), PUBLISHED_VALID[0]);
    }

    proptest! {
        #[test]
        fn generated_eids_are_valid(seed in prop::collection::vec(any::<u8>(), 17..64)) {
            let mut it = seed.iter().copied().cycle();
            // A cycle made only of bytes >= 250 would never yield a digit.
            prop_assume!(seed.iter().any(|&b| b < 250));
            let eid = generate_eid(|| it.next().unwrap_or(0));
            let text = eid_to_string(&eid);
            prop_assert!(text.starts_with("8900199900001"));
            let n = text.bytes().fold(0u32, |acc, d| (acc * 10 + u32::from(d - b'0')) % 97);
            prop_assert_eq!(n, 1);
            prop_assert!(is_valid_eid(&eid));
        }
    }
}
