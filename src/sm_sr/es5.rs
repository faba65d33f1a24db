//! ES5 (SM-SR ↔ ISD-R) at the host: the link that carries a script of APDUs to the ISD-R, and
//! the platform-management functions built on it (SGP.02 §5.x: CreateISDP, DeleteProfile,
//! AuditEIS, …), each keeping the registry consistent with the card
//! ([`crate::sm_sr::registry`]: intent recorded before the command, outcome after).
//!
//! Links, chosen per card with `--es5`:
//! - `scp80` ([`scp80::Scp80Link`]): ETSI TS 102 225 secured packets in SMS-PP download
//!   ENVELOPEs, the transport SGP.02 cards accept over PC/SC.
//! - `scp81` ([`scp81::Scp81Link`]): GP Amendment B remote administration over PSK-TLS, the
//!   card's BIP channel relayed by this tool as the terminal, woken by an SCP80 trigger.
//! - `scp03`: SELECT the ISD-R and send the script's APDUs through an SCP03 session with the
//!   EIS's ISD-R SCP03 key set — a test-card convenience for cards and emulators that expose
//!   the ISD-R to the terminal.
//!
//! A script stops at the first command whose status word is an error, as ETSI TS 102 226
//! §5.2.1 has the card do with a remote command script.

use crate::hexfmt;
use crate::keys::{LevelChoice, ResolvedKeys};
use crate::secure::{SecureChannel, SecureError, SessionOptions};
use crate::sm_sr::eis::Eis;
use crate::sm_sr::isdp::IsdpState;
use crate::sm_sr::pol2::{AutoDelete, Pol2, Rule};
use crate::sm_sr::registry::{IsdpRecord, Registry, RegistryError};
use crate::transport::{Transport, TransportError};
use serde::Serialize;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::delete::Delete;
use smsr_proto::gp::get_data::{tags, DataObject, Eid, ExtendedCardResources, GetData};
use smsr_proto::gp::get_status::StatusScope;
use smsr_proto::gp::install::Install;
use smsr_proto::gp::store_data::StoreData;
use smsr_proto::sgp02::codings::{GET_DATA_NOTIFICATION, NOTIFICATION_QUEUE_MAX};
use smsr_proto::sgp02::{parse_confirmation_response, Es5Command, Notification, ProfileAttributes};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};
use thiserror::Error;

mod iccid;
pub mod refusal;
pub mod scp80;
pub mod scp81;

pub use iccid::{check_iccid_free, iccid_holder};

/// Why an ES5 function failed.
#[derive(Debug, Error)]
pub enum Es5Error {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Secure(#[from] SecureError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{what}: the card answered {sw:04X} ({meaning}){hint}", sw = sw.to_u16(), meaning = sw.meaning())]
    Refused {
        what: String,
        sw: StatusWord,
        hint: String,
    },
    #[error("{0}")]
    Input(String),
    /// The SCP81 session failed (BIP channel, HTTP dialogue, timeout).
    #[error("SCP81 session: {0}")]
    Session(String),
    /// The card's PSK-TLS handshake with the admin server failed.
    #[error(
        "{0}; check the EIS's isd_r.scp81 key set against the card's (nothing was run on the card)"
    )]
    TlsRefused(String),
    #[error("the card's answer does not follow SGP.02: {0}")]
    BadResponse(String),
    /// The card refused an SCP80 packet; its PoR says why.
    #[error("the card refused the secured packet: PoR status {status:02X} ({meaning}): {hint}")]
    PorRefused {
        status: u8,
        meaning: String,
        hint: &'static str,
    },
    /// The SM-SR did not carry ES8 data to the card (ES3.SendData failed); `detail` is its
    /// answer.
    #[error("the SM-SR did not relay the ES8 data to the card: {detail}")]
    Relay { detail: String },
    /// CreateISDP for a profile whose ICCID the registry already has on the card, in an ISD-P
    /// holding a profile (disabled or enabled, or with a download pending); nothing was sent.
    /// SGP.02 reason code 3.3 "already in use".
    #[error(
        "ICCID {iccid} is already on eUICC {eid}, in ISD-P {aid}; nothing was sent to the card: \
         delete that profile first (`smsr profile delete --eid {eid} --isdp {aid}`), or, if \
         the card no longer has it, let `smsr audit --eid {eid}` update the registry"
    )]
    IccidInUse { eid: Eid, iccid: String, aid: Aid },
    /// POL2 at the SM-SR forbids the operation; nothing was sent.
    #[error(
        "{what} refused by the SM-SR: POL2 of the profile in ISD-P {aid} says {rule}; nothing \
         was sent to the card (change it with `smsr profile pol2`)"
    )]
    Pol2 {
        what: &'static str,
        aid: Aid,
        rule: Rule,
    },
}

/// How scripts reach the ISD-R.
pub trait Es5Link {
    /// Runs `commands` on the ISD-R; returns the responses of the commands executed (the last
    /// one is the first error, if any).
    fn run(&mut self, commands: &[CommandApdu]) -> Result<Vec<ResponseApdu>, Es5Error>;

    /// How many bytes of commands one script may carry (`0`: one SCP03t segment per script,
    /// the size an SMS-PP packet allows).
    fn script_limit(&self) -> usize {
        0
    }

    /// Resets the card (a profile switch takes effect at the next reset, SGP.02 §3.x REFRESH);
    /// the next script opens a new session.
    fn reset(&mut self) -> Result<(), Es5Error>;

    /// Runs a whole command script (with SCP03t TLVs, script chaining…) on the application
    /// `target` (an ISD-P: ES8 through the SM-SR) and returns its response script. Only a
    /// transport that carries scripts can do it.
    fn run_script(
        &mut self,
        target: &Aid,
        _script: &smsr_proto::ota::script::CommandScript,
    ) -> Result<smsr_proto::ota::response::ResponseScript, Es5Error> {
        Err(Es5Error::Input(format!(
            "a command script for {} (SCP03t profile download) needs a transport that carries \
             scripts: use --es5 scp80",
            hexfmt::upper(target.as_bytes())
        )))
    }
}

/// `--es5 scp03`: an SCP03 session on the ISD-R, opened on first use.
///
/// A command script for an ISD-P (ES8 profile download) travels the way GlobalPlatform has a
/// Security Domain pass data to an application: INSTALL [for personalization] of the ISD-P,
/// then the script's bytes in STORE DATA blocks in BER-TLV format, the response script in the
/// last block's response ([`SCRIPT_BLOCK`] bytes per block). SGP.02 defines no APDU form of
/// ES5 for scripts (it names SMS, CAT_TP and HTTPS); this is the reading the emulator
/// implements, listed in the README's assumptions.
#[derive(Debug)]
pub struct Scp03Link<T: Transport> {
    state: LinkState<T>,
    keys: ResolvedKeys,
    isd_r: Aid,
}

/// Script bytes per STORE DATA block: with C-DECRYPTION the block is padded to 240 bytes and
/// the C-MAC adds 8, which keeps the command within a short APDU (255).
pub const SCRIPT_BLOCK: usize = 239;

#[derive(Debug)]
enum LinkState<T: Transport> {
    Closed(Option<T>),
    Open(Box<SecureChannel<T>>),
}

impl<T: Transport> Scp03Link<T> {
    /// A link with the EIS's ISD-R SCP03 key set (the first one listed).
    pub fn new(transport: T, eis: &Eis) -> Result<Self, Es5Error> {
        let k = eis.isd_r.scp03.first().ok_or_else(|| {
            Es5Error::Input(format!(
                "the EIS of {} has no ISD-R SCP03 key set (isd_r.scp03), which --es5 scp03 \
                 needs; add it to the EIS and register it again with --replace",
                eis.eid
            ))
        })?;
        let keys = k
            .static_keys()
            .map_err(|e| Es5Error::Input(format!("EIS ISD-R {e}")))?;
        Ok(Self {
            state: LinkState::Closed(Some(transport)),
            keys: ResolvedKeys::from_static(&keys),
            isd_r: eis.isd_r_aid(),
        })
    }

    fn channel(&mut self) -> Result<&mut SecureChannel<T>, Es5Error> {
        if let LinkState::Closed(t) = &mut self.state {
            let transport = t.take().ok_or_else(|| {
                Es5Error::Input("the ES5 link was lost after an earlier failure".into())
            })?;
            let (channel, _) = SecureChannel::open(
                transport,
                Some(&self.isd_r),
                &self.keys,
                LevelChoice::Auto,
                &SessionOptions::default(),
            )?;
            self.state = LinkState::Open(Box::new(channel));
        }
        match &mut self.state {
            LinkState::Open(c) => Ok(c),
            LinkState::Closed(_) => Err(Es5Error::Input("ES5 link not open".into())),
        }
    }
}

impl<T: Transport> Es5Link for Scp03Link<T> {
    fn run(&mut self, commands: &[CommandApdu]) -> Result<Vec<ResponseApdu>, Es5Error> {
        let channel = self.channel()?;
        let mut out = Vec::with_capacity(commands.len());
        for c in commands {
            let r = channel.exchange(c)?;
            let failed = !(r.sw.is_success() || r.sw.is_warning());
            out.push(r);
            if failed {
                break;
            }
        }
        Ok(out)
    }
    fn run_script(
        &mut self,
        target: &Aid,
        script: &smsr_proto::ota::script::CommandScript,
    ) -> Result<smsr_proto::ota::response::ResponseScript, Es5Error> {
        let bytes = script
            .to_bytes()
            .map_err(|e| Es5Error::Input(format!("command script: {e}")))?;
        let blocks = StoreData::new(bytes)
            .ber_tlv()
            .with_response()
            .split(SCRIPT_BLOCK)
            .and_then(|b| {
                b.iter()
                    .map(StoreData::to_apdu)
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| Es5Error::Input(format!("command script in STORE DATA: {e}")))?;
        // The last block ends the forwarding: every script has its own INSTALL.
        let mut commands = Install::ForPersonalization(target.clone())
            .to_apdus()
            .map_err(|e| Es5Error::Input(e.to_string()))?;
        commands.extend(blocks);
        let channel = self.channel()?;
        let mut last = None;
        for c in &commands {
            let r = channel.exchange(c)?;
            if !r.sw.is_success() {
                return Err(Es5Error::Refused {
                    what: format!(
                        "the script for ISD-P {} (INSTALL [for personalization], STORE DATA)",
                        hexfmt::upper(target.as_bytes())
                    ),
                    sw: r.sw,
                    hint: String::new(),
                });
            }
            last = Some(r);
        }
        let data = last.map(|r| r.data).unwrap_or_default();
        smsr_proto::ota::response::ResponseScript::parse(&data).map_err(|e| {
            Es5Error::BadResponse(format!(
                "the response script of ISD-P {}: {e}",
                hexfmt::upper(target.as_bytes())
            ))
        })
    }

    fn reset(&mut self) -> Result<(), Es5Error> {
        let state = std::mem::replace(&mut self.state, LinkState::Closed(None));
        let mut transport = match state {
            LinkState::Open(channel) => channel.into_inner(),
            LinkState::Closed(Some(t)) => t,
            LinkState::Closed(None) => {
                return Err(Es5Error::Input(
                    "the ES5 link was lost after an earlier failure".into(),
                ))
            }
        };
        let reset = transport.reset();
        self.state = LinkState::Closed(Some(transport));
        reset?;
        Ok(())
    }
}

fn last_ok(what: &str, responses: &[ResponseApdu], expected: usize) -> Result<(), Es5Error> {
    match responses.last() {
        Some(r) if responses.len() == expected && (r.sw.is_success() || r.sw.is_warning()) => {
            Ok(())
        }
        Some(r) => Err(Es5Error::Refused {
            what: what.to_owned(),
            sw: r.sw,
            hint: hint(r.sw),
        }),
        None => Err(Es5Error::BadResponse(format!("{what}: no response"))),
    }
}

/// A refusal of a profile function with the reason the registry sees
/// ([`refusal::explain`]) in place of the status word's usual hint.
fn explained(
    e: Es5Error,
    change: Option<ProfileChange>,
    target: &IsdpRecord,
    known: &[IsdpRecord],
) -> Es5Error {
    match e {
        Es5Error::Refused { what, sw, hint } => Es5Error::Refused {
            hint: refusal::explain(sw, change, target, known).unwrap_or(hint),
            what,
            sw,
        },
        other => other,
    }
}

/// What the status words of ISD-R functions usually mean (SGP.02 fact file §5).
fn hint(sw: StatusWord) -> String {
    match sw.to_u16() {
        0x6985 => "; the profile is not in a state that allows this (enabled, fallback, or not \
                   yet personalized): `smsr audit` shows the card's view"
            .into(),
        0x69E1 => "; the profile's POL1 forbids it".into(),
        0x6A84 => "; not enough memory on the card".into(),
        0x6A88 | 0x6A82 => "; no such ISD-P on the card: `smsr audit` updates the registry".into(),
        0x6A80 => "; the card finds the command's data wrong (e.g. the AID exists already)".into(),
        0x6982 => "; the ISD-R needs a secure session: check the EIS keys".into(),
        _ => String::new(),
    }
}

/// An ISD-P as the card reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CardIsdp {
    /// AID (serialized in hex).
    pub aid: Aid,
    /// GP life cycle (`07`, `0F`, `1F`, `3F`).
    pub life_cycle: u8,
    /// The Fallback Attribute, when the card lists the profile attributes (`53`).
    pub fallback: Option<bool>,
}

/// The ISD-Ps the card reports (GET STATUS P1 `40`, E3 format with legacy fallback), with
/// their profile attributes where the card gives them.
pub fn card_isdps(link: &mut dyn Es5Link) -> Result<Vec<CardIsdp>, Es5Error> {
    let entries = crate::gp::get_status_all(StatusScope::Applications, |apdu| {
        link.run(std::slice::from_ref(apdu))?
            .pop()
            .ok_or_else(|| Es5Error::BadResponse("GET STATUS: no response".into()))
    })
    .map_err(|e| match e {
        crate::gp::StatusError::Link(e) => e,
        crate::gp::StatusError::Refused(sw) => Es5Error::Refused {
            what: "GET STATUS of the ISD-Ps".into(),
            sw,
            hint: hint(sw),
        },
        crate::gp::StatusError::BadResponse(m) => Es5Error::BadResponse(m),
    })?;
    entries
        .into_iter()
        .filter(|e| e.aid.isd_p_number().is_some_and(|n| n >= 0x0010))
        .map(|e| {
            let attributes = ProfileAttributes::from_entry(&e).map_err(|err| {
                Es5Error::BadResponse(format!(
                    "GET STATUS entry of {}: {err}",
                    hexfmt::upper(e.aid.as_bytes())
                ))
            })?;
            Ok(CardIsdp {
                aid: e.aid,
                life_cycle: e.life_cycle,
                fallback: attributes.map(|a| a.fallback),
            })
        })
        .collect()
}

/// The outcome of CreateISDP.
#[derive(Debug, Serialize)]
pub struct Created {
    pub eid: Eid,
    pub aid: Aid,
    pub iccid: Option<String>,
    pub state: IsdpState,
}

/// ES5.CreateISDP: refuses an ICCID already on the card ([`check_iccid_free`]), allocates the
/// first free ISD-P AID and records the intent in one registry transaction (two SM-SR
/// processes never pick the same AID), sends INSTALL [for install and make selectable] of the
/// EIS's ISD-P module, and records the outcome.
pub fn create_isdp(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    iccid: Option<&str>,
    memory: Option<u32>,
) -> Result<Created, Es5Error> {
    let eis = registry.eis(eid)?;
    if let Some(iccid) = iccid {
        check_iccid_free(registry, eid, iccid)?;
    }
    let eis_aid = |t: &str| {
        hexfmt::parse(t)
            .ok()
            .and_then(|b| Aid::new(&b).ok())
            .ok_or_else(|| Es5Error::Input(format!("EIS AID {t} is not an AID")))
    };
    let (load_file, module) = (
        eis_aid(&eis.isd_p_load_file_aid)?,
        eis_aid(&eis.isd_p_module_aid)?,
    );
    let aid = registry.begin_create_next(eid, &[], iccid, memory.map(u64::from))?;
    let mut install = Install::create_isd_p(aid.clone(), memory);
    if let Install::ForInstall { data: i, .. } = &mut install {
        i.load_file = Some(load_file);
        i.module = Some(module);
    }
    let apdus = match install.to_apdus() {
        Ok(apdus) => apdus,
        Err(e) => {
            let e = Es5Error::Input(e.to_string());
            registry.abandon(eid, &aid, &e.to_string())?;
            return Err(e);
        }
    };
    // On a link failure the card may or may not have created it: the pending mark stays for
    // `smsr audit`.
    let responses = link.run(&apdus)?;
    if let Err(e) = last_ok("CreateISDP (INSTALL of the ISD-P)", &responses, apdus.len()) {
        registry.abandon(eid, &aid, &e.to_string())?;
        return Err(e);
    }
    registry.settle(eid, &aid, Some(IsdpState::Created), "ok")?;
    Ok(Created {
        eid: *eid,
        aid,
        iccid: iccid.map(str::to_owned),
        state: IsdpState::Created,
    })
}

/// ES5.DeleteProfile: GP DELETE of the ISD-P and its related objects.
pub fn delete_isdp(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    record: &IsdpRecord,
) -> Result<(), Es5Error> {
    let apdus = Delete::object_and_related(record.aid.clone())
        .to_apdus()
        .map_err(|e| Es5Error::Input(e.to_string()))?;
    check_pol2(registry, eid, record, None)?;
    let known = registry.isdps(eid)?;
    registry.begin(eid, &record.aid, "delete")?;
    let responses = link.run(&apdus)?;
    if let Err(e) = last_ok(
        "DeleteProfile (DELETE of the ISD-P)",
        &responses,
        apdus.len(),
    ) {
        let e = explained(e, None, record, &known);
        registry.abandon(eid, &record.aid, &e.to_string())?;
        return Err(e);
    }
    registry.settle(eid, &record.aid, None, "ok")?;
    Ok(())
}

/// One difference between the registry and the card found by an audit.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AuditChange {
    pub aid: Aid,
    /// The registry's state (or Fallback Attribute) before.
    pub registry: Option<String>,
    /// The card's.
    pub card: Option<String>,
    pub action: String,
}

/// The outcome of an audit.
#[derive(Debug, Serialize)]
pub struct Audit {
    pub eid: Eid,
    pub isdps: Vec<IsdpRecord>,
    /// The card's free memory (`FF21`), when it gives it.
    pub resources: Option<Resources>,
    pub changes: Vec<AuditChange>,
}

/// ES5.AuditEIS: reads the card's ISD-Ps and makes the registry agree with them, settling
/// operations left pending by a crash.
pub fn audit(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
) -> Result<Audit, Es5Error> {
    let changes = sync_from_card(registry, link, eid)?;
    let resources = card_resources(link)?;
    registry.audited(eid, &format!("{} change(s)", changes.len()))?;
    Ok(Audit {
        eid: *eid,
        isdps: registry.isdps(eid)?,
        resources,
        changes,
    })
}

/// The card's extended card resources (GET DATA `FF21`): installed applications, free
/// non-volatile and volatile memory. `None` when the card does not give them.
fn card_resources(link: &mut dyn Es5Link) -> Result<Option<Resources>, Es5Error> {
    let get = GetData::new(tags::EXTENDED_CARD_RESOURCES)
        .to_apdu()
        .map_err(|e| Es5Error::Input(e.to_string()))?;
    let responses = link.run(std::slice::from_ref(&get))?;
    let Some(r) = responses.last().filter(|r| r.sw.is_success()) else {
        return Ok(None);
    };
    let res = ExtendedCardResources::parse(&r.data)
        .map_err(|e| Es5Error::BadResponse(format!("extended card resources (FF21): {e}")))?;
    Ok(Some(Resources {
        installed_applications: res.installed_applications,
        free_non_volatile_memory: res.free_non_volatile_memory,
        free_volatile_memory: res.free_volatile_memory,
    }))
}

/// Extended card resources (ETSI TS 102 226 §8.2.1.7.2) as an audit reports them.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Resources {
    pub installed_applications: Option<u32>,
    pub free_non_volatile_memory: Option<u32>,
    pub free_volatile_memory: Option<u32>,
}

/// Makes the registry's ISD-Ps of `eid` what the card reports: life cycles, Fallback
/// Attribute, ISD-Ps gone or new; pending operations are settled from the card.
fn sync_from_card(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
) -> Result<Vec<AuditChange>, Es5Error> {
    let on_card = card_isdps(link)?;
    let known = registry.isdps(eid)?;
    let mut changes = Vec::new();
    for rec in &known {
        let card = on_card.iter().find(|c| c.aid == rec.aid);
        let card_state = card.map(|c| IsdpState::from_life_cycle(c.life_cycle));
        if let Some(f) = card.and_then(|c| c.fallback).filter(|f| *f != rec.fallback) {
            registry.set_profile(eid, &rec.aid, None, Some(f), None)?;
            changes.push(AuditChange {
                aid: rec.aid.clone(),
                registry: Some(format!("fallback {}", rec.fallback)),
                card: Some(format!("fallback {f}")),
                action: "Fallback Attribute updated from the card".to_owned(),
            });
        }
        if card_state == Some(rec.state) && rec.pending.is_none() {
            continue;
        }
        let action = match (&card_state, &rec.pending) {
            (Some(_), Some(p)) => format!("pending {p} settled from the card"),
            (None, Some(p)) => format!("pending {p}: not on the card, removed"),
            (Some(_), None) => "state updated from the card".to_owned(),
            (None, None) => "not on the card, removed".to_owned(),
        };
        registry.settle(eid, &rec.aid, card_state, "audit")?;
        changes.push(AuditChange {
            aid: rec.aid.clone(),
            registry: Some(rec.state.to_string()),
            card: card_state.map(|s| s.to_string()),
            action,
        });
    }
    for c in &on_card {
        if !known.iter().any(|r| r.aid == c.aid) {
            let state = IsdpState::from_life_cycle(c.life_cycle);
            registry.settle(eid, &c.aid, Some(state), "audit")?;
            if c.fallback == Some(true) {
                registry.set_profile(eid, &c.aid, None, Some(true), None)?;
            }
            changes.push(AuditChange {
                aid: c.aid.clone(),
                registry: None,
                card: Some(state.to_string()),
                action: "found on the card, added".to_owned(),
            });
        }
    }
    Ok(changes)
}

/// A profile life-cycle function of the ISD-R.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileChange {
    /// ES5.EnableProfile (`3A03`): enables it, disabling the enabled one.
    Enable,
    /// ES5.DisableProfile (`3A04`): disables it; the fallback profile is enabled.
    Disable,
    /// ES5.SetFallbackAttribute (`3A05`).
    SetFallback,
}

impl ProfileChange {
    /// The registry's operation name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Enable => "enable",
            Self::Disable => "disable",
            Self::SetFallback => "set-fallback",
        }
    }

    fn command(self, aid: Aid) -> Es5Command {
        match self {
            Self::Enable => Es5Command::EnableProfile(aid),
            Self::Disable => Es5Command::DisableProfile(aid),
            Self::SetFallback => Es5Command::SetFallbackAttribute(aid),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Enable => "EnableProfile (STORE DATA 3A03)",
            Self::Disable => "DisableProfile (STORE DATA 3A04)",
            Self::SetFallback => "SetFallbackAttribute (STORE DATA 3A05)",
        }
    }
}

/// The outcome of a profile change.
#[derive(Debug, Serialize)]
pub struct Changed {
    pub eid: Eid,
    pub aid: Aid,
    pub operation: &'static str,
    /// Whether the card was reset afterwards.
    pub reset: bool,
    /// ISD-Ps the SM-SR deleted after the change (POL2 auto-delete).
    pub auto_deleted: Vec<Aid>,
    /// ISD-Ps this change disabled whose POL2 says auto-delete, kept because they hold the
    /// fallback profile ([`AutoDelete`]).
    pub auto_delete_kept: Vec<Aid>,
    /// The ISD-Ps after the change, as the card reported them.
    pub isdps: Vec<IsdpRecord>,
}

/// ES5.EnableProfile, DisableProfile or SetFallbackAttribute on the ISD-P of `record`: the
/// intent is recorded, the STORE DATA sent, and the registry then takes every ISD-P's state
/// from the card (a switch changes two of them). With `reset`, the card is reset after the
/// command (a real eUICC applies a switch at its REFRESH) and read back after it.
pub fn change_profile(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    record: &IsdpRecord,
    change: ProfileChange,
    reset: bool,
) -> Result<Changed, Es5Error> {
    let apdu = change
        .command(record.aid.clone())
        .to_apdu()
        .map_err(|e| Es5Error::Input(e.to_string()))?;
    check_pol2(registry, eid, record, Some(change))?;
    let before = registry.isdps(eid)?;
    registry.begin(eid, &record.aid, change.name())?;
    let responses = link.run(std::slice::from_ref(&apdu))?;
    if let Err(e) = last_ok(change.what(), &responses, 1) {
        let e = explained(e, Some(change), record, &before);
        registry.abandon(eid, &record.aid, &e.to_string())?;
        return Err(e);
    }
    if change == ProfileChange::SetFallback {
        registry.set_profile(eid, &record.aid, None, Some(true), None)?;
    }
    if reset {
        link.reset()?;
    }
    sync_from_card(registry, link, eid)?;
    // The card reported this ISD-P's state; the mark goes if the sync did not clear it.
    if registry.isdp(eid, &record.aid)?.pending.is_some() {
        let state = registry.isdp(eid, &record.aid)?.state;
        registry.settle(eid, &record.aid, Some(state), "ok")?;
    }
    // POL2 auto-delete: profiles this change disabled go, the fallback profile excepted.
    let auto = AutoDelete::after_change(&before, &registry.isdps(eid)?).map_err(Es5Error::Input)?;
    let mut auto_deleted = Vec::new();
    for now in &auto.delete {
        delete_isdp(registry, link, eid, now)?;
        auto_deleted.push(now.aid.clone());
    }
    Ok(Changed {
        eid: *eid,
        aid: record.aid.clone(),
        operation: change.name(),
        reset,
        auto_deleted,
        auto_delete_kept: auto.kept,
        isdps: registry.isdps(eid)?,
    })
}

/// POL2 of the profiles concerned, checked before the command is sent: the target's rule for
/// the operation (`None`: DeleteProfile), and for EnableProfile also the enabled profile's
/// "disable not allowed" (enabling another disables it).
fn check_pol2(
    registry: &Registry,
    eid: &Eid,
    record: &IsdpRecord,
    change: Option<ProfileChange>,
) -> Result<(), Es5Error> {
    let pol2 = |r: &IsdpRecord| Pol2::from_json(&r.pol2).map_err(Es5Error::Input);
    let refuse = |what, aid: &Aid, rule| Es5Error::Pol2 {
        what,
        aid: aid.clone(),
        rule,
    };
    let rules = pol2(record)?;
    match change {
        None if rules.has(Rule::DeleteNotAllowed) => {
            Err(refuse("DeleteProfile", &record.aid, Rule::DeleteNotAllowed))
        }
        Some(ProfileChange::Disable) if rules.has(Rule::DisableNotAllowed) => Err(refuse(
            "DisableProfile",
            &record.aid,
            Rule::DisableNotAllowed,
        )),
        Some(ProfileChange::Enable) => {
            if rules.has(Rule::EnableNotAllowed) {
                return Err(refuse("EnableProfile", &record.aid, Rule::EnableNotAllowed));
            }
            for other in registry.isdps(eid)? {
                if other.state == IsdpState::Enabled
                    && other.aid != record.aid
                    && pol2(&other)?.has(Rule::DisableNotAllowed)
                {
                    return Err(refuse(
                        "EnableProfile (it would disable the enabled profile)",
                        &other.aid,
                        Rule::DisableNotAllowed,
                    ));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// One notification read from the card.
#[derive(Debug, Serialize)]
pub struct HandledNotification {
    pub sequence: u16,
    /// The notification type (`01` declaration, `02` profile change, `05` after fallback…).
    pub kind: String,
    pub isd_p: Option<Aid>,
    /// Whether the registry already had it (a repeat of an unconfirmed one).
    pub repeated: bool,
    /// ISD-Ps the card deleted on confirmation (POL1 "delete when disabled").
    pub deleted: Vec<Aid>,
}

/// Reads the card's pending `E1` notifications one by one, records each in the registry and
/// confirms it (HandleNotificationConfirmation, `3A08`); ISD-Ps the card deleted on
/// confirmation leave the registry. Then the registry takes the ISD-P states from the card.
pub fn handle_notifications(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
) -> Result<Vec<HandledNotification>, Es5Error> {
    let read = GetData::new(GET_DATA_NOTIFICATION)
        .to_apdu()
        .map_err(|e| Es5Error::Input(e.to_string()))?;
    let mut out = Vec::new();
    // A card keeps a bounded queue; more rounds than that means it repeats itself.
    for _ in 0..=NOTIFICATION_QUEUE_MAX {
        let responses = link.run(std::slice::from_ref(&read))?;
        let r = responses
            .last()
            .ok_or_else(|| Es5Error::BadResponse("GET DATA 00E1: no response".into()))?;
        if r.sw == StatusWord::ReferencedDataNotFound {
            sync_from_card(registry, link, eid)?;
            return Ok(out);
        }
        last_ok("reading a notification (GET DATA 00E1)", &responses, 1)?;
        let n = Notification::parse(&r.data).map_err(|e| {
            Es5Error::BadResponse(format!("notification {}: {e}", hexfmt::upper(&r.data)))
        })?;
        if Eid(n.eid) != *eid {
            return Err(Es5Error::BadResponse(format!(
                "the notification names EID {}, not {eid}",
                hexfmt::upper(&n.eid)
            )));
        }
        let fresh =
            registry.record_notification(eid, n.sequence, n.kind.to_byte(), n.isd_p.as_ref())?;
        let confirm = Es5Command::NotificationConfirmation(n.sequence)
            .to_apdu()
            .map_err(|e| Es5Error::Input(e.to_string()))?;
        let responses = link.run(std::slice::from_ref(&confirm))?;
        last_ok(
            "HandleNotificationConfirmation (STORE DATA 3A08)",
            &responses,
            1,
        )?;
        let data = responses.last().map(|r| r.data.clone()).unwrap_or_default();
        let deleted = if data.is_empty() {
            Vec::new()
        } else {
            parse_confirmation_response(&data)
                .map_err(|e| Es5Error::BadResponse(format!("confirmation response: {e}")))?
        };
        for aid in &deleted {
            if registry.isdp(eid, aid).is_ok() {
                registry.settle(eid, aid, None, "deleted by the card (POL1)")?;
            }
        }
        registry.confirm_notification(eid, n.sequence)?;
        out.push(HandledNotification {
            sequence: n.sequence,
            kind: format!("{:02X}", n.kind.to_byte()),
            isd_p: n.isd_p,
            repeated: !fresh,
            deleted,
        });
    }
    Err(Es5Error::BadResponse(format!(
        "the card still has notifications after {} were confirmed",
        NOTIFICATION_QUEUE_MAX + 1
    )))
}
