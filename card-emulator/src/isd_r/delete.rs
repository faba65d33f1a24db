//! DELETE on the ISD-R (GPCS v2.3.1 §11.2).
//!
//! - Card content, `4F AID`: SGP.02 DeleteProfile (§4.1.1.4) removes an ISD-P with its
//!   profile. Refused ([`crate::state::ProfileError`], [`smsr_proto::sgp02::codings`]): the
//!   ISD-R, the ECASD and the ISD-P load file (platform) and an enabled ISD-P: `6985`; the
//!   fallback profile: `6985`; POL1 "deletion not allowed": `69E1`. An AID not in the
//!   registry: `6A88`. P2 b8 (related objects; njiwa's `40` decodes as "object only") changes
//!   nothing: an ISD-P has none. Tokens are not checked.
//! - Keys, `D2 KVN` (with `D0` 1, 2 or 3 or without `D0`): the whole SCP03 key set goes, unless
//!   it is the only one left (`6985`: the ISD-R would be unreachable). `D0` alone would take
//!   one key out of every set, leaving them incomplete: `6985`. A KVN or key identifier that
//!   does not exist: `6A88`.
//!
//! The response is `00` (no delete confirmation, §11.2.3). Chained commands (P1 b8) and
//! malformed data: `6A86` and `6A80`.

use crate::nv::Nv;
use smsr_proto::gp::{ConfirmationResponse, Delete, DeleteTarget, GpError};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

pub(super) fn process(nv: &mut Nv, cmd: &CommandApdu) -> ResponseApdu {
    match delete(nv, cmd) {
        Ok(()) => ResponseApdu::success(ConfirmationResponse::none().to_bytes()),
        Err(sw) => ResponseApdu::status(sw),
    }
}

fn delete(nv: &mut Nv, cmd: &CommandApdu) -> Result<(), StatusWord> {
    let request = Delete::from_apdu(cmd).map_err(|e| match e {
        GpError::WrongParameters { .. } => StatusWord::IncorrectP1P2,
        _ => StatusWord::IncorrectData,
    })?;
    match request.target {
        DeleteTarget::CardContent { aid, .. } => {
            nv.get()
                .registry()
                .find(aid.as_bytes())
                .ok_or(StatusWord::ReferencedDataNotFound)?;
            nv.get_mut().delete_isd_p(&aid).map_err(|e| e.status_word())
        }
        DeleteTarget::Key { key_id, version } => {
            if key_id.is_some_and(|id| !(1..=3).contains(&id)) {
                return Err(StatusWord::ReferencedDataNotFound);
            }
            let Some(kvn) = version else {
                return Err(StatusWord::ConditionsOfUseNotSatisfied);
            };
            let kvns = nv.get().kvns();
            if !kvns.contains(&kvn) {
                return Err(StatusWord::ReferencedDataNotFound);
            }
            if kvns.len() == 1 {
                return Err(StatusWord::ConditionsOfUseNotSatisfied);
            }
            nv.get_mut().remove_keyset(kvn);
            Ok(())
        }
    }
}
