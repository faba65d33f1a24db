//! A profile's file system as the terminal sees it (ETSI TS 102 221 §8): the MF with its DFs
//! and EFs, and the ADFs beside it (selected by AID, or by their temporary FID inside the
//! profile's own paths). Each file answers SELECT with its FCP template (TS 102 221
//! §11.1.1.3: Table 11.3 for a DF/ADF, Table 11.4 for an EF).

use smsr_proto::tlv::tlv;

/// Index of a file in [`FileSystem::files`].
pub type FileId = usize;

/// The MF is always file 0.
pub const MF: FileId = 0;

/// Temporary FID meaning "the current application" (TS 102 221 §8.4.1).
pub const CURRENT_ADF_FID: [u8; 2] = [0x7F, 0xFF];

/// What a file is, with its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Mf,
    /// A DF.
    Df,
    /// An ADF with its AID.
    Adf {
        aid: Vec<u8>,
    },
    Transparent(Vec<u8>),
    /// A linear fixed (`cyclic` false) or cyclic EF: equal-length records.
    Records {
        cyclic: bool,
        records: Vec<Vec<u8>>,
    },
    /// A BER-TLV EF (TS 102 221 §11.3): kept, not readable with READ BINARY/RECORD.
    BerTlv(Vec<u8>),
    /// A link file (SAIP `Fcp.linkPath`): its own FID and SFI, the contents and structure of
    /// the file it links to.
    Link(FileId),
}

/// One file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub fid: [u8; 2],
    pub parent: Option<FileId>,
    pub sfi: Option<u8>,
    /// Life cycle status integer (TS 102 221 §11.1.1.4.9).
    pub lcsi: u8,
    /// Security attributes, referenced format (`8B` value).
    pub security: Option<Vec<u8>>,
    /// Key references of the PIN status template DO, for a DF (`C6`).
    pub pin_refs: Vec<u8>,
    pub body: Body,
}

impl File {
    pub fn is_df(&self) -> bool {
        matches!(self.body, Body::Mf | Body::Df | Body::Adf { .. })
    }

    /// The FCP template `62` (TS 102 221 §11.1.1.3).
    pub fn fcp(&self) -> Vec<u8> {
        let mut fields = Vec::new();
        let descriptor: Vec<u8> = match &self.body {
            Body::Mf | Body::Df | Body::Adf { .. } => vec![0x78, 0x21],
            Body::Transparent(_) | Body::Link(_) => vec![0x41, 0x21],
            Body::BerTlv(_) => vec![0x79, 0x21],
            Body::Records { cyclic, records } => {
                let len = records.first().map_or(0, Vec::len);
                let [hi, lo] = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
                let count = u8::try_from(records.len()).unwrap_or(u8::MAX);
                vec![if *cyclic { 0x46 } else { 0x42 }, 0x21, hi, lo, count]
            }
        };
        fields.push(tlv(0x82u8, &descriptor));
        fields.push(tlv(0x83u8, &self.fid));
        if let Body::Adf { aid } = &self.body {
            fields.push(tlv(0x84u8, aid));
        }
        if self.is_df() {
            // UICC characteristics (TS 102 221 §11.1.1.4.6.1) as the card's MF gives them.
            fields.push(tlv(0xA5u8, &tlv(0x80u8, &[0x71])));
        }
        fields.push(tlv(0x8Au8, &[self.lcsi]));
        if let Some(s) = &self.security {
            fields.push(tlv(0x8Bu8, s));
        }
        if self.is_df() {
            fields.push(pin_status_template(&self.pin_refs));
        } else {
            let size = self.size();
            let size = u16::try_from(size).unwrap_or(u16::MAX).to_be_bytes();
            fields.push(tlv(0x80u8, &size));
            if let Some(sfi) = self.sfi {
                fields.push(tlv(0x88u8, &[sfi << 3]));
            } else {
                fields.push(tlv(0x88u8, &[]));
            }
        }
        tlv(0x62u8, &fields.concat())
    }

    /// Size of an EF's contents in bytes.
    pub fn size(&self) -> usize {
        match &self.body {
            Body::Transparent(d) | Body::BerTlv(d) => d.len(),
            Body::Records { records, .. } => records.iter().map(Vec::len).sum(),
            _ => 0,
        }
    }
}

/// Whether a key reference is an administrative one (ADM1–ADM10: `0A`–`0E`, `8A`–`8E`;
/// TS 102 221 §9.5.1 Table 9.3). Those are the only ones shown enabled.
fn is_adm(key_ref: u8) -> bool {
    matches!(key_ref, 0x0A..=0x0E | 0x8A..=0x8E)
}

/// `C6 { 90 PS_DO, 83 ref... }` (TS 102 221 §11.1.1.4.10). PS_DO has one bit per key
/// reference, from b8 down, set for an enabled PIN: this card verifies no user PIN (PIN1 and
/// the local PINs are shown disabled), the ADM keys are enabled.
fn pin_status_template(refs: &[u8]) -> Vec<u8> {
    let refs = &refs[..refs.len().min(8)];
    let ps_do = refs
        .iter()
        .enumerate()
        .filter(|(_, r)| is_adm(**r))
        .fold(0u8, |acc, (i, _)| acc | (0x80 >> i));
    let mut v = tlv(0x90u8, &[ps_do]);
    for r in refs {
        v.extend(tlv(0x83u8, &[*r]));
    }
    tlv(0xC6u8, &v)
}

/// The whole tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSystem {
    pub files: Vec<File>,
}

impl FileSystem {
    /// The file a link leads to (itself for any other file); `None` for a broken or looping
    /// chain.
    pub fn target(&self, mut id: FileId) -> Option<FileId> {
        for _ in 0..8 {
            match self.get(id)?.body {
                Body::Link(t) => id = t,
                _ => return Some(id),
            }
        }
        None
    }

    /// The contents of a file, through links.
    pub fn body(&self, id: FileId) -> Option<&Body> {
        self.get(self.target(id)?).map(|f| &f.body)
    }

    /// The FCP of a file; a link file shows its target's with its own FID and SFI.
    pub fn fcp(&self, id: FileId) -> Vec<u8> {
        let (Some(f), Some(t)) = (self.get(id), self.target(id).and_then(|t| self.get(t))) else {
            return Vec::new();
        };
        File {
            fid: f.fid,
            sfi: f.sfi,
            parent: f.parent,
            ..t.clone()
        }
        .fcp()
    }

    /// A file system with only an MF.
    pub fn new(mf: File) -> Self {
        Self { files: vec![mf] }
    }

    pub fn get(&self, id: FileId) -> Option<&File> {
        self.files.get(id)
    }

    pub fn get_mut(&mut self, id: FileId) -> Option<&mut File> {
        self.files.get_mut(id)
    }

    /// Adds a file; `None` if its parent already holds that FID.
    pub fn add(&mut self, file: File) -> Option<FileId> {
        if self.child(file.parent, file.fid).is_some() {
            return None;
        }
        self.files.push(file);
        Some(self.files.len() - 1)
    }

    /// The file with `fid` directly under `parent` (`None` parent: the ADFs, by temporary FID).
    pub fn child(&self, parent: Option<FileId>, fid: [u8; 2]) -> Option<FileId> {
        self.files
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, f)| f.parent == parent && f.fid == fid)
            .map(|(i, _)| i)
    }

    /// The ADFs, in creation order.
    pub fn adfs(&self) -> impl Iterator<Item = (FileId, &[u8])> {
        self.files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match &f.body {
                Body::Adf { aid } => Some((i, aid.as_slice())),
                _ => None,
            })
    }

    /// The EF with short file identifier `sfi` directly under `df`.
    pub fn by_sfi(&self, df: FileId, sfi: u8) -> Option<FileId> {
        self.files
            .iter()
            .enumerate()
            .find(|(_, f)| f.parent == Some(df) && f.sfi == Some(sfi) && !f.is_df())
            .map(|(i, _)| i)
    }

    /// A path of FIDs as the SAIP PEs write it (TS 102 221 §8.4.2 without the MF's own FID):
    /// empty is the MF; an ADF's temporary FID may start the path.
    pub fn resolve_saip_path(&self, path: &[u8]) -> Option<FileId> {
        if !path.len().is_multiple_of(2) {
            return None;
        }
        let mut fids = path.chunks_exact(2).map(|c| [c[0], c[1]]);
        let mut at = MF;
        let mut first = true;
        for fid in fids.by_ref() {
            at = if first && fid == [0x3F, 0x00] {
                MF
            } else if first {
                self.child(Some(MF), fid)
                    .or_else(|| self.child(None, fid))?
            } else {
                self.child(Some(at), fid)?
            };
            first = false;
        }
        Some(at)
    }

    /// The ADF holding `id` (itself if it is one).
    pub fn adf_of(&self, mut id: FileId) -> Option<FileId> {
        loop {
            let f = self.get(id)?;
            if matches!(f.body, Body::Adf { .. }) {
                return Some(id);
            }
            id = f.parent?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ef(fid: u16, parent: FileId, body: Body) -> File {
        File {
            fid: fid.to_be_bytes(),
            parent: Some(parent),
            sfi: None,
            lcsi: 5,
            security: Some(vec![0x6F, 0x06, 0x02]),
            pin_refs: Vec::new(),
            body,
        }
    }

    #[test]
    fn fcp_of_each_structure() {
        let imsi = File {
            sfi: Some(7),
            ..ef(0x6F07, 1, Body::Transparent(vec![0; 9]))
        };
        // TS 102 221 Table 11.4 order: 82, 83, 8A, 8B, 80, 88.
        assert_eq!(
            hex::encode_upper(imsi.fcp()),
            "62178202412183026F078A01058B036F060280020009880138"
        );
        let ecc = ef(
            0x6FB7,
            1,
            Body::Records {
                cyclic: false,
                records: vec![vec![0xFF; 14]; 2],
            },
        );
        let fcp = ecc.fcp();
        assert!(hex::encode_upper(&fcp).contains("82054221000E02"));
        assert!(hex::encode_upper(&fcp).contains("8002001C"));
        let adf = File {
            fid: [0x7F, 0xD0],
            parent: None,
            sfi: None,
            lcsi: 5,
            security: None,
            pin_refs: vec![0x81, 0x01, 0x0A, 0x0B],
            body: Body::Adf {
                aid: vec![0xA0, 0, 0, 0, 0x87, 0x10, 0x02],
            },
        };
        let fcp = hex::encode_upper(adf.fcp());
        assert!(fcp.contains("8407A0000000871002"), "{fcp}");
        // PS_DO: refs 81, 01 disabled, 0A, 0B enabled.
        assert!(fcp.contains(
            "C60F9001308301818301018301 0A83010B"
                .replace(' ', "")
                .as_str()
        ));
    }

    #[test]
    fn paths() {
        let mf = File {
            fid: [0x3F, 0],
            parent: None,
            sfi: None,
            lcsi: 5,
            security: None,
            pin_refs: vec![],
            body: Body::Mf,
        };
        let mut fs = FileSystem::new(mf);
        let telecom = fs
            .add(File {
                body: Body::Df,
                ..ef(0x7F10, MF, Body::Df)
            })
            .unwrap();
        let adf = fs
            .add(File {
                parent: None,
                body: Body::Adf { aid: vec![1; 5] },
                ..ef(0x7FD0, MF, Body::Df)
            })
            .unwrap();
        let imsi = fs.add(ef(0x6F07, adf, Body::Transparent(vec![]))).unwrap();
        assert!(fs.add(ef(0x6F07, adf, Body::Transparent(vec![]))).is_none());
        assert_eq!(fs.resolve_saip_path(&[]), Some(MF));
        assert_eq!(fs.resolve_saip_path(&[0x7F, 0x10]), Some(telecom));
        assert_eq!(fs.resolve_saip_path(&[0x7F, 0xD0, 0x6F, 0x07]), Some(imsi));
        assert_eq!(
            fs.resolve_saip_path(&[0x3F, 0x00, 0x7F, 0x10]),
            Some(telecom)
        );
        assert_eq!(fs.resolve_saip_path(&[0x6F, 0x07]), None);
        assert_eq!(fs.resolve_saip_path(&[0x7F]), None);
        assert_eq!(fs.adf_of(imsi), Some(adf));
        assert_eq!(fs.adf_of(telecom), None);
    }
}
