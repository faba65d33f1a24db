//! `smsr keys establish [--probe]`: ES8.EstablishISDPKeySet on one ISD-P, on its own, and the
//! calibration of the readings of the open points against a card ([`crate::sm_dp::es8::probe`]).
//!
//! Exit status 0 when a key set was established; otherwise the report is printed and the exit
//! code is that of an operation that ran and failed.

use super::platform::{link_for, open_registry, Es5Args};
use super::{print_json, CliError};
use crate::cli::GlobalArgs;
use crate::sm_dp::es8::probe::{self, Report, Target};
use crate::sm_dp::es8::SmDp;
use crate::sm_sr::eis::{parse_aid, parse_eid};
use clap::{Args, Subcommand};
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;
use std::path::PathBuf;

/// `smsr keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// ES8 key establishment (ECKA, GP Amendment E scenario #3) on one ISD-P through the ISD-R,
    /// recorded as `smsr provision` records it; with --probe, which reading of the open points
    /// the card follows.
    #[command(long_about = ESTABLISH_LONG_ABOUT)]
    Establish(EstablishArgs),
}

const ESTABLISH_LONG_ABOUT: &str = "ES8 key establishment (ECKA, GP Amendment E scenario #3) on \
one ISD-P through the ISD-R: STORE DATA 3A01 with CERT.DP.ECDSA, 3A02 with the key parameters, \
the card's receipt recomputed. The ISD-P is recorded `personalized` when the receipt verifies, as \
`smsr provision` records it; the key set itself is not stored (the SM-DP keeps it only for the \
download that follows).

With --probe, a receipt that does not verify with the default reading is matched against every \
reading of the open points (key count, receipt input, receipt key position) and the one it \
matches is reported; a card that refuses STORE DATA 3A01 with the DGI length coding is tried \
again with the BER coding on a fresh ISD-P. ISD-Ps this command created and left without a key \
set the SM-DP knows are deleted.

Examples:
  smsr keys establish --eid EID --pki pki --create --probe
  smsr keys establish --eid EID --pki pki --isdp A0000005591010FFFFFFFF8900001000 --json";

/// `smsr keys establish`.
#[derive(Debug, Args)]
pub struct EstablishArgs {
    /// The card (its EIS must be registered: `smsr eis register`).
    #[arg(long, value_parser = parse_eid)]
    pub eid: Eid,
    /// The SM-DP's PKI directory (`smsr pki init`): CERT.DP.ECDSA, its key, and the CI.
    #[arg(long, value_name = "DIR", env = "SMSR_PKI")]
    pub pki: PathBuf,
    /// The ISD-P (AID in hex, as `smsr eis show` lists it): a created, not yet personalized one.
    #[arg(
        long,
        value_name = "AID",
        value_parser = parse_aid,
        required_unless_present = "create",
        conflicts_with = "create"
    )]
    pub isdp: Option<Aid>,
    /// Create a fresh ISD-P first (ES5.CreateISDP).
    #[arg(long)]
    pub create: bool,
    /// Calibrate: report which reading the card's receipt matches, and retry a refused 3A01
    /// with the other length coding.
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub es5: Es5Args,
}

/// Runs `smsr keys ...`.
pub fn run(g: &GlobalArgs, cmd: &KeysCommand) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Establish(a) => establish(g, a),
    }
}

fn establish(g: &GlobalArgs, a: &EstablishArgs) -> Result<(), CliError> {
    let dp = SmDp::from_pki_dir(&a.pki)?;
    let mut registry = open_registry(g)?;
    let eis = registry.eis(&a.eid)?;
    let target = match &a.isdp {
        Some(aid) => {
            // Known to the registry before anything is sent.
            let record = registry.isdp(&a.eid, aid)?;
            Target::Existing(record.aid)
        }
        None => Target::Create,
    };
    let mut link = link_for(g, &registry, &a.eid, &a.es5)?;
    let report = probe::establish(&mut registry, link.as_mut(), &eis, &dp, &target, a.probe)?;
    if g.json {
        print_json(&report);
    } else {
        print_text(&report);
    }
    if report.established {
        Ok(())
    } else {
        Err(CliError::Failed(
            "no ISD-P key set was established (see the report above)".into(),
        ))
    }
}

fn print_text(r: &Report) {
    for a in &r.attempts {
        println!(
            "ISD-P {}{}: 3A01 with {} length: {}{}{}",
            a.isdp,
            if a.created { " (created)" } else { "" },
            a.certificate_length.to_uppercase(),
            a.outcome,
            a.sw.as_deref()
                .map(|sw| format!(" ({sw})"))
                .unwrap_or_default(),
            if a.deleted { ", ISD-P deleted" } else { "" }
        );
        if r.probe && a.outcome != "certificate-refused" {
            match &a.receipt_matches {
                Some(v) => println!(
                    "  receipt matches: keys {}, receipt input {}, receipt key {}{}",
                    v.keys,
                    v.receipt_input,
                    v.receipt_key,
                    if v.default { " (the default)" } else { "" }
                ),
                None => println!("  receipt matches no known reading"),
            }
        }
    }
    if let (Some(isdp), Some(kvn), Some(id)) = (&r.isdp, r.kvn, r.key_id) {
        println!("key set KVN {kvn:02X} (key IDs from {id:02X}) established on ISD-P {isdp}");
    }
    for n in &r.notes {
        println!("note: {n}");
    }
}
