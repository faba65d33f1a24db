//! INSTALL on the ISD-R (GPCS v2.3.1 §11.5): [for install and make selectable] (P1 `0C`) of an
//! ISD-P is SGP.02 ES5 CreateISDP (§4.1.1.1, `shared/protocol/SGP02.md` §2):
//!
//! ```text
//! 80 E6 0C 00 Lc  10 <ISD-P load file AID>  10 <ISD-P module AID>  10 <new ISD-P AID>
//!                 03 80 C0 00  Li C9 04 81 02 03 <i> [EF { C8 <NV quota> C7 <V quota> }]  00
//! ```
//! answered `00` (no confirmation, §11.5.3.1) and `9000`; the ISD-P is SELECTABLE (`07`),
//! associated with the ISD-R. The checks, in order, and their status words
//! ([`smsr_proto::sgp02::codings`]):
//!
//! - data not an INSTALL [for install] field (bad LV lengths, trailing bytes): `6A80`;
//! - load file or module other than the ISD-P ones: `6A88` ([`SW_WRONG_LOAD_FILE`]);
//! - instance AID not `A0000005591010FFFFFFFF89 00 nnnn 00`, privileges not `80 C0 00`,
//!   parameters other than `C9 { 81 02 03 i }` with a valid SCP03 "i" and optional `EF { C7, C8
//!   }`, or an install token: `6A80` ([`SW_WRONG_INSTALL_DATA`]);
//! - AID already in the registry: `6A80` ([`SW_AID_PRESENT`]);
//! - [`ISD_P_MAX`] ISD-Ps already, or a quota beyond the free memory: `6A84` ([`SW_MEMORY`]).
//!
//! INSTALL [for personalization] (P1 `20`) of an ISD-P is ES8 key establishment, handled in
//! `es8.rs` before this module. Other INSTALL roles (load, install without make selectable,
//! extradition, registry update) are not offered: `6A81`. A chained INSTALL (P1 b8): `6A86`.
//!
//! [`SW_WRONG_LOAD_FILE`]: smsr_proto::sgp02::codings::SW_WRONG_LOAD_FILE
//! [`SW_WRONG_INSTALL_DATA`]: smsr_proto::sgp02::codings::SW_WRONG_INSTALL_DATA
//! [`SW_AID_PRESENT`]: smsr_proto::sgp02::codings::SW_AID_PRESENT
//! [`ISD_P_MAX`]: smsr_proto::sgp02::codings::ISD_P_MAX
//! [`SW_MEMORY`]: smsr_proto::sgp02::codings::SW_MEMORY

use crate::isd_p::IsdP;
use crate::nv::Nv;
use smsr_proto::gp::install::ForInstall;
use smsr_proto::gp::install_params::SystemParameter;
use smsr_proto::gp::{Aid, Install, InstallParameters, Privileges};
use smsr_proto::scp03::{ScpOptions, SCP03_ID};
use smsr_proto::sgp02::codings::{SW_WRONG_INSTALL_DATA, SW_WRONG_LOAD_FILE};
use smsr_proto::tlv::Tlv;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// The tag, inside `C9`, of the SCP identifier and "i" of the new Security Domain.
const TAG_SCP: u8 = 0x81;

pub(super) fn process(nv: &mut Nv, cmd: &CommandApdu) -> ResponseApdu {
    match install(nv, cmd) {
        // GPCS §11.5.3.1: a single `00` byte when no confirmation is asked for.
        Ok(()) => ResponseApdu::success(vec![0x00]),
        Err(sw) => ResponseApdu::status(sw),
    }
}

fn install(nv: &mut Nv, cmd: &CommandApdu) -> Result<(), StatusWord> {
    if cmd.p1 & 0x80 != 0 {
        return Err(StatusWord::IncorrectP1P2);
    }
    let request = Install::from_apdu(cmd).map_err(|e| match e {
        smsr_proto::gp::GpError::WrongParameters { .. } => StatusWord::IncorrectP1P2,
        _ => StatusWord::IncorrectData,
    })?;
    let data = match request {
        Install::ForInstall {
            data,
            make_selectable: true,
        } => data,
        _ => return Err(StatusWord::FunctionNotSupported),
    };
    let (aid, isd_p) = create_isd_p_request(&data)?;
    nv.get_mut()
        .create_isd_p(aid, isd_p)
        .map_err(|e| e.status_word())
}

/// Checks an INSTALL [for install and make selectable] as CreateISDP; returns the new AID and
/// the ISD-P's data.
fn create_isd_p_request(data: &ForInstall) -> Result<(Aid, IsdP), StatusWord> {
    if data.load_file.as_ref() != Some(&Aid::isd_p_load_file())
        || data.module.as_ref() != Some(&Aid::isd_p_module())
    {
        return Err(SW_WRONG_LOAD_FILE);
    }
    if !data.application.is_isd_p()
        || data.privileges != Privileges::ISD_P
        || !data.token.is_empty()
    {
        return Err(SW_WRONG_INSTALL_DATA);
    }
    let params = InstallParameters::parse(&data.parameters).map_err(|_| SW_WRONG_INSTALL_DATA)?;
    let scp03_i = scp03_i(&params).ok_or(SW_WRONG_INSTALL_DATA)?;
    if params.uicc_template.is_some() || params.token_crt.is_some() || !params.other.is_empty() {
        return Err(SW_WRONG_INSTALL_DATA);
    }
    let quotas_only = params.system.iter().flatten().all(|p| {
        matches!(
            p,
            SystemParameter::NonVolatileMemory(_) | SystemParameter::VolatileMemory(_)
        )
    });
    let quota_count = params.system.iter().flatten().count();
    let nv_quota = params.non_volatile_memory();
    let v_quota = params.volatile_memory();
    let distinct = usize::from(nv_quota.is_some()) + usize::from(v_quota.is_some());
    if !quotas_only || quota_count != distinct {
        return Err(SW_WRONG_INSTALL_DATA);
    }
    Ok((
        data.application.clone(),
        IsdP::created(scp03_i, nv_quota, v_quota),
    ))
}

/// The "i" of `C9 { 81 02 03 i }`, the only object of `C9`, if "i" is one SCP03 defines.
fn scp03_i(params: &InstallParameters) -> Option<u8> {
    let objects = Tlv::parse_all(params.application_specific.as_deref()?).ok()?;
    match objects.as_slice() {
        [Tlv { tag, value }] if tag.value() == u32::from(TAG_SCP) => match value.as_slice() {
            [scp, i] if *scp == SCP03_ID && ScpOptions::from_i(*i).is_ok() => Some(*i),
            _ => None,
        },
        _ => None,
    }
}
