//! USIM authentication in the 3G (UMTS AKA) security context: the algorithms that turn K, RAND,
//! SQN and AMF into RES, CK, IK, AK and the network token AUTN (3GPP TS 33.102 §6.3), and the
//! AUTHENTICATE command that carries them between terminal and USIM (3GPP TS 31.102 §7.1.2).
//!
//! - [`milenage`]: the MILENAGE example algorithm set f1, f1*, f2, f3, f4, f5, f5* and the OPc
//!   derivation (3GPP TS 35.206 §4), with the operator-configurable r and c constants that a SAIP
//!   `akaParameter` can carry.
//! - [`test_algorithm`]: the 3GPP test algorithm of TS 34.108 §8.1.2 (the "XOR" algorithm) that
//!   every GSMA TS.48 test profile names as `usim-test-algorithm`.
//! - [`authenticate`]: AUTHENTICATE command and response data, 3G context, both directions, and
//!   the USIM-side procedure (AUTN check, SQN extraction, AUTS for re-synchronisation).
//!
//! Both algorithms implement [`AkaAlgorithm`], so the USIM procedure and the network-side
//! vector generation are written once.

pub mod authenticate;
pub mod milenage;
pub mod test_algorithm;

use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::Zeroize;

/// Length of RAND, bytes (TS 33.102 §6.3.2: 128 bits).
pub const RAND_LEN: usize = 16;
/// Length of SQN and AK, bytes (48 bits).
pub const SQN_LEN: usize = 6;
/// Length of AMF, bytes (16 bits).
pub const AMF_LEN: usize = 2;
/// Length of MAC-A / MAC-S, bytes (64 bits).
pub const MAC_LEN: usize = 8;
/// Length of AUTN, bytes: SQN⊕AK (6) ‖ AMF (2) ‖ MAC-A (8).
pub const AUTN_LEN: usize = 16;
/// Length of AUTS, bytes: SQN_MS⊕AK* (6) ‖ MAC-S (8).
pub const AUTS_LEN: usize = 14;

/// Why an authentication step failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// A parameter of the wrong length.
    #[error("{what} must be {expected} bytes, got {got}")]
    BadLength {
        what: &'static str,
        expected: &'static str,
        got: usize,
    },
    /// The MAC in AUTN (or AUTS) does not match the one computed (TS 33.102 §6.3.3: the USIM
    /// answers "MAC failure").
    #[error("{0} verification failed")]
    MacFailure(&'static str),
    /// AUTHENTICATE data that is not a valid 3G-context command or response.
    #[error("malformed AUTHENTICATE {what}: {reason}")]
    Malformed {
        what: &'static str,
        reason: &'static str,
    },
}

/// Outputs of f2, f3, f4, f5 for one RAND.
#[derive(Clone, PartialEq, Eq)]
pub struct AkaOutputs {
    /// RES (f2), 4 to 16 bytes.
    pub res: Vec<u8>,
    /// CK (f3).
    pub ck: [u8; 16],
    /// IK (f4).
    pub ik: [u8; 16],
    /// AK (f5).
    pub ak: [u8; SQN_LEN],
}

impl std::fmt::Debug for AkaOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AkaOutputs { REDACTED }")
    }
}

impl Drop for AkaOutputs {
    fn drop(&mut self) {
        self.res.zeroize();
        self.ck.zeroize();
        self.ik.zeroize();
        self.ak.zeroize();
    }
}

/// The f-functions of a 3G authentication algorithm set (TS 33.102 §6.3.2, §6.3.3).
pub trait AkaAlgorithm {
    /// f1: the network authentication code MAC-A.
    fn f1(&self, rand: &[u8; RAND_LEN], sqn: &[u8; SQN_LEN], amf: &[u8; AMF_LEN]) -> [u8; MAC_LEN];
    /// f1*: the re-synchronisation code MAC-S.
    fn f1_star(
        &self,
        rand: &[u8; RAND_LEN],
        sqn: &[u8; SQN_LEN],
        amf: &[u8; AMF_LEN],
    ) -> [u8; MAC_LEN];
    /// f2 (RES), f3 (CK), f4 (IK) and f5 (AK).
    fn f2345(&self, rand: &[u8; RAND_LEN]) -> AkaOutputs;
    /// f5*: the anonymity key used in AUTS.
    fn f5_star(&self, rand: &[u8; RAND_LEN]) -> [u8; SQN_LEN];

    /// The network side: an authentication vector for RAND, SQN and AMF (TS 33.102 §6.3.2).
    fn generate_vector(
        &self,
        rand: &[u8; RAND_LEN],
        sqn: &[u8; SQN_LEN],
        amf: &[u8; AMF_LEN],
    ) -> AuthVector {
        let mac_a = self.f1(rand, sqn, amf);
        let out = self.f2345(rand);
        let mut autn = [0u8; AUTN_LEN];
        for i in 0..SQN_LEN {
            autn[i] = sqn[i] ^ out.ak[i];
        }
        autn[6..8].copy_from_slice(amf);
        autn[8..].copy_from_slice(&mac_a);
        AuthVector {
            rand: *rand,
            xres: out.res.clone(),
            ck: out.ck,
            ik: out.ik,
            autn,
        }
    }

    /// The USIM side: checks AUTN and returns the network's SQN and the keys
    /// (TS 33.102 §6.3.3). Freshness of the SQN is the caller's decision.
    fn check_autn(
        &self,
        rand: &[u8; RAND_LEN],
        autn: &[u8; AUTN_LEN],
    ) -> Result<(AutnContents, AkaOutputs), AuthError> {
        let out = self.f2345(rand);
        let mut sqn = [0u8; SQN_LEN];
        for i in 0..SQN_LEN {
            sqn[i] = autn[i] ^ out.ak[i];
        }
        let amf = [autn[6], autn[7]];
        let xmac = self.f1(rand, &sqn, &amf);
        if !bool::from(xmac.ct_eq(&autn[8..])) {
            return Err(AuthError::MacFailure("MAC-A"));
        }
        Ok((AutnContents { sqn, amf }, out))
    }

    /// The USIM side of re-synchronisation: AUTS = SQN_MS ⊕ AK* ‖ MAC-S, where MAC-S is f1*
    /// over SQN_MS with the dummy AMF of all zeros (TS 33.102 §6.3.3, §6.3.5).
    fn auts(&self, rand: &[u8; RAND_LEN], sqn_ms: &[u8; SQN_LEN]) -> [u8; AUTS_LEN] {
        let ak_star = self.f5_star(rand);
        let mac_s = self.f1_star(rand, sqn_ms, &RESYNC_AMF);
        let mut auts = [0u8; AUTS_LEN];
        for i in 0..SQN_LEN {
            auts[i] = sqn_ms[i] ^ ak_star[i];
        }
        auts[SQN_LEN..].copy_from_slice(&mac_s);
        auts
    }

    /// The network side of re-synchronisation: checks MAC-S in AUTS and returns SQN_MS
    /// (TS 33.102 §6.3.5).
    fn check_auts(
        &self,
        rand: &[u8; RAND_LEN],
        auts: &[u8; AUTS_LEN],
    ) -> Result<[u8; SQN_LEN], AuthError> {
        let ak_star = self.f5_star(rand);
        let mut sqn_ms = [0u8; SQN_LEN];
        for i in 0..SQN_LEN {
            sqn_ms[i] = auts[i] ^ ak_star[i];
        }
        let mac_s = self.f1_star(rand, &sqn_ms, &RESYNC_AMF);
        if !bool::from(mac_s.ct_eq(&auts[SQN_LEN..])) {
            return Err(AuthError::MacFailure("MAC-S"));
        }
        Ok(sqn_ms)
    }
}

/// The AMF used for MAC-S in AUTS: "a dummy value of all zeros" (TS 33.102 §6.3.3).
pub const RESYNC_AMF: [u8; AMF_LEN] = [0, 0];

/// What a valid AUTN carries besides its MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutnContents {
    /// The network's sequence number (AUTN bytes 0..6 with AK removed).
    pub sqn: [u8; SQN_LEN],
    /// The authentication management field.
    pub amf: [u8; AMF_LEN],
}

/// A 3G authentication vector (TS 33.102 §6.3.2): RAND, XRES, CK, IK, AUTN.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthVector {
    pub rand: [u8; RAND_LEN],
    pub xres: Vec<u8>,
    pub ck: [u8; 16],
    pub ik: [u8; 16],
    pub autn: [u8; AUTN_LEN],
}

impl std::fmt::Debug for AuthVector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthVector")
            .field("rand", &hex::encode_upper(self.rand))
            .field("autn", &hex::encode_upper(self.autn))
            .field("xres", &"REDACTED")
            .field("ck", &"REDACTED")
            .field("ik", &"REDACTED")
            .finish()
    }
}

impl Drop for AuthVector {
    fn drop(&mut self) {
        self.xres.zeroize();
        self.ck.zeroize();
        self.ik.zeroize();
    }
}

/// The GSM cipher key Kc derived from CK and IK by the conversion function c3
/// (TS 33.102 §6.8.1.2): Kc = CK1 ⊕ CK2 ⊕ IK1 ⊕ IK2, the 64-bit halves of CK and IK.
pub fn c3(ck: &[u8; 16], ik: &[u8; 16]) -> [u8; 8] {
    let mut kc = [0u8; 8];
    for (i, b) in kc.iter_mut().enumerate() {
        *b = ck[i] ^ ck[i + 8] ^ ik[i] ^ ik[i + 8];
    }
    kc
}

pub(crate) fn array<const N: usize>(
    what: &'static str,
    bytes: &[u8],
) -> Result<[u8; N], AuthError> {
    bytes.try_into().map_err(|_| AuthError::BadLength {
        what,
        expected: match N {
            6 => "6",
            8 => "8",
            14 => "14",
            16 => "16",
            _ => "a fixed number of",
        },
        got: bytes.len(),
    })
}
