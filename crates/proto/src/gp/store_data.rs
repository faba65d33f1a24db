//! STORE DATA (GPCS v2.3.1 §11.11) and Data Grouping Identifiers (§11.1.12).
//!
//! `80 E2 P1 P2 Lc data [00]`. P1: b8 last block; b7 b6 encryption information (`00` none,
//! `01` application dependent, `11` encrypted); b5 b4 data structure (`00` none, `01` DGI,
//! `10` BER-TLV); b1 case 4 (response data expected). P2 is the block number from `00`. A long
//! structure may be cut anywhere between blocks ([`StoreData::split`]); the card joins the
//! blocks ([`super::BlockAssembler`]).
//!
//! SGP.02 uses P1 `88` (last block, DGI) for EnableProfile `3A03 { 4F AID }` and DisableProfile
//! `3A04`, and `89` when it expects response data; SGP.22 ES10 functions use `91` (last block,
//! BER-TLV, case 4).
//!
//! A DGI is a 2-byte tag, a length (one byte `00`–`FE`, or `FF` and two bytes for 255 and
//! more) and the value (EMV CPS / GlobalPlatform Scripting Language, Annex B).

use super::blocks::chunks;
use super::codec::{expect_ins, Reader};
use super::{GpError, CLA_GP, MAX_COMMAND_DATA};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};

/// INS of STORE DATA.
pub const INS_STORE_DATA: u8 = 0xE2;

/// Encryption information (P1 b7 b6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// `00`: no information, or not encrypted.
    #[default]
    NoInformation,
    /// `01`: application dependent.
    ApplicationDependent,
    /// `11`: every value field is encrypted.
    Encrypted,
}

/// Data structure information (P1 b5 b4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DataStructure {
    /// `00`: application dependent.
    #[default]
    NoInformation,
    /// `01`: DGI format.
    Dgi,
    /// `10`: BER-TLV format.
    BerTlv,
}

/// One STORE DATA command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreData {
    /// P1 b8.
    pub last: bool,
    pub encryption: Encryption,
    pub structure: DataStructure,
    /// P1 b1: ISO case 4, response data may come back.
    pub response_expected: bool,
    /// P2.
    pub block: u8,
    pub data: Vec<u8>,
}

impl StoreData {
    /// A single last block `00` of `data` without structure information, case 3.
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        Self {
            last: true,
            encryption: Encryption::NoInformation,
            structure: DataStructure::NoInformation,
            response_expected: false,
            block: 0,
            data: data.into(),
        }
    }

    /// Marks the data as DGI formatted.
    #[must_use]
    pub fn dgi(mut self) -> Self {
        self.structure = DataStructure::Dgi;
        self
    }

    /// Marks the data as BER-TLV formatted.
    #[must_use]
    pub fn ber_tlv(mut self) -> Self {
        self.structure = DataStructure::BerTlv;
        self
    }

    /// Asks for response data (case 4).
    #[must_use]
    pub fn with_response(mut self) -> Self {
        self.response_expected = true;
        self
    }

    /// Marks every value field as encrypted.
    #[must_use]
    pub fn encrypted(mut self) -> Self {
        self.encryption = Encryption::Encrypted;
        self
    }

    pub fn p1(&self) -> u8 {
        let encryption = match self.encryption {
            Encryption::NoInformation => 0x00,
            Encryption::ApplicationDependent => 0x20,
            Encryption::Encrypted => 0x60,
        };
        let structure = match self.structure {
            DataStructure::NoInformation => 0x00,
            DataStructure::Dgi => 0x08,
            DataStructure::BerTlv => 0x10,
        };
        (if self.last { 0x80 } else { 0 })
            | encryption
            | structure
            | u8::from(self.response_expected)
    }

    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        if self.data.len() > MAX_COMMAND_DATA {
            return Err(GpError::TooLong {
                what: "STORE DATA block (use StoreData::split)",
                len: self.data.len(),
                max: MAX_COMMAND_DATA,
            });
        }
        let apdu = CommandApdu::new(CLA_GP, INS_STORE_DATA, self.p1(), self.block)
            .with_data(self.data.clone());
        Ok(if self.response_expected {
            apdu.with_le(SHORT_LE_MAX)
        } else {
            apdu
        })
    }

    /// Decodes a command (P1 b3 b2 are RFU and ignored; Le is not looked at).
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_STORE_DATA)?;
        let encryption = match apdu.p1 & 0x60 {
            0x00 => Encryption::NoInformation,
            0x20 => Encryption::ApplicationDependent,
            0x60 => Encryption::Encrypted,
            _ => {
                return Err(GpError::params(
                    "STORE DATA",
                    apdu,
                    "encryption indicator 10 is RFU",
                ))
            }
        };
        let structure = match apdu.p1 & 0x18 {
            0x00 => DataStructure::NoInformation,
            0x08 => DataStructure::Dgi,
            0x10 => DataStructure::BerTlv,
            _ => {
                return Err(GpError::params(
                    "STORE DATA",
                    apdu,
                    "data structure 11 is RFU",
                ))
            }
        };
        Ok(Self {
            last: apdu.p1 & 0x80 != 0,
            encryption,
            structure,
            response_expected: apdu.p1 & 0x01 != 0,
            block: apdu.p2,
            data: apdu.data.clone(),
        })
    }

    /// This command's data cut into blocks of at most `max` bytes (at most 255), numbered from
    /// this command's block number, each with this command's P1 flags, the last one flagged.
    pub fn split(&self, max: usize) -> Result<Vec<Self>, GpError> {
        let parts = chunks(&self.data, max.min(MAX_COMMAND_DATA), "STORE DATA data")?;
        let count = parts.len();
        if usize::from(self.block) + count > 256 {
            return Err(GpError::TooLong {
                what: "STORE DATA block numbers",
                len: usize::from(self.block) + count,
                max: 256,
            });
        }
        Ok(parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| Self {
                last: i + 1 == count,
                block: u8::try_from(usize::from(self.block) + i).unwrap_or(u8::MAX),
                data: part.to_vec(),
                ..self.clone()
            })
            .collect())
    }
}

/// One Data Grouping Identifier structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dgi {
    pub tag: u16,
    pub value: Vec<u8>,
}

/// Largest DGI value length.
pub const MAX_DGI_LEN: usize = 0xFFFF;

impl Dgi {
    pub fn new(tag: u16, value: impl Into<Vec<u8>>) -> Self {
        Self {
            tag,
            value: value.into(),
        }
    }

    /// Tag, length and value; fails for values above 65535 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GpError> {
        let mut out = self.tag.to_be_bytes().to_vec();
        out.extend(encode_dgi_length(self.value.len())?);
        out.extend_from_slice(&self.value);
        Ok(out)
    }

    /// Exactly one DGI.
    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        let mut r = Reader::new(bytes, 0);
        let dgi = Self::read(&mut r)?;
        r.finish()?;
        Ok(dgi)
    }

    /// A sequence of DGIs filling `bytes`.
    pub fn parse_all(bytes: &[u8]) -> Result<Vec<Self>, GpError> {
        let mut r = Reader::new(bytes, 0);
        let mut out = Vec::new();
        while !r.is_empty() {
            out.push(Self::read(&mut r)?);
        }
        Ok(out)
    }

    /// The concatenated encodings.
    pub fn encode_all(list: &[Self]) -> Result<Vec<u8>, GpError> {
        let mut out = Vec::new();
        for dgi in list {
            out.extend(dgi.to_bytes()?);
        }
        Ok(out)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, GpError> {
        let tag = r.u16("DGI tag")?;
        let at = r.offset();
        let len = match r.u8("DGI length")? {
            0xFF => {
                let len = r.u16("DGI length")?;
                if len < 0xFF {
                    return Err(GpError::invalid(
                        at,
                        None,
                        "DGI length below 255 in 3 bytes",
                    ));
                }
                usize::from(len)
            }
            short => usize::from(short),
        };
        let value = r.take(len, "DGI value")?.to_vec();
        Ok(Self { tag, value })
    }
}

/// The DGI length field for `len`: one byte up to 254, `FF` and two bytes up to 65535.
pub fn encode_dgi_length(len: usize) -> Result<Vec<u8>, GpError> {
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(short), _) if short < 0xFF => Ok(vec![short]),
        (_, Ok(long)) => Ok([&[0xFF][..], &long.to_be_bytes()].concat()),
        _ => Err(GpError::TooLong {
            what: "DGI value",
            len,
            max: MAX_DGI_LEN,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::blocks::BlockAssembler;
    use crate::gp::testdata::h;
    use crate::gp::Aid;
    use crate::tlv::tlv;

    #[test]
    fn sgp02_and_es10_commands() {
        // njiwa EnableProfile: 80 E2 88 00 Lc 3A03 L { 4F 10 <ISD-P AID> }.
        let isd_p = Aid::isd_p(0x10).unwrap();
        let dgi = Dgi::new(0x3A03, tlv(0x4Fu8, isd_p.as_bytes()));
        let enable = StoreData::new(dgi.to_bytes().unwrap()).dgi();
        let apdu = enable.to_apdu().unwrap();
        assert_eq!(
            apdu.to_bytes().unwrap(),
            h("80E2880015 3A0312 4F10A0000005591010FFFFFFFF8900001000")
        );
        let back = StoreData::from_apdu(&apdu).unwrap();
        assert_eq!(back, enable);
        assert_eq!(Dgi::parse_all(&back.data).unwrap(), vec![dgi]);
        // njiwa HandleNotificationConfirmation: P1 89, response expected.
        let confirm = StoreData::new(Dgi::new(0x3A08, h("4E020001")).to_bytes().unwrap())
            .dgi()
            .with_response();
        let apdu = confirm.to_apdu().unwrap();
        assert_eq!(apdu.to_bytes().unwrap(), h("80E2890007 3A0804 4E020001 00"));
        assert_eq!(StoreData::from_apdu(&apdu).unwrap(), confirm);
        // pySim ES10 (SGP.22): 80 E2 91 00 06 BF3E035C015A 00.
        let es10 = StoreData::new(h("BF3E035C015A")).ber_tlv().with_response();
        assert_eq!(
            es10.to_apdu().unwrap().to_bytes().unwrap(),
            h("80E2910006BF3E035C015A00")
        );
        let all = StoreData::new(h("00")).encrypted();
        assert_eq!(all.p1(), 0xE0);
        let app = StoreData {
            encryption: Encryption::ApplicationDependent,
            ..StoreData::new(h("00"))
        };
        let back = StoreData::from_apdu(&app.to_apdu().unwrap()).unwrap();
        assert_eq!(back, app);
    }

    #[test]
    fn split_and_join() {
        let big = Dgi::new(0x8101, vec![0x5A; 600]);
        let bytes = big.to_bytes().unwrap();
        assert_eq!(&bytes[..5], &h("8101FF0258"));
        let blocks = StoreData::new(bytes.clone()).dgi().split(239).unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            blocks.iter().map(|b| (b.p1(), b.block)).collect::<Vec<_>>(),
            vec![(0x08, 0), (0x08, 1), (0x88, 2)]
        );
        let mut card = BlockAssembler::new();
        let mut whole = None;
        for b in &blocks {
            let cmd = StoreData::from_apdu(&b.to_apdu().unwrap()).unwrap();
            whole = card.push(cmd.block, cmd.last, &cmd.data).unwrap();
        }
        assert_eq!(Dgi::parse(&whole.unwrap()).unwrap(), big);
        let from_ten = StoreData {
            block: 10,
            ..StoreData::new(vec![0; 10])
        };
        let parts = from_ten.split(4).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.block).collect::<Vec<_>>(),
            vec![10, 11, 12]
        );
        let late = StoreData {
            block: 255,
            ..StoreData::new(vec![0; 10])
        };
        assert!(late.split(5).is_err());
        assert!(StoreData::new(vec![0; 256]).to_apdu().is_err());
    }

    #[test]
    fn dgi_lengths_and_strictness() {
        assert_eq!(encode_dgi_length(0).unwrap(), h("00"));
        assert_eq!(encode_dgi_length(254).unwrap(), h("FE"));
        assert_eq!(encode_dgi_length(255).unwrap(), h("FF00FF"));
        assert_eq!(encode_dgi_length(65535).unwrap(), h("FFFFFF"));
        assert!(encode_dgi_length(65536).is_err());
        let two = Dgi::parse_all(&h("0070 02 AABB 3A01 00")).unwrap();
        assert_eq!(
            two,
            vec![Dgi::new(0x0070, h("AABB")), Dgi::new(0x3A01, vec![])]
        );
        assert_eq!(Dgi::encode_all(&two).unwrap(), h("007002AABB3A0100"));
        assert_eq!(
            Dgi::parse(&h("3A0102AA")),
            Err(GpError::Truncated {
                offset: 3,
                field: "DGI value"
            })
        );
        assert!(matches!(
            Dgi::parse(&h("3A01FF0001AA")),
            Err(GpError::Invalid { offset: 2, .. })
        ));
        assert!(matches!(
            Dgi::parse(&h("3A0101AA00")),
            Err(GpError::TrailingBytes {
                offset: 4,
                count: 1
            })
        ));
        assert!(Dgi::parse_all(&h("3A")).is_err());
        assert!(Dgi::parse_all(&h("3A01FF01")).is_err());
        for bad in ["80E2C80000", "80E2980000"] {
            let apdu = CommandApdu::parse(&h(bad)).unwrap();
            assert!(StoreData::from_apdu(&apdu).is_err(), "{bad}");
        }
    }
}
