//! Commands on the enabled profile's files (ETSI TS 102 221 §11.1): SELECT by FID or path
//! (§11.1.1, §8.4), STATUS (§11.1.2), READ BINARY (§11.1.3), READ RECORD (§11.1.5, absolute
//! mode), and the USIM's AUTHENTICATE in the 3G context (3GPP TS 31.102 §7.1.2, P2 `81`).

use super::profile::InstalledProfile;
use super::tree::{Body, FileId, CURRENT_ADF_FID, MF};
use smsr_proto::auth::authenticate::{usim_authenticate, AuthenticateCommand};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// READ BINARY.
pub const INS_READ_BINARY: u8 = 0xB0;
/// READ RECORD.
pub const INS_READ_RECORD: u8 = 0xB2;
/// AUTHENTICATE.
pub const INS_AUTHENTICATE: u8 = 0x88;
/// STATUS (class `80`).
pub const INS_STATUS: u8 = 0xF2;

/// `6981`: command incompatible with file structure.
const SW_INCOMPATIBLE: StatusWord = StatusWord::Other(0x6981);
/// `6986`: command not allowed (no current EF).
const SW_NO_EF: StatusWord = StatusWord::CommandNotAllowed;
/// `6A83`: record not found.
const SW_RECORD_NOT_FOUND: StatusWord = StatusWord::Other(0x6A83);
/// Service n°27 "GSM Access" in EF.UST (TS 31.102 §4.2.8): Kc is returned when available.
const UST_GSM_ACCESS: usize = 27;

/// What is selected in the profile's file system on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsSelection {
    /// The ISD-P whose profile this selection belongs to.
    pub isd_p: Vec<u8>,
    /// The current application (ADF).
    pub adf: Option<FileId>,
    pub df: FileId,
    pub ef: Option<FileId>,
}

impl FsSelection {
    /// The MF of the profile in `isd_p`.
    pub fn mf(isd_p: &[u8]) -> Self {
        Self {
            isd_p: isd_p.to_vec(),
            adf: None,
            df: MF,
            ef: None,
        }
    }

    /// The current file (EF, else DF).
    pub fn current(&self) -> FileId {
        self.ef.unwrap_or(self.df)
    }

    /// Makes `id` current.
    pub fn set(&mut self, p: &InstalledProfile, id: FileId) {
        let Some(f) = p.fs.get(id) else { return };
        if f.is_df() {
            self.df = id;
            self.ef = None;
        } else {
            self.df = f.parent.unwrap_or(MF);
            self.ef = Some(id);
        }
        if let Some(adf) = p.fs.adf_of(id) {
            self.adf = Some(adf);
        }
    }
}

/// SELECT by FID (`P1` 00), child DF (01), child EF (02), parent (03), path from the MF (08)
/// or from the current DF (09). The file found, or the status word.
pub fn select_file(
    p: &InstalledProfile,
    sel: &FsSelection,
    p1: u8,
    data: &[u8],
) -> Result<FileId, StatusWord> {
    let fs = &p.fs;
    let fid = |d: &[u8]| -> Result<[u8; 2], StatusWord> {
        d.try_into().map_err(|_| StatusWord::WrongLength)
    };
    let df = sel.df;
    let parent = fs.get(df).and_then(|f| f.parent);
    let found = match p1 {
        0x00 if data.is_empty() => Some(MF),
        0x00 => {
            let id = fid(data)?;
            if id == [0x3F, 0x00] {
                Some(MF)
            } else if id == CURRENT_ADF_FID {
                sel.adf
            } else if fs.get(df).is_some_and(|f| f.fid == id) {
                Some(df)
            } else {
                fs.child(Some(df), id)
                    .or_else(|| parent.filter(|p| fs.get(*p).is_some_and(|f| f.fid == id)))
                    .or_else(|| {
                        parent
                            .and_then(|p| fs.child(Some(p), id))
                            .filter(|c| fs.get(*c).is_some_and(|f| f.is_df()))
                    })
                    .or_else(|| sel.adf.filter(|a| fs.get(*a).is_some_and(|f| f.fid == id)))
            }
        }
        0x01 | 0x02 => {
            let want_df = p1 == 0x01;
            fs.child(Some(df), fid(data)?)
                .filter(|c| fs.get(*c).is_some_and(|f| f.is_df() == want_df))
        }
        0x03 if !data.is_empty() => return Err(StatusWord::WrongLength),
        0x03 => parent.or(Some(MF)),
        0x08 | 0x09 if data.is_empty() || !data.len().is_multiple_of(2) => {
            return Err(StatusWord::WrongLength)
        }
        0x08 | 0x09 => {
            let mut fids = data.chunks_exact(2).map(|c| [c[0], c[1]]);
            let mut at = if p1 == 0x08 { MF } else { df };
            let mut first = true;
            let mut ok = true;
            for id in fids.by_ref() {
                let next = if first && id == CURRENT_ADF_FID {
                    sel.adf
                } else {
                    fs.child(Some(at), id)
                };
                first = false;
                match next {
                    Some(n) => at = n,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            ok.then_some(at)
        }
        _ => return Err(StatusWord::IncorrectP1P2),
    };
    found.ok_or(StatusWord::FileNotFound)
}

/// READ BINARY, READ RECORD, AUTHENTICATE (class `0X`) and STATUS (class `8X`) on the current
/// selection (TS 102 221 §10.1.1 Table 10.5 gives each instruction its class); `proprietary`
/// is the class byte's b8.
pub fn process(
    p: &mut InstalledProfile,
    sel: &mut FsSelection,
    proprietary: bool,
    cmd: &CommandApdu,
) -> ResponseApdu {
    if proprietary != (cmd.ins == INS_STATUS) {
        return ResponseApdu::status(StatusWord::ClaNotSupported);
    }
    match cmd.ins {
        INS_READ_BINARY => read_binary(p, sel, cmd),
        INS_READ_RECORD => read_record(p, sel, cmd),
        INS_AUTHENTICATE => authenticate(p, sel, cmd),
        INS_STATUS => status(p, sel, cmd),
        _ => ResponseApdu::status(StatusWord::InsNotSupported),
    }
}

/// STATUS: P1 `00`/`01`/`02` (application state, ignored here), P2 `00` the current DF's FCP,
/// `01` the current application's AID (`84` DO), `0C` no data (TS 102 221 §11.1.2).
fn status(p: &InstalledProfile, sel: &FsSelection, cmd: &CommandApdu) -> ResponseApdu {
    if cmd.p1 > 0x02 || !cmd.data.is_empty() {
        return ResponseApdu::status(StatusWord::IncorrectP1P2);
    }
    match cmd.p2 {
        0x00 => ResponseApdu::success(p.fs.fcp(sel.df)),
        0x01 => match sel.adf.and_then(|a| p.fs.get(a)).map(|f| &f.body) {
            Some(Body::Adf { aid }) => {
                ResponseApdu::success(smsr_proto::tlv::tlv(0x84u8, aid.as_slice()))
            }
            _ => ResponseApdu::success(Vec::new()),
        },
        0x0C => ResponseApdu::status(StatusWord::Success),
        _ => ResponseApdu::status(StatusWord::IncorrectP1P2),
    }
}

/// The EF a READ addresses: by SFI (which then becomes the current EF) or the current EF.
fn target_ef(
    p: &InstalledProfile,
    sel: &mut FsSelection,
    sfi: Option<u8>,
) -> Result<FileId, StatusWord> {
    match sfi {
        Some(s) => {
            let id = p.fs.by_sfi(sel.df, s).ok_or(StatusWord::FileNotFound)?;
            sel.set(p, id);
            Ok(id)
        }
        None => sel.ef.ok_or(SW_NO_EF),
    }
}

fn read_binary(p: &InstalledProfile, sel: &mut FsSelection, cmd: &CommandApdu) -> ResponseApdu {
    let (sfi, offset) = if cmd.p1 & 0x80 != 0 {
        if cmd.p1 & 0x60 != 0 {
            return ResponseApdu::status(StatusWord::IncorrectP1P2);
        }
        (Some(cmd.p1 & 0x1F), usize::from(cmd.p2))
    } else {
        (None, usize::from(u16::from_be_bytes([cmd.p1, cmd.p2])))
    };
    if !cmd.data.is_empty() {
        return ResponseApdu::status(StatusWord::WrongLength);
    }
    let id = match target_ef(p, sel, sfi) {
        Ok(id) => id,
        Err(sw) => return ResponseApdu::status(sw),
    };
    let Some(Body::Transparent(data)) = p.fs.body(id) else {
        return ResponseApdu::status(SW_INCOMPATIBLE);
    };
    if offset >= data.len() {
        return ResponseApdu::status(StatusWord::WrongP1P2);
    }
    let available = data.len() - offset;
    let want = cmd.le.unwrap_or(256).min(256);
    if cmd.le.is_some_and(|le| le > available && le != 256) {
        // TS 102 221 §10.2.1.1 / ISO 7816-4: the exact length available.
        return ResponseApdu::status(StatusWord::WrongLe(
            u8::try_from(available.min(255)).unwrap_or(0xFF),
        ));
    }
    ResponseApdu::success(data[offset..offset + want.min(available)].to_vec())
}

fn read_record(p: &InstalledProfile, sel: &mut FsSelection, cmd: &CommandApdu) -> ResponseApdu {
    if cmd.p2 & 0x07 != 0x04 || cmd.p1 == 0 {
        return ResponseApdu::status(StatusWord::IncorrectP1P2);
    }
    let sfi = match cmd.p2 >> 3 {
        0 => None,
        s => Some(s),
    };
    let id = match target_ef(p, sel, sfi) {
        Ok(id) => id,
        Err(sw) => return ResponseApdu::status(sw),
    };
    let Some(Body::Records { records, .. }) = p.fs.body(id) else {
        return ResponseApdu::status(SW_INCOMPATIBLE);
    };
    match records.get(usize::from(cmd.p1) - 1) {
        Some(r) if cmd.le.is_some_and(|le| le != 256 && le != r.len()) => {
            ResponseApdu::status(StatusWord::WrongLe(u8::try_from(r.len()).unwrap_or(0xFF)))
        }
        Some(r) => ResponseApdu::success(r.clone()),
        None => ResponseApdu::status(SW_RECORD_NOT_FOUND),
    }
}

/// Whether EF.UST (`6F38` in the ADF) has service `n` (bit n-1 from byte 0's b1).
fn ust_has(p: &InstalledProfile, adf: FileId, n: usize) -> bool {
    let Some(id) = p.fs.child(Some(adf), [0x6F, 0x38]) else {
        return false;
    };
    match p.fs.body(id) {
        Some(Body::Transparent(d)) => d
            .get((n - 1) / 8)
            .is_some_and(|b| b & (1 << ((n - 1) % 8)) != 0),
        _ => false,
    }
}

fn authenticate(p: &mut InstalledProfile, sel: &FsSelection, cmd: &CommandApdu) -> ResponseApdu {
    let Some(adf) = sel.adf else {
        return ResponseApdu::status(StatusWord::ConditionsOfUseNotSatisfied);
    };
    if cmd.p1 != 0x00 || cmd.p2 != 0x81 {
        return ResponseApdu::status(StatusWord::IncorrectP1P2);
    }
    let Ok(command) = AuthenticateCommand::from_data(&cmd.data) else {
        return ResponseApdu::status(StatusWord::IncorrectData);
    };
    let gsm = ust_has(p, adf, UST_GSM_ACCESS);
    let Some(ctx) = p.aka_mut(adf) else {
        return ResponseApdu::status(StatusWord::ConditionsOfUseNotSatisfied);
    };
    let algorithm = ctx.algorithm.clone();
    usim_authenticate(&algorithm, &mut ctx.sqn, &command, gsm)
}
