//! Which command APDUs carry key material, and so are written as `"REDACTED"` in traces and
//! logs unless the user asks for secrets (`--trace-secrets`). [`is_sensitive_command`] is the
//! one place that decides.
//!
//! Sensitive, whatever the class byte (secure messaging or not):
//! - PUT KEY (INS `D8`, GPCS v2.3.1 §11.8): key components, even when Key-DEK encrypted.
//! - STORE DATA (INS `E2`, GPCS §11.11) when
//!   - P1 b7 b6 = `11` (the data is encrypted: sensitive by the sender's own account), or
//!   - P1 b5 b4 = `01` (DGI format) and the data holds one of the DGIs in
//!     [`is_key_dgi`], or cannot be read as DGIs at all (a block cut inside a DGI, or data
//!     encrypted by secure messaging: when in doubt, redact).
//!
//! Key DGIs ([`is_key_dgi`]):
//! - `3A02`: SGP.02 ISD-P key establishment (scenario #3 parameters, ephemeral public key and
//!   signature; the block that makes the ISD-P keys).
//! - `8000`–`8FFF`: the EMV CPS / GlobalPlatform range for data encrypted under the DEK (keys,
//!   PINs).
//!
//! Not sensitive: INITIALIZE UPDATE (`50`, a public host challenge), EXTERNAL AUTHENTICATE
//! (`82`, a cryptogram and a MAC), and DGI `3A01` (the SM-DP's certificate CERT.DP.ECDSA,
//! public by design). Responses are never redacted: PUT KEY answers key check values, the key
//! establishment answers DR and a receipt.

use smsr_proto::gp::store_data::Dgi;

/// PUT KEY.
pub const INS_PUT_KEY: u8 = 0xD8;
/// STORE DATA.
pub const INS_STORE_DATA: u8 = 0xE2;

/// Whether the command APDU `command` (as sent) carries key material.
pub fn is_sensitive_command(command: &[u8]) -> bool {
    let [_cla, ins, p1, _p2, body @ ..] = command else {
        return false;
    };
    match *ins {
        INS_PUT_KEY => true,
        INS_STORE_DATA => {
            let encrypted = p1 & 0x60 == 0x60;
            let dgi_format = p1 & 0x18 == 0x08;
            encrypted || (dgi_format && dgi_data_is_sensitive(command_data(body)))
        }
        _ => false,
    }
}

/// Whether a DGI holds keys (see the module documentation).
pub fn is_key_dgi(tag: u16) -> bool {
    tag == 0x3A02 || (0x8000..=0x8FFF).contains(&tag)
}

fn dgi_data_is_sensitive(data: &[u8]) -> bool {
    match Dgi::parse_all(data) {
        Ok(dgis) => dgis.iter().any(|d| is_key_dgi(d.tag)),
        Err(_) => true,
    }
}

/// The data field of a command body (everything after the header): short or extended Lc,
/// with or without Le. Anything that is not a well-formed body is taken whole.
fn command_data(body: &[u8]) -> &[u8] {
    match body {
        [0, hi, lo, rest @ ..] if !rest.is_empty() => {
            let lc = usize::from(u16::from_be_bytes([*hi, *lo]));
            rest.get(..lc).unwrap_or(rest)
        }
        [lc, rest @ ..] => rest.get(..usize::from(*lc)).unwrap_or(rest),
        [] => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensitive(hex_text: &str) -> bool {
        is_sensitive_command(&hex::decode(hex_text).unwrap())
    }

    #[test]
    fn put_key_always() {
        // GP-SCP03.md §1.13 worked example (KVN 31, three AES keys), shortened.
        assert!(sensitive("80D8008146318811108594"));
        assert!(sensitive("84D80081"));
        assert!(sensitive("E4D8008100"));
    }

    #[test]
    fn store_data_by_content() {
        // SGP.02 key establishment: DGI 3A02 in block 01, last, response expected.
        assert!(sensitive(
            "80E28901093A0206A604900203 0A00".replace(' ', "").as_str()
        ));
        // Encrypted data (P1 b7 b6 = 11), whatever it holds.
        assert!(sensitive("80E2E000033A0300"));
        // A DGI 8xxx key block.
        assert!(sensitive("80E2880005800102AABB"));
        // DGI data that is not DGIs (a continuation block, or C-DEC ciphertext): redacted.
        assert!(sensitive("84E2880010112233445566778899AABBCCDDEEFF00"));
        // Enable profile (DGI 3A03) and the SM-DP certificate (3A01) are not secret.
        assert!(!sensitive(
            "80E2880015 3A0312 4F10A0000005591010FFFFFFFF8900001000"
                .replace(' ', "")
                .as_str()
        ));
        assert!(!sensitive("80E20900053A0102AABB00"));
        // BER-TLV STORE DATA (P1 b5 b4 = 10) and no-structure data are not DGI-coded keys.
        assert!(!sensitive("80E2910003BF2000"));
        assert!(!sensitive("80E2800002AABB"));
    }

    #[test]
    fn others_are_not() {
        assert!(!sensitive(
            "8050300008 1122334455667788 00".replace(' ', "").as_str()
        ));
        assert!(!sensitive(
            "8482330010 00112233445566778899AABBCCDDEEFF"
                .replace(' ', "")
                .as_str()
        ));
        assert!(!sensitive("00A4040010A0000005591010FFFFFFFF8900000200"));
        assert!(!sensitive("80CA005A00"));
        assert!(!sensitive("80"));
        assert!(!sensitive(""));
    }

    #[test]
    fn extended_length_store_data() {
        let mut c = hex::decode("80E2880000000A").unwrap();
        c.extend_from_slice(&hex::decode("8001070011223344556677").unwrap()[..10]);
        assert!(is_sensitive_command(&c));
    }
}
