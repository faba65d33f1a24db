//! ES3.SendData at the SM-SR (SGP.02 §5.4.x): the SM-DP's ES8 data for one of a card's ISD-Ps,
//! carried over the SM-SR's ES5 link. The data is a command script in the ETSI TS 102 226
//! expanded format (as the SM-DP prepared it); the answer is the card's response script.
//!
//! Two kinds of data, told apart by the addressed Security Domain:
//! - addressed to the **ISD-R**: key establishment, which the ISD-R passes on the GlobalPlatform
//!   way — INSTALL [for personalization] of the ISD-P, then STORE DATA. The SM-SR runs these
//!   C-APDUs on the ISD-R and answers a response script of their R-APDUs. It relays nothing
//!   else to the ISD-R for an SM-DP: the INSTALL must name an ISD-P of this card in the
//!   registry, and the other commands must be STORE DATA.
//! - addressed to an **ISD-P**: an SCP03t script (`84`/`85`/`86` TLVs, protected end to end
//!   between the SM-DP and the ISD-P), passed to [`Es5Link::run_script`] as it is.
//!
//! The registry follows: the first STORE DATA `3A01` marks the ISD-P's key establishment
//! pending, a successful `3A02` records it PERSONALIZED; the first script of a download
//! marks the download pending; ES3.ProfileDownloadCompleted ([`download_completed`]) records
//! the profile DISABLED with its ICCID and POL2.

use super::es5::{Es5Error, Es5Link};
use super::isdp::IsdpState;
use super::pol2::Pol2;
use super::registry::{IsdpRecord, Registry};
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;
use smsr_proto::gp::install::Install;
use smsr_proto::ota::response::{ResponseScript, ResponseTlv};
use smsr_proto::ota::script::{CommandScript, CommandTlv, LengthForm, ScriptChaining};
use smsr_proto::CommandApdu;

/// GlobalPlatform STORE DATA.
const INS_STORE_DATA: u8 = 0xE2;
/// GlobalPlatform INSTALL.
const INS_INSTALL: u8 = 0xE6;
/// SGP.02 key establishment DGIs: CERT.DP.ECDSA, then the key parameters.
const DGI_CERTIFICATE: [u8; 2] = [0x3A, 0x01];
const DGI_KEY_PARAMETERS: [u8; 2] = [0x3A, 0x02];

/// Relays `script` (the ES3.SendData `data`) to `sd_aid` on the card `eid`; returns the
/// response script's bytes.
pub fn send_data(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    sd_aid: &Aid,
    script: &[u8],
) -> Result<Vec<u8>, Es5Error> {
    let parsed = CommandScript::parse(script)
        .map_err(|e| Es5Error::Input(format!("SendData: the data is not a command script: {e}")))?;
    let eis = registry.eis(eid)?;
    if *sd_aid == eis.isd_r_aid() {
        to_isd_r(registry, link, eid, parsed)
    } else {
        to_isd_p(registry, link, eid, sd_aid, &parsed)
    }
}

fn to_isd_r(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    script: CommandScript,
) -> Result<Vec<u8>, Es5Error> {
    let mut apdus: Vec<CommandApdu> = Vec::new();
    for item in script.items {
        match item {
            CommandTlv::Apdu(c) => apdus.push(c),
            other => {
                return Err(Es5Error::Input(format!(
                    "SendData to the ISD-R carries C-APDUs only (key establishment), not {other:?}"
                )))
            }
        }
    }
    let target = isd_r_target(registry, eid, &apdus)?;
    let has = |dgi: [u8; 2]| {
        apdus
            .iter()
            .any(|c| c.ins == INS_STORE_DATA && c.data.starts_with(&dgi))
    };
    let (certificate, parameters) = (has(DGI_CERTIFICATE), has(DGI_KEY_PARAMETERS));
    if certificate {
        registry.begin(eid, &target.aid, "establish-keys")?;
    }
    let responses = match link.run(&apdus) {
        Ok(r) => r,
        Err(e) => {
            // The card may have acted: the pending mark stays for AuditEIS.
            return Err(e);
        }
    };
    let all_ok = responses.len() == apdus.len() && responses.iter().all(|r| r.sw.is_success());
    if parameters && all_ok {
        registry.settle(eid, &target.aid, Some(IsdpState::Personalized), "ok")?;
    } else if !all_ok && (certificate || parameters) {
        let sw = responses.last().map(|r| r.sw.to_u16()).unwrap_or(0);
        registry.abandon(eid, &target.aid, &format!("card answered {sw:04X}"))?;
    }
    let answer = ResponseScript {
        form: LengthForm::Definite,
        executed: u8::try_from(responses.len()).unwrap_or(u8::MAX),
        items: responses.into_iter().map(ResponseTlv::Apdu).collect(),
    };
    Ok(answer.to_bytes())
}

/// The ISD-P a key-establishment script for the ISD-R concerns: the one its INSTALL [for
/// personalization] names, or (for a script of STORE DATA only) the one whose key
/// establishment is pending.
fn isd_r_target(
    registry: &Registry,
    eid: &Eid,
    apdus: &[CommandApdu],
) -> Result<IsdpRecord, Es5Error> {
    let refuse = |what: String| {
        Es5Error::Input(format!(
            "SendData to the ISD-R: {what}; the SM-SR relays only ES8 key establishment there \
             (INSTALL [for personalization] of an ISD-P of this card, then STORE DATA)"
        ))
    };
    let (first, rest) = apdus
        .split_first()
        .ok_or_else(|| refuse("the script is empty".into()))?;
    if let Some(c) = rest.iter().find(|c| c.ins != INS_STORE_DATA) {
        return Err(refuse(format!(
            "command INS {:02X} is not STORE DATA",
            c.ins
        )));
    }
    if first.ins == INS_INSTALL {
        let Ok(Install::ForPersonalization(aid)) = Install::from_apdu(first) else {
            return Err(refuse("an INSTALL other than [for personalization]".into()));
        };
        return registry.isdp(eid, &aid).map_err(|_| {
            refuse(format!(
                "ISD-P {aid} is not one of this card's in the registry"
            ))
        });
    }
    if first.ins != INS_STORE_DATA {
        return Err(refuse(format!(
            "command INS {:02X} is not STORE DATA",
            first.ins
        )));
    }
    registry
        .isdps(eid)?
        .into_iter()
        .find(|r| r.pending.as_deref() == Some("establish-keys"))
        .ok_or_else(|| refuse("no key establishment is under way on this card".into()))
}

fn to_isd_p(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    sd_aid: &Aid,
    script: &CommandScript,
) -> Result<Vec<u8>, Es5Error> {
    let record = registry.isdp(eid, sd_aid)?;
    let first = matches!(
        script.chaining(),
        None | Some(ScriptChaining::FirstDeleteOnReset | ScriptChaining::FirstKeepOnReset)
    );
    if first && record.pending.as_deref() != Some("download") {
        registry.begin(eid, sd_aid, "download")?;
    }
    match link.run_script(sd_aid, script) {
        Ok(answer) => Ok(answer.to_bytes()),
        Err(e) => {
            if matches!(e, Es5Error::Refused { .. } | Es5Error::PorRefused { .. }) {
                registry.abandon(eid, sd_aid, &e.to_string())?;
            }
            Err(e)
        }
    }
}

/// ES3.ProfileDownloadCompleted: the SM-DP says the download into the ISD-P holding `iccid`
/// (named at CreateISDP) is complete; the registry records the profile DISABLED, with `pol2`
/// when given.
pub fn download_completed(
    registry: &mut Registry,
    eid: &Eid,
    iccid: &str,
    pol2: Option<&Pol2>,
) -> Result<IsdpRecord, Es5Error> {
    let record = registry
        .isdps(eid)?
        .into_iter()
        .filter(|r| r.iccid.as_deref() == Some(iccid))
        .find(|r| {
            r.pending.as_deref() == Some("download")
                || matches!(r.state, IsdpState::Personalized | IsdpState::Disabled)
        })
        .ok_or_else(|| {
            Es5Error::Input(format!(
                "no ISD-P of {eid} is downloading ICCID {iccid}: CreateISDP names the ICCID, \
                 and SendData carries the download before ProfileDownloadCompleted"
            ))
        })?;
    if record.pending.is_some() || record.state != IsdpState::Disabled {
        registry.settle(
            eid,
            &record.aid,
            Some(IsdpState::Disabled),
            "download completed",
        )?;
    }
    if let Some(p) = pol2 {
        registry.set_profile(eid, &record.aid, None, None, Some(&p.to_json()))?;
    }
    Ok(registry.isdp(eid, &record.aid)?)
}
