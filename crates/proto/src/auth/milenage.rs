//! MILENAGE (3GPP TS 35.206 §4): the example algorithm set for the 3G authentication and key
//! generation functions f1, f1*, f2, f3, f4, f5 and f5*, built on AES-128 (Rijndael with a
//! 128-bit block, §3 and §4.1 "E_K").
//!
//! With OPc = OP ⊕ E_K(OP) (§4.1, computed off the USIM when the operator stores OPc, as SAIP
//! `akaParameter` does) and TEMP = E_K(RAND ⊕ OPc):
//!
//! ```text
//! IN1  = SQN ‖ AMF ‖ SQN ‖ AMF
//! OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc      f1 = OUT1[0..63]   f1* = OUT1[64..127]
//! OUT2 = E_K(rot(TEMP ⊕ OPc, r2) ⊕ c2) ⊕ OPc            f5 = OUT2[0..47]   f2  = OUT2[64..127]
//! OUT3 = E_K(rot(TEMP ⊕ OPc, r3) ⊕ c3) ⊕ OPc            f3 = OUT3
//! OUT4 = E_K(rot(TEMP ⊕ OPc, r4) ⊕ c4) ⊕ OPc            f4 = OUT4
//! OUT5 = E_K(rot(TEMP ⊕ OPc, r5) ⊕ c5) ⊕ OPc            f5* = OUT5[0..47]
//! ```
//!
//! rot(x, r) rotates the 128-bit x cyclically by r bit positions towards the most significant
//! bit. The constants r1..r5 and c1..c5 default to the values of §4.1 (r = 64, 0, 32, 64, 96;
//! c = 0, 1, 2, 4, 8 in the last bit positions); an operator may choose others, and a SAIP
//! profile carries them as `rotationConstants` (5 bytes, bit counts) and `xoringConstants`
//! (80 bytes, c1..c5).
//!
//! Tested on all six test sets of 3GPP TS 35.208 §4.3 (the conformance test data, identical to
//! the implementers' test data of TS 35.207).

use super::{AkaAlgorithm, AkaOutputs, AMF_LEN, MAC_LEN, RAND_LEN, SQN_LEN};
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use std::fmt;
use zeroize::Zeroize;

/// The rotation constants r1..r5 of TS 35.206 §4.1, in bits.
pub const DEFAULT_ROTATION_CONSTANTS: [u8; 5] = [64, 0, 32, 64, 96];

/// The XOR constants c1..c5 of TS 35.206 §4.1.
pub const DEFAULT_XORING_CONSTANTS: [[u8; 16]; 5] = {
    let mut c = [[0u8; 16]; 5];
    c[1][15] = 1;
    c[2][15] = 2;
    c[3][15] = 4;
    c[4][15] = 8;
    c
};

/// The operator-selectable constants r1..r5 (bits) and c1..c5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MilenageConstants {
    pub r: [u8; 5],
    pub c: [[u8; 16]; 5],
}

impl Default for MilenageConstants {
    fn default() -> Self {
        Self {
            r: DEFAULT_ROTATION_CONSTANTS,
            c: DEFAULT_XORING_CONSTANTS,
        }
    }
}

impl MilenageConstants {
    /// The constants as SAIP carries them: `rotationConstants` (5 bytes) and `xoringConstants`
    /// (80 bytes, c1 first).
    pub fn from_saip(rotation: &[u8; 5], xoring: &[u8; 80]) -> Self {
        let mut c = [[0u8; 16]; 5];
        for (i, ci) in c.iter_mut().enumerate() {
            ci.copy_from_slice(&xoring[i * 16..(i + 1) * 16]);
        }
        Self { r: *rotation, c }
    }
}

/// A MILENAGE instance for one subscriber: K and OPc (and the constants). Key material is
/// zeroized on drop and never printed.
#[derive(Clone)]
pub struct Milenage {
    cipher: Aes128,
    k: [u8; 16],
    opc: [u8; 16],
    constants: MilenageConstants,
}

impl fmt::Debug for Milenage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Milenage")
            .field("k", &"REDACTED")
            .field("opc", &"REDACTED")
            .field("constants", &self.constants)
            .finish()
    }
}

impl Drop for Milenage {
    fn drop(&mut self) {
        self.k.zeroize();
        self.opc.zeroize();
    }
}

fn encrypt(cipher: &Aes128, block: [u8; 16]) -> [u8; 16] {
    let mut b = block.into();
    cipher.encrypt_block(&mut b);
    b.into()
}

fn xor(a: [u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut out = a;
    for (o, x) in out.iter_mut().zip(b) {
        *o ^= x;
    }
    out
}

/// rot(x, r): cyclic rotation of the 128-bit string x by r bits towards the most significant
/// end (TS 35.206 §4.1: "the bits of x are cyclically rotated r positions").
fn rot(x: [u8; 16], r: u8) -> [u8; 16] {
    u128::from_be_bytes(x)
        .rotate_left(u32::from(r) % 128)
        .to_be_bytes()
}

/// OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1).
pub fn opc(k: &[u8; 16], op: &[u8; 16]) -> [u8; 16] {
    let cipher = Aes128::new(k.into());
    xor(encrypt(&cipher, *op), op)
}

impl Milenage {
    /// MILENAGE with K and OPc and the standard constants.
    pub fn new(k: &[u8; 16], opc: &[u8; 16]) -> Self {
        Self::with_constants(k, opc, MilenageConstants::default())
    }

    /// MILENAGE with K and OP (OPc is derived, §4.1).
    pub fn from_op(k: &[u8; 16], op: &[u8; 16]) -> Self {
        Self::new(k, &opc(k, op))
    }

    /// MILENAGE with operator-chosen r and c constants.
    pub fn with_constants(k: &[u8; 16], opc: &[u8; 16], constants: MilenageConstants) -> Self {
        Self {
            cipher: Aes128::new(k.into()),
            k: *k,
            opc: *opc,
            constants,
        }
    }

    /// The OPc in use.
    pub fn opc(&self) -> [u8; 16] {
        self.opc
    }

    fn temp(&self, rand: &[u8; RAND_LEN]) -> [u8; 16] {
        encrypt(&self.cipher, xor(*rand, &self.opc))
    }

    /// OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc.
    fn out1(&self, rand: &[u8; RAND_LEN], sqn: &[u8; SQN_LEN], amf: &[u8; AMF_LEN]) -> [u8; 16] {
        let mut in1 = [0u8; 16];
        in1[0..6].copy_from_slice(sqn);
        in1[6..8].copy_from_slice(amf);
        in1[8..14].copy_from_slice(sqn);
        in1[14..16].copy_from_slice(amf);
        let temp = self.temp(rand);
        let x = xor(
            xor(temp, &rot(xor(in1, &self.opc), self.constants.r[0])),
            &self.constants.c[0],
        );
        xor(encrypt(&self.cipher, x), &self.opc)
    }

    /// OUTi = E_K(rot(TEMP ⊕ OPc, ri) ⊕ ci) ⊕ OPc for i = 2..5 (`index` 1..4).
    fn out(&self, temp: &[u8; 16], index: usize) -> [u8; 16] {
        let x = xor(
            rot(xor(*temp, &self.opc), self.constants.r[index]),
            &self.constants.c[index],
        );
        xor(encrypt(&self.cipher, x), &self.opc)
    }
}

impl AkaAlgorithm for Milenage {
    fn f1(&self, rand: &[u8; RAND_LEN], sqn: &[u8; SQN_LEN], amf: &[u8; AMF_LEN]) -> [u8; MAC_LEN] {
        let out = self.out1(rand, sqn, amf);
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&out[..8]);
        mac
    }

    fn f1_star(
        &self,
        rand: &[u8; RAND_LEN],
        sqn: &[u8; SQN_LEN],
        amf: &[u8; AMF_LEN],
    ) -> [u8; MAC_LEN] {
        let out = self.out1(rand, sqn, amf);
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&out[8..]);
        mac
    }

    fn f2345(&self, rand: &[u8; RAND_LEN]) -> AkaOutputs {
        let temp = self.temp(rand);
        let out2 = self.out(&temp, 1);
        let mut ak = [0u8; SQN_LEN];
        ak.copy_from_slice(&out2[..6]);
        AkaOutputs {
            res: out2[8..].to_vec(),
            ck: self.out(&temp, 2),
            ik: self.out(&temp, 3),
            ak,
        }
    }

    fn f5_star(&self, rand: &[u8; RAND_LEN]) -> [u8; SQN_LEN] {
        let temp = self.temp(rand);
        let out5 = self.out(&temp, 4);
        let mut ak = [0u8; SQN_LEN];
        ak.copy_from_slice(&out5[..6]);
        ak
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{c3, AuthError};

    fn h<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// One test set of 3GPP TS 35.208 V18 §4.3 (test sets 1 to 6; the values are also the
    /// implementers' test data of TS 35.207 §4.3–§4.5): inputs K, RAND, SQN, AMF, OP and the
    /// outputs OPc, f1, f1*, f2, f5, f3, f4, f5*.
    struct TestSet {
        k: &'static str,
        rand: &'static str,
        sqn: &'static str,
        amf: &'static str,
        op: &'static str,
        opc: &'static str,
        f1: &'static str,
        f1_star: &'static str,
        f2: &'static str,
        f5: &'static str,
        f3: &'static str,
        f4: &'static str,
        f5_star: &'static str,
    }

    /// 3GPP TS 35.208 §4.3.1 to §4.3.6 (Test Sets 1–6), typed in from the specification.
    const TS_35_208: [TestSet; 6] = [
        TestSet {
            k: "465b5ce8b199b49faa5f0a2ee238a6bc",
            rand: "23553cbe9637a89d218ae64dae47bf35",
            sqn: "ff9bb4d0b607",
            amf: "b9b9",
            op: "cdc202d5123e20f62b6d676ac72cb318",
            opc: "cd63cb71954a9f4e48a5994e37a02baf",
            f1: "4a9ffac354dfafb3",
            f1_star: "01cfaf9ec4e871e9",
            f2: "a54211d5e3ba50bf",
            f5: "aa689c648370",
            f3: "b40ba9a3c58b2a05bbf0d987b21bf8cb",
            f4: "f769bcd751044604127672711c6d3441",
            f5_star: "451e8beca43b",
        },
        TestSet {
            k: "0396eb317b6d1c36f19c1c84cd6ffd16",
            rand: "c00d603103dcee52c4478119494202e8",
            sqn: "fd8eef40df7d",
            amf: "af17",
            op: "ff53bade17df5d4e793073ce9d7579fa",
            opc: "53c15671c60a4b731c55b4a441c0bde2",
            f1: "5df5b31807e258b0",
            f1_star: "a8c016e51ef4a343",
            f2: "d3a628ed988620f0",
            f5: "c47783995f72",
            f3: "58c433ff7a7082acd424220f2b67c556",
            f4: "21a8c1f929702adb3e738488b9f5c5da",
            f5_star: "30f1197061c1",
        },
        TestSet {
            k: "fec86ba6eb707ed08905757b1bb44b8f",
            rand: "9f7c8d021accf4db213ccff0c7f71a6a",
            sqn: "9d0277595ffc",
            amf: "725c",
            op: "dbc59adcb6f9a0ef735477b7fadf8374",
            opc: "1006020f0a478bf6b699f15c062e42b3",
            f1: "9cabc3e99baf7281",
            f1_star: "95814ba2b3044324",
            f2: "8011c48c0c214ed2",
            f5: "33484dc2136b",
            f3: "5dbdbb2954e8f3cde665b046179a5098",
            f4: "59a92d3b476a0443487055cf88b2307b",
            f5_star: "deacdd848cc6",
        },
        TestSet {
            k: "9e5944aea94b81165c82fbf9f32db751",
            rand: "ce83dbc54ac0274a157c17f80d017bd6",
            sqn: "0b604a81eca8",
            amf: "9e09",
            op: "223014c5806694c007ca1eeef57f004f",
            opc: "a64a507ae1a2a98bb88eb4210135dc87",
            f1: "74a58220cba84c49",
            f1_star: "ac2cc74a96871837",
            f2: "f365cd683cd92e96",
            f5: "f0b9c08ad02e",
            f3: "e203edb3971574f5a94b0d61b816345d",
            f4: "0c4524adeac041c4dd830d20854fc46b",
            f5_star: "6085a86c6f63",
        },
        TestSet {
            k: "4ab1deb05ca6ceb051fc98e77d026a84",
            rand: "74b0cd6031a1c8339b2b6ce2b8c4a186",
            sqn: "e880a1b580b6",
            amf: "9f07",
            op: "2d16c5cd1fdf6b22383584e3bef2a8d8",
            opc: "dcf07cbd51855290b92a07a9891e523e",
            f1: "49e785dd12626ef2",
            f1_star: "9e85790336bb3fa2",
            f2: "5860fc1bce351e7e",
            f5: "31e11a609118",
            f3: "7657766b373d1c2138f307e3de9242f9",
            f4: "1c42e960d89b8fa99f2744e0708ccb53",
            f5_star: "fe2555e54aa9",
        },
        TestSet {
            k: "6c38a116ac280c454f59332ee35c8c4f",
            rand: "ee6466bc96202c5a557abbeff8babf63",
            sqn: "414b98222181",
            amf: "4464",
            op: "1ba00a1a7c6700ac8c3ff3e96ad08725",
            opc: "3803ef5363b947c6aaa225e58fae3934",
            f1: "078adfb488241a57",
            f1_star: "80246b8d0186bcf1",
            f2: "16c8233f05a0ac28",
            f5: "45b0f69ab06c",
            f3: "3f8c7587fe8e4b233af676aede30ba3b",
            f4: "a7466cc1e6b2a1337d49d3b66e95d7b4",
            f5_star: "1f53cd2b1113",
        },
    ];

    #[test]
    fn ts_35_208_test_sets_1_to_6() {
        for (n, t) in TS_35_208.iter().enumerate() {
            let set = n + 1;
            let k = h::<16>(t.k);
            let rand = h::<16>(t.rand);
            let sqn = h::<6>(t.sqn);
            let amf = h::<2>(t.amf);
            assert_eq!(opc(&k, &h(t.op)), h::<16>(t.opc), "OPc, set {set}");
            let m = Milenage::new(&k, &h(t.opc));
            assert_eq!(m.f1(&rand, &sqn, &amf), h::<8>(t.f1), "f1, set {set}");
            assert_eq!(
                m.f1_star(&rand, &sqn, &amf),
                h::<8>(t.f1_star),
                "f1*, set {set}"
            );
            let out = m.f2345(&rand);
            assert_eq!(out.res, h::<8>(t.f2).to_vec(), "f2, set {set}");
            assert_eq!(out.ak, h::<6>(t.f5), "f5, set {set}");
            assert_eq!(out.ck, h::<16>(t.f3), "f3, set {set}");
            assert_eq!(out.ik, h::<16>(t.f4), "f4, set {set}");
            assert_eq!(m.f5_star(&rand), h::<6>(t.f5_star), "f5*, set {set}");
            // The same through OP.
            let via_op = Milenage::from_op(&k, &h(t.op));
            assert_eq!(
                via_op.f1(&rand, &sqn, &amf),
                h::<8>(t.f1),
                "f1 via OP, set {set}"
            );
        }
    }

    #[test]
    fn explicit_default_constants_match_saip_default_coding() {
        // SAIP PE-AKAParameter DEFAULT values: rotationConstants '4000204060'H and
        // xoringConstants c1..c5 = 0, 1, 2, 4, 8 in the last byte.
        let mut xoring = [0u8; 80];
        xoring[31] = 1;
        xoring[47] = 2;
        xoring[63] = 4;
        xoring[79] = 8;
        let c = MilenageConstants::from_saip(&h("4000204060"), &xoring);
        assert_eq!(c, MilenageConstants::default());
    }

    #[test]
    fn other_constants_change_every_output() {
        let t = &TS_35_208[0];
        let k = h::<16>(t.k);
        let rand = h::<16>(t.rand);
        let c = MilenageConstants {
            r: [0, 8, 16, 24, 32],
            ..Default::default()
        };
        let m = Milenage::with_constants(&k, &h(t.opc), c);
        assert_ne!(m.f2345(&rand).res, h::<8>(t.f2).to_vec());
        assert_ne!(m.f5_star(&rand), h::<6>(t.f5_star));
    }

    /// Worked example published with flipk/pfk-milenage (`main.cc`, expected output): K
    /// 000102…0F (the TS 34.108 §8.2 default), OP 00112233…FF, RAND 34…34, SQN 000000000001,
    /// AMF 8000, including AUTN and AUTS.
    #[test]
    fn pfk_milenage_worked_example_with_autn_and_auts() {
        let k = h::<16>("000102030405060708090a0b0c0d0e0f");
        let m = Milenage::from_op(&k, &h("00112233445566778899aabbccddeeff"));
        assert_eq!(m.opc(), h::<16>("69d5c2eb2e2e624750541d3bbc692ba5"));
        let rand = [0x34; 16];
        let sqn = h::<6>("000000000001");
        let v = m.generate_vector(&rand, &sqn, &h("8000"));
        assert_eq!(v.autn, h::<16>("5f8f3fbc884a8000a02a7a551c231b71"));
        assert_eq!(v.xres, h::<8>("cfb44bd0a69c5ce8").to_vec());
        assert_eq!(v.ck, h::<16>("1bcbe84cef792e5701a6fce3d9fc436d"));
        assert_eq!(v.ik, h::<16>("694030c637934d8833b418928d9eea73"));
        // That example computes MAC-S with AMF 8000; AUTS proper uses the zero AMF.
        assert_eq!(
            m.f1_star(&rand, &sqn, &h("8000")),
            h::<8>("8ca69991023b0c73")
        );
        assert_eq!(m.f5_star(&rand), h::<6>("c268b9669787"));
    }

    #[test]
    fn usim_checks_autn_and_network_checks_auts() {
        let t = &TS_35_208[2];
        let m = Milenage::new(&h(t.k), &h(t.opc));
        let rand = h::<16>(t.rand);
        let sqn = h::<6>(t.sqn);
        let v = m.generate_vector(&rand, &sqn, &h(t.amf));
        let (contents, out) = m.check_autn(&rand, &v.autn).unwrap();
        assert_eq!(contents.sqn, sqn);
        assert_eq!(contents.amf, h::<2>(t.amf));
        assert_eq!(out.res, v.xres);
        let mut bad = v.autn;
        bad[15] ^= 1;
        assert_eq!(
            m.check_autn(&rand, &bad).unwrap_err(),
            AuthError::MacFailure("MAC-A")
        );
        let auts = m.auts(&rand, &sqn);
        assert_eq!(m.check_auts(&rand, &auts).unwrap(), sqn);
        let mut bad = auts;
        bad[0] ^= 1;
        assert!(m.check_auts(&rand, &bad).is_err());
    }

    #[test]
    fn c3_is_the_xor_of_the_halves() {
        let t = &TS_35_208[0];
        let kc = c3(&h(t.f3), &h(t.f4));
        // b40ba9a3c58b2a05 ^ bbf0d987b21bf8cb ^ f769bcd751044604 ^ 127672711c6d3441
        assert_eq!(kc, h::<8>("eae4be823af9a08b"));
    }
}
