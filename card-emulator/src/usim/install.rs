//! Installing a profile package (the eUICC processes the PEs in order, SAIP.md §2.1): builds the
//! profile's file system, keeps its PINs and AKA credentials, and answers with an
//! `EUICCResponse` holding one `PEStatus` per PE.
//!
//! Per PE:
//! - header: SAIP major version 2 or 3, else `unsupported-profile-version`;
//! - mf, telecom, cd, usim, opt-usim, gsm-access, df-5gs, df-saip, df-snpn, df-5gprose,
//!   phonebook, isim, opt-isim, csim, opt-csim: files (see [`super::build`]), in the DF where
//!   [`parent_rule`] puts the PE;
//! - genericFileManagement: filePath selects a DF (ADFs by temporary FID), createFCP creates a
//!   file there and makes it current (a created DF becomes the current DF, TS 102 222 §6.3),
//!   fill items write into the current EF;
//! - pinCodes / pukCodes: kept with the DF they apply to (the current one);
//! - akaParameter: MILENAGE or the test algorithm with its K, OPc, constants and SQN
//!   configuration, for the current ADF;
//! - securityDomain, rfm, cdmaParameter, nonStandard, end: accepted and kept in the package
//!   (their content is not run here);
//! - application, eap, iot, opt-iot and unknown alternatives: `pe-not-supported`;
//! - a PE that did not decode: `bad-values` with its offset.
//!
//! A failing PE that is `mandated` aborts the installation (`profileInstallationAborted`);
//! one that is not is skipped.

use super::build::{self, Spec};
use super::profile::{AkaContext, InstalledProfile, Pin};
use super::sqn::SqnState;
use super::template;
use super::tree::{Body, File, FileId, FileSystem, MF};
use smsr_proto::saip::aka::{AlgoConfiguration, PeAkaParameter};
use smsr_proto::saip::file::{FileItem, PeFileSystem};
use smsr_proto::saip::gfm::FileManagement;
use smsr_proto::saip::pin::PinCodes;
use smsr_proto::saip::response::{EuiccResponse, PeStatus, PeStatusCode};
use smsr_proto::saip::{Package, PeKind, ProfileElement, SaipError};

/// Where a file-system PE's files go: the MF itself, a DF under the MF, a new ADF, or the ADF
/// created by the NAA PE it extends (SAIP §8.3: opt-usim, gsm-access, df-5gs, df-saip,
/// phonebook... follow usim; opt-isim follows isim; opt-csim follows csim).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parent {
    Root,
    UnderMf,
    NewAdf,
    InAdf(PeKind),
}

/// The one table of where each file-system PE goes; `None`: not supported.
pub fn parent_rule(kind: PeKind) -> Option<Parent> {
    Some(match kind {
        PeKind::Mf => Parent::Root,
        PeKind::Telecom | PeKind::Cd => Parent::UnderMf,
        PeKind::Usim | PeKind::Isim | PeKind::Csim => Parent::NewAdf,
        PeKind::OptUsim
        | PeKind::GsmAccess
        | PeKind::Df5gs
        | PeKind::DfSaip
        | PeKind::DfSnpn
        | PeKind::Df5gprose
        | PeKind::Phonebook => Parent::InAdf(PeKind::Usim),
        PeKind::OptIsim => Parent::InAdf(PeKind::Isim),
        PeKind::OptCsim => Parent::InAdf(PeKind::Csim),
        _ => return None,
    })
}

/// A PE's failure: the status and a reason (for the status message).
type Failure = (PeStatusCode, String);

fn bad(reason: impl Into<String>) -> Failure {
    (PeStatusCode::BadValues, reason.into())
}

#[derive(Default)]
struct Installer {
    fs: Option<FileSystem>,
    current_df: FileId,
    current_ef: Option<FileId>,
    /// The ADF created by each NAA PE.
    naa_adfs: Vec<(PeKind, FileId)>,
    aka: Vec<AkaContext>,
    pins: Vec<Pin>,
    /// The EF the GFM fill items write to, and the position in it.
    cursor: Option<(FileId, usize)>,
}

impl Installer {
    fn fs(&mut self) -> Result<&mut FileSystem, Failure> {
        self.fs
            .as_mut()
            .ok_or_else(|| bad("no mf PE before this one"))
    }

    fn file_system(&mut self, pe: &PeFileSystem) -> Result<(), Failure> {
        let rule = parent_rule(pe.kind).ok_or((PeStatusCode::PeNotSupported, String::new()))?;
        let oid = pe.template_id.to_dotted();
        let table = template::lookup(&oid);
        let names = pe.kind.file_fields().unwrap_or_default();
        // The fields to build, in order: every row of a "created by default" template, else
        // the PE's own fields (with their template rows where this card has them).
        let mut fields: Vec<(&str, Option<&template::TemplateFile>)> = match table {
            Some(t) if t.created_by_default => {
                t.rows.iter().map(|row| (row.field, Some(row))).collect()
            }
            _ => pe
                .files
                .iter()
                .filter_map(|(n, _)| {
                    let i = usize::try_from(n.checked_sub(2)?).ok()?;
                    let name = names.get(i)?.0;
                    Some((name, table.and_then(|t| t.row(name))))
                })
                .collect(),
        };
        if table.is_none() && matches!(pe.kind, PeKind::Mf | PeKind::Usim) {
            return Err((PeStatusCode::TemplateNotSupported, oid));
        }
        let mut base: Option<FileId> = match rule {
            Parent::Root | Parent::NewAdf | Parent::UnderMf => None,
            Parent::InAdf(naa) => Some(
                self.naa_adfs
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == naa)
                    .map(|(_, a)| *a)
                    .ok_or_else(|| bad(format!("{} without a preceding {naa}", pe.kind)))?,
            ),
        };
        let mut current = base;
        for (i, (name, row)) in fields.drain(..).enumerate() {
            let empty = smsr_proto::saip::file::File::default();
            let file = pe.file(name).unwrap_or(&empty);
            // SAIP `File.doNotCreate` has no effect on the files of the MF.
            if file.0.contains(&FileItem::DoNotCreate) && rule != Parent::Root {
                continue;
            }
            let spec = Spec {
                field: Some(name),
                fcp: file.fcp(),
                template: row,
                items: file.0.clone(),
                link: self.link_target(file.fcp())?,
            };
            if i == 0 && rule == Parent::Root {
                if name != "mf" {
                    return Err(bad("mf PE without its mf field"));
                }
                let mf = File {
                    fid: [0x3F, 0x00],
                    parent: None,
                    sfi: None,
                    lcsi: spec.fcp.map_or(0x05, |f| f.lcsi),
                    security: Some(vec![0x2F, 0x06, row.map_or(1, |r| r.arr_record)]),
                    pin_refs: spec
                        .fcp
                        .and_then(|f| f.pin_status_template_do.clone())
                        .unwrap_or_default(),
                    body: Body::Mf,
                };
                if self.fs.is_some() {
                    return Err(bad("a second mf PE"));
                }
                self.fs = Some(FileSystem::new(mf));
                base = Some(MF);
                current = Some(MF);
                continue;
            }
            let is_df = name.starts_with("df-") || name.starts_with("adf-");
            let parent = match (i, rule) {
                (0, Parent::UnderMf) => Some(MF),
                (0, Parent::NewAdf) => None,
                _ if is_df => base,
                _ => current,
            };
            let fs = self.fs()?;
            let built = build::build(parent, &spec).map_err(|e| bad(format!("{name}: {e}")))?;
            let id = fs
                .add(built)
                .ok_or_else(|| bad(format!("{name}: file identifier already used")))?;
            if is_df {
                if i == 0 {
                    base = Some(id);
                }
                current = Some(id);
            }
        }
        let base = base.ok_or_else(|| bad("no base DF"))?;
        if rule == Parent::NewAdf {
            self.naa_adfs.push((pe.kind, base));
        }
        self.current_df = base;
        self.current_ef = None;
        Ok(())
    }

    /// The file a non-empty `linkPath` names (an empty one makes the file independent).
    fn link_target(
        &self,
        fcp: Option<&smsr_proto::saip::file::Fcp>,
    ) -> Result<Option<FileId>, Failure> {
        let Some(path) = fcp
            .and_then(|f| f.link_path.as_ref())
            .filter(|p| !p.is_empty())
        else {
            return Ok(None);
        };
        let fs = self
            .fs
            .as_ref()
            .ok_or_else(|| bad("no mf PE before this one"))?;
        fs.resolve_saip_path(path)
            .filter(|id| fs.get(*id).is_some_and(|f| !f.is_df()))
            .map(Some)
            .ok_or_else(|| bad(format!("linkPath {} not found", hex::encode_upper(path))))
    }

    fn generic_file_management(&mut self, cmds: &[Vec<FileManagement>]) -> Result<(), Failure> {
        for list in cmds {
            for cmd in list {
                match cmd {
                    FileManagement::FilePath(path) => {
                        let fs = self.fs()?;
                        let df = fs
                            .resolve_saip_path(path)
                            .filter(|id| fs.get(*id).is_some_and(File::is_df))
                            .ok_or_else(|| {
                                bad(format!("filePath {} not found", hex::encode_upper(path)))
                            })?;
                        self.current_df = df;
                        self.current_ef = None;
                    }
                    FileManagement::CreateFcp(fcp) => {
                        let parent = Some(self.current_df);
                        let spec = Spec {
                            field: None,
                            fcp: Some(fcp),
                            template: None,
                            items: Vec::new(),
                            link: self.link_target(Some(fcp))?,
                        };
                        let built = build::build(parent, &spec)
                            .map_err(|e| bad(format!("createFCP: {e}")))?;
                        let is_df = built.is_df();
                        let id = self
                            .fs()?
                            .add(built)
                            .ok_or_else(|| bad("createFCP: file identifier already used"))?;
                        if is_df {
                            self.current_df = id;
                            self.current_ef = None;
                        } else {
                            self.current_ef = Some(id);
                        }
                    }
                    FileManagement::FillFileOffset(_) | FileManagement::FillFileContent(_) => {
                        let ef = self
                            .current_ef
                            .ok_or_else(|| bad("fill without a created EF"))?;
                        // One stream per EF: keep the position in the EF's write cursor.
                        self.fill(ef, cmd)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn fill(&mut self, ef: FileId, cmd: &FileManagement) -> Result<(), Failure> {
        let cursor = self.cursor.get_or_insert((ef, 0));
        if cursor.0 != ef {
            *cursor = (ef, 0);
        }
        let pos = cursor.1;
        let fs = self.fs.as_mut().ok_or_else(|| bad("no file system"))?;
        let file = fs.get_mut(ef).ok_or_else(|| bad("no such EF"))?;
        let next = match cmd {
            FileManagement::FillFileOffset(o) => pos + usize::from(*o),
            FileManagement::FillFileContent(c) => {
                write_at(&mut file.body, pos, c).map_err(bad)?;
                pos + c.len()
            }
            _ => pos,
        };
        if let Some(c) = self.cursor.as_mut() {
            c.1 = next;
        }
        Ok(())
    }
}

/// Writes `data` at linear position `pos` of an EF (records as one stream).
fn write_at(body: &mut Body, pos: usize, data: &[u8]) -> Result<(), String> {
    let end = pos + data.len();
    match body {
        Body::Transparent(d) | Body::BerTlv(d) => d
            .get_mut(pos..end)
            .ok_or_else(|| format!("content up to byte {end} beyond file size"))?
            .copy_from_slice(data),
        Body::Records { records, .. } => {
            let len = records.first().map_or(0, Vec::len);
            if len == 0 || end > len * records.len() {
                return Err(format!("content up to byte {end} beyond file size"));
            }
            for (i, b) in data.iter().enumerate() {
                let at = pos + i;
                if let Some(slot) = records.get_mut(at / len).and_then(|r| r.get_mut(at % len)) {
                    *slot = *b;
                }
            }
        }
        _ => return Err("fill content for a DF or a link file".into()),
    }
    Ok(())
}

impl Installer {
    fn pin_codes(&mut self, codes: &PinCodes, puk: bool) -> Result<(), Failure> {
        match codes {
            PinCodes::PinConfig(list) => {
                for p in list {
                    self.pins.push(Pin {
                        df: self.current_df,
                        key_reference: p.key_reference,
                        puk,
                        retries: p.max_attempts_retries_left,
                    });
                }
            }
            PinCodes::FilePath(path) => {
                let fs = self.fs()?;
                fs.resolve_saip_path(path).ok_or_else(|| {
                    bad(format!(
                        "PIN filePath {} not found",
                        hex::encode_upper(path)
                    ))
                })?;
            }
        }
        Ok(())
    }

    fn aka_parameter(&mut self, pe: &PeAkaParameter, element: usize) -> Result<(), Failure> {
        let df = self.current_df;
        let fs = self.fs()?;
        let adf = fs
            .adf_of(df)
            .ok_or_else(|| bad("akaParameter outside an ADF"))?;
        let algo = match &pe.algo_configuration {
            AlgoConfiguration::AlgoParameter(a) => a,
            AlgoConfiguration::MappingParameter { .. } => {
                return Err((PeStatusCode::FeatureNotSupported, "mappingParameter".into()))
            }
        };
        let algorithm = algo
            .algorithm()
            .map_err(|e| (PeStatusCode::FeatureNotSupported, e.to_string()))?;
        self.aka.retain(|a| a.adf != adf);
        self.aka.push(AkaContext {
            adf,
            element,
            algorithm,
            sqn: SqnState::from_pe(pe),
        });
        Ok(())
    }
}

/// What [`install`] gives: the response, and the profile when it was not aborted.
#[derive(Debug)]
pub struct Outcome {
    pub response: EuiccResponse,
    pub profile: Option<InstalledProfile>,
}

/// Processes a package (DER bytes).
pub fn install(der: &[u8]) -> Outcome {
    let package = match Package::parse(der) {
        Ok(p) => p,
        Err(e) => {
            return Outcome {
                response: aborted(vec![], PeStatusCode::InvalidRequestFormat, None, e),
                profile: None,
            }
        }
    };
    install_parsed(package, Some(der))
}

fn aborted(
    mut pe_status: Vec<PeStatus>,
    status: PeStatusCode,
    identification: Option<u16>,
    e: SaipError,
) -> EuiccResponse {
    pe_status.push(PeStatus {
        status,
        identification,
        additional_information: None,
        offset: match &e {
            SaipError::Der { offset, .. } => u32::try_from(*offset).ok(),
            _ => None,
        },
    });
    EuiccResponse {
        pe_status,
        profile_installation_aborted: true,
        status_message: Some(message(&e.to_string())),
    }
}

/// A statusMessage within SIZE (2..64).
fn message(text: &str) -> String {
    let mut s: String = text.chars().take(64).collect();
    while s.chars().count() < 2 {
        s.push('.');
    }
    s
}

/// Processes a decoded package.
pub fn install_package(package: Package) -> Outcome {
    install_parsed(package, None)
}

/// Installs `package`, which is `der` parsed if given (kept as the installed DER; otherwise
/// the package is encoded).
fn install_parsed(package: Package, der: Option<&[u8]>) -> Outcome {
    let mut ins = Installer::default();
    let mut statuses = Vec::new();
    let mut aborted = None;
    let mut iccid = None;
    for (index, element) in package.elements.iter().enumerate() {
        let pe = &element.element;
        let result: Result<(), Failure> = match pe {
            ProfileElement::Header(h) => {
                if !(2..=3).contains(&h.major_version) {
                    Err((
                        PeStatusCode::UnsupportedProfileVersion,
                        format!("version {}.{}", h.major_version, h.minor_version),
                    ))
                } else {
                    smsr_proto::saip::identity::iccid_from_header(&h.iccid)
                        .ok()
                        .and_then(|d| crate::isd_p::parse_iccid(&d))
                        .map(|i| iccid = Some(i))
                        .ok_or_else(|| bad("header ICCID"))
                }
            }
            ProfileElement::FileSystem(f) => ins.file_system(f),
            ProfileElement::GenericFileManagement(g) => {
                ins.generic_file_management(&g.file_management_cmd)
            }
            ProfileElement::PinCodes(p) => ins.pin_codes(&p.pin_codes, false),
            ProfileElement::PukCodes(p) => {
                for c in &p.puk_codes {
                    ins.pins.push(Pin {
                        df: ins.current_df,
                        key_reference: c.key_reference,
                        puk: true,
                        retries: c.max_attempts_retries_left,
                    });
                }
                Ok(())
            }
            ProfileElement::AkaParameter(a) => ins.aka_parameter(a, index),
            ProfileElement::SecurityDomain(_) | ProfileElement::Rfm(_) => Ok(()),
            ProfileElement::End(_) => ins.fs().map(|_| ()),
            ProfileElement::Opaque(o) => match (&o.error, o.kind) {
                (Some(e), _) => Err(bad(e.to_string())),
                (None, PeKind::CdmaParameter | PeKind::NonStandard) => Ok(()),
                (None, k) if k.name().starts_with("rfu") => Ok(()),
                _ => Err((PeStatusCode::PeNotSupported, o.kind.to_string())),
            },
        };
        let (status, reason) = match result {
            Ok(()) => (PeStatusCode::Ok, None),
            Err((s, r)) => (s, Some(r)),
        };
        statuses.push(PeStatus {
            status,
            identification: pe.identification(),
            additional_information: None,
            offset: u32::try_from(element.offset).ok(),
        });
        let mandated = pe.pe_header().is_none_or(|h| h.mandated);
        if status != PeStatusCode::Ok && mandated {
            aborted = Some(format!("{}: {}", pe.kind(), reason.unwrap_or_default()));
            break;
        }
    }
    let fs = ins.fs.take();
    let (Some(fs), Some(iccid), None) = (fs, iccid, aborted.as_ref()) else {
        return Outcome {
            response: EuiccResponse {
                pe_status: statuses,
                profile_installation_aborted: true,
                status_message: Some(message(aborted.as_deref().unwrap_or("no header or no mf"))),
            },
            profile: None,
        };
    };
    let der: std::sync::Arc<[u8]> = der.map_or_else(|| package.to_der().into(), Into::into);
    Outcome {
        response: EuiccResponse {
            pe_status: statuses,
            profile_installation_aborted: false,
            status_message: None,
        },
        profile: Some(InstalledProfile {
            file_name: super::profile::package_file_name(&der),
            der,
            package,
            fs,
            aka: ins.aka,
            pins: ins.pins,
            iccid,
        }),
    }
}
