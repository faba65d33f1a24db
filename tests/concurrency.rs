//! No lost or duplicated update when several SM-SR processes share one card and one registry.
//!
//! - Eight `smsr isdp create` processes at once on one emulator card (`--transport emulator`)
//!   and one registry, over `--es5 scp03` and then `--es5 scp80` (which reserves SCP80
//!   counters in the registry): each one either creates its ISD-P or fails at once with "card
//!   in use" (exit code 3: another process serves the card), never with "database is locked"
//!   or another failure. Those that found the card in use are run again until eight ISD-Ps
//!   were created per round; then `smsr audit` finds registry and card in agreement, and
//!   `euicc-emulator show` lists the same ISD-Ps.
//! - Eight threads, each with its own `Registry` on one new file, write at once (EIS
//!   registrations, SCP80 counter reservations on one key set, ISD-P intents): no error, no
//!   counter value handed out twice, no AID allocated twice.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::path;
use euicc_emulator::{eum, CardState, Emulator};
use smsr::sm_sr::eis::Eis;
use smsr::sm_sr::isdp::IsdpState;
use smsr::sm_sr::registry::Registry;
use smsr_proto::pki::Issuers;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Barrier};

/// Processes (and threads) at once.
const WRITERS: usize = 8;
/// Rounds of `isdp create` processes before giving up on the ones that found the card in use.
const MAX_ROUNDS: usize = 40;

/// A card personalized by a test EUM (SCP03 and SCP80 keys on its ISD-R), its EIS registered.
struct Setup {
    _dir: tempfile::TempDir,
    state: PathBuf,
    db: PathBuf,
    eid: String,
}

impl Setup {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let issuers = Issuers::generate().unwrap();
        let mut card = CardState::generate(None).unwrap();
        eum::personalize(&mut card, &issuers).unwrap();
        let eis = dir.join("eis.json");
        std::fs::write(&eis, eum::eis_json(&card, &issuers)).unwrap();
        let eid = hex::encode_upper(card.eid());
        let state = dir.join("card.json");
        drop(Emulator::create(&state, card, false).unwrap());
        let s = Self {
            _dir: tmp,
            state,
            db: dir.join("smsr.db"),
            eid,
        };
        s.ok(&["eis", "register", path(&eis)]);
        s
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_smsr"));
        c.args(["--transport", "emulator", "--emulator-state"])
            .arg(&self.state)
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("SMSR_TRACE")
            .env_remove("SMSR_ES5")
            .env_remove("SMSR_READER");
        c
    }

    fn ok(&self, args: &[&str]) -> serde_json::Value {
        let args = common::with_json(args);
        common::success_json(&args, &self.command(&args).output().unwrap())
    }

    /// `isdp create` in `WRITERS` processes at once, again for those that found the card in
    /// use, until `WRITERS` ISD-Ps were created. Returns their AIDs and how many runs found
    /// the card in use.
    fn create_concurrently(&self, es5: &str) -> (Vec<String>, usize) {
        let args = ["isdp", "create", "--eid", &self.eid, "--es5", es5, "--json"];
        let (mut created, mut in_use) = (Vec::new(), 0);
        for _ in 0..MAX_ROUNDS {
            let missing = WRITERS - created.len();
            if missing == 0 {
                break;
            }
            let children: Vec<_> = (0..missing)
                .map(|_| {
                    self.command(&args)
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for child in children {
                let out = child.wait_with_output().unwrap();
                match outcome(&out, &self.state) {
                    Ok(aid) => created.push(aid),
                    Err(()) => in_use += 1,
                }
            }
        }
        assert_eq!(
            created.len(),
            WRITERS,
            "--es5 {es5}: {} ISD-Ps created after {MAX_ROUNDS} rounds",
            created.len()
        );
        (created, in_use)
    }
}

/// The AID an `isdp create --json` run created, or `Err` when it found the card in use; any
/// other outcome fails the test.
fn outcome(out: &Output, state: &Path) -> Result<String, ()> {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("database is locked"), "{err}");
    match out.status.code() {
        Some(0) => {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["state"], "created", "{v}");
            Ok(v["aid"].as_str().unwrap().to_owned())
        }
        Some(3) => {
            assert!(
                err.contains("card in use: process ")
                    && err.contains(&format!("serves the card state {}", state.display()))
                    && err.contains("stop that process, or use another state file"),
                "{err}"
            );
            Err(())
        }
        other => panic!("isdp create: exit code {other:?}: {err}"),
    }
}

/// The ISD-Ps in `euicc-emulator show --json` (AID, life cycle), when the binary was built
/// beside `smsr` (`cargo test --workspace` builds it).
fn shown_by_the_emulator(state: &Path) -> Option<BTreeSet<(String, String)>> {
    let bin = Path::new(env!("CARGO_BIN_EXE_smsr")).with_file_name("euicc-emulator");
    if !bin.exists() {
        println!("euicc-emulator show skipped: {} not built", bin.display());
        return None;
    }
    let out = Command::new(bin)
        .args(["show", "--json", "--state"])
        .arg(state)
        .env_remove("EUICC_STATE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        v["registry"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !e["isd_p"].is_null())
            .map(|e| {
                (
                    e["aid"].as_str().unwrap().to_owned(),
                    e["life_cycle"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
    )
}

#[test]
fn concurrent_isdp_creations_are_neither_lost_nor_duplicated() {
    let s = Setup::new();
    let mut all = BTreeSet::new();
    for es5 in ["scp03", "scp80"] {
        let (created, in_use) = s.create_concurrently(es5);
        println!("--es5 {es5}: {WRITERS} created, {in_use} run(s) found the card in use");
        for aid in created {
            assert!(all.insert(aid.clone()), "--es5 {es5}: {aid} created twice");
        }
        // The registry and the card agree: the audit changes nothing.
        let audit = s.ok(&["audit", "--eid", &s.eid, "--es5", es5]);
        assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
        let isdps = audit["isdps"].as_array().unwrap();
        assert!(
            isdps
                .iter()
                .all(|i| i["state"] == "created" && i["pending"].is_null()),
            "{audit}"
        );
        let registry: BTreeSet<String> = isdps
            .iter()
            .map(|i| i["aid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(registry, all, "{audit}");
        // The card's own view: its state file, and `euicc-emulator show`.
        let card: BTreeSet<(String, String)> = CardState::load(&s.state)
            .unwrap()
            .registry()
            .isd_ps()
            .map(|e| {
                (
                    hex::encode_upper(e.aid.as_bytes()),
                    format!("{:02X}", e.life_cycle),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String)> =
            all.iter().map(|a| (a.clone(), "07".to_owned())).collect();
        assert_eq!(card, expected);
        if let Some(shown) = shown_by_the_emulator(&s.state) {
            assert_eq!(shown, expected);
        }
    }
    assert_eq!(all.len(), 2 * WRITERS);
}

/// An EIS with one SCP80 key set (KVN 1) whose counter starts at `counter`.
fn eis(eid: &str, counter: u64) -> Eis {
    let key = "000102030405060708090A0B0C0D0E0F";
    Eis::from_json(&format!(
        r#"{{"version":1,"eid":"{eid}","isd_r":{{"aid":"A0000005591010FFFFFFFF8900000100",
        "scp80":[{{"kvn":1,"kic":"{key}","kid":"{key}","counter":{counter}}}]}}}}"#
    ))
    .unwrap()
}

/// A valid EID for writer `n`: the emulator's prefix, `n`'s digits, zeros, check digits.
fn eid_for(n: usize) -> String {
    let mut digits = n.to_string().into_bytes().into_iter().map(|d| d - b'0');
    let eid = euicc_emulator::eid::generate_eid(|| digits.next().unwrap_or(0));
    euicc_emulator::eid::eid_to_string(&eid)
}

#[test]
fn registry_writers_in_threads_wait_for_each_other() {
    const ROUNDS: u64 = 20;
    const START: u64 = 5;
    let dir = tempfile::tempdir().unwrap();
    // A new file: the writers race to create and migrate it, too.
    let db = dir.path().join("smsr.db");
    let shared = eid_for(WRITERS);
    let barrier = Arc::new(Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (db, shared, barrier) = (db.clone(), shared.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let mut r = Registry::open(&db).unwrap();
                let own = eid_for(w);
                r.register(&eis(&own, 0), false).unwrap();
                r.register(&eis(&shared, START), true).unwrap();
                let (own, shared) = (own.parse().unwrap(), shared.parse().unwrap());
                let (mut ranges, mut aids) = (Vec::new(), Vec::new());
                for i in 0..ROUNDS {
                    let count = 1 + (i + w as u64) % 4;
                    let first = r.reserve_counters(&shared, 1, count).unwrap();
                    ranges.push((first, first + count - 1));
                    let aid = r.begin_create_next(&shared, &[], None, None).unwrap();
                    r.settle(&shared, &aid, Some(IsdpState::Created), "ok")
                        .unwrap();
                    aids.push(aid);
                    r.next_counter(&own, 1).unwrap();
                }
                (ranges, aids)
            })
        })
        .collect();
    let (mut ranges, mut aids) = (Vec::new(), Vec::new());
    for w in writers {
        let (r, a) = w.join().expect("a writer failed");
        ranges.extend(r);
        aids.extend(a);
    }
    // The reserved ranges never overlap, start after the EIS's counter and leave no gap.
    ranges.sort_unstable();
    assert_eq!(ranges[0].0, START + 1, "{ranges:?}");
    for pair in ranges.windows(2) {
        assert_eq!(pair[1].0, pair[0].1 + 1, "overlap or gap: {pair:?}");
    }
    let r = Registry::open(&db).unwrap();
    let last = ranges.last().unwrap().1;
    let shared = shared.parse().unwrap();
    assert_eq!(r.counter(&shared, 1).unwrap(), last);
    // Every AID once, all recorded, nothing pending.
    let distinct: BTreeSet<&smsr_proto::gp::aid::Aid> = aids.iter().collect();
    assert_eq!(distinct.len(), aids.len());
    let isdps = r.isdps(&shared).unwrap();
    assert_eq!(isdps.len(), aids.len());
    assert!(isdps
        .iter()
        .all(|i| i.state == IsdpState::Created && i.pending.is_none()));
    // Each writer's own card: registered once, its counter moved by its own writer only.
    assert_eq!(r.list().unwrap().len(), WRITERS + 1);
    for e in r.list().unwrap().iter().filter(|e| e.eid != shared) {
        assert_eq!(r.counter(&e.eid, 1).unwrap(), ROUNDS);
    }
}
