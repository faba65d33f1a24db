//! Version 3 of the state file: ISD-P data and notifications survive, version 2 migrates.

use super::*;
use crate::eid::parse_eid;
use crate::isd_p::parse_iccid;
use serde_json::{json, Value};
use smsr_proto::sgp02::codings::POL1_DELETE_WHEN_DISABLED;

const EID: &str = "89044011112233441122334411223321";

fn aid(n: u16) -> Aid {
    Aid::isd_p(n).unwrap()
}

fn aid_hex(n: u16) -> String {
    hex::encode_upper(aid(n).as_bytes())
}

/// A card with a created ISD-P (quotas), an enabled fallback profile, a disabled profile with
/// POL1, pending changes and notifications.
fn sgp02_state() -> CardState {
    let mut st = CardState::new(Some(parse_eid(EID).unwrap()));
    st.create_isd_p(aid(0x12), IsdP::created(0x70, Some(65536), Some(512)))
        .unwrap();
    let iccid = parse_iccid("8949449999999990023").unwrap();
    st.install_test_profile(&aid(0x10), iccid, true, 0).unwrap();
    st.install_test_profile(
        &aid(0x11),
        [0xAB; ICCID_LEN],
        false,
        POL1_DELETE_WHEN_DISABLED,
    )
    .unwrap();
    st.enable_profile(&aid(0x11)).unwrap();
    st
}

#[test]
fn version_3_round_trip() {
    let st = sgp02_state();
    let json = st.to_json();
    for needle in [
        "\"version\": 5",
        "\"non_volatile_quota\": 65536",
        "\"volatile_quota\": 512",
        "\"iccid\": \"8949449999999990023\"",
        // Not a digit string: stored as hex.
        "\"iccid\": \"ABABABABABABABABABAB\"",
        "\"pol1\": \"04\"",
        "\"fallback\": true",
        "\"pending_reset\": true",
        "\"next_sequence\": 3",
        "\"type\": \"01\"",
        "\"type\": \"02\"",
    ] {
        assert!(json.contains(needle), "{needle} in {}", json.as_str());
    }
    let back = CardState::from_json(&json).unwrap();
    assert_eq!(back, st);
    assert_eq!(back.notifications(), st.notifications());
    let (_, d) = back.registry().isd_p(aid(0x11).as_bytes()).unwrap();
    assert_eq!(d.pol1(), POL1_DELETE_WHEN_DISABLED);
    assert!(d.pending_reset);
    // A decoded version 3 is not a migration.
    assert!(!decode(&json, Packages::Inline).unwrap().migrated);
}

/// The state as a version-2 emulator wrote it: no `isd_p`, no `notifications`.
fn version_2_file(isd_ps: &[(u16, &str)]) -> String {
    let st = CardState::new(Some(parse_eid(EID).unwrap()));
    let mut v: Value = serde_json::from_str(&st.to_json()).unwrap();
    v["version"] = json!(2);
    v.as_object_mut().unwrap().remove("notifications");
    let registry = v["registry"].as_array_mut().unwrap();
    for (n, lcs) in isd_ps {
        registry.push(json!({
            "kind": "application", "aid": aid_hex(*n), "life_cycle": lcs,
            "privileges": "80C000", "associated_sd": "A0000005591010FFFFFFFF8900000100"
        }));
    }
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn version_2_migrates_with_its_keys() {
    let text = version_2_file(&[(0x10, "07"), (0x11, "3F"), (0x12, "1F")]);
    let decoded = decode(&text, Packages::Inline).unwrap();
    assert!(decoded.migrated);
    let st = decoded.state;
    assert_eq!(
        st.scp03().keysets()[0].keys.enc().as_bytes(),
        crate::keyset::GP_TEST_KEY
    );
    let (e, d) = st.registry().isd_p(aid(0x10).as_bytes()).unwrap();
    assert_eq!((e.life_cycle, d.scp03_i, &d.profile), (0x07, 0x70, &None));
    for n in [0x11, 0x12] {
        let (_, d) = st.registry().isd_p(aid(n).as_bytes()).unwrap();
        let p = d.profile.as_ref().unwrap();
        assert_eq!((p.iccid, p.fallback, p.pol1), (MIGRATED_ICCID, false, 0));
    }
    assert_eq!(st.registry().enabled_isd_p().unwrap().aid, aid(0x11));
    let declaration = st.notifications().oldest().unwrap();
    assert_eq!(declaration.kind, NotificationType::EuiccDeclaration);
    // Loading rewrites the file as version 3 with the same keys.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    std::fs::write(&path, &text).unwrap();
    let loaded = CardState::load(&path).unwrap();
    assert_eq!(loaded, st);
    let rewritten = std::fs::read_to_string(&path).unwrap();
    assert!(rewritten.contains("\"version\": 5"));
    assert!(rewritten.contains("\"isd_p\""));
    assert_eq!(CardState::load(&path).unwrap(), st);
}

#[test]
fn bad_version_3_content_is_an_error() {
    let good = sgp02_state().to_json().to_string();
    let edit = |from: &str, to: &str| {
        assert!(good.contains(from), "{from}");
        good.replacen(from, to, 1)
    };
    let v2_with_isd_p = good.replacen("\"version\": 5", "\"version\": 2", 1);
    let no_notifications = {
        let mut v: Value = serde_json::from_str(&good).unwrap();
        v.as_object_mut().unwrap().remove("notifications");
        v.to_string()
    };
    let cases = [
        (v2_with_isd_p, "version 2 file has no"),
        (no_notifications, "no \"notifications\""),
        (edit("\"pol1\": \"04\"", "\"pol1\": \"0404\""), "pol1\" has 2 bytes"),
        (
            edit("\"iccid\": \"8949449999999990023\"", "\"iccid\": \"89\""),
            "iccid\" has 1 bytes",
        ),
        (edit("\"scp03_i\": \"70\",\n", "\"scp03_i\": \"7\",\n"), "not hexadecimal"),
        (edit("\"type\": \"02\"", "\"type\": \"\""), "type\" has 0 bytes"),
        (edit("\"sequence\": 2", "\"sequence\": 1"), "appears twice"),
        (edit("\"fallback\": true", "\"fallbak\": true"), "unknown field"),
        (
            edit("\"life_cycle\": \"3F\"", "\"life_cycle\": \"07\""),
            "a profile goes with life cycle 1F or 3F",
        ),
        (
            edit("\"life_cycle\": \"1F\"", "\"life_cycle\": \"3F\""),
            "more than one ISD-P is enabled",
        ),
        (
            edit("\"pending_reset\": true,", "\"pending_reset\": true, \"profile\": { \"iccid\": \"8949449999999990023\", \"fallback\": true, \"pol1\": \"00\" },"),
            "duplicate field",
        ),
    ];
    for (text, expected) in cases {
        let err = CardState::from_json(&text).unwrap_err().to_string();
        assert!(err.contains(expected), "{expected}: {err}");
    }
    // ISD-P data on an entry that is not an ISD-P.
    let mut v: Value = serde_json::from_str(&good).unwrap();
    let isd_p = v["registry"][3]["isd_p"].clone();
    assert!(isd_p.is_object());
    v["registry"][1]["isd_p"] = isd_p;
    let err = CardState::from_json(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not an ISD-P but has ISD-P data"), "{err}");
    // Two fallbacks.
    let mut v: Value = serde_json::from_str(&good).unwrap();
    for e in v["registry"].as_array_mut().unwrap() {
        if let Some(p) = e.pointer_mut("/isd_p/profile") {
            p["fallback"] = json!(true);
        }
    }
    let err = CardState::from_json(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("more than one profile has the Fallback"),
        "{err}"
    );
}

#[test]
fn the_ecka_reading_round_trips_and_is_checked() {
    use crate::state::EckaReading;
    let mut st = sgp02_state();
    assert!(
        !st.to_json().contains("ecka_reading"),
        "default: not written"
    );
    st.set_ecka_reading(EckaReading::Njiwa);
    let json = st.to_json();
    assert!(
        json.contains("\"ecka_reading\": \"njiwa\""),
        "{}",
        json.as_str()
    );
    let back = CardState::from_json(&json).unwrap();
    assert_eq!(back.ecka_reading(), EckaReading::Njiwa);
    assert_eq!(back, st);
    let bad = json.replace("\"njiwa\"", "\"gp\"");
    let err = CardState::from_json(&bad).unwrap_err().to_string();
    assert!(err.contains("default, njiwa"), "{err}");
    let v4 = json.replacen("\"version\": 5", "\"version\": 4", 1);
    let err = CardState::from_json(&v4).unwrap_err().to_string();
    assert!(err.contains("ecka_reading"), "{err}");
}
