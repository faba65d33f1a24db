//! Dialling numbers in TPDUs (TS 23.040 §9.1.2.5) and in CAT Address TLVs (TS 102 223 §8.1).

use super::SmsError;

/// The extended BCD digits, by nibble value (`F` is the filler).
const BCD_DIGITS: &[u8; 15] = b"0123456789*#abc";

/// A dialling number: type of number / numbering plan byte and digits (`0`–`9`, `*`, `#`, `a`,
/// `b`, `c`), BCD coded with swapped nibbles as in TS 23.040 §9.1.2.3 / TS 24.008 §10.5.4.7.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    pub ton_npi: u8,
    pub digits: String,
}

impl Address {
    /// An international ISDN number (TON/NPI `91`).
    pub fn international(digits: &str) -> Self {
        Self {
            ton_npi: 0x91,
            digits: digits.to_string(),
        }
    }

    /// An ISDN number of unknown type (TON/NPI `81`).
    pub fn unknown(digits: &str) -> Self {
        Self {
            ton_npi: 0x81,
            digits: digits.to_string(),
        }
    }

    fn bcd(&self) -> Result<Vec<u8>, SmsError> {
        if self.ton_npi & 0x70 == 0x50 {
            return Err(SmsError::BadAddress(
                "alphanumeric addresses are not supported".into(),
            ));
        }
        let nibbles = self
            .digits
            .chars()
            .map(|c| {
                BCD_DIGITS
                    .iter()
                    .position(|&d| char::from(d) == c.to_ascii_lowercase())
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| SmsError::BadAddress(format!("digit {c:?}")))
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Ok(nibbles
            .chunks(2)
            .map(|p| p[0] | p.get(1).copied().unwrap_or(0xF) << 4)
            .collect())
    }

    fn digits_from(bcd: &[u8], count: usize) -> Result<String, SmsError> {
        let mut out = String::with_capacity(count);
        for (i, n) in bcd.iter().flat_map(|b| [b & 0xF, b >> 4]).enumerate() {
            if i >= count {
                if n != 0xF {
                    return Err(SmsError::BadAddress("filler is not F".into()));
                }
                continue;
            }
            let d = BCD_DIGITS
                .get(usize::from(n))
                .ok_or_else(|| SmsError::BadAddress("filler F inside the number".into()))?;
            out.push(char::from(*d));
        }
        Ok(out)
    }

    /// The TP-OA/TP-DA encoding: digit count, TON/NPI, BCD digits.
    pub fn to_tp_bytes(&self) -> Result<Vec<u8>, SmsError> {
        let n = u8::try_from(self.digits.chars().count())
            .ok()
            .filter(|&n| n <= 20)
            .ok_or(SmsError::BadAddress("more than 20 digits".into()))?;
        let mut out = vec![n, self.ton_npi];
        out.extend_from_slice(&self.bcd()?);
        Ok(out)
    }

    /// Reads a TP address at the start of `bytes`; returns it and the bytes used.
    pub fn parse_tp(bytes: &[u8]) -> Result<(Self, usize), SmsError> {
        let (&n, rest) = bytes.split_first().ok_or(SmsError::Truncated {
            what: "address length",
            needed: 1,
            available: 0,
        })?;
        let count = usize::from(n);
        let len = 1 + count.div_ceil(2);
        if rest.len() < len {
            return Err(SmsError::Truncated {
                what: "address",
                needed: len,
                available: rest.len(),
            });
        }
        let a = Self {
            ton_npi: rest[0],
            digits: Self::digits_from(&rest[1..len], count)?,
        };
        if a.ton_npi & 0x70 == 0x50 {
            return Err(SmsError::BadAddress(
                "alphanumeric addresses are not supported".into(),
            ));
        }
        Ok((a, 1 + len))
    }

    /// The value of a CAT Address TLV (TS 102 223 §8.1): TON/NPI then BCD digits.
    pub fn to_cat_value(&self) -> Result<Vec<u8>, SmsError> {
        let mut out = vec![self.ton_npi];
        out.extend_from_slice(&self.bcd()?);
        Ok(out)
    }

    /// Reads a CAT Address TLV value (the digit count is implied; a trailing `F` is filler).
    pub fn from_cat_value(v: &[u8]) -> Result<Self, SmsError> {
        let (&ton_npi, bcd) = v.split_first().ok_or(SmsError::Truncated {
            what: "address",
            needed: 1,
            available: 0,
        })?;
        let count = bcd.len() * 2 - usize::from(bcd.last().is_some_and(|b| b >> 4 == 0xF));
        Ok(Self {
            ton_npi,
            digits: Self::digits_from(bcd, count)?,
        })
    }
}
