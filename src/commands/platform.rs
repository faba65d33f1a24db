//! The SM-SR commands (SGP.02 ES1/ES5): `smsr eis ...`, `smsr isdp create`, `smsr profile
//! enable|disable|set-fallback|delete`, `smsr notifications`, `smsr audit`.

use super::{info, open_card, print_json, CliError};
use crate::cli::{Es5Choice, GlobalArgs};
use crate::sm_sr::eis::{parse_aid, parse_eid, Eis};
use crate::sm_sr::es5::{self, Es5Error, ProfileChange};
use crate::sm_sr::link::{self, LinkKind};
use crate::sm_sr::registry::{self, Registry, RegistryError};
use clap::{Args, Subcommand};
use serde::Serialize;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;
use std::path::PathBuf;

/// How ES5 reaches the ISD-R.
#[derive(Clone, Debug, Args)]
pub struct Es5Args {
    /// ES5 transport: scp80 (secured packets in SMS-PP download ENVELOPEs, with the EIS's
    /// SCP80 keys and the registry's counter) or scp03 (an SCP03 session on the ISD-R with the
    /// EIS's keys; a test-card convenience for cards and emulators that expose the ISD-R).
    #[arg(long, value_enum, default_value_t = Es5Choice::Scp80, env = "SMSR_ES5")]
    pub es5: Es5Choice,
}

/// `smsr eis ...`.
#[derive(Debug, Subcommand)]
pub enum EisCommand {
    /// Register a card's eUICC Information Set (ES1.RegisterEIS) from a JSON file.
    Register {
        /// The EIS file (see the README's EIS format; `euicc-emulator init --eis-out` writes one).
        file: PathBuf,
        /// Replace the EIS of a card registered already (its ISD-Ps and history are kept).
        #[arg(long)]
        replace: bool,
    },
    /// Show a registered card: EIS (keys redacted), ISD-Ps and profiles, history.
    Show {
        /// The EID (default: the EID of the card in the reader).
        #[arg(value_parser = parse_eid)]
        eid: Option<Eid>,
    },
    /// List the registered cards.
    List,
}

/// `smsr isdp ...`.
#[derive(Debug, Subcommand)]
pub enum IsdpCommand {
    /// ES5.CreateISDP: create an ISD-P on the card (INSTALL of the ISD-P module with the first
    /// free AID), recorded in the registry.
    Create {
        #[arg(long, value_parser = parse_eid)]
        eid: Eid,
        /// The ICCID of the profile this ISD-P is for.
        #[arg(long)]
        iccid: Option<String>,
        /// Non-volatile memory quota in bytes.
        #[arg(long)]
        memory: Option<u32>,
        #[command(flatten)]
        es5: Es5Args,
    },
}

/// Which profile.
#[derive(Clone, Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ProfileRef {
    /// The profile's ICCID.
    #[arg(long)]
    pub iccid: Option<String>,
    /// The ISD-P's AID.
    #[arg(long, value_parser = parse_aid)]
    pub isdp: Option<Aid>,
}

/// `smsr profile ...` (SM-SR side).
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// ES5.EnableProfile (STORE DATA 3A03): enable the profile, disabling the enabled one. A
    /// real eUICC switches at its next REFRESH: --reset resets the card and reads the result.
    Enable(SwitchArgs),
    /// ES5.DisableProfile (STORE DATA 3A04): disable the enabled profile; the card enables the
    /// profile with the Fallback Attribute.
    Disable(SwitchArgs),
    /// ES5.SetFallbackAttribute (STORE DATA 3A05): give the profile the Fallback Attribute
    /// (the card takes it from the profile that had it).
    #[command(alias = "fallback")]
    SetFallback(TargetArgs),
    /// POL2, the policy rules the SM-SR enforces before sending anything: show them, or set
    /// them with --rule (repeatable) or --clear. Registry only; nothing is sent to the card.
    Pol2(Pol2Args),
    /// ES5.DeleteProfile: DELETE of the ISD-P and everything in it.
    Delete(TargetArgs),
    /// Prove the enabled profile works: SELECT of its USIM, READ BINARY EF.IMSI (compared with
    /// the package) and AUTHENTICATE with a random RAND and an AUTN from the package's K/OPc;
    /// RES, CK and IK verified. The package is the SM-DP's copy (it holds K/OPc).
    #[command(override_usage = "smsr profile check [OPTIONS] --eid <EID> \
                          (--profile <FILE> | --iccid <ICCID> --imsi <IMSI> --ki <KI> --opc <OPC>)")]
    Check(super::provision::CheckArgs),
    /// Show a SAIP profile package (DER): header, PEs, IMSI, AKA, PINs, security domains.
    Inspect(super::saip::InspectArgs),
    /// Build a minimal SAIP profile package (MF, USIM, PIN/PUK, AKA, MNO-SD) to a DER file.
    Build(super::saip::BuildArgs),
    /// Change the ICCID, IMSI or K/OPc of a SAIP profile package.
    Personalize(super::saip::PersonalizeArgs),
}

/// `smsr profile set-fallback|delete`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    #[arg(long, value_parser = parse_eid)]
    pub eid: Eid,
    #[command(flatten)]
    pub profile: ProfileRef,
    #[command(flatten)]
    pub es5: Es5Args,
}

/// `smsr profile enable|disable`.
#[derive(Debug, Args)]
pub struct SwitchArgs {
    #[arg(long, value_parser = parse_eid)]
    pub eid: Eid,
    #[command(flatten)]
    pub profile: ProfileRef,
    /// Reset the card after the command, then read the ISD-Ps back.
    #[arg(long)]
    pub reset: bool,
    #[command(flatten)]
    pub es5: Es5Args,
}

/// `smsr profile pol2`.
#[derive(Debug, Args)]
pub struct Pol2Args {
    #[arg(long, value_parser = parse_eid)]
    pub eid: Eid,
    #[command(flatten)]
    pub profile: ProfileRef,
    /// A rule (repeat for several): enable-not-allowed, disable-not-allowed,
    /// delete-not-allowed, auto-delete (delete the profile when it becomes disabled).
    #[arg(long = "rule", value_enum)]
    pub rules: Vec<crate::sm_sr::pol2::Rule>,
    /// Remove every rule.
    #[arg(long, conflicts_with = "rules")]
    pub clear: bool,
}

/// `smsr notifications`.
#[derive(Debug, Args)]
pub struct NotificationsArgs {
    #[arg(long, value_parser = parse_eid)]
    pub eid: Eid,
    #[command(flatten)]
    pub es5: Es5Args,
}

/// `smsr audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long, value_parser = parse_eid)]
    pub eid: Eid,
    #[command(flatten)]
    pub es5: Es5Args,
}

pub(crate) fn open_registry(g: &GlobalArgs) -> Result<Registry, CliError> {
    let path = g
        .db
        .clone()
        .or_else(registry::default_path)
        .ok_or_else(|| {
            CliError::Input("no place for the SM-SR registry: give --db FILE (or SMSR_DB)".into())
        })?;
    Ok(Registry::open(&path)?)
}

impl From<RegistryError> for CliError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::UnknownEid(_)
            | RegistryError::AlreadyRegistered(_)
            | RegistryError::UnknownIsdp { .. }
            | RegistryError::UnknownIccid { .. } => CliError::Failed(e.to_string()),
            RegistryError::Sql(ref db) if db.is_busy() => CliError::InUse(e.to_string()),
            _ => CliError::Input(e.to_string()),
        }
    }
}

impl From<Es5Error> for CliError {
    fn from(e: Es5Error) -> Self {
        match e {
            Es5Error::Transport(t) => CliError::Transport(t),
            Es5Error::Registry(r) => r.into(),
            Es5Error::Secure(s) => CliError::Secure(s),
            Es5Error::Input(m) => CliError::Input(m),
            e @ Es5Error::TlsRefused(_) => CliError::Security(e.to_string()),
            other => CliError::Failed(other.to_string()),
        }
    }
}

/// The card, checked to be the one the EID names, and an ES5 link to its ISD-R.
pub(crate) fn link_for(
    g: &GlobalArgs,
    registry: &Registry,
    eid: &Eid,
    es5: &Es5Args,
) -> Result<Box<dyn es5::Es5Link>, CliError> {
    let eis = registry.eis(eid)?;
    let card = open_card(g)?;
    Ok(link::open(
        card,
        &eis,
        es5.es5.into(),
        &Registry::pool(registry.path(), 2),
    )?)
}

impl From<Es5Choice> for LinkKind {
    fn from(c: Es5Choice) -> Self {
        match c {
            Es5Choice::Scp80 => Self::Scp80,
            Es5Choice::Scp03 => Self::Scp03,
            Es5Choice::Scp81 => Self::Scp81,
        }
    }
}

#[derive(Serialize)]
struct Shown {
    eis: Eis,
    isdps: Vec<registry::IsdpRecord>,
    history: Vec<registry::HistoryEntry>,
}

pub fn eis(g: &GlobalArgs, cmd: &EisCommand) -> Result<(), CliError> {
    let mut registry = open_registry(g)?;
    match cmd {
        EisCommand::Register { file, replace } => {
            let text = smsr_proto::bounded::read_to_string(
                file,
                smsr_proto::bounded::DOCUMENT_MAX,
                "an EIS",
            )
            .map_err(|e| CliError::Input(format!("cannot read EIS {}: {e}", file.display())))?;
            let eis = Eis::from_json(&text)
                .map_err(|e| CliError::Input(format!("EIS {}: {e}", file.display())))?;
            registry.register(&eis, *replace)?;
            if g.json {
                print_json(&serde_json::json!({"registered": eis.eid, "replaced": replace}));
            } else {
                println!("registered {} in {}", eis.eid, registry.path().display());
            }
        }
        EisCommand::Show { eid } => {
            let eid = match eid {
                Some(e) => *e,
                None => {
                    let mut card = open_card(g)?;
                    info::read_eid(card.as_mut())?
                }
            };
            let shown = Shown {
                eis: registry.eis(&eid)?.without_keys(),
                isdps: registry.isdps(&eid)?,
                history: registry.history(&eid)?,
            };
            if g.json {
                print_json(&shown);
            } else {
                let e = &shown.eis;
                println!("EID        {}", e.eid);
                println!(
                    "ISD-R      {} (TAR {})",
                    e.isd_r.aid,
                    crate::hexfmt::upper(&e.isd_r_tar())
                );
                println!(
                    "key sets   SCP80 {:?}, SCP03 {:?}",
                    e.isd_r.scp80.iter().map(|k| k.kvn).collect::<Vec<_>>(),
                    e.isd_r.scp03.iter().map(|k| k.kvn).collect::<Vec<_>>()
                );
                println!(
                    "ISD-P ELF  {} module {}",
                    e.isd_p_load_file_aid, e.isd_p_module_aid
                );
                print_isdps(&shown.isdps);
                for h in &shown.history {
                    println!("  {} {} {} {}", h.at, h.operation, h.outcome, h.detail);
                }
            }
        }
        EisCommand::List => {
            let list = registry.list()?;
            if g.json {
                print_json(&serde_json::json!({ "euiccs": list }));
            } else if list.is_empty() {
                println!("no eUICC registered (smsr eis register FILE)");
            } else {
                for e in &list {
                    println!(
                        "{}  {} ISD-P(s)  registered {}  last audit {}",
                        e.eid,
                        e.isdps,
                        e.registered_at,
                        e.last_audit.as_deref().unwrap_or("never")
                    );
                }
            }
        }
    }
    Ok(())
}

fn print_isdps(isdps: &[registry::IsdpRecord]) {
    if isdps.is_empty() {
        println!("ISD-Ps     none");
    }
    for i in isdps {
        println!(
            "ISD-P      {}  {}{}  ICCID {}{}",
            i.aid,
            i.state,
            i.pending
                .as_deref()
                .map(|p| format!(" (pending {p})"))
                .unwrap_or_default(),
            i.iccid.as_deref().unwrap_or("-"),
            if i.fallback { "  fallback" } else { "" }
        );
    }
}

pub fn isdp(g: &GlobalArgs, cmd: &IsdpCommand) -> Result<(), CliError> {
    let mut registry = open_registry(g)?;
    match cmd {
        IsdpCommand::Create {
            eid,
            iccid,
            memory,
            es5,
        } => {
            // An ICCID already on the card is refused before the card is opened.
            if let Some(iccid) = iccid {
                es5::check_iccid_free(&registry, eid, iccid)?;
            }
            let mut link = link_for(g, &registry, eid, es5)?;
            let created =
                es5::create_isdp(&mut registry, link.as_mut(), eid, iccid.as_deref(), *memory)?;
            if g.json {
                print_json(&created);
            } else {
                println!("created ISD-P {} on {}", created.aid, created.eid);
            }
        }
    }
    Ok(())
}

/// The registry record of the profile a command names.
fn profile_record(
    registry: &Registry,
    eid: &Eid,
    profile: &ProfileRef,
) -> Result<registry::IsdpRecord, CliError> {
    Ok(match (&profile.iccid, &profile.isdp) {
        (Some(iccid), _) => registry.isdp_by_iccid(eid, iccid)?,
        (None, Some(aid)) => registry.isdp(eid, aid)?,
        (None, None) => return Err(CliError::Input("give --iccid or --isdp".into())),
    })
}

pub fn profile(g: &GlobalArgs, cmd: &ProfileCommand) -> Result<(), CliError> {
    if let Some(offline) = super::saip::run(g, cmd) {
        return offline;
    }
    let mut registry = open_registry(g)?;
    let (eid, profile, es5, change, reset) = match cmd {
        ProfileCommand::Inspect(_) | ProfileCommand::Build(_) | ProfileCommand::Personalize(_) => {
            return Ok(());
        }
        ProfileCommand::Check(args) => return super::provision::check(g, &registry, args),
        ProfileCommand::Delete(TargetArgs { eid, profile, es5 }) => {
            let record = profile_record(&registry, eid, profile)?;
            let mut link = link_for(g, &registry, eid, es5)?;
            es5::delete_isdp(&mut registry, link.as_mut(), eid, &record)?;
            if g.json {
                print_json(&serde_json::json!({"deleted": record.aid, "eid": eid}));
            } else {
                println!("deleted ISD-P {} from {eid}", record.aid);
            }
            return Ok(());
        }
        ProfileCommand::Enable(a) => (&a.eid, &a.profile, &a.es5, ProfileChange::Enable, a.reset),
        ProfileCommand::Disable(a) => (&a.eid, &a.profile, &a.es5, ProfileChange::Disable, a.reset),
        ProfileCommand::SetFallback(TargetArgs { eid, profile, es5 }) => {
            (eid, profile, es5, ProfileChange::SetFallback, false)
        }
        ProfileCommand::Pol2(args) => return pol2(g, &mut registry, args),
    };
    let record = profile_record(&registry, eid, profile)?;
    let mut link = link_for(g, &registry, eid, es5)?;
    let changed = es5::change_profile(&mut registry, link.as_mut(), eid, &record, change, reset)?;
    if g.json {
        print_json(&changed);
    } else {
        println!(
            "{} of ISD-P {} done{}",
            changed.operation,
            changed.aid,
            if reset { " (card reset)" } else { "" }
        );
        print_isdps(&changed.isdps);
        for a in &changed.auto_deleted {
            println!("deleted ISD-P {a} (POL2 auto-delete)");
        }
        for a in &changed.auto_delete_kept {
            println!("kept ISD-P {a} despite its POL2 auto-delete: it holds the fallback profile");
        }
    }
    Ok(())
}

fn pol2(g: &GlobalArgs, registry: &mut Registry, args: &Pol2Args) -> Result<(), CliError> {
    let record = profile_record(registry, &args.eid, &args.profile)?;
    let rules = if args.clear || !args.rules.is_empty() {
        let rules = crate::sm_sr::pol2::Pol2::new(&args.rules);
        registry.set_profile(&args.eid, &record.aid, None, None, Some(&rules.to_json()))?;
        rules
    } else {
        crate::sm_sr::pol2::Pol2::from_json(&record.pol2).map_err(CliError::Input)?
    };
    let names: Vec<&str> = rules.rules().iter().map(|r| r.name()).collect();
    if g.json {
        print_json(&serde_json::json!({"eid": args.eid, "aid": record.aid, "pol2": names}));
    } else if names.is_empty() {
        println!("POL2 of ISD-P {}: no rule", record.aid);
    } else {
        println!("POL2 of ISD-P {}: {}", record.aid, names.join(", "));
    }
    Ok(())
}

pub fn notifications(g: &GlobalArgs, args: &NotificationsArgs) -> Result<(), CliError> {
    let mut registry = open_registry(g)?;
    let mut link = link_for(g, &registry, &args.eid, &args.es5)?;
    let handled = es5::handle_notifications(&mut registry, link.as_mut(), &args.eid)?;
    if g.json {
        print_json(&serde_json::json!({"eid": args.eid, "notifications": handled}));
    } else if handled.is_empty() {
        println!("no notification pending on {}", args.eid);
    } else {
        for n in &handled {
            println!(
                "notification {:04X} type {} ISD-P {} confirmed{}{}",
                n.sequence,
                n.kind,
                n.isd_p.as_ref().map_or("-".to_owned(), Aid::to_string),
                if n.repeated { " (seen before)" } else { "" },
                if n.deleted.is_empty() {
                    String::new()
                } else {
                    let deleted: Vec<String> = n.deleted.iter().map(Aid::to_string).collect();
                    format!("; the card deleted {}", deleted.join(", "))
                }
            );
        }
    }
    Ok(())
}

pub fn audit(g: &GlobalArgs, args: &AuditArgs) -> Result<(), CliError> {
    let mut registry = open_registry(g)?;
    let mut link = link_for(g, &registry, &args.eid, &args.es5)?;
    let audit = es5::audit(&mut registry, link.as_mut(), &args.eid)?;
    if g.json {
        print_json(&audit);
    } else {
        println!("EID        {}", audit.eid);
        print_isdps(&audit.isdps);
        if let Some(r) = &audit.resources {
            let n = |v: Option<u32>| v.map_or("-".to_owned(), |x| x.to_string());
            println!(
                "memory     {} bytes free non-volatile, {} volatile; {} applications",
                n(r.free_non_volatile_memory),
                n(r.free_volatile_memory),
                n(r.installed_applications)
            );
        }
        if audit.changes.is_empty() {
            println!("registry and card agree");
        }
        for c in &audit.changes {
            println!(
                "changed    {}: registry {} -> card {} ({})",
                c.aid,
                c.registry.as_deref().unwrap_or("-"),
                c.card.as_deref().unwrap_or("-"),
                c.action
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_held_by_another_process_exits_3_like_a_card_in_use() {
        let busy = crate::db::DbError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        ));
        let e = CliError::from(RegistryError::Sql(busy));
        assert_eq!(e.exit_code(), crate::exit_code::NO_CARD);
        assert!(
            e.to_string().contains("kept the SM-SR registry locked"),
            "{e}"
        );
        // Other SQL failures stay input errors (5).
        let other = crate::db::DbError::Sqlite(rusqlite::Error::InvalidQuery);
        assert_eq!(
            CliError::from(RegistryError::Sql(other)).exit_code(),
            crate::exit_code::INPUT
        );
    }
}
