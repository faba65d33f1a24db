//! The provisioning benchmark: runs `smsr provision` K times and prints the median of each
//! step, the total, the APDU count, and the ratio of the total to the transport floor (APDU
//! count × the median round trip of a no-op APDU measured in the same run with `smsr bench`).
//! Prints figures; asserts nothing.
//!
//! ```text
//! provision-bench --smsr target/debug/smsr --pki DIR --eis EIS.json --profile P.der --runs 10 \
//!     (--reader "Virtual PCD 00 01" | --emulator-state card.json)
//! ```
//!
//! Every run provisions the same package into a new ISD-P of the same card (at most 32 ISD-Ps
//! fit on the emulator's card), so `--runs` stays small. The SM-SR refuses an ICCID the card
//! already holds, so each run's copy of the package gets its own ICCID first (`smsr profile
//! personalize`, not timed; the package keeps its size). `scripts/bench.sh` runs it through
//! pcscd+vpcd and in-process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

struct Args {
    smsr: PathBuf,
    pki: PathBuf,
    eis: PathBuf,
    profile: PathBuf,
    runs: usize,
    card: Vec<String>,
    es5: String,
    /// A registry kept from run to run (the SCP80 counters of a card that earlier runs moved).
    db: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut a = std::env::args().skip(1);
    let (mut smsr, mut pki, mut eis, mut profile) = (None, None, None, None);
    let (mut runs, mut card, mut es5) = (10, Vec::new(), "scp80".to_owned());
    let mut db = None;
    while let Some(k) = a.next() {
        let mut v = || a.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--smsr" => smsr = Some(PathBuf::from(v()?)),
            "--pki" => pki = Some(PathBuf::from(v()?)),
            "--eis" => eis = Some(PathBuf::from(v()?)),
            "--profile" => profile = Some(PathBuf::from(v()?)),
            "--runs" => runs = v()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--es5" => es5 = v()?,
            "--db" => db = Some(PathBuf::from(v()?)),
            "--reader" => card = vec!["--reader".into(), v()?],
            "--emulator-state" => {
                card = vec![
                    "--transport".into(),
                    "emulator".into(),
                    "--emulator-state".into(),
                    v()?,
                ]
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let need = |o: Option<PathBuf>, n: &str| o.ok_or_else(|| format!("{n} is required"));
    if card.is_empty() {
        return Err("give --reader R or --emulator-state FILE".into());
    }
    Ok(Args {
        smsr: need(smsr, "--smsr")?,
        pki: need(pki, "--pki")?,
        eis: need(eis, "--eis")?,
        profile: need(profile, "--profile")?,
        runs,
        card,
        es5,
        db,
    })
}

fn smsr_json(a: &Args, db: &str, args: &[&str]) -> Result<serde_json::Value, String> {
    let out = Command::new(&a.smsr)
        .args(&a.card)
        .args(["--db", db, "--json"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", a.smsr.display()))?;
    if !out.status.success() {
        return Err(format!(
            "smsr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("smsr {args:?}: {e}"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn run() -> Result<(), String> {
    let a = parse()?;
    let dir = std::env::temp_dir().join(format!("provision-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let db = a.db.clone().unwrap_or_else(|| dir.join("smsr.db"));
    let known = db.exists();
    let db = db.to_str().ok_or("registry path is not UTF-8")?;
    let path = |p: &PathBuf| p.to_string_lossy().into_owned();
    let eis: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&a.eis).map_err(|e| format!("{}: {e}", a.eis.display()))?,
    )
    .map_err(|e| format!("{}: {e}", a.eis.display()))?;
    let eid = eis["eid"].as_str().ok_or("EIS without eid")?.to_owned();
    if !known {
        smsr_json(&a, db, &["eis", "register", &path(&a.eis)])?;
    }
    smsr_json(&a, db, &["audit", "--eid", &eid, "--es5", &a.es5])?;
    let floor = smsr_json(&a, db, &["bench", "-n", "1000"])?;
    let rtt_ms = floor["median_us"].as_f64().unwrap_or(0.0) / 1000.0;

    let mut steps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let (mut totals, mut apdus, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..a.runs {
        let copy = dir.join(format!("run-{run}.der"));
        // ICCIDs of their own per invocation: runs sharing a registry (--db) and a card.
        let iccid = format!("8988289{:08}{run:05}", std::process::id() % 100_000_000);
        smsr_json(
            &a,
            db,
            &[
                "profile",
                "personalize",
                &path(&a.profile),
                "--out",
                &path(&copy),
                "--iccid",
                &iccid,
            ],
        )?;
        let out = smsr_json(
            &a,
            db,
            &[
                "provision",
                "--eid",
                &eid,
                "--profile",
                &path(&copy),
                "--pki",
                &path(&a.pki),
                "--es5",
                &a.es5,
            ],
        )?;
        for s in out["steps"].as_array().ok_or("no steps")? {
            let name = s["step"].as_str().unwrap_or("?").to_owned();
            if !order.contains(&name) {
                order.push(name.clone());
            }
            steps
                .entry(name)
                .or_default()
                .push(s["ms"].as_f64().unwrap_or(0.0));
        }
        totals.push(out["total_ms"].as_f64().unwrap_or(0.0));
        apdus.push(out["apdus"].as_f64().unwrap_or(0.0));
        bytes.push(out["bytes"].as_f64().unwrap_or(0.0));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let size = std::fs::metadata(&a.profile).map(|m| m.len()).unwrap_or(0);
    println!(
        "{} runs, profile {} ({size} bytes), --es5 {}, card: {}",
        a.runs,
        a.profile.display(),
        a.es5,
        a.card.join(" ")
    );
    for name in &order {
        let v = steps.get_mut(name).map(|v| median(v)).unwrap_or(0.0);
        println!("  {name:<15} median {v:>8.2} ms");
    }
    let total = median(&mut totals);
    let n = median(&mut apdus);
    let floor_ms = n * rtt_ms;
    println!("  {:<15} median {total:>8.2} ms", "total");
    println!(
        "  APDUs {n:.0}, bytes {:.0}; no-op round trip median {:.3} ms; transport floor {floor_ms:.2} ms; total / floor {:.2}",
        median(&mut bytes),
        rtt_ms,
        if floor_ms > 0.0 { total / floor_ms } else { 0.0 }
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("provision-bench: {e}");
            ExitCode::from(1)
        }
    }
}
