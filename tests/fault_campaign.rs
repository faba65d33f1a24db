//! The fault campaign: `smsr provision` with a fault injected at an APDU exchange (a lost
//! response, a failed transmit, a card reset, a corrupted response, the process aborted before
//! or after the card handled the command — `SMSR_FAULT`), then, without faults, `smsr audit`
//! must reconcile, and the profile must end on the card exactly once (a retry of the
//! provisioning when the first did not get it there); the registry and the card's state file
//! must still load.
//!
//! By default a sample of exchanges per fault kind and ES5 link runs; `SMSR_FAULT_CAMPAIGN=full`
//! (what `scripts/fault-campaign.sh` sets) tries every exchange and prints the counts.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::path;
use euicc_emulator::{eum, CardState, Emulator};
use smsr_proto::pki::Issuers;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ICCID: &str = "89882800000000000091";
const KINDS: [&str; 6] = [
    "drop",
    "fail",
    "reset",
    "corrupt",
    "abort-before",
    "abort-after",
];

struct Pristine {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    pki: PathBuf,
    eid: String,
    profile: PathBuf,
}

fn smsr(state: &Path, db: &Path, fault: Option<&str>, args: &[&str]) -> Output {
    smsr_with(state, db, fault.map(|f| ("SMSR_FAULT", f)), args)
}

/// [`smsr`] with one variable of the fault campaign set.
fn smsr_with(state: &Path, db: &Path, var: Option<(&str, &str)>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smsr"));
    c.args(["--transport", "emulator", "--emulator-state"])
        .arg(state)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("SMSR_TRACE")
        .env_remove("SMSR_ES5")
        .env_remove("SMSR_FAULT")
        .env_remove("SMSR_SCP81_CUT");
    if let Some((k, v)) = var {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// A card personalized by a test EUM, its EIS, a PKI and a built profile.
fn pristine() -> Pristine {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let pki = dir.join("pki");
    Issuers::generate().unwrap().write_dir(&pki, false).unwrap();
    let issuers = Issuers::read_dir(&pki).unwrap();
    let mut card = CardState::generate(None).unwrap();
    eum::personalize(&mut card, &issuers).unwrap();
    std::fs::write(dir.join("eis.json"), eum::eis_json(&card, &issuers)).unwrap();
    let eid = hex::encode_upper(card.eid());
    let mut e = Emulator::create(&dir.join("card.json"), card, false).unwrap();
    e.power_off();
    drop(e);
    let profile = dir.join("p.der");
    let out = smsr(
        &dir.join("card.json"),
        &dir.join("unused.db"),
        None,
        &[
            "profile",
            "build",
            "--iccid",
            ICCID,
            "--imsi",
            "001010000000091",
            "--ki",
            "000102030405060708090A0B0C0D0E0F",
            "--opc",
            "00112233445566778899AABBCCDDEEFF",
            "--out",
            path(&profile),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Pristine {
        _dir: tmp,
        dir,
        pki,
        eid,
        profile,
    }
}

/// A fresh copy of the card and a registry with its EIS, in `run`.
fn fresh(p: &Pristine, run: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(run).unwrap();
    let (state, db) = (run.join("card.json"), run.join("smsr.db"));
    std::fs::copy(p.dir.join("card.json"), &state).unwrap();
    let out = smsr(
        &state,
        &db,
        None,
        &["eis", "register", path(&p.dir.join("eis.json"))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (state, db)
}

fn provision_args<'a>(p: &'a Pristine, es5: &'a str) -> Vec<&'a str> {
    vec![
        "--json",
        "provision",
        "--eid",
        &p.eid,
        "--profile",
        path(&p.profile),
        "--pki",
        path(&p.pki),
        "--es5",
        es5,
    ]
}

/// The exchanges of one clean provisioning's ES5 link (the check step opens the card anew).
fn link_exchanges(p: &Pristine, es5: &str) -> usize {
    let (state, db) = fresh(p, &p.dir.join(format!("clean-{es5}")));
    let out = smsr(&state, &db, None, &provision_args(p, es5));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["step"] != "check")
        .map(|s| usize::try_from(s["apdus"].as_u64().unwrap()).unwrap())
        .sum()
}

/// The ISD-Ps holding the ICCID, as the registry has them after an audit.
fn holders(state: &Path, db: &Path, eid: &str) -> Vec<String> {
    let out = smsr(state, db, None, &["--json", "audit", "--eid", eid]);
    assert!(
        out.status.success(),
        "audit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["isdps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["iccid"] == ICCID)
        .map(|i| i["state"].as_str().unwrap().to_owned())
        .collect()
}

/// One run: the fault, then audit, then (when needed) a retry; returns whether a retry was
/// needed.
fn one(p: &Pristine, es5: &str, kind: &str, n: usize) -> bool {
    one_with(p, es5, "SMSR_FAULT", &format!("{kind}@{n}"))
}

/// [`one`] with the fault `var`=`value`.
fn one_with(p: &Pristine, es5: &str, var: &str, value: &str) -> bool {
    let run = p
        .dir
        .join(format!("{es5}-{var}-{}", value.replace('@', "-")));
    let (state, db) = fresh(p, &run);
    let fault = format!("{var}={value}");
    let first = smsr_with(&state, &db, Some((var, value)), &provision_args(p, es5));
    let at = format!("{es5} {fault}");
    let code = first.status.code();
    assert_ne!(
        code,
        Some(101),
        "{at}: panic: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    // The state file and the registry load, and the audit reconciles.
    CardState::load(&state).unwrap_or_else(|e| panic!("{at}: state file: {e}"));
    let now = holders(&state, &db, &p.eid);
    let retried = !now.iter().any(|s| s == "enabled" || s == "disabled");
    if retried {
        let again = smsr(&state, &db, None, &provision_args(p, es5));
        assert!(
            again.status.success(),
            "{at}: the retry failed: {}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
    let after = holders(&state, &db, &p.eid);
    assert_eq!(after.len(), 1, "{at}: the card holds the ICCID {after:?}");
    let held = CardState::load(&state)
        .unwrap()
        .registry()
        .isd_ps()
        .filter(|e| {
            e.isd_p
                .as_ref()
                .and_then(|i| i.profile.as_ref())
                .is_some_and(|pr| euicc_emulator::isd_p::iccid_to_string(&pr.iccid) == ICCID)
        })
        .count();
    assert!(
        held <= 1,
        "{at}: the card's own state holds the ICCID {held} times"
    );
    let _ = std::fs::remove_dir_all(&run);
    retried
}

#[test]
fn provisioning_survives_a_fault_at_any_exchange() {
    let full = std::env::var("SMSR_FAULT_CAMPAIGN").as_deref() == Ok("full");
    let p = pristine();
    for es5 in ["scp80", "scp03", "scp81"] {
        let n = link_exchanges(&p, es5);
        let indices: Vec<usize> = if full {
            (1..=n).collect()
        } else {
            vec![1, n / 3, 2 * n / 3, n]
        };
        let (mut runs, mut retries) = (0, 0);
        for kind in KINDS {
            for &i in &indices {
                runs += 1;
                retries += usize::from(one(&p, es5, kind, i.max(1)));
            }
        }
        println!(
            "fault campaign {es5}: {n} exchanges, {runs} faulted provisionings ({} kinds), \
             {retries} needed a retry, all reconciled with the profile on the card once",
            KINDS.len()
        );
    }
}

/// SCP81: the TCP connection between the card's BIP channel and the admin server cut after the
/// card's N-th POST (the handshake done, scripts in flight): the provisioning fails, the audit
/// reconciles, a retry gets the profile on the card once.
#[test]
fn scp81_session_cut_mid_way_reconciles() {
    let p = pristine();
    let full = std::env::var("SMSR_FAULT_CAMPAIGN").as_deref() == Ok("full");
    let cuts: Vec<usize> = if full {
        (0..=12).collect()
    } else {
        vec![0, 2, 5]
    };
    let mut retries = 0;
    for n in &cuts {
        retries += usize::from(one_with(&p, "scp81", "SMSR_SCP81_CUT", &n.to_string()));
    }
    println!(
        "scp81 TCP cuts: {} provisionings cut after 0..{} POSTs, {retries} needed a retry, all \
         reconciled",
        cuts.len(),
        cuts.last().copied().unwrap_or(0)
    );
}
