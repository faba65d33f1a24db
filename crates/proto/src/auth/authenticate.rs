//! The USIM AUTHENTICATE command in the 3G security context (3GPP TS 31.102 §7.1.2; the command
//! itself is ETSI TS 102 221 §11.1.16 with INS `88`), built and parsed on both sides.
//!
//! Command: `00 88 00 81 Lc` `10 ‖ RAND` `10 ‖ AUTN` `Le=00`. P2 `81` = specific reference data
//! (b8 = 1), 3G context (b3..b1 = `001`).
//!
//! Response data (§7.1.2.1, with SW `9000`):
//! - successful 3G authentication: `DB` L_RES RES L_CK CK L_IK IK, followed by L_Kc Kc when the
//!   USIM offers GSM access (service n°27);
//! - synchronisation failure: `DC` `0E` AUTS.
//!
//! A wrong MAC in AUTN is not response data but the status word `9862` ("authentication error,
//! incorrect MAC", TS 31.102 §7.3.1).

use super::{array, AkaAlgorithm, AuthError, AUTN_LEN, AUTS_LEN, RAND_LEN, SQN_LEN};
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;

/// INS of AUTHENTICATE (ETSI TS 102 221 §10.1.2).
pub const INS_AUTHENTICATE: u8 = 0x88;
/// P2 for the 3G security context (TS 31.102 §7.1.2).
pub const P2_3G_CONTEXT: u8 = 0x81;
/// Tag of a successful 3G response.
pub const TAG_SUCCESS: u8 = 0xDB;
/// Tag of a synchronisation-failure response.
pub const TAG_SYNC_FAILURE: u8 = 0xDC;
/// SW `9862`: authentication error, incorrect MAC (TS 31.102 §7.3.1).
pub const SW_INCORRECT_MAC: u16 = 0x9862;

/// AUTHENTICATE command data in the 3G context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthenticateCommand {
    pub rand: [u8; RAND_LEN],
    pub autn: [u8; AUTN_LEN],
}

impl AuthenticateCommand {
    /// The command APDU on the basic channel (`00 88 00 81`, Le = 256).
    pub fn to_apdu(&self) -> CommandApdu {
        let mut data = Vec::with_capacity(34);
        data.push(16);
        data.extend_from_slice(&self.rand);
        data.push(16);
        data.extend_from_slice(&self.autn);
        CommandApdu::new(0x00, INS_AUTHENTICATE, 0x00, P2_3G_CONTEXT)
            .with_data(data)
            .with_le(256)
    }

    /// The card side: RAND and AUTN from an AUTHENTICATE command in the 3G context. The class
    /// byte's channel bits are not looked at.
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, AuthError> {
        let bad = |reason| AuthError::Malformed {
            what: "command",
            reason,
        };
        if apdu.ins != INS_AUTHENTICATE {
            return Err(bad("INS is not 88"));
        }
        if apdu.p1 != 0x00 || apdu.p2 != P2_3G_CONTEXT {
            return Err(bad("P1 P2 are not 00 81 (3G context)"));
        }
        Self::from_data(&apdu.data)
    }

    /// RAND and AUTN from the command data `10 RAND 10 AUTN`.
    pub fn from_data(data: &[u8]) -> Result<Self, AuthError> {
        let bad = |reason| AuthError::Malformed {
            what: "command",
            reason,
        };
        if data.len() != 34 {
            return Err(bad("data is not 34 bytes (L_RAND RAND L_AUTN AUTN)"));
        }
        if data[0] != 16 || data[17] != 16 {
            return Err(bad("L_RAND or L_AUTN is not 16"));
        }
        Ok(Self {
            rand: array("RAND", &data[1..17])?,
            autn: array("AUTN", &data[18..34])?,
        })
    }
}

/// The USIM's answer to AUTHENTICATE in the 3G context.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthenticateResponse {
    /// `DB`: RES, CK, IK and, with GSM access, Kc.
    Success {
        res: Vec<u8>,
        ck: [u8; 16],
        ik: [u8; 16],
        kc: Option<[u8; 8]>,
    },
    /// `DC`: AUTS for re-synchronisation.
    SyncFailure { auts: [u8; AUTS_LEN] },
}

impl std::fmt::Debug for AuthenticateResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Success { res, kc, .. } => f
                .debug_struct("Success")
                .field("res_len", &res.len())
                .field("kc", &kc.map(|_| "REDACTED"))
                .finish_non_exhaustive(),
            Self::SyncFailure { auts } => f
                .debug_struct("SyncFailure")
                .field("auts", &hex::encode_upper(auts))
                .finish(),
        }
    }
}

impl AuthenticateResponse {
    /// The response data bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AuthError> {
        match self {
            Self::Success { res, ck, ik, kc } => {
                let res_len = u8::try_from(res.len())
                    .ok()
                    .filter(|l| (4..=16).contains(l))
                    .ok_or(AuthError::BadLength {
                        what: "RES",
                        expected: "4 to 16",
                        got: res.len(),
                    })?;
                let mut out = vec![TAG_SUCCESS, res_len];
                out.extend_from_slice(res);
                out.push(16);
                out.extend_from_slice(ck);
                out.push(16);
                out.extend_from_slice(ik);
                if let Some(kc) = kc {
                    out.push(8);
                    out.extend_from_slice(kc);
                }
                Ok(out)
            }
            Self::SyncFailure { auts } => {
                let mut out = vec![TAG_SYNC_FAILURE, 14];
                out.extend_from_slice(auts);
                Ok(out)
            }
        }
    }

    /// The response APDU (data with SW `9000`).
    pub fn to_response_apdu(&self) -> Result<ResponseApdu, AuthError> {
        Ok(ResponseApdu::success(self.to_bytes()?))
    }

    /// The host side: parses the response data of a `9000` answer. Strict: every length is
    /// checked, and no byte may be left over.
    pub fn parse(data: &[u8]) -> Result<Self, AuthError> {
        let bad = |reason| AuthError::Malformed {
            what: "response",
            reason,
        };
        let (&tag, rest) = data.split_first().ok_or(bad("empty"))?;
        match tag {
            TAG_SUCCESS => {
                let mut r = Reader(rest);
                let res = r.lv().ok_or(bad("RES runs past the end"))?;
                if !(4..=16).contains(&res.len()) {
                    return Err(bad("L_RES is not 4 to 16"));
                }
                let ck = r.lv().ok_or(bad("CK runs past the end"))?;
                let ik = r.lv().ok_or(bad("IK runs past the end"))?;
                let ck = array::<16>("CK", ck)?;
                let ik = array::<16>("IK", ik)?;
                let kc = if r.0.is_empty() {
                    None
                } else {
                    let kc = r.lv().ok_or(bad("Kc runs past the end"))?;
                    Some(array::<8>("Kc", kc)?)
                };
                if !r.0.is_empty() {
                    return Err(bad("bytes after the last field"));
                }
                Ok(Self::Success {
                    res: res.to_vec(),
                    ck,
                    ik,
                    kc,
                })
            }
            TAG_SYNC_FAILURE => {
                let mut r = Reader(rest);
                let auts = r.lv().ok_or(bad("AUTS runs past the end"))?;
                if !r.0.is_empty() {
                    return Err(bad("bytes after AUTS"));
                }
                Ok(Self::SyncFailure {
                    auts: array("AUTS", auts)?,
                })
            }
            _ => Err(bad("first byte is neither DB nor DC")),
        }
    }

    /// The host side on a whole response APDU: `9862` becomes [`AuthError::MacFailure`].
    pub fn from_response_apdu(resp: &ResponseApdu) -> Result<Self, AuthError> {
        if resp.sw == StatusWord::from_u16(SW_INCORRECT_MAC) {
            return Err(AuthError::MacFailure("MAC-A"));
        }
        if resp.sw != StatusWord::Success {
            return Err(AuthError::Malformed {
                what: "response",
                reason: "status word is not 9000",
            });
        }
        Self::parse(&resp.data)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn lv(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.0.split_first()?;
        let len = usize::from(len);
        if rest.len() < len {
            return None;
        }
        let (v, rest) = rest.split_at(len);
        self.0 = rest;
        Some(v)
    }
}

/// The USIM's decision on whether a network SQN is acceptable (TS 33.102 §6.3.3 and Annex C).
/// The emulator supplies its own policy; this is the seam.
pub trait SqnCheck {
    /// Whether `sqn` from AUTN is fresh. On `true` the USIM stores it.
    fn accept(&mut self, sqn: &[u8; SQN_LEN]) -> bool;
    /// SQN_MS, the highest accepted sequence number, for AUTS.
    fn sqn_ms(&self) -> [u8; SQN_LEN];
}

/// The USIM procedure for one AUTHENTICATE (TS 33.102 §6.3.3): verify MAC-A, check SQN, and
/// answer with RES/CK/IK (+Kc when `gsm_access`), AUTS, or SW `9862`.
pub fn usim_authenticate(
    algorithm: &impl AkaAlgorithm,
    sqn_check: &mut impl SqnCheck,
    command: &AuthenticateCommand,
    gsm_access: bool,
) -> ResponseApdu {
    match algorithm.check_autn(&command.rand, &command.autn) {
        Err(_) => ResponseApdu::status(StatusWord::from_u16(SW_INCORRECT_MAC)),
        Ok((contents, out)) => {
            let response = if sqn_check.accept(&contents.sqn) {
                AuthenticateResponse::Success {
                    res: out.res.clone(),
                    ck: out.ck,
                    ik: out.ik,
                    kc: gsm_access.then(|| super::c3(&out.ck, &out.ik)),
                }
            } else {
                AuthenticateResponse::SyncFailure {
                    auts: algorithm.auts(&command.rand, &sqn_check.sqn_ms()),
                }
            };
            match response.to_response_apdu() {
                Ok(r) => r,
                // RES lengths come from our own algorithms (4..=16); anything else is a
                // technical problem, reported as such.
                Err(_) => ResponseApdu::status(StatusWord::from_u16(0x6F00)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::milenage::Milenage;
    use crate::auth::test_algorithm::{TestAlgorithm, TS_34_108_DEFAULT_K};
    use proptest::prelude::*;

    struct Counter {
        highest: [u8; 6],
    }

    impl SqnCheck for Counter {
        fn accept(&mut self, sqn: &[u8; 6]) -> bool {
            if sqn > &self.highest {
                self.highest = *sqn;
                true
            } else {
                false
            }
        }
        fn sqn_ms(&self) -> [u8; 6] {
            self.highest
        }
    }

    #[test]
    fn command_bytes() {
        let c = AuthenticateCommand {
            rand: [0x34; 16],
            autn: [0xA5; 16],
        };
        let bytes = c.to_apdu().to_bytes().unwrap();
        let mut want = hex::decode("008800812210").unwrap();
        want.extend([0x34; 16]);
        want.push(0x10);
        want.extend([0xA5; 16]);
        want.push(0x00);
        assert_eq!(bytes, want);
        let parsed = CommandApdu::parse(&bytes).unwrap();
        assert_eq!(AuthenticateCommand::from_apdu(&parsed).unwrap(), c);
        let mut wrong_p2 = parsed.clone();
        wrong_p2.p2 = 0x80;
        assert!(AuthenticateCommand::from_apdu(&wrong_p2).is_err());
        assert!(AuthenticateCommand::from_data(&bytes[5..38]).is_err());
    }

    #[test]
    fn full_exchange_with_the_ts48_test_algorithm() {
        let usim_alg = TestAlgorithm::new(&TS_34_108_DEFAULT_K);
        let network_alg = TestAlgorithm::new(&TS_34_108_DEFAULT_K);
        let mut usim = Counter { highest: [0; 6] };
        let rand = [0x34; 16];
        let v = network_alg.generate_vector(&rand, &[0, 0, 0, 0, 0, 0x21], &[0x80, 0]);
        let cmd = AuthenticateCommand { rand, autn: v.autn };
        let resp = usim_authenticate(&usim_alg, &mut usim, &cmd, true);
        assert_eq!(resp.sw, StatusWord::Success);
        // DB 10 RES 10 CK 10 IK 08 Kc
        assert_eq!(resp.data.len(), 1 + 17 + 17 + 17 + 9);
        match AuthenticateResponse::from_response_apdu(&resp).unwrap() {
            AuthenticateResponse::Success { res, ck, ik, kc } => {
                assert_eq!(res, v.xres);
                assert_eq!(ck, v.ck);
                assert_eq!(ik, v.ik);
                assert_eq!(kc, Some(crate::auth::c3(&v.ck, &v.ik)));
            }
            other => panic!("unexpected {other:?}"),
        }
        // Replay: SQN no longer fresh, the USIM answers AUTS, and the network recovers SQN_MS.
        let resp = usim_authenticate(&usim_alg, &mut usim, &cmd, true);
        match AuthenticateResponse::from_response_apdu(&resp).unwrap() {
            AuthenticateResponse::SyncFailure { auts } => {
                assert_eq!(
                    network_alg.check_auts(&rand, &auts).unwrap(),
                    [0, 0, 0, 0, 0, 0x21]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        // Tampered AUTN: 9862.
        let mut bad = cmd;
        bad.autn[9] ^= 0x40;
        let resp = usim_authenticate(&usim_alg, &mut usim, &bad, false);
        assert_eq!(resp.to_bytes(), vec![0x98, 0x62]);
        assert_eq!(
            AuthenticateResponse::from_response_apdu(&resp).unwrap_err(),
            AuthError::MacFailure("MAC-A")
        );
    }

    #[test]
    fn milenage_response_without_kc() {
        let m = Milenage::from_op(&[7; 16], &[9; 16]);
        let mut usim = Counter { highest: [0; 6] };
        let rand = [1; 16];
        let v = m.generate_vector(&rand, &[0, 0, 0, 0, 1, 0], &[0x80, 0]);
        let resp = usim_authenticate(
            &m,
            &mut usim,
            &AuthenticateCommand { rand, autn: v.autn },
            false,
        );
        assert_eq!(resp.data[0], 0xDB);
        assert_eq!(resp.data[1], 8);
        assert_eq!(resp.data.len(), 1 + 9 + 17 + 17);
    }

    #[test]
    fn strict_response_parsing() {
        let ok = AuthenticateResponse::SyncFailure { auts: [3; 14] }
            .to_bytes()
            .unwrap();
        assert_eq!(
            AuthenticateResponse::parse(&ok)
                .unwrap()
                .to_bytes()
                .unwrap(),
            ok
        );
        let mut trailing = ok.clone();
        trailing.push(0);
        assert!(AuthenticateResponse::parse(&trailing).is_err());
        assert!(AuthenticateResponse::parse(&ok[..10]).is_err());
        assert!(AuthenticateResponse::parse(&[0xDB, 3, 1, 2, 3]).is_err());
        assert!(AuthenticateResponse::parse(&[]).is_err());
        assert!(AuthenticateResponse::Success {
            res: vec![1; 17],
            ck: [0; 16],
            ik: [0; 16],
            kc: None
        }
        .to_bytes()
        .is_err());
    }

    proptest! {
        #[test]
        fn response_parser_never_panics_and_round_trips(b in prop::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(r) = AuthenticateResponse::parse(&b) {
                prop_assert_eq!(r.to_bytes().unwrap(), b.clone());
            }
            let _ = AuthenticateCommand::from_data(&b);
        }
    }
}
