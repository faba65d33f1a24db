//! LOAD (GPCS v2.3.1 §11.6) and the Load File it carries (Table 11-58).
//!
//! `80 E8 P1 P2 Lc data 00`: P1 b8 = last block, P2 = block number from `00`, strictly
//! sequential. The blocks concatenate to the Load File: optional DAP blocks `E2 { 4F SD AID,
//! C3 signature }`, then the Load File Data Block `C4` (or `D3` ICV and `D4` ciphered block).
//! Each block is answered with `00` ([`super::ConfirmationResponse`]).

use super::blocks::chunks;
use super::codec::{elements, expect_ins, single, Element};
use super::{Aid, GpError, CLA_GP, MAX_COMMAND_DATA};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};
use crate::tlv::{tlv, Tag};

/// INS of LOAD.
pub const INS_LOAD: u8 = 0xE8;

/// One LOAD command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Load {
    /// P1 b8: this is the last block.
    pub last: bool,
    /// P2.
    pub block: u8,
    pub data: Vec<u8>,
}

impl Load {
    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        if self.data.len() > MAX_COMMAND_DATA {
            return Err(GpError::TooLong {
                what: "LOAD block",
                len: self.data.len(),
                max: MAX_COMMAND_DATA,
            });
        }
        let p1 = if self.last { 0x80 } else { 0x00 };
        Ok(CommandApdu::new(CLA_GP, INS_LOAD, p1, self.block)
            .with_data(self.data.clone())
            .with_le(SHORT_LE_MAX))
    }

    /// Decodes a LOAD command (P1 b7..b1 are RFU and ignored).
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_LOAD)?;
        Ok(Self {
            last: apdu.p1 & 0x80 != 0,
            block: apdu.p2,
            data: apdu.data.clone(),
        })
    }

    /// The LOAD commands for `load_file`, blocks of at most `max` bytes (at most 255; leave
    /// room for secure messaging: 239 with C-MAC and C-DECRYPTION under SCP03).
    pub fn blocks(load_file: &[u8], max: usize) -> Result<Vec<Self>, GpError> {
        let parts = chunks(load_file, max.min(MAX_COMMAND_DATA), "Load File")?;
        let last = parts.len() - 1;
        Ok(parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| Self {
                last: i == last,
                block: u8::try_from(i).unwrap_or(u8::MAX),
                data: part.to_vec(),
            })
            .collect())
    }
}

/// A DAP block (`E2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DapBlock {
    /// `4F`: the Security Domain whose key signed.
    pub security_domain: Aid,
    /// `C3`: the Load File Data Block signature.
    pub signature: Vec<u8>,
}

/// The Load File Data Block, plain or ciphered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadFileDataBlock {
    /// `C4`.
    Plain(Vec<u8>),
    /// `D3` ICV (optional) and `D4` ciphered data.
    Ciphered { icv: Option<Vec<u8>>, data: Vec<u8> },
}

/// A whole Load File (Table 11-58).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadFile {
    pub dap_blocks: Vec<DapBlock>,
    pub data_block: LoadFileDataBlock,
}

impl LoadFile {
    /// A Load File of a plain data block (e.g. the concatenated CAP file components).
    pub fn plain(data_block: Vec<u8>) -> Self {
        Self {
            dap_blocks: Vec::new(),
            data_block: LoadFileDataBlock::Plain(data_block),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for dap in &self.dap_blocks {
            let mut inner = tlv(0x4Fu8, dap.security_domain.as_bytes());
            inner.extend(tlv(0xC3u8, &dap.signature));
            out.extend(tlv(0xE2u8, &inner));
        }
        match &self.data_block {
            LoadFileDataBlock::Plain(data) => out.extend(tlv(0xC4u8, data)),
            LoadFileDataBlock::Ciphered { icv, data } => {
                if let Some(icv) = icv {
                    out.extend(tlv(0xD3u8, icv));
                }
                out.extend(tlv(0xD4u8, data));
            }
        }
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        let all = elements(bytes, 0)?;
        let mut dap_blocks = Vec::new();
        let mut rest = all.as_slice();
        while let Some((el, tail)) = rest.split_first() {
            if el.tag != Tag::new(0xE2) {
                break;
            }
            dap_blocks.push(dap_block(el)?);
            rest = tail;
        }
        let data_block = match rest {
            [c4] if c4.tag == Tag::new(0xC4) => LoadFileDataBlock::Plain(c4.value.to_vec()),
            [d4] if d4.tag == Tag::new(0xD4) => LoadFileDataBlock::Ciphered {
                icv: None,
                data: d4.value.to_vec(),
            },
            [d3, d4] if d3.tag == Tag::new(0xD3) && d4.tag == Tag::new(0xD4) => {
                if !matches!(d3.value.len(), 8 | 16) {
                    return Err(d3.invalid("ICV must be 8 or 16 bytes"));
                }
                LoadFileDataBlock::Ciphered {
                    icv: Some(d3.value.to_vec()),
                    data: d4.value.to_vec(),
                }
            }
            [first, ..] => {
                return Err(GpError::invalid(
                    first.start,
                    Some(first.tag),
                    "expected the Load File Data Block (C4, or D3 and D4) last",
                ))
            }
            [] => {
                return Err(GpError::invalid(
                    bytes.len(),
                    None,
                    "Load File Data Block (C4 or D4) missing",
                ))
            }
        };
        Ok(Self {
            dap_blocks,
            data_block,
        })
    }
}

fn dap_block(e2: &Element<'_>) -> Result<DapBlock, GpError> {
    match e2.children()?.as_slice() {
        [sd, sig] if sd.tag == Tag::new(0x4F) && sig.tag == Tag::new(0xC3) => Ok(DapBlock {
            security_domain: Aid::new(sd.value)
                .map_err(|_| sd.invalid("AID must be 5 to 16 bytes"))?,
            signature: sig.value.to_vec(),
        }),
        _ => Err(e2.invalid("a DAP block is 4F then C3")),
    }
}

/// The Load File Data Block of a Load File that is exactly `C4 len data` (no DAP).
pub fn plain_data_block(bytes: &[u8]) -> Result<&[u8], GpError> {
    single(bytes, Tag::new(0xC4)).map(|el| el.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::blocks::BlockAssembler;
    use crate::gp::testdata::h;

    #[test]
    fn blocks_round_trip() {
        // A 600-byte data block: 'C4 82 02 58' header, then 604 bytes in blocks of 255.
        let lf = LoadFile::plain((0..600).map(|i| u8::try_from(i % 251).unwrap()).collect());
        let bytes = lf.to_bytes();
        assert_eq!(&bytes[..4], &h("C4820258"));
        let blocks = Load::blocks(&bytes, 255).unwrap();
        assert_eq!(blocks.len(), 3);
        let apdus: Vec<CommandApdu> = blocks.iter().map(|b| b.to_apdu().unwrap()).collect();
        assert_eq!(
            apdus
                .iter()
                .map(|a| (a.p1, a.p2, a.data.len()))
                .collect::<Vec<_>>(),
            vec![(0x00, 0, 255), (0x00, 1, 255), (0x80, 2, 94)]
        );
        assert_eq!(&apdus[0].to_bytes().unwrap()[..5], &h("80E80000FF"));
        let mut card = BlockAssembler::new();
        let mut whole = None;
        for apdu in &apdus {
            let load = Load::from_apdu(apdu).unwrap();
            whole = card.push(load.block, load.last, &load.data).unwrap();
        }
        let whole = whole.unwrap();
        assert_eq!(whole, bytes);
        assert_eq!(LoadFile::parse(&whole).unwrap(), lf);
        assert_eq!(plain_data_block(&whole).unwrap().len(), 600);
        // Block sizes above 255 are clamped; too many blocks are refused.
        assert_eq!(Load::blocks(&[0; 300], 1000).unwrap().len(), 2);
        assert!(Load::blocks(&vec![0; 257 * 10], 10).is_err());
        assert!(Load {
            last: true,
            block: 0,
            data: vec![0; 256]
        }
        .to_apdu()
        .is_err());
    }

    #[test]
    fn load_file_structures() {
        let lf = LoadFile {
            dap_blocks: vec![DapBlock {
                security_domain: Aid::gp_isd(),
                signature: vec![0xAB; 16],
            }],
            data_block: LoadFileDataBlock::Ciphered {
                icv: Some(vec![0; 16]),
                data: vec![1, 2, 3],
            },
        };
        let bytes = lf.to_bytes();
        assert_eq!(LoadFile::parse(&bytes).unwrap(), lf);
        assert!(plain_data_block(&bytes).is_err());
        for bad in [
            "",
            "E2024F00",
            "C401AA C401AA",
            "C401AA E200",
            "D30100 D401AA",
            "E20AC30101 4F05A000000151 C400",
        ] {
            assert!(LoadFile::parse(&h(bad)).is_err(), "{bad}");
        }
        let load = Load::from_apdu(&CommandApdu::parse(&h("80E8FF0501AA00")).unwrap()).unwrap();
        assert_eq!((load.last, load.block), (true, 5));
        assert!(Load::from_apdu(&CommandApdu::new(0x80, 0xE6, 0, 0)).is_err());
    }
}
