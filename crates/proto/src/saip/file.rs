//! Files in SAIP file-system PEs (SAIP §8.3): the `File` type, the SAIP `Fcp` (an ASN.1 form of
//! the ETSI TS 102 222 FCP) with its `ProprietaryInfo`, and the file-system PEs themselves
//! (mf, usim, opt-usim, telecom, ...), which all share one shape: a PEHeader `[0]`, a
//! `templateID` OID `[1]` naming the Annex A template, then one `File` field per template file,
//! field *i* tagged `[i]` (the names are in [`super::fields`]).
//!
//! A `File` is a SEQUENCE OF a CHOICE: `doNotCreate` `80` (NULL), `fileDescriptor` `A1` (Fcp
//! overriding the template), `fillFileOffset` `82` (skip forward, UInt16), `fillFileContent`
//! `83` (bytes written at the current position).

use super::der::{ctx, ctx_number, not_default, Node, Writer};
use super::{Oid, PeHeader, PeKind, SaipError};

/// `ProprietaryInfo` (SAIP §8.3.3, tags as in the ASN.1). `Default` gives the ASN.1 DEFAULTs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProprietaryInfo {
    /// `specialFileInformation` `C0`, DEFAULT `00`.
    pub special_file_information: u8,
    /// `fillPattern` `C1` (ETSI TS 102 222 §6.3.2.2.2).
    pub fill_pattern: Option<Vec<u8>>,
    /// `repeatPattern` `C2`.
    pub repeat_pattern: Option<Vec<u8>>,
    /// `maximumFileSize` `86` (BER-TLV files).
    pub maximum_file_size: Option<Vec<u8>>,
    /// `fileDetails` `84`, DEFAULT `01`.
    pub file_details: u8,
}

impl Default for ProprietaryInfo {
    fn default() -> Self {
        Self {
            special_file_information: 0x00,
            fill_pattern: None,
            repeat_pattern: None,
            maximum_file_size: None,
            file_details: 0x01,
        }
    }
}

impl ProprietaryInfo {
    fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("ProprietaryInfo")?;
        let special_file_information = match f.opt(0xC0) {
            Some(n) => not_default(&n, n.array::<1>()?[0], 0x00)?,
            None => 0x00,
        };
        let fill_pattern = f.opt(0xC1).map(|n| n.octets_sized(1, 200)).transpose()?;
        let repeat_pattern = f.opt(0xC2).map(|n| n.octets_sized(1, 200)).transpose()?;
        let maximum_file_size = f.opt(0x86).map(|n| n.octets()).transpose()?;
        let file_details = match f.opt(0x84) {
            Some(n) => not_default(&n, n.array::<1>()?[0], 0x01)?,
            None => 0x01,
        };
        f.finish()?;
        Ok(Self {
            special_file_information,
            fill_pattern,
            repeat_pattern,
            maximum_file_size,
            file_details,
        })
    }

    fn encode(&self, w: &mut Writer) {
        if self.special_file_information != 0 {
            w.tlv(0xC0, &[self.special_file_information]);
        }
        if let Some(v) = &self.fill_pattern {
            w.tlv(0xC1, v);
        }
        if let Some(v) = &self.repeat_pattern {
            w.tlv(0xC2, v);
        }
        if let Some(v) = &self.maximum_file_size {
            w.tlv(0x86, v);
        }
        if self.file_details != 1 {
            w.tlv(0x84, &[self.file_details]);
        }
    }
}

/// The SAIP `Fcp` (SAIP §8.3.2). Tags are those of the ASN.1 (they mirror TS 102 222 FCP tags).
/// `Default` is [`Fcp::empty`]: every field absent, `lcsi` at its DEFAULT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fcp {
    /// `fileDescriptor` `82` (2..4 bytes).
    pub file_descriptor: Option<Vec<u8>>,
    /// `fileID` `83` (for an ADF: the temporary file ID).
    pub file_id: Option<[u8; 2]>,
    /// `dfName` `84` (ADF AID, 5..16 bytes).
    pub df_name: Option<Vec<u8>>,
    /// `lcsi` `8A`, DEFAULT `05` (operational, activated).
    pub lcsi: u8,
    /// `securityAttributesReferenced` `8B` (1..3 bytes).
    pub security_attributes_referenced: Option<Vec<u8>>,
    /// `efFileSize` `80` (minimal big-endian).
    pub ef_file_size: Option<Vec<u8>>,
    /// `pinStatusTemplateDO` `C6`.
    pub pin_status_template_do: Option<Vec<u8>>,
    /// `shortEFID` `88` (0..1 byte).
    pub short_ef_id: Option<Vec<u8>>,
    /// `proprietaryEFInfo` `A5`.
    pub proprietary_ef_info: Option<ProprietaryInfo>,
    /// `linkPath` `C7` (0..8 bytes).
    pub link_path: Option<Vec<u8>>,
}

/// `lcsi` DEFAULT.
pub const LCSI_DEFAULT: u8 = 0x05;

impl Default for Fcp {
    fn default() -> Self {
        Self::empty()
    }
}

impl Fcp {
    /// An FCP with every field absent (all template defaults).
    pub fn empty() -> Self {
        Self {
            file_descriptor: None,
            file_id: None,
            df_name: None,
            lcsi: LCSI_DEFAULT,
            security_attributes_referenced: None,
            ef_file_size: None,
            pin_status_template_do: None,
            short_ef_id: None,
            proprietary_ef_info: None,
            link_path: None,
        }
    }

    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("Fcp")?;
        let file_descriptor = f.opt(0x82).map(|n| n.octets_sized(2, 4)).transpose()?;
        let file_id = f.opt(0x83).map(|n| n.array::<2>()).transpose()?;
        let df_name = f.opt(0x84).map(|n| n.octets_sized(5, 16)).transpose()?;
        let lcsi = match f.opt(0x8A) {
            Some(n) => not_default(&n, n.array::<1>()?[0], LCSI_DEFAULT)?,
            None => LCSI_DEFAULT,
        };
        let security_attributes_referenced =
            f.opt(0x8B).map(|n| n.octets_sized(1, 3)).transpose()?;
        let ef_file_size = f.opt(0x80).map(|n| n.octets()).transpose()?;
        let pin_status_template_do = f.opt(0xC6).map(|n| n.octets()).transpose()?;
        let short_ef_id = f.opt(0x88).map(|n| n.octets_sized(0, 1)).transpose()?;
        let proprietary_ef_info = f
            .opt(0xA5)
            .map(|n| ProprietaryInfo::decode(&n))
            .transpose()?;
        let link_path = f.opt(0xC7).map(|n| n.octets_sized(0, 8)).transpose()?;
        f.finish()?;
        Ok(Self {
            file_descriptor,
            file_id,
            df_name,
            lcsi,
            security_attributes_referenced,
            ef_file_size,
            pin_status_template_do,
            short_ef_id,
            proprietary_ef_info,
            link_path,
        })
    }

    /// The FCP's contents (without its own tag).
    pub(crate) fn encode_contents(&self, w: &mut Writer) {
        if let Some(v) = &self.file_descriptor {
            w.tlv(0x82, v);
        }
        if let Some(v) = &self.file_id {
            w.tlv(0x83, v);
        }
        if let Some(v) = &self.df_name {
            w.tlv(0x84, v);
        }
        if self.lcsi != LCSI_DEFAULT {
            w.tlv(0x8A, &[self.lcsi]);
        }
        if let Some(v) = &self.security_attributes_referenced {
            w.tlv(0x8B, v);
        }
        if let Some(v) = &self.ef_file_size {
            w.tlv(0x80, v);
        }
        if let Some(v) = &self.pin_status_template_do {
            w.tlv(0xC6, v);
        }
        if let Some(v) = &self.short_ef_id {
            w.tlv(0x88, v);
        }
        if let Some(p) = &self.proprietary_ef_info {
            w.nested(0xA5, |w| p.encode(w));
        }
        if let Some(v) = &self.link_path {
            w.tlv(0xC7, v);
        }
    }
}

/// One element of a `File`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileItem {
    /// `doNotCreate`: skip a file a "created by default" template would create.
    DoNotCreate,
    /// `fileDescriptor`: FCP overriding the template.
    FileDescriptor(Box<Fcp>),
    /// `fillFileOffset`: move the write position forward.
    FillFileOffset(u16),
    /// `fillFileContent`: bytes written at the current position.
    FillFileContent(Vec<u8>),
}

/// A `File`: a list of [`FileItem`]s.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct File(pub Vec<FileItem>);

impl File {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut items = Vec::new();
        for n in node.children()? {
            items.push(match n.tag.value() {
                0x80 => {
                    n.null()?;
                    FileItem::DoNotCreate
                }
                0xA1 => FileItem::FileDescriptor(Box::new(Fcp::decode(&n)?)),
                0x82 => FileItem::FillFileOffset(n.u16()?),
                0x83 => FileItem::FillFileContent(n.octets()?),
                _ => return Err(n.err("not an alternative of File")),
            });
        }
        Ok(Self(items))
    }

    pub(crate) fn encode(&self, w: &mut Writer, tag: u32) {
        w.nested(tag, |w| {
            for item in &self.0 {
                match item {
                    FileItem::DoNotCreate => w.null(0x80),
                    FileItem::FileDescriptor(fcp) => w.nested(0xA1, |w| fcp.encode_contents(w)),
                    FileItem::FillFileOffset(o) => w.uint(0x82, u64::from(*o)),
                    FileItem::FillFileContent(c) => w.tlv(0x83, c),
                }
            }
        });
    }

    /// The FCP given for this file, if any.
    pub fn fcp(&self) -> Option<&Fcp> {
        self.0.iter().find_map(|i| match i {
            FileItem::FileDescriptor(f) => Some(f.as_ref()),
            _ => None,
        })
    }

    /// The content written by the fill items, laid out from offset 0 as SAIP §8.3 describes:
    /// an offset skips forward from the current position, content is written there. Bytes up
    /// to the last one written are returned; skipped positions hold `fill`.
    pub fn content(&self, fill: u8) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        let mut pos = 0usize;
        for item in &self.0 {
            match item {
                FileItem::FillFileOffset(o) => pos += usize::from(*o),
                FileItem::FillFileContent(c) => {
                    if out.len() < pos + c.len() {
                        out.resize(pos + c.len(), fill);
                    }
                    out[pos..pos + c.len()].copy_from_slice(c);
                    pos += c.len();
                }
                _ => {}
            }
        }
        out
    }

    /// Replaces the content with `content` written from offset 0, keeping every other item
    /// (doNotCreate, FCP) in place.
    pub fn set_content(&mut self, content: &[u8]) {
        self.0.retain(|i| {
            !matches!(
                i,
                FileItem::FillFileOffset(_) | FileItem::FillFileContent(_)
            )
        });
        self.0.push(FileItem::FillFileContent(content.to_vec()));
    }
}

/// A file-system PE (mf, cd, telecom, usim, opt-usim, isim, opt-isim, phonebook, gsm-access,
/// csim, opt-csim, eap, df-5gs, df-saip, df-snpn, df-5gprose, iot, opt-iot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeFileSystem {
    pub kind: PeKind,
    pub header: PeHeader,
    /// The Annex A template (`2.23.143.1.2.n`).
    pub template_id: Oid,
    /// The file fields present, by field number (tag `[n]`, n ≥ 2), ascending.
    pub files: Vec<(u32, File)>,
}

impl PeFileSystem {
    pub(crate) fn decode(kind: PeKind, node: &Node<'_>) -> Result<Self, SaipError> {
        let table = kind
            .file_fields()
            .ok_or_else(|| node.err("not a file-system PE"))?;
        let mut f = node.fields(kind.name())?;
        let header = PeHeader::decode(&f.req(0xA0, "header")?)?;
        let template_id = Oid::decode(&f.req(0x81, "templateID")?)?;
        let mut files: Vec<(u32, File)> = Vec::new();
        while let Some(n) = f.next_any() {
            let number = match ctx_number(n.tag) {
                Some((num, true)) if num >= 2 => num,
                _ => return Err(n.err(format!("{}: not a File field", kind.name()))),
            };
            if files.last().is_some_and(|(last, _)| *last >= number) {
                return Err(n.err(format!("{}: fields out of order", kind.name())));
            }
            if usize::try_from(number - 2).map_or(true, |i| i >= table.len()) {
                return Err(n.err(format!(
                    "{}: field [{number}] unknown to SAIP v3.3.1",
                    kind.name()
                )));
            }
            files.push((number, File::decode(&n)?));
        }
        for (i, (name, required)) in table.iter().enumerate() {
            let number = u32::try_from(i + 2).unwrap_or(u32::MAX);
            if *required && !files.iter().any(|(n, _)| *n == number) {
                return Err(node.err(format!("{}: required file {name} missing", kind.name())));
            }
        }
        Ok(Self {
            kind,
            header,
            template_id,
            files,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(self.kind.tag().value(), |w| {
            self.header.encode(w, 0xA0);
            w.tlv(0x81, self.template_id.as_der_contents());
            for (n, file) in &self.files {
                file.encode(w, ctx(*n, true));
            }
        });
    }

    fn number_of(&self, name: &str) -> Option<u32> {
        let table = self.kind.file_fields()?;
        let i = table.iter().position(|(n, _)| *n == name)?;
        u32::try_from(i + 2).ok()
    }

    /// The file field called `name` (`"ef-imsi"`, `"adf-usim"`...), if present.
    pub fn file(&self, name: &str) -> Option<&File> {
        let number = self.number_of(name)?;
        self.files
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, f)| f)
    }

    /// The file field called `name`, mutable.
    pub fn file_mut(&mut self, name: &str) -> Option<&mut File> {
        let number = self.number_of(name)?;
        self.files
            .iter_mut()
            .find(|(n, _)| *n == number)
            .map(|(_, f)| f)
    }

    /// Sets (adds or replaces) the file field `name`; false if this PE has no such field.
    pub fn set_file(&mut self, name: &str, file: File) -> bool {
        let Some(number) = self.number_of(name) else {
            return false;
        };
        match self.files.binary_search_by_key(&number, |(n, _)| *n) {
            Ok(i) => self.files[i].1 = file,
            Err(i) => self.files.insert(i, (number, file)),
        }
        true
    }

    /// The names of the file fields present, in order.
    pub fn file_names(&self) -> Vec<&'static str> {
        let table = self.kind.file_fields().unwrap_or(&[]);
        self.files
            .iter()
            .filter_map(|(n, _)| {
                usize::try_from(*n)
                    .ok()
                    .and_then(|n| table.get(n - 2))
                    .map(|(name, _)| *name)
            })
            .collect()
    }
}
