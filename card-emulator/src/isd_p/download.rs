//! Profile download over SCP80: SGP.02 ES8.DownloadAndInstallation, the SCP03t TLVs `84`,
//! `85`, `86` (`shared/protocol/SGP02.md` §4) in TS 102 226 scripts addressed to an ISD-P's
//! TAR.
//!
//! Every ISD-P of the registry answers the TAR made of bytes 13–15 of its AID ([`isd_p_tar`],
//! `SGP02.md` §1: the first ISD-P `A0000005591010FFFFFFFF8900001000` has TAR `000010`), with
//! the ISD-R's SCP80 key sets and counters and the ISD-R TAR's minimum security level
//! ([`crate::ota::ISD_R_MSL`]). ES8 reaches the card through the SM-SR, which holds only the
//! ISD-R's SCP80 keys: the SCP03t layer inside is what protects the profile end to end.
//!
//! A packet's script runs on the addressed ISD-P:
//! - raw TLVs `84`/`85`/`86` go to the ISD-P's [`Scp03tCard`] (one per ISD-P, volatile until
//!   reset) with the SCP03 key set and sequence counter ES8 key establishment gave the ISD-P
//!   ([`CardState::isd_p_scp03`]); an `84` moves the sequence counter, which is persisted;
//! - an ISD-P without keys (SELECTABLE, before ES8 key establishment) answers a command TLV
//!   with its error TLV and reason `03` (referenced key set not found: `9F44 01 03` for `84`);
//! - C-APDUs to an ISD-P's TAR are answered `6D00`: the ISD-P takes nothing but SCP03t here.
//!
//! The complete package goes to [`crate::usim::install_package`] (no Fallback Attribute,
//! POL1 `00`) when the ISD-P is PERSONALIZED; the ISD-P becomes DISABLED with the profile and
//! the `EUICCResponse` travels back in the last `86`. A package the installer refuses leaves
//! the ISD-P PERSONALIZED; an ISD-P that already holds a profile refuses with
//! [`NOT_PERSONALIZED_STATUS`].

use crate::admin_agent::{Agent, AgentTarget};
use crate::eum::isd_r_tar;
use crate::isd_r;
use crate::nv::Nv;
use crate::CardState;
use smsr_proto::gp::{life_cycle, Aid};
use smsr_proto::ota::executor::{execute_bytes, RawOutcome, ScriptTarget};
use smsr_proto::saip::{EuiccResponse, PeStatus, PeStatusCode};
use smsr_proto::scp03::Scp03Card;
use smsr_proto::scp03t::card::Scp03tCard;
use smsr_proto::scp03t::{ErrorReason, ErrorTag};
use smsr_proto::scp81::AdminTrigger;
use smsr_proto::tlv::Tlv;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};
use std::collections::BTreeMap;

/// The TAR of an ISD-P: bytes 13–15 of its AID (the rule that gives the ISD-R `000001`).
pub fn isd_p_tar(aid: &Aid) -> Option<[u8; 3]> {
    aid.tar()
}

/// The `EUICCResponse` status of a package that reaches an ISD-P which is not PERSONALIZED
/// (it already holds a profile). SAIP v2 `PEStatus` has no life-cycle code; `invalid-parameter`
/// (6) is the nearest: the target the request names cannot take a profile. The installation is
/// reported aborted.
pub const NOT_PERSONALIZED_STATUS: PeStatusCode = PeStatusCode::InvalidParameter;

/// The SCP03t receivers of the ISD-Ps, by AID, each with the check values of the key sets it
/// was opened under. Volatile: a reset clears them.
#[derive(Debug, Default)]
pub(crate) struct Downloads {
    receivers: BTreeMap<Vec<u8>, (Vec<KeyCheckValues>, Scp03tCard)>,
}

/// The KCVs of an ISD-P's key sets: a receiver whose ISD-P got other keys since (deleted,
/// created again and personalized before a reset) is dropped, its session with it.
type KeyCheckValues = [[u8; 3]; 3];

fn key_check_values(sd: &Scp03Card) -> Vec<KeyCheckValues> {
    sd.keysets().iter().map(|k| k.keys.kcvs()).collect()
}

impl Downloads {
    /// Drops the receivers of ISD-Ps that no longer have these keys (deleted, or created
    /// again).
    pub(crate) fn forget_unkeyed(&mut self, state: &CardState) {
        self.receivers.retain(|aid, (kcvs, _)| {
            state
                .isd_p_scp03(aid)
                .is_some_and(|sd| key_check_values(sd) == *kcvs)
        });
    }
}

/// The TARs of the registry's ISD-Ps with their AIDs.
pub(crate) fn isd_p_tars(state: &CardState) -> Vec<([u8; 3], Aid)> {
    state
        .registry()
        .isd_ps()
        .filter_map(|r| Some((isd_p_tar(&r.aid)?, r.aid.clone())))
        .filter(|(tar, _)| *tar != isd_r_tar())
        .collect()
}

/// Who a packet was addressed to.
#[derive(Debug)]
enum Addressee {
    IsdR,
    IsdP(Aid),
    Nobody,
}

/// The script target of an SMS-PP command packet: the ISD-R or the ISD-P its TAR names. A
/// router made by [`run_on_isd_p`] has no ISD-R session: it serves one ISD-P.
pub(crate) struct Router<'a> {
    isd_r: Option<&'a mut isd_r::Session>,
    downloads: &'a mut Downloads,
    nv: &'a mut Nv,
    addressee: Addressee,
    /// Whether an SCP81 session runs (a trigger is then refused).
    pub(crate) admin_busy: bool,
    /// The SCP81 session a trigger started.
    pub(crate) started: Option<Agent>,
}

impl<'a> Router<'a> {
    pub(crate) fn new(
        isd_r: &'a mut isd_r::Session,
        downloads: &'a mut Downloads,
        nv: &'a mut Nv,
    ) -> Self {
        Self {
            isd_r: Some(isd_r),
            downloads,
            nv,
            addressee: Addressee::Nobody,
            admin_busy: false,
            started: None,
        }
    }

    fn isd_p_raw(&mut self, aid: &Aid, tlv: &Tlv) -> RawOutcome {
        let key = aid.as_bytes().to_vec();
        let Some(mut sd) = self.nv.get().isd_p_scp03(&key).cloned() else {
            self.downloads.receivers.remove(&key);
            return match ErrorTag::for_command(tlv.tag.value()) {
                Some(tag) => RawOutcome::Stop(Tlv::new(
                    tag.tag(),
                    vec![ErrorReason::ReferencedDataNotFound.to_byte()],
                )),
                None => RawOutcome::Unsupported,
            };
        };
        let kcvs = key_check_values(&sd);
        let (opened_under, receiver) = self
            .downloads
            .receivers
            .entry(key.clone())
            .or_insert_with(|| (kcvs.clone(), Scp03tCard::new()));
        if *opened_under != kcvs {
            *opened_under = kcvs;
            *receiver = Scp03tCard::new();
        }
        let nv = &mut *self.nv;
        let outcome = receiver.process(&mut sd, tlv, |der| install(nv.get_mut(), aid, der));
        if Some(sd_counters(&sd)) != self.nv.get().isd_p_scp03(&key).map(sd_counters) {
            if let Some(stored) = self.nv.get_mut().isd_p_scp03_mut(&key) {
                *stored = sd;
            }
        }
        outcome
    }
}

fn sd_counters(sd: &Scp03Card) -> Vec<u32> {
    sd.keysets().iter().map(|k| k.sequence_counter).collect()
}

impl std::fmt::Debug for Router<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("addressee", &self.addressee)
            .finish_non_exhaustive()
    }
}

impl ScriptTarget for Router<'_> {
    fn addressed(&mut self, tar: [u8; 3]) {
        self.addressee = if tar == isd_r_tar() {
            Addressee::IsdR
        } else {
            isd_p_tars(self.nv.get())
                .into_iter()
                .find(|(t, _)| *t == tar)
                .map_or(Addressee::Nobody, |(_, aid)| Addressee::IsdP(aid))
        };
    }

    fn apdu(&mut self, command: &CommandApdu) -> ResponseApdu {
        match self.addressee {
            Addressee::IsdR => match self.isd_r.as_deref_mut() {
                Some(session) => isd_r::process_scp80(session, self.nv, command),
                None => ResponseApdu::status(StatusWord::InsNotSupported),
            },
            Addressee::IsdP(_) | Addressee::Nobody => {
                ResponseApdu::status(StatusWord::InsNotSupported)
            }
        }
    }

    /// GP Amendment B triggering parameters, to the ISD-R only.
    fn admin_trigger(&mut self, parameters: &[u8]) -> Option<StatusWord> {
        if !matches!(self.addressee, Addressee::IsdR) {
            return None;
        }
        if self.admin_busy {
            return Some(StatusWord::ConditionsOfUseNotSatisfied);
        }
        let Ok(trigger) = AdminTrigger::parse(parameters) else {
            return Some(StatusWord::IncorrectData);
        };
        let state = self.nv.get();
        match Agent::start(&trigger, state.scp81_keysets(), &state.eid()) {
            Ok(agent) => {
                self.started = Some(agent);
                Some(StatusWord::Success)
            }
            Err(sw) => Some(sw),
        }
    }

    fn raw(&mut self, tlv: &Tlv) -> RawOutcome {
        match &self.addressee {
            Addressee::IsdP(aid) => {
                let aid = aid.clone();
                self.isd_p_raw(&aid, tlv)
            }
            Addressee::IsdR | Addressee::Nobody => RawOutcome::Unsupported,
        }
    }
}

impl AgentTarget for Router<'_> {
    fn address(&mut self, aid: Option<&Aid>) -> bool {
        match aid {
            None => {
                self.addressee = Addressee::IsdR;
                self.isd_r.is_some()
            }
            Some(aid) if *aid == Aid::isd_r() => {
                self.addressee = Addressee::IsdR;
                self.isd_r.is_some()
            }
            Some(aid) => {
                let known = isd_p_tars(self.nv.get())
                    .into_iter()
                    .any(|(_, a)| a == *aid);
                self.addressee = if known {
                    Addressee::IsdP(aid.clone())
                } else {
                    Addressee::Nobody
                };
                known
            }
        }
    }
}

/// Runs a command script (TS 102 226 expanded format, as an SCP80 packet to the ISD-P's TAR
/// would carry it) on the ISD-P `aid`, and returns the response script: the ISD-R forwards it
/// in STORE DATA after INSTALL [for personalization] on the SCP03 path (`isd_r/es8.rs`). The
/// ISD-P's SCP03t receiver is the one `downloads` holds for it. `None` when the bytes are no
/// command script (no response script can be addressed).
pub(crate) fn run_on_isd_p(
    downloads: &mut Downloads,
    nv: &mut Nv,
    aid: &Aid,
    script: &[u8],
) -> Option<Vec<u8>> {
    downloads.forget_unkeyed(nv.get());
    let mut router = Router {
        isd_r: None,
        downloads,
        nv,
        addressee: Addressee::IsdP(aid.clone()),
        admin_busy: false,
        started: None,
    };
    execute_bytes(script, &mut router)
        .ok()
        .map(|e| e.response.to_bytes())
}

/// The installer behind the last `86`: only a PERSONALIZED ISD-P takes a profile.
fn install(state: &mut CardState, aid: &Aid, der: &[u8]) -> EuiccResponse {
    let personalized = state
        .registry()
        .find(aid.as_bytes())
        .is_some_and(|r| r.life_cycle == life_cycle::PERSONALIZED);
    if !personalized {
        return refused(format!("ISD-P {aid} is not PERSONALIZED"));
    }
    match crate::usim::install_package(state, aid, der, false, 0) {
        Ok(response) => response,
        Err(e) => refused(e.to_string()),
    }
}

fn refused(message: String) -> EuiccResponse {
    EuiccResponse {
        pe_status: vec![PeStatus::new(NOT_PERSONALIZED_STATUS)],
        profile_installation_aborted: true,
        status_message: Some(message),
    }
}
