//! `PE-GenericFileManagement` (`A1`, SAIP §8.3.6): commands that create files no template
//! covers, or only select a DF (so that a following PIN PE lands there). `fileManagementCMD`
//! is a list of command lists; each command is `filePath` `80` (up to 8 bytes; ADFs by their
//! temporary FID; empty = MF), `createFCP` `62` (`[APPLICATION 2]` Fcp), `fillFileOffset`
//! (an untagged UInt16, universal INTEGER `02`, because this CHOICE has tagged alternatives
//! and so no automatic tagging) or `fillFileContent` `81`.

use super::der::{Node, Writer};
use super::file::Fcp;
use super::{PeHeader, SaipError};

/// One file-management command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileManagement {
    FilePath(Vec<u8>),
    CreateFcp(Box<Fcp>),
    FillFileOffset(u16),
    FillFileContent(Vec<u8>),
}

/// `PE-GenericFileManagement`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeGenericFileManagement {
    pub header: PeHeader,
    /// `fileManagementCMD`: command lists, each non-empty.
    pub file_management_cmd: Vec<Vec<FileManagement>>,
}

impl PeGenericFileManagement {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("PE-GenericFileManagement")?;
        let header = PeHeader::decode(&f.req(0xA0, "gfm-header")?)?;
        let list = f.req(0xA1, "fileManagementCMD")?;
        f.finish()?;
        let mut file_management_cmd = Vec::new();
        for cmd in list.children()? {
            if cmd.tag.value() != 0x30 {
                return Err(cmd.err("FileManagement is not a SEQUENCE OF"));
            }
            let mut items = Vec::new();
            for n in cmd.children()? {
                items.push(match n.tag.value() {
                    0x80 => FileManagement::FilePath(n.octets_sized(0, 8)?),
                    0x62 => FileManagement::CreateFcp(Box::new(Fcp::decode(&n)?)),
                    0x02 => FileManagement::FillFileOffset(n.u16()?),
                    0x81 => FileManagement::FillFileContent(n.octets()?),
                    _ => return Err(n.err("not an alternative of FileManagement")),
                });
            }
            if items.is_empty() {
                return Err(cmd.err("empty FileManagement"));
            }
            file_management_cmd.push(items);
        }
        if file_management_cmd.is_empty() {
            return Err(list.err("empty fileManagementCMD"));
        }
        Ok(Self {
            header,
            file_management_cmd,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(0xA1, |w| {
            self.header.encode(w, 0xA0);
            w.nested(0xA1, |w| {
                for cmd in &self.file_management_cmd {
                    w.nested(0x30, |w| {
                        for item in cmd {
                            match item {
                                FileManagement::FilePath(p) => w.tlv(0x80, p),
                                FileManagement::CreateFcp(f) => {
                                    w.nested(0x62, |w| f.encode_contents(w))
                                }
                                FileManagement::FillFileOffset(o) => w.uint(0x02, u64::from(*o)),
                                FileManagement::FillFileContent(c) => w.tlv(0x81, c),
                            }
                        }
                    });
                }
            });
        });
    }
}
