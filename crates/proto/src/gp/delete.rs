//! DELETE (GPCS v2.3.1 §11.2) of card content or keys.
//!
//! `80 E4 P1 P2 Lc data 00`: P1 b8 chains commands, P2 b8 = delete the object and its related
//! objects (a load file with its applications). The data is `4F AID` [`B6` token CRT] [`9E`
//! delete token] for card content (Table 11-23), or `D0 key identifier` and/or `D2 key version
//! number` for keys (Table 11-24). The response is `00` or a confirmation
//! ([`super::ConfirmationResponse`]).
//!
//! SGP.02 DeleteProfile is a DELETE of the ISD-P's AID. The njiwa SM-SR sends it with P2 `40`,
//! a value whose bits b7..b1 are RFU: it decodes here as "delete object" (GPCS §11.1 has the
//! card ignore RFU bits).

use super::codec::{elements, expect_ins, join_chain, split_chain, Element};
use super::{Aid, GpError, CLA_GP, MAX_COMMAND_DATA};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};
use crate::tlv::tlv;

/// INS of DELETE.
pub const INS_DELETE: u8 = 0xE4;

/// What DELETE removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteTarget {
    /// An application, Security Domain or load file.
    CardContent {
        aid: Aid,
        /// `B6`: control reference template for the delete token.
        token_crt: Option<Vec<u8>>,
        /// `9E`: the delete token.
        token: Option<Vec<u8>>,
    },
    /// Keys: one key with both, or every key with the given identifier or version.
    Key {
        /// `D0`.
        key_id: Option<u8>,
        /// `D2`.
        version: Option<u8>,
    },
}

/// A DELETE command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delete {
    pub target: DeleteTarget,
    /// P2 b8: delete the related objects too.
    pub related: bool,
}

impl Delete {
    /// Deletes the object with `aid`.
    pub fn object(aid: Aid) -> Self {
        Self {
            target: DeleteTarget::CardContent {
                aid,
                token_crt: None,
                token: None,
            },
            related: false,
        }
    }

    /// Deletes the object with `aid` and its related objects (P2 `80`).
    pub fn object_and_related(aid: Aid) -> Self {
        Self {
            related: true,
            ..Self::object(aid)
        }
    }

    /// Deletes keys.
    pub fn key(key_id: Option<u8>, version: Option<u8>) -> Self {
        Self {
            target: DeleteTarget::Key { key_id, version },
            related: false,
        }
    }

    /// The command data.
    pub fn data(&self) -> Vec<u8> {
        match &self.target {
            DeleteTarget::CardContent {
                aid,
                token_crt,
                token,
            } => {
                let mut v = tlv(0x4Fu8, aid.as_bytes());
                if let Some(crt) = token_crt {
                    v.extend(tlv(0xB6u8, crt));
                }
                if let Some(t) = token {
                    v.extend(tlv(0x9Eu8, t));
                }
                v
            }
            DeleteTarget::Key { key_id, version } => {
                let mut v = Vec::new();
                if let Some(id) = key_id {
                    v.extend(tlv(0xD0u8, &[*id]));
                }
                if let Some(kvn) = version {
                    v.extend(tlv(0xD2u8, &[*kvn]));
                }
                v
            }
        }
    }

    fn header(&self) -> CommandApdu {
        let p2 = if self.related { 0x80 } else { 0x00 };
        CommandApdu::new(CLA_GP, INS_DELETE, 0x00, p2).with_le(SHORT_LE_MAX)
    }

    fn check(&self) -> Result<(), GpError> {
        if let DeleteTarget::Key {
            key_id: None,
            version: None,
        } = self.target
        {
            return Err(GpError::invalid(0, None, "DELETE [key] needs D0 or D2"));
        }
        Ok(())
    }

    /// One command; fails if the data exceeds 255 bytes (use [`Delete::to_apdus`]).
    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        self.check()?;
        let data = self.data();
        if data.len() > MAX_COMMAND_DATA {
            return Err(GpError::TooLong {
                what: "DELETE data (use a command chain)",
                len: data.len(),
                max: MAX_COMMAND_DATA,
            });
        }
        Ok(self.header().with_data(data))
    }

    /// The command, chained (P1 b8) when the data exceeds 255 bytes.
    pub fn to_apdus(&self) -> Result<Vec<CommandApdu>, GpError> {
        self.check()?;
        Ok(split_chain(&self.header(), &self.data()))
    }

    /// Decodes one command (not part of a chain).
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_DELETE)?;
        if apdu.p1 & 0x80 != 0 {
            return Err(GpError::params(
                "DELETE",
                apdu,
                "more commands follow: decode the whole chain",
            ));
        }
        let all = elements(&apdu.data, 0)?;
        let target = match all.first().map(|e| e.tag.value()) {
            Some(0x4F) => card_content(&all)?,
            Some(0xD0 | 0xD2) => key(&all)?,
            Some(_) => {
                return Err(all[0].invalid("DELETE data starts with 4F, D0 or D2"));
            }
            None => return Err(GpError::invalid(0, None, "DELETE without data")),
        };
        Ok(Self {
            target,
            related: apdu.p2 & 0x80 != 0,
        })
    }

    /// Decodes a chain of commands (or a single command).
    pub fn from_apdus(apdus: &[CommandApdu]) -> Result<Self, GpError> {
        Self::from_apdu(&join_chain("DELETE", apdus)?)
    }
}

fn card_content(all: &[Element<'_>]) -> Result<DeleteTarget, GpError> {
    let (first, rest) = all
        .split_first()
        .ok_or(GpError::invalid(0, None, "empty"))?;
    let aid = Aid::new(first.value).map_err(|_| first.invalid("AID must be 5 to 16 bytes"))?;
    let mut token_crt = None;
    let mut token = None;
    let mut order = 0;
    for el in rest {
        let (slot, rank) = match el.tag.value() {
            0xB6 => (&mut token_crt, 1),
            0x9E => (&mut token, 2),
            _ => {
                return Err(GpError::invalid(
                    el.start,
                    Some(el.tag),
                    "only B6 and 9E may follow the AID",
                ))
            }
        };
        if rank <= order {
            return Err(GpError::invalid(
                el.start,
                Some(el.tag),
                "repeated or out of order",
            ));
        }
        order = rank;
        *slot = Some(el.value.to_vec());
    }
    Ok(DeleteTarget::CardContent {
        aid,
        token_crt,
        token,
    })
}

fn key(all: &[Element<'_>]) -> Result<DeleteTarget, GpError> {
    let mut key_id = None;
    let mut version = None;
    for el in all {
        let slot = match el.tag.value() {
            0xD0 if key_id.is_none() && version.is_none() => &mut key_id,
            0xD2 if version.is_none() => &mut version,
            _ => {
                return Err(GpError::invalid(
                    el.start,
                    Some(el.tag),
                    "DELETE [key] holds D0 then D2, once each",
                ))
            }
        };
        *slot = Some(el.single_byte()?);
    }
    Ok(DeleteTarget::Key { key_id, version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::confirmation::ConfirmationResponse;
    use crate::gp::testdata::h;

    #[test]
    fn round_trips() {
        let isd_p = Aid::isd_p(0x10).unwrap();
        let cases = [
            (
                Delete::object(isd_p.clone()),
                "80E4000012 4F10A0000005591010FFFFFFFF8900001000 00",
            ),
            (
                Delete::object_and_related(Aid::isd_p_load_file()),
                "80E4008012 4F10A0000005591010FFFFFFFF8900000D00 00",
            ),
            (Delete::key(Some(1), Some(0x30)), "80E4000006 D00101 D20130 00"),
            (Delete::key(None, Some(0x30)), "80E4000003 D20130 00"),
            (Delete::key(Some(3), None), "80E4000003 D00103 00"),
            (
                Delete {
                    target: DeleteTarget::CardContent {
                        aid: isd_p.clone(),
                        token_crt: Some(h("930101")),
                        token: Some(vec![0x55; 8]),
                    },
                    related: false,
                },
                "80E4000021 4F10A0000005591010FFFFFFFF8900001000 B603930101 9E085555555555555555 00",
            ),
        ];
        for (delete, bytes) in cases {
            let apdu = delete.to_apdu().unwrap();
            assert_eq!(apdu.to_bytes().unwrap(), h(bytes));
            assert_eq!(Delete::from_apdu(&apdu).unwrap(), delete);
            assert_eq!(
                Delete::from_apdus(&delete.to_apdus().unwrap()).unwrap(),
                delete
            );
        }
        // njiwa DeleteProfile: P2 40 (RFU bits) decodes as "delete object".
        let njiwa =
            CommandApdu::parse(&h("80E4004012 4F10A0000005591010FFFFFFFF8900001000")).unwrap();
        assert_eq!(Delete::from_apdu(&njiwa).unwrap(), Delete::object(isd_p));
        assert_eq!(
            ConfirmationResponse::parse(&h("00")).unwrap().to_bytes(),
            h("00")
        );
    }

    #[test]
    fn chained_token() {
        let long = Delete {
            target: DeleteTarget::CardContent {
                aid: Aid::gp_isd(),
                token_crt: None,
                token: Some(vec![0x11; 300]),
            },
            related: true,
        };
        assert!(long.to_apdu().is_err());
        let chain = long.to_apdus().unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!((chain[0].p1, chain[0].p2, chain[1].p1), (0x80, 0x80, 0x00));
        assert_eq!(Delete::from_apdus(&chain).unwrap(), long);
        assert!(Delete::from_apdu(&chain[0]).is_err());
    }

    #[test]
    fn strictness() {
        assert!(Delete::key(None, None).to_apdu().is_err());
        assert!(Delete::key(None, None).to_apdus().is_err());
        for (bad, expect_offset) in [
            ("", Some(0)),
            ("4F04A0000001", Some(2)),
            ("4F05A000000151 9E00 B600", Some(9)),
            ("4F05A000000151 4F05A000000151", Some(7)),
            ("D20130 D00101", Some(3)),
            ("D0020101", Some(2)),
            ("C40100", Some(2)),
            ("4F05A0000001", None),
        ] {
            let apdu = CommandApdu::new(0x80, 0xE4, 0, 0).with_data(h(bad));
            let err = Delete::from_apdu(&apdu).unwrap_err();
            match expect_offset {
                Some(o) => assert!(
                    matches!(err, GpError::Invalid { offset, .. } if offset == o),
                    "{bad}: {err}"
                ),
                None => assert!(matches!(err, GpError::Tlv(_)), "{bad}: {err}"),
            }
        }
    }
}
