//! SELECT [by name] (GPCS v2.3.1 §11.9, ISO/IEC 7816-4 §11.2.2) and the File Control
//! Information of Security Domains (Table 11-82).
//!
//! `00 A4 04 P2 [Lc AID] [00]`: P2 `00` first or only occurrence with FCI, `02` next
//! occurrence, `0C`/`0E` the same without response data. Without an AID the command selects
//! the Issuer Security Domain (`00 A4 04 00 00`, case 2).
//!
//! The FCI is `6F { 84 AID, A5 { 73 SD management data, 9F6E application production life
//! cycle data, 9F65 maximum command data length } }`. Unknown objects in `6F` and `A5` are
//! kept (GPCS: "additional data objects may be returned"), in order, after the known ones.

use super::codec::{be_uint, expect_ins, minimal_be, single, Element};
use super::get_data::card_recognition::{CardRecognitionData, TAG_RECOGNITION_DATA};
use super::{Aid, GpError, CLA_ISO};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};
use crate::tlv::{tlv, Tag, Tlv};

/// INS of SELECT.
pub const INS_SELECT: u8 = 0xA4;
/// P1 of SELECT [by name].
pub const P1_BY_NAME: u8 = 0x04;

/// Which occurrence of a (partial) AID to select: P2 b2 b1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occurrence {
    /// `00`: first or only occurrence.
    First,
    /// `10`: next occurrence.
    Next,
}

/// A SELECT [by name] command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Select {
    /// The AID (or AID prefix) to select; `None` selects the Issuer Security Domain.
    pub aid: Option<Aid>,
    pub occurrence: Occurrence,
    /// Whether the FCI is asked for (P2 b4 b3 = `00`) rather than no response data (`11`).
    pub fci: bool,
}

impl Select {
    /// Selects the first or only application with `aid`, returning its FCI.
    pub fn by_aid(aid: Aid) -> Self {
        Self {
            aid: Some(aid),
            occurrence: Occurrence::First,
            fci: true,
        }
    }

    /// Selects the Issuer Security Domain without naming it: `00 A4 04 00 00`.
    pub fn issuer_security_domain() -> Self {
        Self {
            aid: None,
            occurrence: Occurrence::First,
            fci: true,
        }
    }

    /// Selects the next application matching `aid`.
    pub fn next(aid: Aid) -> Self {
        Self {
            occurrence: Occurrence::Next,
            ..Self::by_aid(aid)
        }
    }

    /// The same selection without response data (P2 `0C`).
    #[must_use]
    pub fn without_fci(mut self) -> Self {
        self.fci = false;
        self
    }

    fn p2(&self) -> u8 {
        let occurrence = match self.occurrence {
            Occurrence::First => 0x00,
            Occurrence::Next => 0x02,
        };
        occurrence | if self.fci { 0x00 } else { 0x0C }
    }

    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        let mut apdu = CommandApdu::new(CLA_ISO, INS_SELECT, P1_BY_NAME, self.p2());
        if let Some(aid) = &self.aid {
            apdu = apdu.with_data(aid.as_bytes());
        }
        if self.fci || self.aid.is_none() {
            apdu = apdu.with_le(SHORT_LE_MAX);
        }
        Ok(apdu)
    }

    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_SELECT)?;
        if apdu.p1 != P1_BY_NAME {
            return Err(GpError::params(
                "SELECT",
                apdu,
                "only SELECT by name (P1 04) is a GlobalPlatform SELECT",
            ));
        }
        let occurrence = match apdu.p2 & 0x03 {
            0x00 => Occurrence::First,
            0x02 => Occurrence::Next,
            _ => return Err(GpError::params("SELECT", apdu, "last/previous occurrence")),
        };
        let fci = match apdu.p2 & 0xFC {
            0x00 => true,
            0x0C => false,
            _ => {
                return Err(GpError::params(
                    "SELECT",
                    apdu,
                    "only FCI or no response data",
                ))
            }
        };
        let aid = if apdu.data.is_empty() {
            None
        } else {
            Some(Aid::new(&apdu.data)?)
        };
        Ok(Self {
            aid,
            occurrence,
            fci,
        })
    }
}

/// The proprietary data template `A5` of the FCI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FciProprietary {
    /// `73`: Security Domain Management Data.
    pub sd_management_data: Option<CardRecognitionData>,
    /// `9F6E`: application production life cycle data.
    pub production_life_cycle: Option<Vec<u8>>,
    /// `9F65`: maximum length of the command data field.
    pub max_command_data: Option<u32>,
    /// Other objects, in order.
    pub other: Vec<Tlv>,
}

/// File Control Information (`6F`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fci {
    /// `84`: the selected application's AID.
    pub aid: Aid,
    /// `A5`.
    pub proprietary: Option<FciProprietary>,
    /// Other objects of `6F`, in order.
    pub other: Vec<Tlv>,
}

const TAG_FCI: u8 = 0x6F;
const TAG_AID: u8 = 0x84;
const TAG_PROPRIETARY: u8 = 0xA5;
const TAG_LIFE_CYCLE_DATA: u16 = 0x9F6E;
const TAG_MAX_COMMAND: u16 = 0x9F65;

impl Fci {
    /// The FCI a Security Domain returns: `6F { 84 aid, A5 { 9F65 max } }`.
    pub fn new(aid: Aid, max_command_data: u32) -> Self {
        Self {
            aid,
            proprietary: Some(FciProprietary {
                max_command_data: Some(max_command_data),
                ..FciProprietary::default()
            }),
            other: Vec::new(),
        }
    }

    /// Decodes the SELECT response data.
    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        let fci = single(bytes, Tag::from(TAG_FCI))?;
        let mut aid = None;
        let mut proprietary = None;
        let mut other = Vec::new();
        for el in fci.children()? {
            match el.tag.value() {
                t if t == u32::from(TAG_AID) => {
                    let a =
                        Aid::new(el.value).map_err(|_| el.invalid("AID must be 5 to 16 bytes"))?;
                    once(&mut aid, &el, a)?;
                }
                t if t == u32::from(TAG_PROPRIETARY) => {
                    once(&mut proprietary, &el, proprietary_data(&el)?)?;
                }
                _ => other.push(el.to_tlv()),
            }
        }
        let aid = aid.ok_or(GpError::invalid(
            fci.offset,
            Some(Tag::from(TAG_FCI)),
            "application AID (84) missing",
        ))?;
        Ok(Self {
            aid,
            proprietary,
            other,
        })
    }

    /// The `6F` TLV.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = tlv(TAG_AID, self.aid.as_bytes());
        if let Some(p) = &self.proprietary {
            let mut a5 = Vec::new();
            if let Some(sd) = &p.sd_management_data {
                a5.extend(sd.to_bytes());
            }
            if let Some(lc) = &p.production_life_cycle {
                a5.extend(tlv(TAG_LIFE_CYCLE_DATA, lc));
            }
            if let Some(max) = p.max_command_data {
                a5.extend(tlv(TAG_MAX_COMMAND, &minimal_be(max)));
            }
            a5.extend(p.other.iter().flat_map(Tlv::to_bytes));
            v.extend(tlv(TAG_PROPRIETARY, &a5));
        }
        v.extend(self.other.iter().flat_map(Tlv::to_bytes));
        tlv(TAG_FCI, &v)
    }
}

fn proprietary_data(a5: &Element<'_>) -> Result<FciProprietary, GpError> {
    let mut out = FciProprietary::default();
    for el in a5.children()? {
        match el.tag.value() {
            t if t == u32::from(TAG_RECOGNITION_DATA) => {
                let crd = CardRecognitionData::from_value(el.value, el.offset)?;
                once(&mut out.sd_management_data, &el, crd)?;
            }
            t if t == u32::from(TAG_LIFE_CYCLE_DATA) => {
                once(&mut out.production_life_cycle, &el, el.value.to_vec())?;
            }
            t if t == u32::from(TAG_MAX_COMMAND) => {
                once(&mut out.max_command_data, &el, be_uint(&el)?)?;
            }
            _ => out.other.push(el.to_tlv()),
        }
    }
    Ok(out)
}

fn once<T>(slot: &mut Option<T>, el: &Element<'_>, value: T) -> Result<(), GpError> {
    if slot.replace(value).is_some() {
        return Err(GpError::invalid(el.start, Some(el.tag), "repeated tag"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::ResponseApdu;
    use crate::gp::get_data::card_recognition::ScpOption;
    use crate::gp::testdata::{h, hex_field, section};
    use crate::status::StatusWord;

    #[test]
    fn fixtures_select_isd_fci() {
        let entries = section("select_isd_fci");
        if entries.is_empty() {
            return;
        }
        assert_eq!(entries.len(), 2);
        // (source, AID, GP version and SCPs of 73 if present), from the "decoded" notes.
        let expected = [
            ("issue #218", "A000000151000000", None),
            (
                "issue #62",
                "A0000001510000",
                Some(("2.2.1", vec![ScpOption { scp: 0x03, i: 0x70 }])),
            ),
        ];
        for (entry, (source, aid, sd)) in entries.iter().zip(expected) {
            assert!(entry["source"].as_str().unwrap().contains(source));
            let cmd = CommandApdu::parse(&hex_field(entry, "cmd")).unwrap();
            let select = Select::from_apdu(&cmd).unwrap();
            assert_eq!(select, Select::issuer_security_domain(), "{source}");
            assert_eq!(select.to_apdu().unwrap(), cmd);
            let rsp = ResponseApdu::parse(&hex_field(entry, "rsp")).unwrap();
            assert_eq!(rsp.sw, StatusWord::Success);
            let fci = Fci::parse(&rsp.data).unwrap();
            assert_eq!(fci.aid.to_string(), aid, "{source}");
            let prop = fci.proprietary.clone().unwrap();
            assert_eq!(prop.max_command_data, Some(0xFF));
            match sd {
                None => assert!(prop.sd_management_data.is_none()),
                Some((version, scps)) => {
                    let crd = prop.sd_management_data.unwrap();
                    assert_eq!(crd.gp_version().as_deref(), Some(version));
                    assert_eq!(crd.scp_options(), scps);
                }
            }
            assert_eq!(fci.to_bytes(), rsp.data, "{source}");
        }
    }

    #[test]
    fn commands_round_trip() {
        let isd_r = Aid::isd_r();
        let cases = [
            (
                Select::by_aid(isd_r.clone()),
                "00A4040010A0000005591010FFFFFFFF890000010000",
            ),
            (
                Select::by_aid(isd_r.clone()).without_fci(),
                "00A4040C10A0000005591010FFFFFFFF8900000100",
            ),
            (
                Select::next(Aid::new(&[0xA0, 0, 0, 0, 0x87]).unwrap()),
                "00A4040205A00000008700",
            ),
            (Select::issuer_security_domain(), "00A4040000"),
        ];
        for (select, bytes) in cases {
            let apdu = select.to_apdu().unwrap();
            assert_eq!(apdu.to_bytes().unwrap(), h(bytes));
            assert_eq!(Select::from_apdu(&apdu).unwrap(), select);
        }
        // Le may be absent (T=0 hosts); the meaning is the same.
        let no_le = CommandApdu::parse(&h("00A4040008A000000151000000")).unwrap();
        assert_eq!(
            Select::from_apdu(&no_le).unwrap(),
            Select::by_aid(Aid::gp_isd())
        );
        for bad in [
            "00A4000C023F00",
            "00A4040105A000000087",
            "00A4040405A000000087",
        ] {
            let apdu = CommandApdu::parse(&h(bad)).unwrap();
            assert!(
                matches!(
                    Select::from_apdu(&apdu),
                    Err(GpError::WrongParameters { .. })
                ),
                "{bad}"
            );
        }
        let short = CommandApdu::parse(&h("00A4040003A00000")).unwrap();
        assert_eq!(Select::from_apdu(&short), Err(GpError::AidLength(3)));
    }

    #[test]
    fn fci_build_and_strictness() {
        let fci = Fci::new(Aid::isd_r(), 0xFF);
        let bytes = fci.to_bytes();
        assert_eq!(
            bytes,
            h("6F188410A0000005591010FFFFFFFF8900000100A5049F6501FF")
        );
        assert_eq!(Fci::parse(&bytes).unwrap(), fci);
        // Unknown children are kept, in order, after the known ones.
        let extra = h("6F0F 8408A000000151000000 5003414243");
        let parsed = Fci::parse(&extra).unwrap();
        assert_eq!(parsed.proprietary, None);
        assert_eq!(parsed.other, vec![Tlv::new(0x50u8, b"ABC".to_vec())]);
        assert_eq!(parsed.to_bytes(), extra);
        // No AID.
        assert!(matches!(
            Fci::parse(&h("6F04A5029F65")),
            Err(GpError::Tlv(_))
        ));
        assert!(matches!(
            Fci::parse(&h("6F05A5039F6500")),
            Err(GpError::Invalid { .. })
        ));
        assert!(matches!(
            Fci::parse(&h("6F02A500")),
            Err(GpError::Invalid { offset: 2, .. })
        ));
        // Trailing byte after the FCI template.
        assert!(matches!(
            Fci::parse(&[bytes.clone(), vec![0x90]].concat()),
            Err(GpError::TrailingBytes {
                offset: 26,
                count: 1
            })
        ));
        // A short AID in 84.
        assert!(matches!(
            Fci::parse(&h("6F038401A0")),
            Err(GpError::Invalid { offset: 4, .. })
        ));
    }
}
