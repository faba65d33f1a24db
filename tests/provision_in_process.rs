//! `smsr provision` against the emulator linked in, over SCP80 (and SCP03 once): a card personalized by the EUM
//! (`euicc_emulator::eum`), its EIS registered, a profile built by `smsr profile build`, then
//! CreateISDP, key establishment, SCP03t download, enable, notifications and the USIM check.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::path;
use euicc_emulator::{eum, CardState, Emulator};
use smsr_proto::pki::Issuers;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    state: PathBuf,
    db: PathBuf,
    pki: PathBuf,
    eid: String,
}

impl Setup {
    fn new() -> Self {
        Self::with_reading(euicc_emulator::state::EckaReading::Default)
    }

    /// A card that follows `reading` of the ES8 open points.
    fn with_reading(reading: euicc_emulator::state::EckaReading) -> Self {
        Self::made(reading, None)
    }

    /// A card made by the EUM with `bootstrap` (a package built by `smsr profile build`,
    /// given its ICCID, IMSI and K) as its bootstrap profile.
    fn with_bootstrap(bootstrap: (&str, &str, &str)) -> Self {
        Self::made(euicc_emulator::state::EckaReading::Default, Some(bootstrap))
    }

    fn made(
        reading: euicc_emulator::state::EckaReading,
        bootstrap: Option<(&str, &str, &str)>,
    ) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let (state, db, pki) = (dir.join("card.json"), dir.join("smsr.db"), dir.join("pki"));
        let s = Self {
            _dir: tmp,
            dir,
            state,
            db,
            pki,
            eid: String::new(),
        };
        let out = s.smsr(&["pki", "init", "--dir", path(&s.pki)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let issuers = Issuers::read_dir(&s.pki).unwrap();
        let mut card = CardState::generate(None).unwrap();
        card.set_ecka_reading(reading);
        eum::personalize(&mut card, &issuers).unwrap();
        if let Some((iccid, imsi, ki)) = bootstrap {
            let package = s.build(iccid, imsi, ki);
            let der = std::fs::read(package).unwrap();
            euicc_emulator::test_installer::install_bootstrap(&mut card, &der).unwrap();
        }
        let eis = s.dir.join("eis.json");
        std::fs::write(&eis, eum::eis_json(&card, &issuers)).unwrap();
        let eid = hex::encode_upper(card.eid());
        let mut e = Emulator::create(&s.state, card, false).unwrap();
        e.power_off();
        let s = Self { eid, ..s };
        s.ok(&["eis", "register", path(&eis)]);
        s
    }

    fn smsr(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_smsr"))
            .args(["--transport", "emulator", "--emulator-state"])
            .arg(&self.state)
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("SMSR_TRACE")
            .env_remove("SMSR_ES5")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> serde_json::Value {
        common::success_json(args, &self.smsr(&common::with_json(args)))
    }

    /// The `smsr provision` arguments for `profile` with this card's EID and PKI.
    fn provision_args<'a>(&'a self, profile: &'a Path) -> [&'a str; 7] {
        let (eid, pki) = (self.eid.as_str(), path(&self.pki));
        [
            "provision",
            "--eid",
            eid,
            "--profile",
            path(profile),
            "--pki",
            pki,
        ]
    }

    /// `smsr provision` of `profile`, as plain output.
    fn provision(&self, profile: &Path) -> Output {
        self.smsr(&self.provision_args(profile))
    }

    /// [`Self::provision`], which must succeed; its JSON.
    fn provision_ok(&self, profile: &Path) -> serde_json::Value {
        self.ok(&self.provision_args(profile))
    }

    /// `smsr keys establish` for this card with its PKI, and `more`.
    fn establish_args<'a>(&'a self, more: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "keys",
            "establish",
            "--eid",
            &self.eid,
            "--pki",
            path(&self.pki),
        ];
        args.extend(more);
        args
    }

    fn build(&self, iccid: &str, imsi: &str, ki: &str) -> PathBuf {
        let out = self.dir.join(format!("{iccid}.der"));
        self.ok(&[
            "profile",
            "build",
            "--iccid",
            iccid,
            "--imsi",
            imsi,
            "--ki",
            ki,
            "--opc",
            "000102030405060708090A0B0C0D0E0F",
            "--out",
            path(&out),
        ]);
        out
    }
}

#[test]
fn provision_over_scp80_then_check_and_switch() {
    let s = Setup::new();
    let p1 = s.build(
        "89882800000000000011",
        "001010000000011",
        "11223344556677889900AABBCCDDEEFF",
    );
    let out = s.provision_ok(&p1);
    let steps: Vec<&str> = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "connect",
            "create-isdp",
            "establish-keys",
            "download",
            "enable",
            "notifications",
            "check"
        ],
        "{out}"
    );
    assert_eq!(out["check"]["imsi"], "001010000000011");
    assert_eq!(out["check"]["authenticated"], true);
    assert!(out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["ms"].as_f64().unwrap() >= 0.0));
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["isdps"][0]["state"], "enabled", "{audit}");
    assert_eq!(audit["isdps"][0]["iccid"], "89882800000000000011");
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");

    // A second profile; enabling it disables the first.
    let p2 = s.build(
        "89882800000000000029",
        "001010000000029",
        "000102030405060708090A0B0C0D0E0F",
    );
    let out = s.provision_ok(&p2);
    assert_eq!(out["check"]["imsi"], "001010000000029");
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    let states: Vec<&str> = audit["isdps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["disabled", "enabled"], "{audit}");
}

#[test]
fn provision_over_scp03_forwards_the_scripts_with_store_data() {
    let s = Setup::new();
    let p1 = s.build(
        "89882800000000000037",
        "001010000000037",
        "00112233445566778899AABBCCDDEEFF",
    );
    let mut args = s.provision_args(&p1).to_vec();
    args.extend(["--es5", "scp03"]);
    let out = s.ok(&args);
    assert_eq!(out["check"]["imsi"], "001010000000037", "{out}");
    assert_eq!(out["check"]["authenticated"], true, "{out}");
    let download = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["step"] == "download")
        .unwrap();
    // Two scripts (`84`+`85`, then one `86`), each INSTALL [for personalization] and its
    // STORE DATA blocks of at most 239 bytes.
    assert!(download["apdus"].as_u64().unwrap() >= 4, "{download}");
    let audit = s.ok(&["audit", "--eid", &s.eid, "--es5", "scp03"]);
    assert_eq!(audit["isdps"][0]["state"], "enabled", "{audit}");
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
}

#[test]
fn provision_refuses_a_foreign_pki_and_keeps_the_registry_consistent() {
    let s = Setup::new();
    let p1 = s.build(
        "89882800000000000011",
        "001010000000011",
        "11223344556677889900AABBCCDDEEFF",
    );
    // Another CI: the EIS's ECASD certificate does not chain to it; nothing reaches ES8.
    let other = s.dir.join("other-pki");
    s.ok(&["pki", "init", "--dir", path(&other)]);
    let out = s.smsr(&[
        "provision",
        "--eid",
        &s.eid,
        "--profile",
        path(&p1),
        "--pki",
        path(&other),
    ]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("establish-keys") && err.contains("CI"),
        "{err}"
    );
    // The ISD-P it created is recorded as created, nothing pending; audit agrees.
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["isdps"][0]["state"], "created", "{audit}");
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
    // The retry deletes the half-provisioned ISD-P of this ICCID, then provisions.
    let out = s.provision_ok(&p1);
    assert_eq!(out["steps"][1]["step"], "clean-up", "{out}");
    assert_eq!(out["check"]["authenticated"], true);
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    let isdps = audit["isdps"].as_array().unwrap();
    assert_eq!(isdps.len(), 1, "{audit}");
    assert_eq!(isdps[0]["state"], "enabled");
    // A file that is not a package: input error before anything is sent.
    let junk = s.dir.join("junk.der");
    std::fs::write(&junk, b"not DER").unwrap();
    let out = s.provision(&junk);
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn profile_check_catches_a_different_key_and_tables_have_counts() {
    let s = Setup::new();
    let ki = "11223344556677889900AABBCCDDEEFF";
    let p1 = s.build("89882800000000000011", "001010000000011", ki);
    let out = s.provision_ok(&p1);
    assert!(out["apdus"].as_u64().unwrap() > 10, "{out}");
    let shares: f64 = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["share"].as_f64().unwrap())
        .sum();
    assert!(shares > 50.0 && shares <= 100.01, "{out}");
    // The SM-DP's copy with the right K: the check passes (a second time: SQN moves on).
    let ok = s.ok(&["profile", "check", "--eid", &s.eid, "--profile", path(&p1)]);
    assert_eq!(ok["authenticated"], true);
    // A copy with another K (as if the card's K were corrupted): refused, exit 6.
    let other = s.dir.join("other-k.der");
    s.ok(&[
        "profile",
        "personalize",
        path(&p1),
        "--out",
        path(&other),
        "--ki",
        "11223344556677889900AABBCCDDEE00",
        "--opc",
        "000102030405060708090A0B0C0D0E0F",
    ]);
    let out = s.smsr(&[
        "profile",
        "check",
        "--eid",
        &s.eid,
        "--profile",
        path(&other),
    ]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("K/OPc"));
    // The plain table names every step and flags the bottlenecks.
    let p2 = s.build("89882800000000000029", "001010000000029", ki);
    let out = s.provision(&p2);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("establish-keys") && text.contains("total"),
        "{text}"
    );
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let s = Setup::new();
    let p1 = s.build(
        "89882800000000000011",
        "001010000000011",
        "11223344556677889900AABBCCDDEEFF",
    );
    let der = std::fs::read(&p1).unwrap();
    // A truncated package, and one with a corrupted PE (a length byte changed).
    let truncated = s.dir.join("truncated.der");
    std::fs::write(&truncated, &der[..der.len() / 2]).unwrap();
    let mut corrupt = der.clone();
    corrupt[1] ^= 0x01;
    let corrupted = s.dir.join("corrupted.der");
    std::fs::write(&corrupted, &corrupt).unwrap();
    for bad in [&truncated, &corrupted] {
        let out = s.provision(bad);
        assert_eq!(
            out.status.code(),
            Some(5),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A Ki of the wrong length.
    let out = s.smsr(&[
        "profile",
        "build",
        "--iccid",
        "89882800000000000011",
        "--imsi",
        "001010000000011",
        "--ki",
        "0011",
        "--opc",
        "000102030405060708090A0B0C0D0E0F",
        "--out",
        path(&s.dir.join("x.der")),
    ]);
    assert_eq!(out.status.code(), Some(5));
    // A card the SM-SR does not know.
    let out = s.smsr(&[
        "provision",
        "--eid",
        "89001999000010000000000000000022",
        "--profile",
        path(&p1),
        "--pki",
        path(&s.pki),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("smsr eis register"));
    // Nothing reached the card or the registry.
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["isdps"], serde_json::json!([]), "{audit}");
}

/// `(AID, state, Fallback Attribute, nothing pending)` of every ISD-P in a `--json` answer
/// (`audit`, `eis show`, `profile enable|disable|set-fallback`).
fn isdps(v: &serde_json::Value) -> Vec<(String, String, bool)> {
    v["isdps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert!(i["pending"].is_null(), "pending operation left: {v}");
            (
                i["aid"].as_str().unwrap().to_owned(),
                i["state"].as_str().unwrap().to_owned(),
                i["fallback"].as_bool().unwrap(),
            )
        })
        .collect()
}

impl Setup {
    /// The SM-SR's registry (`eis show`) and the card (`audit`) agree: the audit changes
    /// nothing and reports the ISD-Ps the registry had, none pending. Returns them.
    /// The card state file read directly (not through GET STATUS) agrees too.
    fn agree(&self) -> Vec<(String, String, bool)> {
        let registry = isdps(&self.ok(&["eis", "show", &self.eid]));
        let audit = self.ok(&["audit", "--eid", &self.eid]);
        assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
        assert_eq!(isdps(&audit), registry, "{audit}");
        assert_eq!(self.card_view(), registry, "{audit}");
        registry
    }

    /// The ISD-Ps holding a profile in the card's state file: `(AID, state, Fallback
    /// Attribute)`.
    fn card_view(&self) -> Vec<(String, String, bool)> {
        use smsr_proto::gp::life_cycle::{ISD_P_DISABLED, ISD_P_ENABLED};
        let card = CardState::load(&self.state).unwrap();
        card.registry()
            .isd_ps()
            .map(|e| {
                let state = match e.life_cycle {
                    ISD_P_ENABLED => "enabled",
                    ISD_P_DISABLED => "disabled",
                    other => panic!("ISD-P {} in life cycle {other:02X}", e.aid),
                };
                let isd_p = e.isd_p.as_ref().unwrap();
                (
                    hex::encode_upper(e.aid.as_bytes()),
                    state.to_owned(),
                    isd_p.is_fallback(),
                )
            })
            .collect()
    }

    /// `smsr profile check --json` of `profile` on the enabled profile.
    fn check(&self, profile: &Path) -> Output {
        self.smsr(&[
            "profile",
            "check",
            "--eid",
            &self.eid,
            "--profile",
            path(profile),
            "--json",
        ])
    }

    /// The notifications handled by `smsr notifications`: `(kind, ISD-P)`.
    fn notifications(&self) -> Vec<(String, String)> {
        let n = self.ok(&["notifications", "--eid", &self.eid]);
        n["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                assert_eq!(x["repeated"], false, "{n}");
                (
                    x["kind"].as_str().unwrap().to_owned(),
                    x["isd_p"].as_str().unwrap_or("-").to_owned(),
                )
            })
            .collect()
    }

    /// `smsr profile <op> --isdp <aid> --reset` (enable or disable, then the card reset): its
    /// JSON.
    fn switch(&self, op: &str, aid: &str) -> serde_json::Value {
        self.ok(&["profile", op, "--eid", &self.eid, "--isdp", aid, "--reset"])
    }

    /// `smsr profile <op> --isdp <aid>` must be refused by the card: exit 1, stderr with the
    /// status word `6985` and `words` (the reason), and the registry unchanged.
    fn refused(&self, op: &str, aid: &str, words: &[&str]) {
        let before = self.agree();
        let out = self.smsr(&["profile", op, "--eid", &self.eid, "--isdp", aid]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{op} {aid}: {err}");
        assert!(err.contains("6985"), "{op} {aid}: {err}");
        for w in words {
            assert!(err.contains(w), "{op} {aid}: no {w:?} in {err}");
        }
        assert_eq!(self.agree(), before, "{op} {aid}");
    }
}

/// The life cycle of SGP.02 §3.x on two downloaded profiles, the registry and the card
/// compared after every step: A provisioned and enabled (no profile has the Fallback
/// Attribute: DisableProfile has nothing to fall back to), A given the Fallback Attribute, B
/// downloaded and left disabled, B enabled (A's USIM no longer answers), B disabled (the
/// fallback A takes over), B enabled again and made the fallback profile (A loses the
/// attribute; B can then be neither disabled nor deleted, even once disabled, nor deleted by
/// its POL2 auto-delete), A disabled (the fallback B takes over), and A deleted.
#[test]
fn a_card_with_a_bootstrap_profile_is_known_at_registration_and_falls_back_to_it() {
    let s = Setup::with_bootstrap((
        "89882800000000000045",
        "001010000000045",
        "00112233445566778899AABBCCDDEEFF",
    ));
    let boot = "A0000005591010FFFFFFFF8900001000";
    let st = |aid: &str, state: &str, fallback| (aid.to_owned(), state.to_owned(), fallback);
    // The EIS lists it, the registry learned it at registration, and the card agrees; the
    // only notification is the eUICC declaration of the first attach (type 01), not a
    // profile change: installing it changed nothing in the field.
    let eis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.dir.join("eis.json")).unwrap()).unwrap();
    assert_eq!(
        eis["profiles"],
        serde_json::json!([{"isd_p_aid": boot, "iccid": "89882800000000000045",
                            "state": "enabled", "fallback": true}])
    );
    assert_eq!(s.agree(), [st(boot, "enabled", true)]);
    assert_eq!(s.notifications(), [("01".to_owned(), "-".to_owned())]);
    // The bootstrap profile answers: the device can attach.
    let bootstrap = s.dir.join("89882800000000000045.der");
    let v = common::success_json(&["profile", "check"], &s.check(&bootstrap));
    assert_eq!(v["imsi"], "001010000000045");
    // An operational profile downloaded and enabled; disabled, the bootstrap takes over.
    let a = s.build(
        "89882800000000000011",
        "001010000000011",
        "11223344556677889900AABBCCDDEEFF",
    );
    let out = s.provision_ok(&a);
    let pa = out["isdp"].as_str().unwrap().to_owned();
    assert_ne!(pa, boot);
    assert_eq!(
        s.agree(),
        [st(boot, "disabled", true), st(&pa, "enabled", false)]
    );
    s.switch("disable", &pa);
    assert_eq!(
        s.agree(),
        [st(boot, "enabled", true), st(&pa, "disabled", false)]
    );
    // The fallback profile is not disabled or deleted.
    s.refused("disable", boot, &["fallback"]);
}

#[test]
fn two_downloaded_profiles_enable_disable_fallback_delete() {
    let s = Setup::new();
    let eid = s.eid.clone();
    let a = s.build(
        "89882800000000000011",
        "001010000000011",
        "11223344556677889900AABBCCDDEEFF",
    );
    let b = s.build(
        "89882800000000000029",
        "001010000000029",
        "000102030405060708090A0B0C0D0E0F",
    );
    let st = |aid: &str, state: &str, fallback| (aid.to_owned(), state.to_owned(), fallback);
    let authenticates = |profile: &Path, imsi: &str| {
        let out = s.check(profile);
        let v = common::success_json(&["profile", "check"], &out);
        assert_eq!(
            (v["imsi"].as_str(), v["authenticated"].as_bool()),
            (Some(imsi), Some(true))
        );
    };
    // The USIM that answers is the enabled profile's: the other profile's IMSI is not there
    // (its check stops at EF.IMSI, before AUTHENTICATE).
    let does_not_answer = |profile: &Path, enabled_imsi: &str| {
        let out = s.check(profile);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("EF.IMSI on the card is {enabled_imsi}")),
            "{err}"
        );
    };

    // 1. A: provisioned and enabled; the first notification declares the card.
    let out = s.provision_ok(&a);
    let pa = out["isdp"].as_str().unwrap().to_owned();
    assert_eq!(out["check"]["authenticated"], true, "{out}");
    assert_eq!(s.agree(), [st(&pa, "enabled", false)]);
    assert_eq!(s.notifications(), []);
    // No profile has the Fallback Attribute: DisableProfile has nothing to enable instead.
    s.refused(
        "disable",
        &pa,
        &["no profile has the Fallback Attribute", "set-fallback"],
    );
    let f = s.ok(&["profile", "set-fallback", "--eid", &eid, "--isdp", &pa]);
    assert_eq!(isdps(&f), [st(&pa, "enabled", true)], "{f}");

    // 2. B: downloaded, left disabled; A still answers with its own K.
    let out = s.ok(&[s.provision_args(&b).as_slice(), &["--no-enable"]].concat());
    let pb = out["isdp"].as_str().unwrap().to_owned();
    assert!(out["check"].is_null(), "{out}");
    assert_eq!(
        s.agree(),
        [st(&pa, "enabled", true), st(&pb, "disabled", false)]
    );
    authenticates(&a, "001010000000011");
    does_not_answer(&b, "001010000000011");

    // 3. B enabled, A disabled; B answers, A does not.
    let e = s.switch("enable", &pb);
    assert_eq!(
        isdps(&e),
        [st(&pa, "disabled", true), st(&pb, "enabled", false)],
        "{e}"
    );
    assert_eq!(s.notifications(), [("02".to_owned(), pb.clone())]);
    s.agree();
    authenticates(&b, "001010000000029");
    does_not_answer(&a, "001010000000029");
    // Nor does A's K: B's package with A's K fails AUTHENTICATE on the enabled USIM.
    let b_with_ka = s.dir.join("b-with-ka.der");
    s.ok(&[
        "profile",
        "personalize",
        path(&b),
        "--out",
        path(&b_with_ka),
        "--ki",
        "11223344556677889900AABBCCDDEEFF",
        "--opc",
        "000102030405060708090A0B0C0D0E0F",
    ]);
    let out = s.check(&b_with_ka);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("K/OPc"));
    // Disabling B: the fallback A is enabled (notification 05), then B again.
    let d = s.switch("disable", &pb);
    assert_eq!(
        isdps(&d),
        [st(&pa, "enabled", true), st(&pb, "disabled", false)],
        "{d}"
    );
    assert_eq!(s.notifications(), [("05".to_owned(), pa.clone())]);
    authenticates(&a, "001010000000011");
    s.ok(&[
        "profile",
        "enable",
        "--eid",
        &eid,
        "--iccid",
        "89882800000000000029",
        "--reset",
    ]);
    assert_eq!(s.notifications(), [("02".to_owned(), pb.clone())]);

    // 4. The Fallback Attribute moves to the enabled B: exactly one profile has it.
    let f = s.ok(&["profile", "set-fallback", "--eid", &eid, "--isdp", &pb]);
    assert_eq!(
        isdps(&f),
        [st(&pa, "disabled", false), st(&pb, "enabled", true)],
        "{f}"
    );
    assert_eq!(s.agree().iter().filter(|i| i.2).count(), 1);
    // SGP.02 forbids disabling or deleting the fallback profile.
    let fallback = [pb.as_str(), "Fallback Attribute", "set-fallback"];
    s.refused("disable", &pb, &fallback);
    s.refused(
        "delete",
        &pb,
        &[&fallback[..], &["enabled profile"]].concat(),
    );
    // Disabling the disabled A is refused for its state, not for a fallback rule.
    s.refused("disable", &pa, &["is disabled"]);
    // Enabling A replaces B, which keeps the attribute and still cannot be deleted: not even
    // by the SM-SR's POL2 "auto-delete" (the enable succeeds, B is kept and said to be).
    s.ok(&[
        "profile",
        "pol2",
        "--eid",
        &eid,
        "--isdp",
        &pb,
        "--rule",
        "auto-delete",
    ]);
    let e = s.switch("enable", &pa);
    assert_eq!(
        isdps(&e),
        [st(&pa, "enabled", false), st(&pb, "disabled", true)],
        "{e}"
    );
    assert_eq!(e["auto_deleted"], serde_json::json!([]), "{e}");
    assert_eq!(e["auto_delete_kept"], serde_json::json!([pb]), "{e}");
    s.ok(&["profile", "pol2", "--eid", &eid, "--isdp", &pb, "--clear"]);
    assert_eq!(s.notifications(), [("02".to_owned(), pa.clone())]);
    s.refused("delete", &pb, &fallback);
    authenticates(&a, "001010000000011");
    // Disabling A: the fallback B takes over.
    let d = s.switch("disable", &pa);
    assert_eq!(
        isdps(&d),
        [st(&pa, "disabled", false), st(&pb, "enabled", true)],
        "{d}"
    );
    assert_eq!(s.notifications(), [("05".to_owned(), pb.clone())]);
    authenticates(&b, "001010000000029");

    // 5. A (disabled, not the fallback) deleted; registry and card agree, nothing pending.
    let out = s.ok(&["profile", "delete", "--eid", &eid, "--isdp", &pa]);
    assert_eq!(out["deleted"], pa.as_str());
    assert_eq!(s.agree(), [st(&pb, "enabled", true)]);
    assert_eq!(s.notifications(), []);
    authenticates(&b, "001010000000029");
    does_not_answer(&a, "001010000000029");
    // The registry's history has every notification, and they are all confirmed.
    let shown = s.ok(&["eis", "show", &eid]);
    let history = shown["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h["operation"] == "delete" && h["outcome"] == "ok"),
        "{shown}"
    );
}

/// A profile's ICCID is on a card once: with the profile downloaded (enabled, or left
/// disabled), `isdp create --iccid` and `provision` of that ICCID are refused before anything
/// is sent (SGP.02 "already in use"), naming the ISD-P that holds it and the fixes; the
/// registry and the card are unchanged. Once the profile is deleted, the ICCID is free again.
#[test]
fn an_iccid_already_on_the_card_is_refused_before_anything_is_sent() {
    let s = Setup::new();
    let (x, y) = ("89882800000000000011", "89882800000000000029");
    let px = s.build(x, "001010000000011", "11223344556677889900AABBCCDDEEFF");
    let py = s.build(y, "001010000000029", "000102030405060708090A0B0C0D0E0F");
    let ax = s.provision_ok(&px)["isdp"].as_str().unwrap().to_owned();
    let no_enable = [s.provision_args(&py).as_slice(), &["--no-enable"]].concat();
    let ay = s.ok(&no_enable)["isdp"].as_str().unwrap().to_owned();
    let st = |aid: &str, state: &str| (aid.to_owned(), state.to_owned(), false);
    let before = s.agree();
    assert_eq!(before, [st(&ax, "enabled"), st(&ay, "disabled")]);
    let shown = s.ok(&["eis", "show", &s.eid]);
    let card = std::fs::read(&s.state).unwrap();
    let trace = s.dir.join("refused.jsonl");

    let create = |iccid: &'static str| vec!["isdp", "create", "--eid", &s.eid, "--iccid", iccid];
    let cases: [(Vec<&str>, &str, &str); 5] = [
        (create(x), x, &ax),
        (create(x), x, &ax),
        ([create(x).as_slice(), &["--es5", "scp03"]].concat(), x, &ax),
        (s.provision_args(&px).to_vec(), x, &ax),
        (create(y), y, &ay),
    ];
    for (args, iccid, holder) in cases {
        let out = s.smsr(&[&["--trace", path(&trace)], args.as_slice()].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        for part in [
            format!(
                "ICCID {iccid} is already on eUICC {}, in ISD-P {holder}",
                s.eid
            ),
            "nothing was sent to the card".to_owned(),
            format!("smsr profile delete --eid {} --isdp {holder}", s.eid),
            format!("smsr audit --eid {}", s.eid),
        ] {
            assert!(err.contains(&part), "{args:?}: no {part:?} in {err}");
        }
    }
    // Not one APDU, not one registry line, the card state file as it was.
    assert!(!trace.exists() || std::fs::read(&trace).unwrap().is_empty());
    assert_eq!(s.ok(&["eis", "show", &s.eid]), shown);
    assert_eq!(std::fs::read(&s.state).unwrap(), card);
    assert_eq!(s.agree(), before);

    // The disabled profile deleted, its ICCID may come again (an ISD-P created for it).
    s.ok(&["profile", "delete", "--eid", &s.eid, "--isdp", &ay]);
    let created = s.ok(&create(y));
    assert_eq!(created["iccid"], y, "{created}");
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
    assert_eq!(audit["isdps"].as_array().unwrap().len(), 2, "{audit}");
}

/// `--iccid … --imsi … --ki … --opc …` in place of a package file.
fn inline(ki: &str) -> [&str; 8] {
    [
        "--iccid",
        "89882800000000000037",
        "--imsi",
        "001010000000037",
        "--ki",
        ki,
        "--opc",
        "00112233445566778899AABBCCDDEEFF",
    ]
}

#[test]
fn provision_of_an_inline_profile_then_check() {
    let s = Setup::new();
    let ki = "0F0E0D0C0B0A09080706050403020100";
    let mut args = vec!["provision", "--eid", &s.eid, "--pki", path(&s.pki)];
    args.extend(inline(ki));
    let out = s.ok(&args);
    assert_eq!(out["iccid"], "89882800000000000037", "{out}");
    assert_eq!(out["check"]["imsi"], "001010000000037");
    assert_eq!(out["check"]["authenticated"], true);
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["isdps"][0]["state"], "enabled", "{audit}");
    assert_eq!(audit["isdps"][0]["iccid"], "89882800000000000037");
    // The SM-DP side of the check knows K/OPc from the same values.
    let mut check = vec!["profile", "check", "--eid", &s.eid];
    check.extend(inline(ki));
    let ok = s.ok(&check);
    assert_eq!(ok["authenticated"], true, "{ok}");
    // The same values with another K: the check fails with a security error.
    let mut wrong = vec!["profile", "check", "--eid", &s.eid];
    wrong.extend(inline("0F0E0D0C0B0A09080706050403020101"));
    let out = s.smsr(&wrong);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `profile build` with the same values writes the package that was provisioned.
    let file = s.dir.join("same.der");
    let mut built = vec!["profile", "build", "--out", path(&file)];
    built.extend(inline(ki));
    s.ok(&built);
    let ok = s.ok(&[
        "profile",
        "check",
        "--eid",
        &s.eid,
        "--profile",
        path(&file),
    ]);
    assert_eq!(ok["authenticated"], true, "{ok}");
}

#[test]
fn inline_profile_with_bad_values_is_refused_before_the_card() {
    let s = Setup::new();
    let cases: [(&[&str], &str); 4] = [
        (&inline("0011"), "--ki"),
        (&inline("00112233445566778899AABBCCDDEEFF00"), "--ki"),
        (
            &[
                "--iccid",
                "8988280000000000003X",
                "--imsi",
                "001010000000037",
                "--ki",
                "0F0E0D0C0B0A09080706050403020100",
                "--opc",
                "00112233445566778899AABBCCDDEEFF",
            ],
            "ICCID",
        ),
        (
            &[
                "--iccid",
                "89882800000000000037",
                "--imsi",
                "0010",
                "--ki",
                "0F0E0D0C0B0A09080706050403020100",
                "--opc",
                "00112233445566778899AABBCCDDEEFF",
            ],
            "IMSI",
        ),
    ];
    let trace = s.dir.join("trace.jsonl");
    let before = s.ok(&["eis", "show", &s.eid]);
    for (values, named) in cases {
        let mut args = vec![
            "--trace",
            path(&trace),
            "provision",
            "--eid",
            &s.eid,
            "--pki",
            path(&s.pki),
        ];
        args.extend(values);
        let out = s.smsr(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{values:?}: {err}");
        assert!(err.to_uppercase().contains(&named.to_uppercase()), "{err}");
    }
    // No APDU went to the card, nothing was recorded, and the card has no ISD-P.
    assert!(!trace.exists() || std::fs::read(&trace).unwrap().is_empty());
    assert_eq!(s.ok(&["eis", "show", &s.eid]), before);
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["isdps"], serde_json::json!([]), "{audit}");
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
}

#[test]
fn keys_establish_probe_identifies_a_card_of_another_reading() {
    let s = Setup::with_reading(euicc_emulator::state::EckaReading::Njiwa);
    // provision stops at key establishment, naming the reading the card's receipt matches.
    let p = s.build(
        "89882800000000000052",
        "001010000000052",
        "000102030405060708090A0B0C0D0E0F",
    );
    let out = s.provision(&p);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("establish-keys") && err.contains("crt-dr-padded"),
        "{err}"
    );
    // The probe says the same, and deletes the ISD-P it created without a usable key set.
    let out = s.smsr(&common::with_json(
        &s.establish_args(&["--create", "--probe"]),
    ));
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["established"], false, "{report}");
    let attempts = report["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["outcome"], "receipt-mismatch", "{report}");
    let matched = &attempts[0]["receipt_matches"];
    assert_eq!(matched["default"], false, "{report}");
    assert_eq!(matched["receipt_input"], "crt-dr-padded", "{report}");
    // The registry and the card agree: provision's half-made ISD-P is there, the probe's is
    // gone.
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
    assert_eq!(audit["isdps"].as_array().unwrap().len(), 1, "{audit}");
}

#[test]
fn keys_establish_probe_finds_the_default_reading_on_the_emulator() {
    let s = Setup::new();
    let out = s.ok(&s.establish_args(&["--create", "--probe"]));
    assert_eq!(out["established"], true, "{out}");
    assert_eq!(out["kvn"], 0x30);
    assert_eq!(out["key_id"], 1);
    let attempts = out["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{out}");
    assert_eq!(attempts[0]["outcome"], "established");
    assert_eq!(attempts[0]["certificate_length"], "dgi");
    let matched = &attempts[0]["receipt_matches"];
    assert_eq!(matched["default"], true, "{out}");
    assert_eq!(matched["keys"], "three");
    assert_eq!(matched["receipt_input"], "crt-dr");
    assert_eq!(matched["receipt_key"], "first");
    // Recorded as provision records it, and the card agrees.
    let isdp = out["isdp"].as_str().unwrap().to_owned();
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["isdps"][0]["aid"], isdp.as_str(), "{audit}");
    assert_eq!(audit["isdps"][0]["state"], "personalized", "{audit}");
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");

    // On an ISD-P made by `isdp create`, as text.
    let created = s.ok(&["isdp", "create", "--eid", &s.eid]);
    let aid = created["aid"].as_str().unwrap();
    let out = s.smsr(&s.establish_args(&["--isdp", aid, "--probe"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("established") && text.contains("(the default)"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "KVN 30 (key IDs from 01) established on ISD-P {aid}"
    )));
    // Personalized already: the card refuses a second key establishment (`3A01` answered
    // 6985), which the report names.
    let out = s.smsr(&s.establish_args(&["--isdp", aid]));
    let err = String::from_utf8_lossy(&out.stderr);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(report.contains("6985"), "{report}{err}");
    // An ISD-P the registry does not know: refused before the card is opened.
    let out = s.smsr(&s.establish_args(&["--isdp", "A0000005591010FFFFFFFF8900001F00"]));
    assert!(!out.status.success());
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    let states: Vec<&str> = audit["isdps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["personalized", "personalized"], "{audit}");
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
}

#[test]
fn provision_writes_its_report() {
    let s = Setup::new();
    let dir = s.dir.join("report");
    let mut args = vec!["provision", "--eid", &s.eid, "--pki", path(&s.pki)];
    args.extend(inline("0F0E0D0C0B0A09080706050403020100"));
    args.extend(["--report", path(&dir)]);
    let out = s.ok(&args);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["kind"], "provision");
    assert_eq!(report["provision"]["eid"], s.eid.as_str());
    assert_eq!(report["provision"]["apdus"], out["apdus"], "{report:#}");
    let steps = report["steps"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), out["steps"].as_array().unwrap().len());
    assert!(steps
        .iter()
        .any(|s| s["step"] == "download" && s["bytes"].as_f64() > Some(0.0)));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("this provisioning"));
}

#[test]
fn provision_over_scp81_then_enable_audit_and_wrong_psk() {
    let s = Setup::new();
    let p1 = s.build(
        "89882800000000000813",
        "001010000000813",
        "11223344556677889900AABBCCDDEEFF",
    );
    let mut args = s.provision_args(&p1).to_vec();
    args.extend(["--es5", "scp81"]);
    let out = s.ok(&args);
    assert_eq!(out["check"]["imsi"], "001010000000813", "{out}");
    assert_eq!(out["check"]["authenticated"], true);
    let audit = s.ok(&["audit", "--eid", &s.eid, "--es5", "scp81"]);
    assert_eq!(audit["isdps"][0]["state"], "enabled", "{audit}");
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");

    // The SM-SR's PSK is not the card's: the handshake fails, nothing runs on the card.
    let eis_path = s.dir.join("eis.json");
    let mut eis: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&eis_path).unwrap()).unwrap();
    eis["isd_r"]["scp81"][0]["psk"] = "00112233445566778899AABBCCDDEEFF".into();
    let wrong = s.dir.join("eis-wrong-psk.json");
    std::fs::write(&wrong, eis.to_string()).unwrap();
    s.ok(&["eis", "register", "--replace", path(&wrong)]);
    let out = s.smsr(&["isdp", "create", "--eid", &s.eid, "--es5", "scp81"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("PSK"), "{stderr}");
    // A key set version the card does not have: the card refuses the trigger itself.
    eis["isd_r"]["scp81"][0]["kvn"] = 0x41.into();
    std::fs::write(&wrong, eis.to_string()).unwrap();
    s.ok(&["eis", "register", "--replace", path(&wrong)]);
    let out = s.smsr(&["isdp", "create", "--eid", &s.eid, "--es5", "scp81"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("trigger") && stderr.contains("6A88"),
        "{stderr}"
    );

    // The intent recorded before the command is all there is: the audit drops it.
    let audit = s.ok(&["audit", "--eid", &s.eid]);
    assert_eq!(audit["isdps"].as_array().unwrap().len(), 1, "{audit}");
    for c in audit["changes"].as_array().unwrap() {
        assert_eq!(c["card"], serde_json::Value::Null, "{audit}");
        assert_eq!(c["registry"], "creating", "{audit}");
    }
}

/// `provision` with `--trace` and `--keylog` over `es5`, then `trace decrypt --extract-profile`:
/// every check passes and the extracted package is the one given to `provision`.
fn decrypt_round_trip(es5: &str, iccid: &str, imsi: &str) -> (Setup, PathBuf, PathBuf) {
    let s = Setup::new();
    let p = s.build(iccid, imsi, "11223344556677889900AABBCCDDEEFF");
    let (trace, keys) = (s.dir.join("run.jsonl"), s.dir.join("run.keys"));
    let mut args = vec!["--trace", path(&trace), "--keylog", path(&keys)];
    if es5 == "scp03" {
        // The ES8 scripts ride in STORE DATA blocks under C-DECRYPTION, which the trace
        // redacts unless asked: a REDACTED command breaks the MAC chain of the session.
        args.push("--trace-secrets");
    }
    args.extend(s.provision_args(&p));
    args.extend(["--es5", es5]);
    s.ok(&args);
    let out_der = s.dir.join("out.der");
    let out = s.smsr(&[
        "trace",
        "decrypt",
        path(&trace),
        "--keylog",
        path(&keys),
        "--extract-profile",
        path(&out_der),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        &stdout[stdout.len().saturating_sub(3000)..]
    );
    assert_eq!(std::fs::read(&out_der).unwrap(), std::fs::read(&p).unwrap());
    assert!(!stdout.contains("FAILED"), "{stdout}");
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("summary: ") && summary.contains("checks verified, 0 failed, 0 not"),
        "{summary}"
    );
    // The same keys put the plain inner APDUs into the Wireshark export.
    let pcap = s.dir.join("run.pcap");
    let export = s.ok(&[
        "trace",
        "export",
        path(&trace),
        "--pcap",
        path(&pcap),
        "--decrypted",
        "--keylog",
        path(&keys),
    ]);
    let decrypted = export["decrypted"].as_u64().unwrap();
    assert!(decrypted >= 5, "{export}");
    let tcp_frames = export["tcpFrames"].as_u64().unwrap();
    assert_eq!(
        export["frames"].as_u64().unwrap(),
        export["exchanges"].as_u64().unwrap() + decrypted + tcp_frames,
        "{export}"
    );
    // SCP81's TLS travels in BIP channels: one TCP connection each (handshake, a segment per
    // piece, FINs); SCP80 and SCP03 have none.
    let channels = export["channels"].as_u64().unwrap();
    if es5 == "scp81" {
        assert!(channels >= 1 && tcp_frames >= 6 * channels + 2, "{export}");
    } else {
        assert_eq!((channels, tcp_frames), (0, 0), "{export}");
    }
    if std::env::var_os("SHOW_DECRYPT").is_some() {
        eprintln!("{stdout}");
    }
    (s, trace, keys)
}

#[test]
fn trace_decrypt_opens_an_scp80_provisioning_to_the_profile() {
    let (_s, _trace, _keys) =
        decrypt_round_trip("scp80", "89882800000000001803", "001010000001803");
}

#[test]
fn trace_decrypt_opens_an_scp03_provisioning_to_the_profile() {
    decrypt_round_trip("scp03", "89882800000000001811", "001010000001811");
}

/// The lines of a trace file.
fn trace_lines(trace: &Path) -> Vec<String> {
    std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `trace decrypt` on `lines` (a trace, rewritten), expecting a failure named at `seq`.
fn decrypt_fails_at(s: &Setup, keys: &Path, lines: &[String], seq: u64, words: &[&str]) {
    let tampered = s.dir.join("tampered.jsonl");
    std::fs::write(&tampered, lines.join("\n") + "\n").unwrap();
    let out = s.smsr(&[
        "--json",
        "trace",
        "decrypt",
        path(&tampered),
        "--keylog",
        path(keys),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let failed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|x| {
            x["layers"].as_array().is_some_and(|ls| {
                ls.iter().any(|l| {
                    l["checks"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|c| c["ok"] == false))
                })
            })
        })
        .collect();
    let at: Vec<&serde_json::Value> = failed.iter().filter(|x| x["seq"] == seq).collect();
    assert!(!at.is_empty(), "no failure at #{seq}: {failed:#?}");
    let text = at[0].to_string();
    for w in words {
        assert!(text.contains(w), "{w}: {text}");
    }
}

#[test]
fn trace_decrypt_names_the_exchange_of_each_tampering() {
    let (s, trace, keys) = decrypt_round_trip("scp80", "89882800000000001829", "001010000001829");
    let lines = trace_lines(&trace);
    let json = |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap();
    // The first ENVELOPE that completes a packet: its line, and the GET RESPONSE after it.
    let envelope = lines
        .iter()
        .position(|l| {
            let v = json(l);
            v["c_apdu"].as_str().is_some_and(|c| c.starts_with("80C2"))
                && v["r_apdu"].as_str().is_some_and(|r| r.starts_with("61"))
        })
        .unwrap();
    let seq_of = |i: usize| json(&lines[i])["seq"].as_u64().unwrap();
    let with = |i: usize, field: &str, f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = json(&lines[i]);
        let mut bytes = hex::decode(v[field].as_str().unwrap()).unwrap();
        f(&mut bytes);
        v[field] = hex::encode_upper(bytes).into();
        let mut out = lines.clone();
        out[i] = v.to_string();
        out
    };
    // A flipped byte in the secured packet: its checksum fails where the packet completes.
    let flipped = with(envelope, "c_apdu", &|b| {
        let n = b.len();
        b[n - 3] ^= 0x01;
    });
    decrypt_fails_at(
        &s,
        &keys,
        &flipped,
        seq_of(envelope + 1),
        &["scp80", "checksum"],
    );
    // A flipped byte in the PoR (the GET RESPONSE's data).
    let por = with(envelope + 1, "r_apdu", &|b| b[20] ^= 0x80);
    decrypt_fails_at(&s, &keys, &por, seq_of(envelope + 1), &["por"]);
    // A CLA changed.
    let cla = with(envelope, "c_apdu", &|b| b[0] = 0x00);
    decrypt_fails_at(&s, &keys, &cla, seq_of(envelope + 1), &["class 00"]);
    // An exchange dropped: the next line's sequence number jumps.
    let mut dropped = lines.clone();
    dropped.remove(envelope);
    decrypt_fails_at(&s, &keys, &dropped, seq_of(envelope + 1), &["missing"]);
    // Two lines swapped.
    let mut swapped = lines.clone();
    swapped.swap(envelope, envelope + 1);
    decrypt_fails_at(&s, &keys, &swapped, seq_of(envelope), &["reordered"]);
    // Without the key log, nothing verifies but nothing fails: the listing says keys are missing.
    let out = s.smsr(&["trace", "show", path(&trace)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("SPI 1619, KIc 12, KID 12, TAR 000001")
            && text.contains("counter, padding count and checksum are ciphered"),
        "{text}"
    );
}

#[test]
fn trace_decrypt_opens_an_scp81_provisioning_to_the_profile() {
    let (s, trace, keys) = decrypt_round_trip("scp81", "89882800000000001837", "001010000001837");
    // A flipped byte in the card's TLS bytes (a SEND DATA in a FETCH answer, after the
    // handshake): the record holding it fails its GCM tag, at or after that exchange.
    let lines = trace_lines(&trace);
    let json = |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap();
    let sends: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let v = json(l);
            v["c_apdu"].as_str().is_some_and(|c| c.starts_with("8012"))
                && v["r_apdu"]
                    .as_str()
                    .is_some_and(|r| r.contains("8103") && r.len() > 400)
        })
        .map(|(i, _)| i)
        .collect();
    let i = sends[3];
    let mut v = json(&lines[i]);
    let mut r = hex::decode(v["r_apdu"].as_str().unwrap()).unwrap();
    let n = r.len();
    r[n - 10] ^= 0x01;
    v["r_apdu"] = hex::encode_upper(r).into();
    let mut tampered = lines.clone();
    tampered[i] = v.to_string();
    let path_t = s.dir.join("tls-tampered.jsonl");
    std::fs::write(&path_t, tampered.join("\n") + "\n").unwrap();
    let out = s.smsr(&["trace", "decrypt", path(&path_t), "--keylog", path(&keys)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tls: record"), "{stderr}");
    let seq = json(&lines[i])["seq"].as_u64().unwrap();
    let at: u64 = stderr
        .split('#')
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(at >= seq && at < seq + 6, "{at} vs {seq}: {stderr}");
}

/// An SCP81 provisioning whose TLS sessions open with the EIS the card was registered with
/// (its ISD-R SCP81 PSK; the identity made of the EID, ISD-R AID, KID and KVN) instead of the
/// key log's `CLIENT_RANDOM` lines. The EIS alone opens the TLS and the ES5 scripts inside;
/// the SCP03t download under them needs its session keys, which only the key log has (the
/// ISD-P keys come from key establishment, not from the EIS): with the key log stripped of its
/// TLS lines and the EIS, the profile comes out whole.
#[test]
fn trace_decrypt_opens_scp81_tls_with_the_eis_psk_and_no_client_random() {
    let s = Setup::new();
    let p = s.build(
        "89882800000000001894",
        "001010000001894",
        "11223344556677889900AABBCCDDEEFF",
    );
    let (trace, keys) = (s.dir.join("run.jsonl"), s.dir.join("run.keys"));
    let mut args = vec!["--trace", path(&trace), "--keylog", path(&keys)];
    args.extend(s.provision_args(&p));
    args.extend(["--es5", "scp81"]);
    s.ok(&args);
    let eis = s.dir.join("eis.json");
    let decrypt = |more: &[&str]| {
        let mut args = vec!["trace", "decrypt", path(&trace)];
        args.extend(more);
        let out = s.smsr(&args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    let tail = |t: &str| t[t.len().saturating_sub(3000)..].to_owned();

    // The EIS alone: every TLS session opens from the PSK, both Finished verify.
    let (ok, stdout, stderr) = decrypt(&["--eis", path(&eis)]);
    assert!(ok, "{stderr}\n{}", tail(&stdout));
    assert!(!stdout.contains("FAILED"), "{stdout}");
    let sessions = stdout.matches("tls: TLS 1.2 session").count();
    assert!(sessions >= 1, "{stdout}");
    assert_eq!(
        stdout
            .matches("master secret: derived from the PSK of EIS SCP81 key set KVN 40 KID 01")
            .count(),
        sessions,
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("[handshake (both Finished messages) ok]")
            .count(),
        sessions,
        "{stdout}"
    );
    // The SGP.02 identity: 80 01 02, 81 10 <EID>, 4F <ISD-R AID>, 82 01 <KID>, 83 01 <KVN>.
    assert!(
        stdout.contains(&format!("PSK identity 8001028110{}4F", s.eid)),
        "{stdout}"
    );
    assert!(stdout.contains("http: "), "{stdout}");

    // The key log without its CLIENT_RANDOM lines, and the EIS: the profile, whole.
    let text = std::fs::read_to_string(&keys).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("CLIENT_RANDOM ")),
        "{text}"
    );
    let stripped = s.dir.join("no-tls.keys");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("CLIENT_RANDOM "))
        .collect();
    std::fs::write(&stripped, kept.join("\n") + "\n").unwrap();
    let out_der = s.dir.join("out.der");
    let (ok, stdout, stderr) = decrypt(&[
        "--keylog",
        path(&stripped),
        "--eis",
        path(&eis),
        "--extract-profile",
        path(&out_der),
    ]);
    assert!(ok, "{stderr}\n{}", tail(&stdout));
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert_eq!(std::fs::read(&out_der).unwrap(), std::fs::read(&p).unwrap());

    // The stripped key log without the EIS: the TLS stays shut, and so does the profile.
    let (ok, stdout, stderr) = decrypt(&[
        "--keylog",
        path(&stripped),
        "--extract-profile",
        path(&s.dir.join("none.der")),
    ]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("no whole profile package"), "{stderr}");
    assert!(
        stdout.contains(
            "(no master secret in the key log, nor a PSK, for this session) not verifiable"
        ),
        "{stdout}"
    );
}

/// tshark's `-T fields` lines for `filter` in `pcap`, with `options` and the `fields`.
fn tshark_fields(
    tshark: &str,
    pcap: &Path,
    options: &[&str],
    filter: &str,
    fields: &[&str],
) -> Vec<String> {
    let mut cmd = Command::new(tshark);
    cmd.arg("-r").arg(pcap).args(options).args(["-Y", filter]);
    cmd.args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tshark {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The SCP81 channels of a provisioning are TCP connections in the export, which Wireshark
/// follows and decrypts itself with the run's key log (`tls.keylog_file`): the HTTP of GP
/// Amendment B shows, request by request.
#[test]
fn trace_export_puts_scp81_tls_in_tcp_that_wireshark_decrypts() {
    let (s, trace, keys) = decrypt_round_trip("scp81", "89882800000000001845", "001010000001845");
    // Without --decrypted and without keys: the TLS bytes are what the trace holds.
    let pcap = s.dir.join("tls.pcap");
    let export = s.ok(&["trace", "export", path(&trace), "--pcap", path(&pcap)]);
    let exchanges = export["exchanges"].as_u64().unwrap();
    let channels = export["channels"].as_u64().unwrap();
    let tcp_frames = export["tcpFrames"].as_u64().unwrap();
    assert!(channels >= 1, "{export}");
    assert_eq!(export["decrypted"], 0, "{export}");
    assert_eq!(
        export["frames"].as_u64().unwrap(),
        exchanges + tcp_frames,
        "{export}"
    );
    let Some(tshark) = common::tshark("trace_export_puts_scp81_tls_in_tcp_that_wireshark_decrypts")
    else {
        return;
    };
    let count = |options: &[&str], filter: &str| {
        u64::try_from(tshark_fields(tshark, &pcap, options, filter, &["frame.number"]).len())
            .unwrap()
    };
    // Still one GSM SIM frame per exchange; every TCP segment with good checksums, numbered
    // so that TCP analysis finds nothing to say (no lost segment, no retransmission).
    assert_eq!(count(&[], "gsm_sim"), exchanges);
    let checks = [
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
    ];
    assert_eq!(
        count(
            &checks,
            "tcp && tcp.checksum.status == 1 && ip.checksum.status == 1"
        ),
        tcp_frames
    );
    assert_eq!(count(&[], "tcp.analysis.flags"), 0);
    assert_eq!(
        count(&[], "tcp.flags.syn == 1 && tcp.flags.ack == 0"),
        channels
    );
    // Without the key log the TLS stays closed.
    assert_eq!(count(&[], "http"), 0);

    let keylog = format!("tls.keylog_file:{}", path(&keys));
    let with_keys = ["-o", keylog.as_str()];
    let requests = tshark_fields(
        tshark,
        &pcap,
        &with_keys,
        "http.request",
        &["tcp.stream", "http.request.method", "http.request.uri"],
    );
    let responses = tshark_fields(
        tshark,
        &pcap,
        &with_keys,
        "http.response",
        &["tcp.stream", "http.response.code", "http.response_for.uri"],
    );
    if std::env::var_os("SHOW_DECRYPT").is_some() {
        eprintln!("{}\n\n{}", requests.join("\n"), responses.join("\n"));
    }
    for stream in 0..channels {
        let of = |lines: &[String]| -> Vec<Vec<String>> {
            lines
                .iter()
                .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
                .filter(|f| f[0] == stream.to_string())
                .map(|f| f[1..].to_vec())
                .collect()
        };
        // The card's first POST has no query; each next one answers step n.
        let posts = of(&requests);
        assert!(posts.len() >= 2, "stream {stream}: {requests:#?}");
        for (n, post) in posts.iter().enumerate() {
            let uri = if n == 0 {
                "/smsr/es5".to_owned()
            } else {
                format!("/smsr/es5?step={n}")
            };
            assert_eq!(post, &["POST".to_owned(), uri], "stream {stream}");
        }
        // Each POST answered: a script (200) each time but the last, 204 (nothing more).
        let answers = of(&responses);
        assert_eq!(
            answers.len(),
            posts.len(),
            "stream {stream}: {responses:#?}"
        );
        for (n, answer) in answers.iter().enumerate() {
            let code = if n + 1 == answers.len() { "204" } else { "200" };
            assert_eq!(answer[0], code, "stream {stream}: {answers:#?}");
            assert!(
                answer[1].ends_with(&posts[n][1]),
                "{answer:?} {:?}",
                posts[n]
            );
        }
    }
}
