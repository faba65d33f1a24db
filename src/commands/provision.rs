//! `smsr provision`: the whole SGP.02 download of one profile into a registered card, with the
//! time each step took: CreateISDP (SM-SR, ES5), key establishment and SCP03t download (SM-DP,
//! ES8 through the SM-SR), EnableProfile with a reset, the notifications, and the proof that the
//! profile's credentials work (USIM SELECT, READ BINARY EF.IMSI, AUTHENTICATE).

use super::platform::{link_for, open_registry, Es5Args};
use super::{open_card, print_json, CliError};
use crate::cli::GlobalArgs;
use crate::es5::{self, ProfileChange};
use crate::es8::{self, Es8Error, SmDp};
use crate::hexfmt;
use clap::Args;
use serde::Serialize;
use smsr_proto::gp::aid::Aid;
use smsr_proto::saip::identity::iccid_from_header;
use smsr_proto::saip::Package;
use std::path::PathBuf;
use std::time::Instant;

/// `smsr provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The card (its EIS must be registered: `smsr eis register`).
    #[arg(long)]
    pub eid: String,
    /// The profile package (SAIP DER), e.g. from `smsr profile build`.
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,
    /// The SM-DP's PKI directory (`smsr pki init`): CERT.DP.ECDSA, its key, and the CI.
    #[arg(long, value_name = "DIR", env = "SMSR_PKI")]
    pub pki: PathBuf,
    /// Leave the profile DISABLED (no EnableProfile, no check).
    #[arg(long)]
    pub no_enable: bool,
    #[command(flatten)]
    pub es5: Es5Args,
}

/// One step and how long it took.
#[derive(Debug, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub ms: f64,
    pub detail: String,
}

#[derive(Debug, Serialize)]
struct Provisioned {
    eid: String,
    isdp: Option<String>,
    iccid: Option<String>,
    steps: Vec<Step>,
    total_ms: f64,
    check: Option<es8::ProfileCheck>,
}

impl From<Es8Error> for CliError {
    fn from(e: Es8Error) -> Self {
        match e {
            Es8Error::Es5(e) => e.into(),
            Es8Error::Input(m) => CliError::Input(m),
            Es8Error::Security(m) => CliError::Secure(crate::secure::SecureError::Keys(m)),
            Es8Error::Refused(m) => CliError::Failed(m),
        }
    }
}

struct Timer {
    steps: Vec<Step>,
    json: bool,
}

impl Timer {
    fn run<T>(
        &mut self,
        step: &'static str,
        f: impl FnOnce() -> Result<(T, String), CliError>,
    ) -> Result<T, CliError> {
        let t = Instant::now();
        let result = f();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok((v, detail)) => {
                if !self.json {
                    println!("{step:<16} {ms:>9.1} ms  {detail}");
                }
                self.steps.push(Step { step, ms, detail });
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
    let der = std::fs::read(&args.profile).map_err(|e| {
        CliError::Input(format!(
            "cannot read profile {}: {e}",
            args.profile.display()
        ))
    })?;
    let package = Package::parse(&der).map_err(|e| {
        CliError::Input(format!(
            "{} is not a SAIP profile package: {e} (smsr profile inspect shows why)",
            args.profile.display()
        ))
    })?;
    let iccid = package
        .header()
        .and_then(|h| iccid_from_header(&h.iccid).ok());
    let dp = SmDp::from_pki_dir(&args.pki)?;
    let mut registry = open_registry(g)?;
    let eis = registry.eis(&args.eid)?;
    let mut timer = Timer {
        steps: Vec::new(),
        json: g.json,
    };
    let mut link = timer.run("connect", || {
        let link = link_for(g, &registry, &args.eid, &args.es5)?;
        Ok((link, format!("EID {} checked", args.eid)))
    })?;
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
    if g.json {
        print_json(&Provisioned {
            eid: args.eid.clone(),
            isdp: Some(created.aid),
            iccid,
            steps: timer.steps,
            total_ms,
            check,
        });
    } else {
        println!("{:<16} {total_ms:>9.1} ms", "total");
    }
    Ok(())
}
