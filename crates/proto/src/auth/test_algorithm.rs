//! The 3GPP test algorithm for the USIM (3GPP TS 34.108 §8.1.2), often called "XOR". It is the
//! algorithm of the test USIM used by conformance test equipment, and every GSMA TS.48 test
//! profile installs it (`akaParameter` `algorithmID` 3, `usim-test-algorithm`) with the default
//! test key K = 000102…0F of TS 34.108 §8.2.
//!
//! §8.1.2.1 defines, for the 128-bit K and RAND (bit 0 the most significant):
//!
//! ```text
//! XDOUT = K ⊕ RAND
//! RES   = f2 = XDOUT[bits 0 .. n-1]                (n = RES length, 32..128 bits)
//! CK    = f3 = XDOUT[bits 8..127, 0..7]            (XDOUT rotated one byte)
//! IK    = f4 = XDOUT[bits 16..127, 0..15]          (XDOUT rotated two bytes)
//! AK    = f5 = XDOUT[bits 24..71]
//! CDOUT = SQN ‖ AMF
//! XMAC  = f1 = XDOUT[bits 0..63] ⊕ CDOUT
//! ```
//!
//! §8.1.2.2 uses the same computation for the re-synchronisation functions: f1* = f1 (over the
//! SQN_MS and AMF supplied) and f5* = f5.

use super::{AkaAlgorithm, AkaOutputs, AuthError, AMF_LEN, MAC_LEN, RAND_LEN, SQN_LEN};
use std::fmt;
use zeroize::Zeroize;

/// The default K of the TS 34.108 §8.2 test USIM (and of every TS.48 profile).
pub const TS_34_108_DEFAULT_K: [u8; 16] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
];

/// RES length in bytes used when none is configured: the whole XDOUT (n = 128 bits).
///
/// TS 34.108 §8.1.2 lets the test system choose n from 32 to 128 bits; the SAIP
/// `akaParameter` of a `usim-test-algorithm` profile does not carry it. The full XDOUT is the
/// choice that keeps every bit the network can check, and is what test equipment and public
/// implementations (e.g. pfk-milenage's `xor34108`) return.
pub const DEFAULT_RES_LEN: usize = 16;

/// The test algorithm with a subscriber key K and a RES length.
#[derive(Clone)]
pub struct TestAlgorithm {
    k: [u8; 16],
    res_len: usize,
}

impl fmt::Debug for TestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestAlgorithm")
            .field("k", &"REDACTED")
            .field("res_len", &self.res_len)
            .finish()
    }
}

impl Drop for TestAlgorithm {
    fn drop(&mut self) {
        self.k.zeroize();
    }
}

impl TestAlgorithm {
    /// The algorithm with key K and a RES of [`DEFAULT_RES_LEN`] bytes.
    pub fn new(k: &[u8; 16]) -> Self {
        Self {
            k: *k,
            res_len: DEFAULT_RES_LEN,
        }
    }

    /// The algorithm with a RES of `res_len` bytes (4 to 16, TS 34.108 §8.1.2.1: 32..128 bits
    /// in whole octets).
    pub fn with_res_len(k: &[u8; 16], res_len: usize) -> Result<Self, AuthError> {
        if !(4..=16).contains(&res_len) {
            return Err(AuthError::BadLength {
                what: "test algorithm RES",
                expected: "4 to 16",
                got: res_len,
            });
        }
        Ok(Self { k: *k, res_len })
    }

    fn xdout(&self, rand: &[u8; RAND_LEN]) -> [u8; 16] {
        let mut x = [0u8; 16];
        for (i, b) in x.iter_mut().enumerate() {
            *b = self.k[i] ^ rand[i];
        }
        x
    }

    fn mac(
        &self,
        rand: &[u8; RAND_LEN],
        sqn: &[u8; SQN_LEN],
        amf: &[u8; AMF_LEN],
    ) -> [u8; MAC_LEN] {
        let x = self.xdout(rand);
        let mut cdout = [0u8; MAC_LEN];
        cdout[..6].copy_from_slice(sqn);
        cdout[6..].copy_from_slice(amf);
        let mut mac = [0u8; MAC_LEN];
        for i in 0..MAC_LEN {
            mac[i] = x[i] ^ cdout[i];
        }
        mac
    }
}

impl AkaAlgorithm for TestAlgorithm {
    fn f1(&self, rand: &[u8; RAND_LEN], sqn: &[u8; SQN_LEN], amf: &[u8; AMF_LEN]) -> [u8; MAC_LEN] {
        self.mac(rand, sqn, amf)
    }

    fn f1_star(
        &self,
        rand: &[u8; RAND_LEN],
        sqn: &[u8; SQN_LEN],
        amf: &[u8; AMF_LEN],
    ) -> [u8; MAC_LEN] {
        self.mac(rand, sqn, amf)
    }

    fn f2345(&self, rand: &[u8; RAND_LEN]) -> AkaOutputs {
        let x = self.xdout(rand);
        let mut ak = [0u8; SQN_LEN];
        ak.copy_from_slice(&x[3..9]);
        AkaOutputs {
            res: x[..self.res_len].to_vec(),
            ck: u128::from_be_bytes(x).rotate_left(8).to_be_bytes(),
            ik: u128::from_be_bytes(x).rotate_left(16).to_be_bytes(),
            ak,
        }
    }

    fn f5_star(&self, rand: &[u8; RAND_LEN]) -> [u8; SQN_LEN] {
        let mut ak = [0u8; SQN_LEN];
        ak.copy_from_slice(&self.xdout(rand)[3..9]);
        ak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// Worked example published with flipk/pfk-milenage (`main.cc`, "Testing XOR"): the
    /// TS 34.108 default K, RAND 34…34, SQN 000000000001, AMF 8000.
    #[test]
    fn pfk_milenage_xor_worked_example() {
        let a = TestAlgorithm::new(&TS_34_108_DEFAULT_K);
        let rand = [0x34; 16];
        let sqn = h::<6>("000000000001");
        let amf = h::<2>("8000");
        assert_eq!(a.f1(&rand, &sqn, &amf), h::<8>("343536373030b233"));
        let out = a.f2345(&rand);
        assert_eq!(
            out.res,
            h::<16>("34353637303132333c3d3e3f38393a3b").to_vec()
        );
        assert_eq!(out.ck, h::<16>("353637303132333c3d3e3f38393a3b34"));
        assert_eq!(out.ik, h::<16>("3637303132333c3d3e3f38393a3b3435"));
        assert_eq!(out.ak, h::<6>("37303132333c"));
        let v = a.generate_vector(&rand, &sqn, &amf);
        assert_eq!(v.autn, h::<16>("37303132333d8000343536373030b233"));
        assert_eq!(a.f5_star(&rand), h::<6>("37303132333c"));
        // AUTS there is built with MAC-S over AMF 8000.
        assert_eq!(a.f1_star(&rand, &sqn, &amf), h::<8>("343536373030b233"));
    }

    #[test]
    fn res_length_and_round_trip() {
        let a = TestAlgorithm::with_res_len(&TS_34_108_DEFAULT_K, 8).unwrap();
        let rand = h::<16>("00112233445566778899AABBCCDDEEFF");
        assert_eq!(a.f2345(&rand).res, h::<8>("0010203040506070").to_vec());
        assert!(TestAlgorithm::with_res_len(&TS_34_108_DEFAULT_K, 3).is_err());
        assert!(TestAlgorithm::with_res_len(&TS_34_108_DEFAULT_K, 17).is_err());
        let v = a.generate_vector(&rand, &h("0000000000A0"), &h("8000"));
        let (c, out) = a.check_autn(&rand, &v.autn).unwrap();
        assert_eq!(c.sqn, h::<6>("0000000000A0"));
        assert_eq!(out.res, v.xres);
    }
}
