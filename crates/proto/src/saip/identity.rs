//! ICCID and IMSI codings in a profile.
//!
//! - **ICCID** (ITU-T E.118; up to 20 digits): the ProfileHeader `iccid` holds the digits in
//!   reading order, two per byte, `F`-padded at the end; EF.ICCID (`2FE2`, ETSI TS 102 221
//!   §13.2) holds BCD with each byte's nibbles swapped (first digit in the low nibble), also
//!   `F`-padded. `8949449999999990163` is `8949449999999990163F` in the header and
//!   `989444999999990961F3` in EF.ICCID.
//! - **IMSI** (3GPP TS 23.003 §2.2: at most 15 digits) in EF.IMSI (`6F07`, TS 31.102 §4.2.2):
//!   byte 1 is the number of bytes that follow; then the first digit with the parity/type
//!   nibble (`9` for an odd number of digits, `1` for even) in the low nibble, the remaining
//!   digits low nibble first, `F`-padded; the file is 9 bytes, unused bytes `FF`.

use super::SaipError;

/// Number of ICCID digits accepted: ITU-T E.118 allows at most 20 (19 plus the Luhn check
/// digit in practice, 20 in some older numbering plans); EF.ICCID and the header have room for
/// exactly 20. Fewer than 18 is not an E.118 issuer number any operator uses.
pub const ICCID_DIGITS: std::ops::RangeInclusive<usize> = 18..=20;
/// Number of IMSI digits accepted (MCC 3 + MNC 2..3 + MSIN, at most 15: TS 23.003 §2.2).
pub const IMSI_DIGITS: std::ops::RangeInclusive<usize> = 6..=15;
/// Size of EF.IMSI (TS 31.102 §4.2.2).
pub const EF_IMSI_SIZE: usize = 9;

fn digits(
    what: &'static str,
    s: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<Vec<u8>, SaipError> {
    if !range.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SaipError::InvalidValue {
            what,
            reason: format!(
                "{s:?}: {} to {} decimal digits required",
                range.start(),
                range.end()
            ),
        });
    }
    Ok(s.bytes().map(|b| b - b'0').collect())
}

fn nibbles_to_bytes(n: &[u8]) -> Vec<u8> {
    n.chunks(2)
        .map(|c| (c[0] << 4) | c.get(1).copied().unwrap_or(0xF))
        .collect()
}

/// The ProfileHeader `iccid`: digits in reading order, `F`-padded to 10 bytes.
pub fn iccid_header(iccid: &str) -> Result<[u8; 10], SaipError> {
    let mut d = digits("ICCID", iccid, ICCID_DIGITS)?;
    d.resize(20, 0xF);
    let mut out = [0u8; 10];
    out.copy_from_slice(&nibbles_to_bytes(&d));
    Ok(out)
}

/// EF.ICCID content: swapped BCD, `F`-padded to 10 bytes.
pub fn iccid_ef(iccid: &str) -> Result<[u8; 10], SaipError> {
    let h = iccid_header(iccid)?;
    Ok(h.map(|b| b.rotate_left(4)))
}

fn read_nibbles(bytes: &[u8], swapped: bool) -> Result<String, String> {
    let mut s = String::new();
    let mut ended = false;
    for &b in bytes {
        let (first, second) = if swapped {
            (b & 0xF, b >> 4)
        } else {
            (b >> 4, b & 0xF)
        };
        for n in [first, second] {
            match (n, ended) {
                (0..=9, false) => s.push(char::from(b'0' + n)),
                (0xF, _) => ended = true,
                _ => return Err(format!("nibble {n:X} is not a digit here")),
            }
        }
    }
    Ok(s)
}

/// The ICCID digits from the header form.
pub fn iccid_from_header(bytes: &[u8; 10]) -> Result<String, SaipError> {
    read_nibbles(bytes, false).map_err(|reason| SaipError::InvalidValue {
        what: "header ICCID",
        reason,
    })
}

/// The ICCID digits from EF.ICCID content.
pub fn iccid_from_ef(bytes: &[u8]) -> Result<String, SaipError> {
    read_nibbles(bytes, true).map_err(|reason| SaipError::InvalidValue {
        what: "EF.ICCID",
        reason,
    })
}

/// EF.IMSI content (9 bytes, `FF`-padded).
pub fn imsi_ef(imsi: &str) -> Result<[u8; EF_IMSI_SIZE], SaipError> {
    let d = digits("IMSI", imsi, IMSI_DIGITS)?;
    let parity = if d.len() % 2 == 1 { 0x9 } else { 0x1 };
    let mut nibbles = vec![parity];
    nibbles.extend_from_slice(&d);
    if nibbles.len() % 2 == 1 {
        nibbles.push(0xF);
    }
    // Each byte: first nibble of the pair in the low half.
    let body: Vec<u8> = nibbles.chunks(2).map(|c| (c[1] << 4) | c[0]).collect();
    let mut out = [0xFF; EF_IMSI_SIZE];
    out[0] = u8::try_from(body.len()).unwrap_or(8);
    out[1..=body.len()].copy_from_slice(&body);
    Ok(out)
}

/// The IMSI digits from EF.IMSI content.
pub fn imsi_from_ef(bytes: &[u8]) -> Result<String, SaipError> {
    let bad = |reason: &str| SaipError::InvalidValue {
        what: "EF.IMSI",
        reason: reason.to_string(),
    };
    let (&len, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
    let body = rest
        .get(..usize::from(len))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("length byte runs past the content"))?;
    let parity = body[0] & 0xF;
    if parity != 0x9 && parity != 0x1 {
        return Err(bad("type/parity nibble is not 9 or 1"));
    }
    let mut s = String::new();
    let mut nibbles = vec![body[0] >> 4];
    for &b in &body[1..] {
        nibbles.push(b & 0xF);
        nibbles.push(b >> 4);
    }
    for (i, n) in nibbles.iter().enumerate() {
        match n {
            0..=9 => s.push(char::from(b'0' + n)),
            0xF if i == nibbles.len() - 1 => {}
            _ => return Err(bad("nibble is not a digit")),
        }
    }
    let odd = s.len() % 2 == 1;
    if odd != (parity == 0x9) {
        return Err(bad("parity nibble does not match the number of digits"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iccid_both_forms_as_in_ts48() {
        // SAIP.md §4, verified on the TS.48 packages.
        assert_eq!(
            hex::encode_upper(iccid_header("8949449999999990163").unwrap()),
            "8949449999999990163F"
        );
        assert_eq!(
            hex::encode_upper(iccid_ef("8949449999999990163").unwrap()),
            "989444999999990961F3"
        );
        assert_eq!(
            hex::encode_upper(iccid_header("89000123456789012341").unwrap()),
            "89000123456789012341"
        );
        assert_eq!(
            hex::encode_upper(iccid_ef("89000123456789012341").unwrap()),
            "98001032547698103214"
        );
        for s in [
            "8949449999999990163",
            "89000123456789012341",
            "894944999999999016",
        ] {
            assert_eq!(iccid_from_header(&iccid_header(s).unwrap()).unwrap(), s);
            assert_eq!(iccid_from_ef(&iccid_ef(s).unwrap()).unwrap(), s);
        }
        assert!(iccid_header("89").is_err());
        assert!(iccid_header("8949449999999990163A").is_err());
        assert!(
            iccid_from_ef(&[0x98, 0xF4, 0x12]).is_err(),
            "digit after padding"
        );
    }

    #[test]
    fn imsi_odd_and_even() {
        // TS.48: 001010123456063 -> 08 09 10 10 10 32 54 06 36 (SAIP.md §4).
        assert_eq!(
            hex::encode_upper(imsi_ef("001010123456063").unwrap()),
            "080910101032540636"
        );
        assert_eq!(
            imsi_from_ef(&hex::decode("080910101032540636").unwrap()).unwrap(),
            "001010123456063"
        );
        // 14 digits: even, parity nibble 1, last byte F-padded.
        let even = imsi_ef("26201123456789").unwrap();
        assert_eq!(hex::encode_upper(even), "0821261021436587F9");
        assert_eq!(imsi_from_ef(&even).unwrap(), "26201123456789");
        // 6 digits: short, unused bytes FF.
        let short = imsi_ef("001011").unwrap();
        assert_eq!(hex::encode_upper(short), "04011010F1FFFFFFFF");
        assert_eq!(imsi_from_ef(&short).unwrap(), "001011");
        assert!(imsi_ef("1234567890123456").is_err());
        assert!(imsi_from_ef(&hex::decode("080810101032540636").unwrap()).is_err());
    }
}
