//! The SGP.02 PSK identity of the ISD-R's SCP81 key set.
//!
//! The identity is the UTF-8 text of the upper-case hex of
//! `80 01 02 | 81 10 <EID> | 4F L <ISD-R AID> | 82 01 <KID> | 83 01 <KVN>`. This is njiwa's
//! reading of "Table 4 of SGP.02 v4.1" (`RamHttp.makePskId`), summarised in
//! `shared/protocol/SGP02.md` §6.2 and `SCP81-BIP.md` §1.5 `[impl]`; the SGP.02 text itself was
//! not available, so the table is UNCONFIRMED. `80 01 02` reads as "identity format 02 (SGP.02)".
//! Upper case is njiwa's (`b2H`); we read either case.

use super::Scp81Error;
use crate::gp::Aid;
use crate::tlv::{self, Tag, Tlv};

const TAG_FORMAT: u8 = 0x80;
const TAG_EID: u8 = 0x81;
const TAG_AID: u8 = 0x4F;
const TAG_KID: u8 = 0x82;
const TAG_KVN: u8 = 0x83;
/// The value of `80`: the SGP.02 identity format.
const FORMAT_SGP02: u8 = 0x02;

const WHAT: &str = "PSK identity";

/// An SGP.02 PSK identity: which eUICC, which security domain and which key (SGP.02 "Table 4"
/// as njiwa reads it; `SGP02.md` §6.2, confidence `[impl]`, table UNCONFIRMED).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskIdentity {
    /// The EID (`81`).
    pub eid: [u8; 16],
    /// The AID of the security domain holding the key set, the ISD-R (`4F`).
    pub isd_r: Aid,
    /// The key identifier (`82`).
    pub kid: u8,
    /// The key version number (`83`), `40`–`4F` for the ISD-R's SCP81 key sets.
    pub kvn: u8,
}

impl PskIdentity {
    /// The identity as the card presents it: the UTF-8 bytes of [`PskIdentity::to_text`].
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_text().into_bytes()
    }

    /// Upper-case hex of `80 01 02 | 81 10 <EID> | 4F L <AID> | 82 01 <KID> | 83 01 <KVN>`.
    pub fn to_text(&self) -> String {
        let mut raw = tlv::tlv(TAG_FORMAT, &[FORMAT_SGP02]);
        raw.extend_from_slice(&tlv::tlv(TAG_EID, &self.eid));
        raw.extend_from_slice(&tlv::tlv(TAG_AID, self.isd_r.as_bytes()));
        raw.extend_from_slice(&tlv::tlv(TAG_KID, &[self.kid]));
        raw.extend_from_slice(&tlv::tlv(TAG_KVN, &[self.kvn]));
        hex::encode_upper(raw)
    }

    /// Reads an identity (hex digits in either case). Strict: the five TLVs in the order above,
    /// format `02`, a 16-byte EID, a 5–16-byte AID, one-byte KID and KVN, nothing else.
    pub fn parse(identity: &[u8]) -> Result<Self, Scp81Error> {
        if let Some(offset) = identity.iter().position(|b| !b.is_ascii_hexdigit()) {
            return Err(Scp81Error::NotHex {
                field: WHAT,
                offset,
            });
        }
        let raw = hex::decode(identity).map_err(|_| Scp81Error::Invalid {
            field: WHAT,
            fault: "an odd number of hex digits",
        })?;
        let tlvs = Tlv::parse_all(&raw).map_err(|source| Scp81Error::Tlv { what: WHAT, source })?;
        let mut it = tlvs.into_iter();
        let mut next = |tag: u8, field: &'static str| -> Result<Vec<u8>, Scp81Error> {
            let tlv = it.next().ok_or(Scp81Error::MissingTag {
                what: field,
                tag: Tag::from(tag),
            })?;
            if tlv.tag != Tag::from(tag) {
                return Err(Scp81Error::UnexpectedTag {
                    what: field,
                    expected: Tag::from(tag),
                    found: tlv.tag,
                });
            }
            Ok(tlv.value)
        };
        let format = next(TAG_FORMAT, "PSK identity format (80)")?;
        if format != [FORMAT_SGP02] {
            return Err(Scp81Error::Invalid {
                field: "PSK identity format (80)",
                fault: "not the SGP.02 format 02",
            });
        }
        let eid = next(TAG_EID, "PSK identity EID (81)")?;
        let eid: [u8; 16] = eid
            .as_slice()
            .try_into()
            .map_err(|_| Scp81Error::BadLength {
                field: "PSK identity EID (81)",
                len: eid.len(),
                expected: "16",
            })?;
        let aid = next(TAG_AID, "PSK identity ISD-R AID (4F)")?;
        let isd_r = Aid::new(&aid).map_err(|_| Scp81Error::BadLength {
            field: "PSK identity ISD-R AID (4F)",
            len: aid.len(),
            expected: "5 to 16",
        })?;
        let kid = one_byte(
            next(TAG_KID, "PSK identity KID (82)")?,
            "PSK identity KID (82)",
        )?;
        let kvn = one_byte(
            next(TAG_KVN, "PSK identity KVN (83)")?,
            "PSK identity KVN (83)",
        )?;
        if it.next().is_some() {
            return Err(Scp81Error::Invalid {
                field: WHAT,
                fault: "TLVs after the KVN (83)",
            });
        }
        Ok(Self {
            eid,
            isd_r,
            kid,
            kvn,
        })
    }
}

fn one_byte(value: Vec<u8>, field: &'static str) -> Result<u8, Scp81Error> {
    match value.as_slice() {
        [b] => Ok(*b),
        _ => Err(Scp81Error::BadLength {
            field,
            len: value.len(),
            expected: "1",
        }),
    }
}
