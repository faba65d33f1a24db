//! `smsr provision`: the whole SGP.02 download of one profile into a registered card, with the
//! time each step took: CreateISDP (SM-SR, ES5), key establishment and SCP03t download (SM-DP,
//! ES8 through the SM-SR), EnableProfile with a reset, the notifications, and the proof that the
//! profile's credentials work (USIM SELECT, READ BINARY EF.IMSI, AUTHENTICATE).

use super::platform::{link_for, open_registry, Es5Args};
use super::saip::ProfileSource;
use super::{open_card, print_json, CliError};
use crate::cli::GlobalArgs;
use crate::es5::{self, ProfileChange};
use crate::es8::{self, Es8Error, SmDp};
use crate::hexfmt;
use crate::transport::count::Counts;
use clap::Args;
use serde::Serialize;
use smsr_proto::gp::aid::Aid;
use smsr_proto::saip::identity::iccid_from_header;
use std::path::PathBuf;
use std::time::Instant;

/// `smsr provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The card (its EIS must be registered: `smsr eis register`).
    #[arg(long)]
    pub eid: String,
    /// The profile: a package file, or the values `smsr profile build` takes.
    #[command(flatten)]
    pub source: ProfileSource,
    /// The SM-DP's PKI directory (`smsr pki init`): CERT.DP.ECDSA, its key, and the CI.
    #[arg(long, value_name = "DIR", env = "SMSR_PKI")]
    pub pki: PathBuf,
    /// Register this EIS first when the card is not yet known to the SM-SR.
    #[arg(long, value_name = "FILE")]
    pub eis: Option<PathBuf>,
    /// Leave the profile DISABLED (no EnableProfile, no check).
    #[arg(long)]
    pub no_enable: bool,
    #[command(flatten)]
    pub es5: Es5Args,
}

/// One step, how long it took and what it exchanged with the card.
#[derive(Debug, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub ms: f64,
    /// APDU exchanges with the card (GET RESPONSE included).
    pub apdus: u64,
    /// Command and response bytes.
    pub bytes: u64,
    /// Share of the total time, in percent.
    pub share: f64,
    /// More than 20 % of the total.
    pub bottleneck: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
struct Provisioned {
    eid: String,
    isdp: Option<String>,
    iccid: Option<String>,
    steps: Vec<Step>,
    total_ms: f64,
    apdus: u64,
    bytes: u64,
    check: Option<es8::ProfileCheck>,
}

impl From<Es8Error> for CliError {
    fn from(e: Es8Error) -> Self {
        match e {
            Es8Error::Es5(e) => e.into(),
            Es8Error::Input(m) => CliError::Input(m),
            Es8Error::Security(m) | Es8Error::ReceiptMismatch(m) => {
                CliError::Secure(crate::secure::SecureError::Keys(m))
            }
            Es8Error::Refused(m) => CliError::Failed(m),
        }
    }
}

struct Timer {
    steps: Vec<Step>,
}

impl Timer {
    fn run<T>(
        &mut self,
        step: &'static str,
        f: impl FnOnce() -> Result<(T, String), CliError>,
    ) -> Result<T, CliError> {
        let t = Instant::now();
        let before = Counts::snapshot();
        let result = f();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let counts = Counts::snapshot().since(before);
        match result {
            Ok((v, detail)) => {
                self.steps.push(Step {
                    step,
                    ms,
                    apdus: counts.exchanges,
                    bytes: counts.bytes,
                    share: 0.0,
                    bottleneck: false,
                    detail,
                });
                Ok(v)
            }
            Err(e) => {
                eprintln!("smsr: provision stopped at {step} after {ms:.1} ms");
                Err(e)
            }
        }
    }
}

pub fn run(g: &GlobalArgs, args: &ProvisionArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let (der, package) = args.source.load()?;
    let iccid = package
        .header()
        .and_then(|h| iccid_from_header(&h.iccid).ok());
    let dp = SmDp::from_pki_dir(&args.pki)?;
    let mut registry = open_registry(g)?;
    if let Some(file) = &args.eis {
        if registry.eis(&args.eid).is_err() {
            let text = std::fs::read_to_string(file)
                .map_err(|e| CliError::Input(format!("cannot read EIS {}: {e}", file.display())))?;
            let eis = crate::eis::Eis::from_json(&text)
                .map_err(|e| CliError::Input(format!("EIS {}: {e}", file.display())))?;
            registry.register(&eis, false)?;
        }
    }
    let eis = registry.eis(&args.eid)?;
    let mut timer = Timer { steps: Vec::new() };
    let mut link = timer.run("connect", || {
        let link = link_for(g, &registry, &args.eid, &args.es5)?;
        Ok((link, format!("EID {} checked", args.eid)))
    })?;
    // A provisioning of this profile that stopped before its download leaves an ISD-P without a
    // profile: it goes before the new one is created.
    let leftovers: Vec<_> = registry
        .isdps(&args.eid)?
        .into_iter()
        .filter(|r| {
            r.iccid.is_some()
                && r.iccid == iccid
                && ["created", "personalized", "creating"].contains(&r.state.as_str())
        })
        .collect();
    if !leftovers.is_empty() {
        timer.run("clean-up", || {
            for r in &leftovers {
                es5::delete_isdp(&mut registry, link.as_mut(), &args.eid, r)?;
            }
            let d = format!(
                "{} half-provisioned ISD-P(s) of this ICCID deleted",
                leftovers.len()
            );
            Ok(((), d))
        })?;
    }
    let created = timer.run("create-isdp", || {
        let c = es5::create_isdp(
            &mut registry,
            link.as_mut(),
            &args.eid,
            iccid.as_deref(),
            None,
        )?;
        let d = format!("ISD-P {}", c.aid);
        Ok((c, d))
    })?;
    let aid_bytes = hexfmt::parse(&created.aid).map_err(|e| CliError::Input(e.to_string()))?;
    let aid = Aid::new(&aid_bytes).map_err(|e| CliError::Input(e.to_string()))?;
    let keys = timer.run("establish-keys", || {
        registry.begin(&args.eid, &created.aid, "establish-keys")?;
        match es8::establish_keys(link.as_mut(), &eis, &dp, &aid) {
            Ok(k) => {
                registry.settle(&args.eid, &created.aid, Some("personalized"), "ok")?;
                let d = format!("ISD-P key set {:02X}, receipt verified", k.keys.kvn());
                Ok((k, d))
            }
            Err(e @ Es8Error::ReceiptMismatch(_)) => {
                // The card personalized the ISD-P, with keys the SM-DP does not know: the
                // registry says so, and a retry deletes it as half-provisioned.
                let note = format!("keys unknown to the SM-DP: {e}");
                registry.settle(&args.eid, &created.aid, Some("personalized"), &note)?;
                Err(e.into())
            }
            Err(e) => {
                registry.abandon(&args.eid, &created.aid, &e.to_string())?;
                Err(e.into())
            }
        }
    })?;
    timer.run("download", || {
        registry.begin(&args.eid, &created.aid, "download")?;
        match es8::download(link.as_mut(), &aid, &keys, &der) {
            Ok(d) => {
                registry.settle(&args.eid, &created.aid, Some("disabled"), "ok")?;
                let detail = format!(
                    "{} bytes in {} segment(s), {} PE(s) ok",
                    der.len(),
                    d.segments,
                    d.pe_status.len()
                );
                Ok(((), detail))
            }
            Err(e) => {
                registry.abandon(&args.eid, &created.aid, &e.to_string())?;
                Err(e.into())
            }
        }
    })?;
    let mut check = None;
    if !args.no_enable {
        timer.run("enable", || {
            let record = registry.isdp(&args.eid, &created.aid)?;
            es5::change_profile(
                &mut registry,
                link.as_mut(),
                &args.eid,
                &record,
                ProfileChange::Enable,
                true,
            )?;
            Ok(((), "enabled, card reset".to_owned()))
        })?;
        timer.run("notifications", || {
            let n = es5::handle_notifications(&mut registry, link.as_mut(), &args.eid)?;
            Ok(((), format!("{} confirmed", n.len())))
        })?;
        drop(link);
        let result = timer.run("check", || {
            let mut card = open_card(g)?;
            let mut send = |c: &smsr_proto::CommandApdu| {
                card.send(c)
                    .map_err(|e| Es8Error::Es5(es5::Es5Error::Transport(e)))
            };
            let r = es8::check_profile(&mut send, &package)?;
            let d = format!(
                "USIM IMSI {}, AUTHENTICATE RES/CK/IK verified{}",
                r.imsi,
                if r.resynchronised {
                    " after re-synchronisation"
                } else {
                    ""
                }
            );
            Ok((r, d))
        })?;
        check = Some(result);
    }
    let total_ms = start.elapsed().as_secs_f64() * 1000.0;
    for s in &mut timer.steps {
        s.share = if total_ms > 0.0 {
            100.0 * s.ms / total_ms
        } else {
            0.0
        };
        s.bottleneck = s.share > 20.0;
    }
    let apdus = timer.steps.iter().map(|s| s.apdus).sum();
    let bytes = timer.steps.iter().map(|s| s.bytes).sum();
    if g.json {
        print_json(&Provisioned {
            eid: args.eid.clone(),
            isdp: Some(created.aid),
            iccid,
            steps: timer.steps,
            total_ms,
            apdus,
            bytes,
            check,
        });
    } else {
        println!(
            "{:<15} {:>9} {:>6} {:>7} {:>6}  detail",
            "step", "ms", "APDUs", "bytes", "share"
        );
        for s in &timer.steps {
            println!(
                "{:<15} {:>9.1} {:>6} {:>7} {:>5.1}%  {}{}",
                s.step,
                s.ms,
                s.apdus,
                s.bytes,
                s.share,
                s.detail,
                if s.bottleneck { "  <- bottleneck" } else { "" }
            );
        }
        println!("{:<15} {total_ms:>9.1} {apdus:>6} {bytes:>7}", "total");
    }
    Ok(())
}

/// `smsr profile check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The card (the card in the reader must report it).
    #[arg(long)]
    pub eid: String,
    /// The profile the SM-DP downloaded (with its K/OPc): the package file, or the values it
    /// was built from.
    #[command(flatten)]
    pub source: ProfileSource,
}

pub fn check(
    g: &GlobalArgs,
    _registry: &crate::registry::Registry,
    args: &CheckArgs,
) -> Result<(), CliError> {
    let (_, package) = args.source.load()?;
    let mut card = open_card(g)?;
    let on_card = hexfmt::upper(&super::info::read_eid(card.as_mut())?.0);
    if on_card != args.eid.to_uppercase() {
        return Err(CliError::Input(format!(
            "the card in {} has EID {on_card}, not {}: choose the reader with --reader",
            card.reader_name(),
            args.eid
        )));
    }
    let mut send = |c: &smsr_proto::CommandApdu| {
        card.send(c)
            .map_err(|e| Es8Error::Es5(es5::Es5Error::Transport(e)))
    };
    let r = es8::check_profile(&mut send, &package)?;
    if g.json {
        print_json(&r);
    } else {
        println!(
            "USIM of the enabled profile: IMSI {}, AUTHENTICATE RES/CK/IK verified{}",
            r.imsi,
            if r.resynchronised {
                " after re-synchronisation"
            } else {
                ""
            }
        );
    }
    Ok(())
}
