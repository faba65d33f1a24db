//! `smsr provision`: the whole SGP.02 download of one profile into a registered card, with the
//! time each step took: CreateISDP (SM-SR, ES5), key establishment and SCP03t download (SM-DP,
//! ES8 through the SM-SR), EnableProfile with a reset, the notifications, and the proof that the
//! profile's credentials work (USIM SELECT, READ BINARY EF.IMSI, AUTHENTICATE).

use super::platform::{link_for, open_registry, Es5Args};
use super::saip::ProfileSource;
use super::{open_card, print_json, CliError};
use crate::cli::GlobalArgs;
use crate::sm_dp::es8::{self, Es8Error, SmDp};
use crate::sm_dp::provision::{self, Order, Step, Timer};
use crate::sm_sr::eis::parse_eid;
use crate::sm_sr::es5;
use clap::Args;
use smsr_proto::gp::get_data::Eid;
use std::path::PathBuf;

/// `smsr provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The card (its EIS must be registered: `smsr eis register`).
    #[arg(long, value_parser = parse_eid)]
    pub eid: Eid,
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
    /// Also write report.json and report.html (steps, APDUs, bytes, charts) into DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
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

pub fn run(g: &GlobalArgs, args: &ProvisionArgs) -> Result<(), CliError> {
    let (der, package) = args.source.load()?;
    let dp = SmDp::from_pki_dir(&args.pki)?;
    let mut registry = open_registry(g)?;
    if let Some(file) = &args.eis {
        if registry.eis(&args.eid).is_err() {
            let text = smsr_proto::bounded::read_to_string(
                file,
                smsr_proto::bounded::DOCUMENT_MAX,
                "an EIS",
            )
            .map_err(|e| CliError::Input(format!("cannot read EIS {}: {e}", file.display())))?;
            let eis = crate::sm_sr::eis::Eis::from_json(&text)
                .map_err(|e| CliError::Input(format!("EIS {}: {e}", file.display())))?;
            registry.register(&eis, false)?;
        }
    }
    let order = Order {
        eid: args.eid,
        der: &der,
        package: &package,
        enable: !args.no_enable,
    };
    let mut timer = Timer::default();
    if !g.json && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        crate::progress::enable();
    }
    let result = provision::provision(
        &mut registry,
        &dp,
        &order,
        &mut timer,
        |registry| link_for(g, registry, &args.eid, &args.es5),
        |package| {
            let mut card = open_card(g)?;
            let mut send = |c: &smsr_proto::CommandApdu| {
                card.send(c)
                    .map_err(|e| Es8Error::Es5(es5::Es5Error::Transport(e)))
            };
            Ok(es8::check_profile(&mut send, package)?)
        },
    );
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            if let Some((step, ms)) = &timer.failed {
                eprintln!("smsr: provision stopped at {step} after {ms:.1} ms");
            }
            return Err(e);
        }
    };
    if g.json {
        print_json(&done);
    } else {
        print_steps(&done.steps, done.total_ms, done.apdus, done.bytes);
    }
    if let Some(dir) = &args.report {
        crate::report::provisioning(&done)
            .write(dir)
            .map_err(|e| CliError::Input(format!("report {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// The step table of `provision` (and of a DownloadProfile result).
pub fn print_steps(steps: &[Step], total_ms: f64, apdus: u64, bytes: u64) {
    println!(
        "{:<18} {:>9} {:>6} {:>7} {:>6}  detail",
        "step", "ms", "APDUs", "bytes", "share"
    );
    for s in steps {
        println!(
            "{:<18} {:>9.1} {:>6} {:>7} {:>5.1}%  {}{}",
            s.step,
            s.ms,
            s.apdus,
            s.bytes,
            s.share,
            s.detail,
            if s.bottleneck { "  <- bottleneck" } else { "" }
        );
    }
    println!("{:<18} {total_ms:>9.1} {apdus:>6} {bytes:>7}", "total");
}

/// `smsr profile check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The card (the card in the reader must report it).
    #[arg(long, value_parser = parse_eid)]
    pub eid: Eid,
    /// The profile the SM-DP downloaded (with its K/OPc): the package file, or the values it
    /// was built from.
    #[command(flatten)]
    pub source: ProfileSource,
}

pub fn check(
    g: &GlobalArgs,
    _registry: &crate::sm_sr::registry::Registry,
    args: &CheckArgs,
) -> Result<(), CliError> {
    let (_, package) = args.source.load()?;
    let mut card = open_card(g)?;
    let on_card = super::info::read_eid(card.as_mut())?;
    if on_card != args.eid {
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
