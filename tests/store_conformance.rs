//! One suite for both stores: every case runs on a SQLite file, and on PostgreSQL when
//! `SMSR_TEST_POSTGRES` names a scratch database (a URL); skipped visibly otherwise, a failure
//! when `SMSR_REQUIRE_POSTGRES=1`. Each case uses EIDs and ICCIDs of its own, so cases and runs
//! share one database. The concurrency cases give each thread its own connection, as
//! processes and service threads have.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use smsr::sm_dp::stock::{Stock, StockError};
use smsr::sm_sr::eis::Eis;
use smsr::sm_sr::isdp::IsdpState;
use smsr::sm_sr::registry::{Registry, RegistryError};
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// The stores a case runs on: a fresh SQLite file, and PostgreSQL when named.
fn backends() -> Vec<(&'static str, PathBuf, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![("sqlite", dir.path().join("store.db"), Some(dir))];
    match std::env::var("SMSR_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => out.push(("postgres", PathBuf::from(url), None)),
        _ => {
            assert!(
                std::env::var("SMSR_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "SMSR_REQUIRE_POSTGRES=1 but SMSR_TEST_POSTGRES is not set"
            );
            eprintln!("postgres: skipped: SMSR_TEST_POSTGRES not set");
        }
    }
    out
}

/// A fresh random EID (32 digits, valid check digits).
fn fresh_eid() -> String {
    let mut bytes = [0u8; 14];
    getrandom::getrandom(&mut bytes).unwrap();
    let digits: String = bytes.iter().map(|b| format!("{:02}", b % 100)).collect();
    let leading = format!("89049{}", &digits[..25]);
    let check = smsr_proto::gp::get_data::eid_check_digits(leading.as_bytes());
    format!("{leading}{check:02}")
}

fn eis(eid: &str, counter: u64) -> Eis {
    Eis::from_json(&format!(
        r#"{{"version":1,"eid":"{eid}","isd_r":{{"aid":"A0000005591010FFFFFFFF8900000100",
        "scp80":[{{"kvn":1,"kic":"000102030405060708090A0B0C0D0E0F","kid":"000102030405060708090A0B0C0D0E0F","counter":{counter}}}]}}}}"#
    ))
    .unwrap()
}

fn registered(db: &std::path::Path, counter: u64) -> (Eid, Registry) {
    let text = fresh_eid();
    let mut r = Registry::open(db).unwrap();
    r.register(&eis(&text, counter), false).unwrap();
    (text.parse().unwrap(), r)
}

/// Runs `threads` closures at once (a barrier before each), each given its index.
fn race<T: Send + 'static>(
    threads: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (f, barrier) = (Arc::clone(&f), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn register_read_replace_and_migrate() {
    for (name, db, _dir) in backends() {
        let (eid, mut r) = registered(&db, 7);
        assert_eq!(r.schema_version().unwrap(), 2, "{name}");
        let text = eid.to_string();
        assert!(
            matches!(
                r.register(&eis(&text, 7), false),
                Err(RegistryError::AlreadyRegistered(_))
            ),
            "{name}"
        );
        r.register(&eis(&text, 3), true).unwrap();
        assert_eq!(r.eis(&eid).unwrap().isd_r.scp80[0].counter, 7, "{name}");
        r.register(&eis(&text, 11), true).unwrap();
        assert_eq!(r.counter(&eid, 1).unwrap(), 11, "{name}");
        assert!(r.list().unwrap().iter().any(|s| s.eid == eid), "{name}");
        // Opening again migrates nothing and keeps the data.
        let again = Registry::open(&db).unwrap();
        assert_eq!(again.schema_version().unwrap(), 2, "{name}");
        assert_eq!(again.eis(&eid).unwrap().eid, text, "{name}");
        let health = Registry::inspect(&db).unwrap();
        assert_eq!((health.schema, health.known), (2, 2), "{name}");
        assert!(health.cards.unwrap() >= 1, "{name}");
    }
}

#[test]
fn isdp_life_cycle_history_and_notifications() {
    for (name, db, _dir) in backends() {
        let (eid, mut r) = registered(&db, 0);
        let first = r
            .begin_create_next(&eid, &[], Some("8988"), Some(4096))
            .unwrap();
        let rec = r.isdp(&eid, &first).unwrap();
        assert_eq!(
            (rec.state, rec.pending.as_deref(), rec.memory),
            (IsdpState::Creating, Some("create"), Some(4096)),
            "{name}"
        );
        r.settle(&eid, &first, Some(IsdpState::Personalized), "ok")
            .unwrap();
        r.set_profile(&eid, &first, None, Some(true), Some("[]"))
            .unwrap();
        let rec = r.isdp_by_iccid(&eid, "8988").unwrap();
        assert!(
            rec.fallback && rec.pending.is_none() && rec.state == IsdpState::Personalized,
            "{name}"
        );
        r.begin(&eid, &first, "delete").unwrap();
        r.abandon(&eid, &first, "refused").unwrap();
        assert!(r.isdp(&eid, &first).unwrap().pending.is_none(), "{name}");
        r.begin(&eid, &first, "delete").unwrap();
        r.settle(&eid, &first, None, "ok").unwrap();
        assert!(r.isdps(&eid).unwrap().is_empty(), "{name}");
        r.audited(&eid, "0 changes").unwrap();
        let ops: Vec<String> = r
            .history(&eid)
            .unwrap()
            .into_iter()
            .map(|h| format!("{} {}", h.operation, h.outcome))
            .collect();
        assert_eq!(ops.first().map(String::as_str), Some("eis register ok"));
        assert!(ops.contains(&"delete ok".into()), "{name}: {ops:?}");
        assert!(r.record_notification(&eid, 1, 2, Some(&first)).unwrap());
        assert!(!r.record_notification(&eid, 1, 2, None).unwrap(), "{name}");
        r.confirm_notification(&eid, 1).unwrap();
    }
}

#[test]
fn counter_ranges_never_overlap_under_contention() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 25;
    for (name, db, _dir) in backends() {
        let (eid, r) = registered(&db, 100);
        drop(r);
        let db2 = db.clone();
        let ranges: Vec<Vec<(u64, u64)>> = race(THREADS, move |i| {
            let mut r = Registry::open(&db2).unwrap();
            (0..ROUNDS)
                .map(|n| {
                    let count = 1 + u64::try_from((i + n) % 4).unwrap();
                    let first = r.reserve_counters(&eid, 1, count).unwrap();
                    (first, first + count - 1)
                })
                .collect()
        });
        let mut all: Vec<(u64, u64)> = ranges.into_iter().flatten().collect();
        all.sort_unstable();
        for w in all.windows(2) {
            assert!(w[0].1 < w[1].0, "{name}: {:?} overlaps {:?}", w[0], w[1]);
        }
        let taken: u64 = all.iter().map(|(a, b)| b - a + 1).sum();
        assert_eq!(all[0].0, 101, "{name}");
        let r = Registry::open(&db).unwrap();
        assert_eq!(r.counter(&eid, 1).unwrap(), 100 + taken, "{name}");
    }
}

#[test]
fn one_of_many_racing_threads_gets_a_lease() {
    const THREADS: usize = 8;
    for (name, db, _dir) in backends() {
        let (eid, r) = registered(&db, 0);
        drop(r);
        let db2 = db.clone();
        let won = race(THREADS, move |i| {
            let mut r = Registry::open(&db2).unwrap();
            r.claim_lease(&eid, &format!("instance-{i}"), Duration::from_secs(30))
                .unwrap()
        });
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{name}: {won:?}");
        let mut r = Registry::open(&db).unwrap();
        let lease = r.lease(&eid).unwrap().unwrap();
        let winner = lease.owner.clone();
        assert!(!lease.expired(), "{name}");
        // The holder renews; another cannot take it, nor give it back.
        assert!(r
            .claim_lease(&eid, &winner, Duration::from_secs(30))
            .unwrap());
        assert!(r
            .renew_lease(&eid, &winner, Duration::from_secs(30))
            .unwrap());
        assert!(!r
            .claim_lease(&eid, "other", Duration::from_secs(30))
            .unwrap());
        assert!(!r.release_lease(&eid, "other").unwrap(), "{name}");
        // An expired lease is taken over; its old owner can no longer renew it.
        assert!(r.claim_lease(&eid, &winner, Duration::ZERO).unwrap());
        std::thread::sleep(Duration::from_millis(5));
        assert!(r
            .claim_lease(&eid, "other", Duration::from_secs(30))
            .unwrap());
        assert!(!r
            .renew_lease(&eid, &winner, Duration::from_secs(30))
            .unwrap());
        assert!(r.release_lease(&eid, "other").unwrap(), "{name}");
        assert!(r.lease(&eid).unwrap().is_none(), "{name}");
    }
}

#[test]
fn leases_keep_holders_apart_over_time() {
    const THREADS: usize = 6;
    const TURNS: usize = 10;
    for (name, db, _dir) in backends() {
        let (eid, r) = registered(&db, 0);
        drop(r);
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (db2, inside2, most2) = (db.clone(), Arc::clone(&inside), Arc::clone(&most));
        race(THREADS, move |i| {
            let mut r = Registry::open(&db2).unwrap();
            let me = format!("instance-{i}");
            for _ in 0..TURNS {
                while !r.claim_lease(&eid, &me, Duration::from_secs(30)).unwrap() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let now = inside2.fetch_add(1, Ordering::SeqCst) + 1;
                most2.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
                inside2.fetch_sub(1, Ordering::SeqCst);
                assert!(r.release_lease(&eid, &me).unwrap());
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 1, "{name}");
    }
}

#[test]
fn racing_registrations_and_allocations_do_not_collide() {
    const THREADS: usize = 6;
    for (name, db, _dir) in backends() {
        // One EIS registered by many at once: one succeeds, the others are told.
        let text = fresh_eid();
        let (db2, t2) = (db.clone(), text.clone());
        let outcomes = race(THREADS, move |_| {
            Registry::open(&db2).unwrap().register(&eis(&t2, 0), false)
        });
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{name}");
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Ok(()) | Err(RegistryError::AlreadyRegistered(_)))));
        // ISD-P AIDs allocated by many at once are all different; settling them at once
        // loses none.
        let eid: Eid = text.parse().unwrap();
        let db2 = db.clone();
        let aids: Vec<Aid> = race(THREADS, move |i| {
            let mut r = Registry::open(&db2).unwrap();
            let aid = r
                .begin_create_next(&eid, &[], Some(&format!("8988{i}")), None)
                .unwrap();
            r.settle(&eid, &aid, Some(IsdpState::Disabled), "ok")
                .unwrap();
            aid
        });
        let distinct: HashSet<&Aid> = aids.iter().collect();
        assert_eq!(distinct.len(), THREADS, "{name}: {aids:?}");
        let r = Registry::open(&db).unwrap();
        let isdps = r.isdps(&eid).unwrap();
        assert_eq!(isdps.len(), THREADS, "{name}");
        assert!(
            isdps
                .iter()
                .all(|i| i.pending.is_none() && i.state == IsdpState::Disabled),
            "{name}"
        );
    }
}

fn package(iccid: &str) -> Vec<u8> {
    smsr_proto::saip::minimal::MinimalProfile::milenage(iccid, "001010000000011", [1; 16], [2; 16])
        .build()
        .unwrap()
        .to_der()
}

/// A fresh ICCID (19 digits and a filler).
fn fresh_iccid() -> String {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).unwrap();
    let digits: String = bytes.iter().map(|b| format!("{:02}", b % 100)).collect();
    format!("8988{}", &digits[..15])
}

#[test]
fn stock_reserves_a_profile_once_under_contention() {
    const THREADS: usize = 8;
    for (name, db, _dir) in backends() {
        let mut s = Stock::open(&db).unwrap();
        let der = package(&fresh_iccid());
        let iccid = s.add("p.der", &der).unwrap();
        assert!(matches!(
            s.add("p.der", &der),
            Err(StockError::AlreadyInStock(_))
        ));
        let (db2, i2) = (db.clone(), iccid.clone());
        let outcomes = race(THREADS, move |t| {
            Stock::open(&db2)
                .unwrap()
                .reserve(&i2, &format!("E{t}"))
                .map(drop)
        });
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{name}");
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Ok(()) | Err(StockError::NotAvailable { .. }))));
        s.downloaded(&iccid).unwrap();
        let item = s
            .list()
            .unwrap()
            .into_iter()
            .find(|i| i.iccid == iccid)
            .unwrap();
        assert_eq!(
            (item.state.as_str(), item.bytes),
            ("downloaded", der.len()),
            "{name}"
        );
        assert_eq!(s.package(&iccid).unwrap(), der, "{name}");
        assert!(matches!(
            s.reserve(&fresh_iccid(), "E"),
            Err(StockError::Unknown(_))
        ));
    }
}
