//! The text forms of GP Amd B addressing headers as SGP.02 fills them.
//!
//! - `X-Admin-From: //se-id/eid/<EID>;//aa-id/aid/<RID>/<PIX>`: the agent id, njiwa's format
//!   (`SGP02.md` §6.2, `SCP81-BIP.md` §2.2 `[impl]`).
//! - `X-Admin-Targeted-Application: //aid/<RID>/<PIX>`: the security domain a script is for
//!   when it is not the one holding the PSK key set, e.g. an ISD-P for SCP03t (GP Amd B header
//!   list as quoted in public code, `SCP81-BIP.md` §2.3 `[impl][trace]`).
//!
//! RID = the AID's first five bytes, PIX = the rest (possibly empty: `<RID>/`). We write upper-
//! case hex and read either case; the literal parts (`//se-id/eid/`, `;//aa-id/aid/`, `//aid/`)
//! must match exactly, and surrounding white space is ignored.

use super::{excerpt, Scp81Error};
use crate::gp::Aid;

const SE_ID_EID: &str = "//se-id/eid/";
const AA_ID_AID: &str = "//aa-id/aid/";
const AID: &str = "//aid/";
const FORM_FROM: &str = "//se-id/eid/<EID>;//aa-id/aid/<RID>/<PIX>";
const FORM_TARGETED: &str = "//aid/<RID>/<PIX>";

/// Field names for errors about one `<RID>/<PIX>` pair.
struct Names {
    rid: &'static str,
    pix: &'static str,
}

const FROM_NAMES: Names = Names {
    rid: "X-Admin-From agent AID RID",
    pix: "X-Admin-From agent AID PIX",
};
const TARGETED_NAMES: Names = Names {
    rid: "X-Admin-Targeted-Application RID",
    pix: "X-Admin-Targeted-Application PIX",
};

/// The `X-Admin-From` value `//se-id/eid/<EID hex>;//aa-id/aid/<RID hex>/<PIX hex>` (njiwa's
/// format for SGP.02, `SGP02.md` §6.2 `[impl]`).
pub fn admin_from(eid: &[u8; 16], agent: &Aid) -> String {
    format!(
        "{SE_ID_EID}{};{AA_ID_AID}{}",
        hex::encode_upper(eid),
        rid_pix(agent)
    )
}

/// Reads an [`admin_from`] value: the EID and the admin agent's AID.
pub fn parse_admin_from(text: &str) -> Result<([u8; 16], Aid), Scp81Error> {
    let bad = || Scp81Error::BadForm {
        field: "X-Admin-From",
        text: excerpt(text),
        form: FORM_FROM,
    };
    let rest = text.trim().strip_prefix(SE_ID_EID).ok_or_else(bad)?;
    let (eid, agent) = rest.split_once(';').ok_or_else(bad)?;
    let agent = agent.strip_prefix(AA_ID_AID).ok_or_else(bad)?;
    let eid_bytes = decode_hex("X-Admin-From EID", eid)?;
    let eid: [u8; 16] = eid_bytes
        .as_slice()
        .try_into()
        .map_err(|_| Scp81Error::BadLength {
            field: "X-Admin-From EID",
            len: eid_bytes.len(),
            expected: "16",
        })?;
    Ok((eid, parse_rid_pix(agent, &FROM_NAMES)?))
}

/// The `X-Admin-Targeted-Application` value `//aid/<RID hex>/<PIX hex>` (GP Amd B as quoted in
/// `SCP81-BIP.md` §2.3; SGP.02 example `//aid/A000000559/1010FFFFFFFF8900000100` `[impl]`).
pub fn targeted_application(aid: &Aid) -> String {
    format!("{AID}{}", rid_pix(aid))
}

/// Reads a [`targeted_application`] value.
pub fn parse_targeted_application(text: &str) -> Result<Aid, Scp81Error> {
    let rest = text
        .trim()
        .strip_prefix(AID)
        .ok_or_else(|| Scp81Error::BadForm {
            field: "X-Admin-Targeted-Application",
            text: excerpt(text),
            form: FORM_TARGETED,
        })?;
    parse_rid_pix(rest, &TARGETED_NAMES)
}

fn rid_pix(aid: &Aid) -> String {
    format!(
        "{}/{}",
        hex::encode_upper(aid.rid()),
        hex::encode_upper(aid.pix())
    )
}

/// `<RID>/<PIX>`; a lone `<RID>` (no slash) is read as an empty PIX.
fn parse_rid_pix(text: &str, names: &Names) -> Result<Aid, Scp81Error> {
    let (rid, pix) = text.split_once('/').unwrap_or((text, ""));
    let mut bytes = decode_hex(names.rid, rid)?;
    if bytes.len() != Aid::MIN_LEN {
        return Err(Scp81Error::BadLength {
            field: names.rid,
            len: bytes.len(),
            expected: "5",
        });
    }
    let pix = decode_hex(names.pix, pix)?;
    let max_pix = Aid::MAX_LEN - Aid::MIN_LEN;
    if pix.len() > max_pix {
        return Err(Scp81Error::TooLong {
            field: names.pix,
            len: pix.len(),
            max: max_pix,
        });
    }
    bytes.extend_from_slice(&pix);
    Aid::new(&bytes).map_err(|_| Scp81Error::BadLength {
        field: names.pix,
        len: pix.len(),
        expected: "0 to 11",
    })
}

/// Hex digits of either case, an even number of them.
pub(crate) fn decode_hex(field: &'static str, text: &str) -> Result<Vec<u8>, Scp81Error> {
    if let Some(offset) = text.chars().position(|c| !c.is_ascii_hexdigit()) {
        return Err(Scp81Error::NotHex { field, offset });
    }
    hex::decode(text).map_err(|_| Scp81Error::Invalid {
        field,
        fault: "an odd number of hex digits",
    })
}
