//! Files from the PEs that describe them (SAIP §8.3): a `File` field of a file-system PE, or a
//! createFCP of a genericFileManagement PE, becomes a [`tree::File`].
//!
//! Each attribute comes from the PE's FCP if it gives it, else from the template row
//! ([`super::template`]), else from [`FALLBACK_SIZE`]. Content: the file is first filled with
//! the FCP's fill or repeat pattern, else the template default, else `FF`; then the
//! fillFileOffset / fillFileContent items are applied from offset 0, an offset skipping forward
//! from the current position (for a record file, one stream across the records).

use super::template::{self, Structure, TemplateFile, ERASED};
use super::tree::{Body, File, FileId, MF};
use smsr_proto::saip::file::{Fcp, FileItem};

/// The size a file gets when neither the PE nor a template gives one (a template that leaves
/// the size to the PE, whose PE does not say, or a file of a template this card does not
/// table): the length of the content the PE writes, as one record for a record file, at least
/// one byte. SAIP requires the PE to give these sizes; `saip::minimal` leaves EF.DIR and
/// EF.ARR to the template, and this rule keeps such packages installable.
pub const FALLBACK_SIZE: &str = "content length, one record, at least 1 byte";

/// Largest EF this card creates: what the two-byte file size of its FCP can show (TS 102 221
/// §11.1.1.4.1).
pub const MAX_FILE_SIZE: usize = 0xFFFF;

/// How one file is to be built.
#[derive(Debug)]
pub struct Spec<'a> {
    /// PE field name (`mf`, `adf-usim`, `ef-imsi`...) or `None` for a GFM createFCP.
    pub field: Option<&'a str>,
    pub fcp: Option<&'a Fcp>,
    pub template: Option<&'a TemplateFile>,
    /// The fill items, in order.
    pub items: Vec<FileItem>,
    /// The file its `linkPath` names, already resolved: the file is a link to it.
    pub link: Option<FileId>,
}

fn kind_of(spec: &Spec<'_>) -> Result<Structure, String> {
    if let Some(d) = spec.fcp.and_then(|f| f.file_descriptor.as_ref()) {
        let b = d.first().copied().unwrap_or(0);
        let rec = match d.get(2..4) {
            Some(&[hi, lo]) => Some(u16::from_be_bytes([hi, lo])),
            _ => None,
        };
        return Ok(match b & 0x3F {
            0x38 if spec.fcp.is_some_and(|f| f.df_name.is_some()) => Structure::Adf,
            0x38 => Structure::Df,
            0x01 => Structure::Transparent(None),
            0x02 | 0x06 => {
                let len = rec
                    .and_then(|r| u8::try_from(r).ok())
                    .ok_or("record file descriptor without record length")?;
                let pair = Some((0, len));
                if b & 0x07 == 0x02 {
                    Structure::LinearFixed(pair)
                } else {
                    Structure::Cyclic(pair)
                }
            }
            0x39 => Structure::BerTlv,
            _ => return Err(format!("file descriptor {b:02X} not supported")),
        });
    }
    if let Some(t) = spec.template {
        return Ok(t.structure);
    }
    match spec.field {
        Some("mf") => Ok(Structure::Mf),
        Some(n) if n.starts_with("adf-") => Ok(Structure::Adf),
        Some(n) if n.starts_with("df-") => Ok(Structure::Df),
        _ => Err("no file descriptor and no template".into()),
    }
}

/// Lays the fill items over `buf` (already holding the default content).
fn apply_items(buf: &mut [u8], items: &[FileItem]) -> Result<(), String> {
    let mut pos = 0usize;
    for item in items {
        match item {
            FileItem::FillFileOffset(o) => pos += usize::from(*o),
            FileItem::FillFileContent(c) => {
                let end = pos + c.len();
                let dst = buf
                    .get_mut(pos..end)
                    .ok_or_else(|| format!("content up to byte {end} beyond file size"))?;
                dst.copy_from_slice(c);
                pos = end;
            }
            FileItem::DoNotCreate | FileItem::FileDescriptor(_) => {}
        }
    }
    Ok(())
}

/// The end of the content the items write.
fn written_len(items: &[FileItem]) -> usize {
    let mut pos = 0usize;
    let mut end = 0usize;
    for item in items {
        match item {
            FileItem::FillFileOffset(o) => pos += usize::from(*o),
            FileItem::FillFileContent(c) => {
                pos += c.len();
                end = end.max(pos);
            }
            _ => {}
        }
    }
    end
}

/// `len` bytes of a default pattern.
fn pattern_fill(pattern: &[u8], repeat: bool, len: usize) -> Vec<u8> {
    let last = pattern.last().copied().unwrap_or(0xFF);
    (0..len)
        .map(|i| match pattern.get(i) {
            Some(b) => *b,
            None if repeat && !pattern.is_empty() => pattern[i % pattern.len()],
            None => last,
        })
        .collect()
}

/// Builds the file `spec` under `parent` (`None` for an ADF). The MF is not built here.
pub fn build(parent: Option<FileId>, spec: &Spec<'_>) -> Result<File, String> {
    let structure = kind_of(spec)?;
    let fcp = spec.fcp;
    let t = spec.template;
    let fid = fcp
        .and_then(|f| f.file_id)
        .or_else(|| t.and_then(|t| t.fid).map(u16::to_be_bytes))
        .ok_or("no file identifier")?;
    // SAIP `Fcp.shortEFID`: absent means the template's SFI for a template file, the FID's
    // five low bits for a GFM-created one (TS 102 222); present and empty means none.
    let sfi = match fcp.and_then(|f| f.short_ef_id.as_ref()) {
        Some(v) => v.first().map(|b| b >> 3),
        None if spec.field.is_none() => Some(fid[1] & 0x1F),
        None => t.and_then(|t| t.sfi),
    };
    // SAIP `Fcp.securityAttributesReferenced` with only a record number: EF.ARR 2F06 for
    // ADFs, the MF and the files directly under the MF, 6F06 for any other file.
    let arr_fid: [u8; 2] = if parent == Some(MF) || parent.is_none() {
        [0x2F, 0x06]
    } else {
        [0x6F, 0x06]
    };
    let security = match fcp.and_then(|f| f.security_attributes_referenced.as_ref()) {
        Some(v) if v.len() == 1 => Some([&arr_fid[..], v].concat()),
        Some(v) => Some(v.clone()),
        None => t.map(|t| vec![arr_fid[0], arr_fid[1], t.arr_record]),
    };
    let default = match fcp.and_then(|f| f.proprietary_ef_info.as_ref()) {
        Some(p) if p.repeat_pattern.is_some() => {
            (p.repeat_pattern.clone().unwrap_or_default(), true)
        }
        Some(p) if p.fill_pattern.is_some() => (p.fill_pattern.clone().unwrap_or_default(), false),
        _ => {
            let d = t.and_then(|t| t.default).unwrap_or(ERASED);
            (d.pattern.to_vec(), d.repeat)
        }
    };
    let given_size = match fcp.and_then(|f| f.ef_file_size.as_ref()) {
        Some(s) if s.len() > 2 => {
            return Err(format!("efFileSize {} too large", hex::encode_upper(s)))
        }
        Some(s) => Some(s.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))),
        None => None,
    };
    let content_len = written_len(&spec.items);
    if content_len > MAX_FILE_SIZE {
        return Err(format!("content up to byte {content_len}"));
    }
    let body = match structure {
        _ if spec.link.is_some() => Body::Link(spec.link.unwrap_or(MF)),
        Structure::Mf => return Err("a second MF".into()),
        Structure::Df => Body::Df,
        Structure::BerTlv => {
            // The objects the PE writes, as one stream; the size is the maximum, not content.
            let mut buf = vec![0xFF; content_len];
            apply_items(&mut buf, &spec.items)?;
            Body::BerTlv(buf)
        }
        Structure::Adf => Body::Adf {
            aid: fcp
                .and_then(|f| f.df_name.clone())
                .ok_or("ADF without an AID (dfName)")?,
        },
        Structure::Transparent(tsize) => {
            let size = given_size
                .or_else(|| tsize.map(usize::from))
                .or_else(|| template_size(t))
                .unwrap_or(content_len.max(1));
            let mut buf = pattern_fill(&default.0, default.1, size);
            apply_items(&mut buf, &spec.items)?;
            Body::Transparent(buf)
        }
        Structure::LinearFixed(pair) | Structure::Cyclic(pair) => {
            let cyclic = matches!(structure, Structure::Cyclic(_));
            let tpair = t.and_then(|t| match t.structure {
                Structure::LinearFixed(p) | Structure::Cyclic(p) => p,
                _ => None,
            });
            let rec_len = pair
                .map(|(_, l)| usize::from(l))
                .or_else(|| tpair.map(|(_, l)| usize::from(l)))
                .unwrap_or(content_len.max(1));
            if rec_len == 0 {
                return Err("record length 0".into());
            }
            let count = match given_size {
                Some(s) if s % rec_len == 0 && s > 0 => s / rec_len,
                Some(s) => return Err(format!("file size {s} not a multiple of {rec_len}")),
                None => tpair
                    .filter(|(_, l)| usize::from(*l) == rec_len)
                    .map_or(1, |(n, _)| usize::from(n)),
            };
            if count > 254 {
                return Err(format!("{count} records"));
            }
            let mut buf: Vec<u8> = (0..count)
                .flat_map(|_| pattern_fill(&default.0, default.1, rec_len))
                .collect();
            apply_items(&mut buf, &spec.items)?;
            Body::Records {
                cyclic,
                records: buf.chunks(rec_len).map(<[u8]>::to_vec).collect(),
            }
        }
    };
    Ok(File {
        fid,
        parent,
        sfi: if matches!(body, Body::Df | Body::Adf { .. }) {
            None
        } else {
            sfi
        },
        lcsi: fcp.map_or(0x05, |f| f.lcsi),
        security,
        pin_refs: fcp
            .and_then(|f| f.pin_status_template_do.clone())
            .unwrap_or_default(),
        body,
    })
}

fn template_size(t: Option<&TemplateFile>) -> Option<usize> {
    match t?.structure {
        template::Structure::Transparent(s) => s.map(usize::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_rules() {
        // TS 102 222 §6.3.2.2.2: a fill pattern's last byte continues, a repeat pattern repeats.
        assert_eq!(
            pattern_fill(&[0x00, 0xFF], false, 4),
            [0x00, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(
            pattern_fill(&[0xFF, 0xFF, 0xFF, 0, 0], true, 7),
            [0xFF, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF]
        );
        let mut buf = vec![0xFF; 6];
        apply_items(
            &mut buf,
            &[
                FileItem::FillFileContent(vec![1]),
                FileItem::FillFileOffset(2),
                FileItem::FillFileContent(vec![2, 3]),
            ],
        )
        .unwrap();
        assert_eq!(buf, [1, 0xFF, 0xFF, 2, 3, 0xFF]);
        assert!(apply_items(
            &mut buf,
            &[
                FileItem::FillFileOffset(5),
                FileItem::FillFileContent(vec![1, 2])
            ]
        )
        .is_err());
    }

    /// The SAIP `Fcp` comment rules: SFI from the FID for a GFM file without shortEFID, none
    /// for an empty one; a one-byte security reference points to 2F06 under the MF and for
    /// ADFs, 6F06 elsewhere; a record file's count from efFileSize.
    #[test]
    fn saip_fcp_rules() {
        let fcp = Fcp {
            file_descriptor: Some(vec![0x42, 0x21, 0x00, 0x0A]),
            file_id: Some([0x4F, 0x3D]),
            security_attributes_referenced: Some(vec![0x07]),
            ef_file_size: Some(vec![0x1E]),
            ..Fcp::empty()
        };
        let spec = |fcp| Spec {
            field: None,
            fcp: Some(fcp),
            template: None,
            items: vec![FileItem::FillFileContent(vec![1, 2])],
            link: None,
        };
        let f = build(Some(5), &spec(&fcp)).unwrap();
        assert_eq!(f.sfi, Some(0x1D));
        assert_eq!(f.security, Some(vec![0x6F, 0x06, 0x07]));
        let Body::Records { records, cyclic } = &f.body else {
            panic!()
        };
        assert!(!cyclic);
        assert_eq!(records.len(), 3);
        assert_eq!(records[0][..3], [1, 2, 0xFF]);
        let no_sfi = Fcp {
            short_ef_id: Some(vec![]),
            ..fcp.clone()
        };
        let f = build(Some(MF), &spec(&no_sfi)).unwrap();
        assert_eq!(f.sfi, None);
        assert_eq!(f.security, Some(vec![0x2F, 0x06, 0x07]));
        let adf = Fcp {
            file_descriptor: Some(vec![0x78, 0x21]),
            file_id: Some([0x7F, 0xD0]),
            df_name: Some(vec![0xA0, 0, 0, 0, 0x87]),
            security_attributes_referenced: Some(vec![0x0E]),
            ..Fcp::empty()
        };
        let f = build(None, &spec(&adf)).unwrap();
        assert_eq!(f.security, Some(vec![0x2F, 0x06, 0x0E]));
        assert!(matches!(f.body, Body::Adf { .. }));
        let odd = Fcp {
            ef_file_size: Some(vec![0x1F]),
            ..fcp.clone()
        };
        assert!(build(Some(5), &spec(&odd)).is_err());
    }

    #[test]
    fn sizes_are_bounded() {
        let big = Fcp {
            file_descriptor: Some(vec![0x41, 0x21]),
            file_id: Some([0x6F, 0x01]),
            ef_file_size: Some(vec![0x01, 0x00, 0x00]),
            ..Fcp::empty()
        };
        let spec = |fcp, items| Spec {
            field: None,
            fcp: Some(fcp),
            template: None,
            items,
            link: None,
        };
        assert!(build(Some(MF), &spec(&big, vec![])).is_err());
        let far = vec![
            FileItem::FillFileOffset(0xFFFF),
            FileItem::FillFileContent(vec![1]),
        ];
        let ber = Fcp {
            file_descriptor: Some(vec![0x39, 0x21]),
            ef_file_size: None,
            ..big.clone()
        };
        assert!(build(Some(MF), &spec(&ber, far)).is_err());
    }
}
