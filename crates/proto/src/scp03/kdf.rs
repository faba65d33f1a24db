//! AES-CMAC (NIST SP 800-38B, RFC 4493) and the SCP03 data derivation scheme (Amendment D
//! §4.1.5): NIST SP 800-108 KDF in counter mode with CMAC as PRF, full 16-byte PRF output, and
//! the PRF input
//!
//! ```text
//! 00 × 11 ‖ derivation constant ‖ 00 ‖ L (bits, 2 bytes) ‖ i (1 byte, from 01) ‖ context
//! ```
//!
//! A second PRF block (i = '02') is used when L is '00C0' or '0100' (AES-192/256 session keys).

use super::keys::{AesKey, KeyBytes, KeyLength};
use super::ScpError;
use aes::{Aes128, Aes192, Aes256};
use cmac::{Cmac, Mac};
use zeroize::Zeroizing;

/// Derivation constants (Amendment D Table 4-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DerivationConstant {
    /// '00': card authentication cryptogram.
    CardCryptogram = 0x00,
    /// '01': host authentication cryptogram.
    HostCryptogram = 0x01,
    /// '02': pseudo-random card challenge.
    CardChallenge = 0x02,
    /// '04': S-ENC.
    SEnc = 0x04,
    /// '06': S-MAC.
    SMac = 0x06,
    /// '07': S-RMAC.
    SRmac = 0x07,
}

/// The output lengths the GP scheme allows for "L" (Amendment D §4.1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfOutput {
    /// '0040': S8 challenges and cryptograms.
    Bits64,
    /// '0080': S16 challenges and cryptograms, AES-128 keys.
    Bits128,
    /// '00C0': AES-192 keys.
    Bits192,
    /// '0100': AES-256 keys.
    Bits256,
}

impl KdfOutput {
    /// Output length in bytes.
    pub fn bytes(self) -> usize {
        usize::from(self.bits() / 8)
    }

    /// "L" in bits.
    pub fn bits(self) -> u16 {
        match self {
            Self::Bits64 => 64,
            Self::Bits128 => 128,
            Self::Bits192 => 192,
            Self::Bits256 => 256,
        }
    }

    fn blocks(self) -> u8 {
        match self {
            Self::Bits64 | Self::Bits128 => 1,
            Self::Bits192 | Self::Bits256 => 2,
        }
    }
}

impl From<KeyLength> for KdfOutput {
    fn from(k: KeyLength) -> Self {
        match k {
            KeyLength::Aes128 => Self::Bits128,
            KeyLength::Aes192 => Self::Bits192,
            KeyLength::Aes256 => Self::Bits256,
        }
    }
}

/// AES-CMAC over the concatenation of `parts`, full 16 bytes.
pub fn aes_cmac(key: &AesKey, parts: &[&[u8]]) -> [u8; 16] {
    fn run<M: Mac>(mut mac: M, parts: &[&[u8]]) -> [u8; 16] {
        for p in parts {
            mac.update(p);
        }
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.iter_mut().zip(tag.iter()).for_each(|(o, t)| *o = *t);
        out
    }
    match &key.0 {
        KeyBytes::K128(k) => run(
            <Cmac<Aes128> as cmac::digest::KeyInit>::new(k.into()),
            parts,
        ),
        KeyBytes::K192(k) => run(
            <Cmac<Aes192> as cmac::digest::KeyInit>::new(k.into()),
            parts,
        ),
        KeyBytes::K256(k) => run(
            <Cmac<Aes256> as cmac::digest::KeyInit>::new(k.into()),
            parts,
        ),
    }
}

/// The PRF input of iteration `i` in the GP layout.
pub fn kdf_input(dc: DerivationConstant, output: KdfOutput, i: u8, context: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(16 + context.len());
    input.extend_from_slice(&[0u8; 11]);
    input.push(dc as u8);
    input.push(0x00);
    input.extend_from_slice(&output.bits().to_be_bytes());
    input.push(i);
    input.extend_from_slice(context);
    input
}

/// The SCP03 data derivation: first L/8 bytes of PRF(i = 1) ‖ PRF(i = 2).
pub fn kdf(
    key: &AesKey,
    dc: DerivationConstant,
    output: KdfOutput,
    context: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(32));
    for i in 1..=output.blocks() {
        out.extend_from_slice(&aes_cmac(key, &[&kdf_input(dc, output, i, context)]));
    }
    out.truncate(output.bytes());
    out
}

/// NIST SP 800-108 counter-mode KDF with AES-CMAC and an 8-bit counter placed between two fixed
/// parts (CAVP "MIDDLE_FIXED", the shape SCP03 uses): the first `out_len` bytes of
/// CMAC(before ‖ 01 ‖ after) ‖ CMAC(before ‖ 02 ‖ after) ‖ …
pub fn kdf_counter_middle(
    key: &AesKey,
    before: &[u8],
    after: &[u8],
    out_len: usize,
) -> Result<Zeroizing<Vec<u8>>, ScpError> {
    let blocks = u8::try_from(out_len.div_ceil(16)).map_err(|_| ScpError::BadKeyLength(out_len))?;
    let mut out = Zeroizing::new(Vec::with_capacity(usize::from(blocks) * 16));
    for i in 1..=blocks {
        out.extend_from_slice(&aes_cmac(key, &[before, &[i], after]));
    }
    out.truncate(out_len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03::testdata::{h, hex, scp03_vectors};

    fn key(bytes: &[u8]) -> AesKey {
        AesKey::from_bytes(bytes).unwrap()
    }

    #[test]
    fn cmac_rfc4493() {
        let Some(v) = scp03_vectors() else { return };
        let t = &v["aes_cmac_rfc4493"];
        let k = key(&hex(&t["key"]));
        let cases = t["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for c in cases {
            assert_eq!(aes_cmac(&k, &[&hex(&c["msg"])]).to_vec(), hex(&c["mac"]));
        }
        // Subkeys (RFC 4493 §2.3): L = AES(K, 0), K1 = dbl(L), K2 = dbl(K1).
        let dbl = |b: [u8; 16]| {
            let mut v = u128::from_be_bytes(b) << 1;
            if b[0] & 0x80 != 0 {
                v ^= 0x87;
            }
            v.to_be_bytes()
        };
        let l = crate::scp03::cipher::ecb_encrypt_block(&k, [0; 16]);
        assert_eq!(l.to_vec(), hex(&t["subkeys"]["L"]));
        assert_eq!(dbl(l).to_vec(), hex(&t["subkeys"]["K1"]));
        assert_eq!(dbl(dbl(l)).to_vec(), hex(&t["subkeys"]["K2"]));
        // Split input gives the same MAC as one piece.
        let msg = hex(&cases[3]["msg"]);
        assert_eq!(
            aes_cmac(&k, &[&msg[..7], &msg[7..40], &msg[40..]]).to_vec(),
            hex(&cases[3]["mac"])
        );
    }

    #[test]
    fn cmac_sp800_38b_aes192_aes256() {
        let Some(v) = scp03_vectors() else { return };
        let t = &v["aes_cmac_sp800_38b_examples"];
        let msg = hex(&t["msg64"]);
        let mut n = 0;
        for size in ["AES192", "AES256"] {
            let k = key(&hex(&t[size]["key"]));
            for (len, mac) in t[size]["mac_by_msglen"].as_object().unwrap() {
                let len: usize = len.parse().unwrap();
                assert_eq!(
                    aes_cmac(&k, &[&msg[..len]]).to_vec(),
                    hex(mac),
                    "{size}/{len}"
                );
                n += 1;
            }
        }
        assert_eq!(n, 8);
    }

    #[test]
    fn cmac_yubico() {
        let Some(v) = scp03_vectors() else { return };
        let cases = v["cmac_only_vectors_yubico"]["cases"].as_array().unwrap();
        let c = &cases[0];
        let full = aes_cmac(&key(&hex(&c["key"])), &[&hex(&c["input"])]);
        assert_eq!(full.to_vec(), hex(&c["cmac"]));
        assert_eq!(full[..8].to_vec(), hex(&c["mac8"]));
        let r = &cases[1];
        let full = aes_cmac(
            &key(&hex(&r["key_S_RMAC"])),
            &[
                &hex(&r["chaining_value"]),
                &hex(&r["response_data"]),
                &hex(&r["sw"]),
            ],
        );
        assert_eq!(full.to_vec(), hex(&r["full_cmac"]));
        assert_eq!(full[..8].to_vec(), hex(&r["rmac"]));
    }

    #[test]
    fn nist_cavp_kbkdf_counter_middle() {
        let Some(v) = scp03_vectors() else { return };
        let cases = v["sp800_108_kbkdf_cmac_aes128_counter_middle_8bit"]["cases"]
            .as_array()
            .unwrap();
        assert_eq!(cases.len(), 4);
        for c in cases {
            let bits = usize::try_from(c["L"].as_u64().unwrap()).unwrap();
            let out = kdf_counter_middle(
                &key(&hex(&c["KI"])),
                &hex(&c["before"]),
                &hex(&c["after"]),
                bits / 8,
            )
            .unwrap();
            assert_eq!(out.to_vec(), hex(&c["KO"]), "COUNT {}", c["COUNT"]);
        }
    }

    #[test]
    fn scp03_single_kdf_vectors() {
        let Some(v) = scp03_vectors() else { return };
        let mut n = 0;
        for c in v["scp03_kdf_single_vectors"].as_array().unwrap() {
            if let Some(k) = c.get("key_S_MAC") {
                let dc = match hex(&c["const"])[..] {
                    [0x00] => DerivationConstant::CardCryptogram,
                    [0x01] => DerivationConstant::HostCryptogram,
                    _ => panic!("unexpected constant"),
                };
                assert_eq!(hex(&c["L"]), h("0040"));
                let out = kdf(&key(&hex(k)), dc, KdfOutput::Bits64, &hex(&c["context"]));
                assert_eq!(out.to_vec(), hex(&c["out"]), "{}", c["label"]);
                n += 1;
            }
            if let Some(input) = c.get("prf_input") {
                let k = key(&hex(&c["key"]));
                let out = aes_cmac(&k, &[&hex(input)]);
                assert_eq!(out.to_vec(), hex(&c["out"]));
                let kcv = AesKey::from_bytes(&out).unwrap().kcv();
                assert_eq!(kcv.to_vec(), hex(&c["out_kcv"]));
                n += 1;
            }
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn pysim_kdf_inputs_have_the_gp_layout() {
        let Some(v) = scp03_vectors() else { return };
        for s in v["scp03_sessions_pysim"]["sessions"].as_array().unwrap() {
            let host = hex(&s["host_challenge"]);
            let card = hex(&s["parsed_init_update_rsp"]["card_challenge"]);
            let ctx = [host, card].concat();
            assert_eq!(
                kdf_input(DerivationConstant::SEnc, KdfOutput::Bits128, 1, &ctx),
                hex(&s["kdf_input_S-ENC_iter1"])
            );
            assert_eq!(
                kdf_input(
                    DerivationConstant::CardCryptogram,
                    KdfOutput::Bits64,
                    1,
                    &ctx
                ),
                hex(&s["kdf_input_card_cryptogram"])
            );
            assert_eq!(
                kdf_input(
                    DerivationConstant::HostCryptogram,
                    KdfOutput::Bits64,
                    1,
                    &ctx
                ),
                hex(&s["kdf_input_host_cryptogram"])
            );
        }
    }

    /// AES-192/256 outputs take a second PRF block with i = '02' and the same L.
    #[test]
    fn second_prf_block_for_192_and_256_bits() {
        let k = key(&[0x5A; 32]);
        let ctx = [0x11u8; 16];
        for (out, l) in [
            (KdfOutput::Bits192, 0x00C0u16),
            (KdfOutput::Bits256, 0x0100),
        ] {
            let d = kdf(&k, DerivationConstant::SEnc, out, &ctx);
            assert_eq!(d.len(), out.bytes());
            let mut i1 = vec![0u8; 11];
            i1.extend_from_slice(&[0x04, 0x00]);
            i1.extend_from_slice(&l.to_be_bytes());
            let mut i2 = i1.clone();
            i1.push(1);
            i2.push(2);
            i1.extend_from_slice(&ctx);
            i2.extend_from_slice(&ctx);
            let b1 = aes_cmac(&k, &[&i1]);
            let b2 = aes_cmac(&k, &[&i2]);
            assert_eq!(&d[..16], &b1);
            assert_eq!(&d[16..], &b2[..out.bytes() - 16]);
            // Same as the generic SP 800-108 construction.
            let generic = kdf_counter_middle(&k, &i1[..15], &ctx, out.bytes()).unwrap();
            assert_eq!(&generic[..], &d[..]);
        }
        // One block only for 64/128 bits: the 128-bit output is the first block exactly.
        let d = kdf(&k, DerivationConstant::SMac, KdfOutput::Bits128, &ctx);
        let d64 = kdf(&k, DerivationConstant::SMac, KdfOutput::Bits64, &ctx);
        assert_eq!(d.len(), 16);
        assert_ne!(&d[..8], &d64[..], "L is part of the input");
    }
}
