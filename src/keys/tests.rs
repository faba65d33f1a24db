use super::*;
use clap::Parser;
use smsr_proto::scp03::{ScpOptions, SecurityLevel};
use std::io::Write;

const EID: &str = "89044011112233441122334411223321";
const K40: &str = "404142434445464748494A4B4C4D4E4F";

fn eid_bytes() -> Vec<u8> {
    hex::decode(EID).unwrap()
}

#[derive(Parser, Debug)]
struct TestCli {
    #[command(flatten)]
    keys: KeyArgs,
}

/// Parses a command line without the environment's SMSR_* variables getting in the way
/// (clap reads env for unset options; the tests set every option they rely on).
fn args(line: &[&str]) -> KeyArgs {
    TestCli::try_parse_from(std::iter::once("t").chain(line.iter().copied()))
        .unwrap()
        .keys
}

fn store_file(text: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
    (dir, path)
}

fn two_keysets() -> String {
    format!(
        r#"{{"version":1,"keysets":[
        {{"name":"emulator","eid":"{EID}","kvn":48,"enc":"{K40}","mac":"{K40}","dek":"{K40}"}},
        {{"name":"emulator-kvn-31","eid":"{EID}","kvn":49,"enc":"{}","mac":"{}","dek":"{}"}},
        {{"name":"gp-test","kvn":1,"master":"{K40}","kdf":"emv"}}]}}"#,
        "01".repeat(16),
        "02".repeat(16),
        "03".repeat(16)
    )
}

fn parse_err(text: &str) -> String {
    Keystore::parse(Path::new("/x/keys.json"), text.as_bytes())
        .unwrap_err()
        .to_string()
}

use std::path::Path;

#[test]
fn keystore_parses_the_emulator_export_and_master_sets() {
    let store = Keystore::parse(Path::new("k.json"), two_keysets().as_bytes()).unwrap();
    assert_eq!(store.keysets().len(), 3);
    let gp = store.by_name("gp-test").unwrap();
    assert_eq!(gp.kvn, 1);
    assert!(matches!(
        gp.material,
        KeyMaterial::Master {
            kdf: Diversification::Emv,
            ..
        }
    ));
    let by_eid = store.by_eid(&eid_bytes(), None);
    assert_eq!(
        by_eid.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["emulator", "emulator-kvn-31"]
    );
    assert_eq!(
        store.by_eid(&eid_bytes(), Some(0x31))[0].name,
        "emulator-kvn-31"
    );
    assert!(store.by_eid(&[0; 16], None).is_empty());
    let err = store.by_name("nope").unwrap_err().to_string();
    assert!(
        err.contains("\"nope\"") && err.contains("emulator, emulator-kvn-31, gp-test"),
        "{err}"
    );
    // The emulator module's own export parses too (dek of another keyset: the first keyset's
    // Key-DEK is 40..4F).
    let keys = store
        .by_name("emulator")
        .unwrap()
        .resolve(KeySource::Given)
        .unwrap();
    let (host, kdf) = keys.host_keys().unwrap();
    assert_eq!(host.kvn(), 0x30);
    assert_eq!(host.kcvs(), [[0x50, 0x4A, 0x77]; 3]);
    assert_eq!(kdf, Diversification::None);
}

#[test]
fn keystore_validation_names_file_keyset_and_fix() {
    let cases: &[(&str, &str)] = &[
        (r#"{"version":2,"keysets":[]}"#, "this smsr reads version 1"),
        (
            r#"{"version":1,"keysets":[{"name":"a","kvn":1,"enc":"00","mac":"00","colour":"x"}]}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"version":1,"keysets":[],"extra":1}"#,
            "unknown field `extra`",
        ),
        (
            r#"{"version":1,"keysets":[{"name":"a","kvn":1,"enc":"4041","mac":"4041"}]}"#,
            "keyset \"a\": \"enc\" has 2 bytes: SCP03 keys are 16, 24 or 32 bytes",
        ),
        (
            r#"{"version":1,"keysets":[{"name":"a","kvn":1,"enc":"zz","mac":"00"}]}"#,
            "\"enc\" is not hexadecimal (character 1",
        ),
        (
            r#"{"version":1,"keysets":[{"name":"a","kvn":1,"enc":"404","mac":"00"}]}"#,
            "odd number of hex digits",
        ),
        (
            r#"{"version":1,"keysets":[{"name":"a","kvn":300,"master":"00"}]}"#,
            "is not a valid keystore document",
        ),
        (
            r#"{"version":1,"keysets":[{"name":"a","kvn":1}]}"#,
            "keyset \"a\": has no keys",
        ),
        (
            r#"{"version":1,"keysets":[{"name":"","kvn":1}]}"#,
            "keyset #0 (0-based): \"name\" is empty",
        ),
        (
            r#"{"version":1,"keysets":[{"name":"a","kvn":1,"enc":"00"}]}"#,
            "has \"enc\" but no \"mac\"",
        ),
        (
            r#"{"version":1,"keysets":[{"name":"a","kvn":1,"eid":"1234","master":"00","kdf":"none"}]}"#,
            "\"eid\" must be the card's EID as 32 decimal digits",
        ),
    ];
    for (text, want) in cases {
        let err = parse_err(text);
        assert!(err.contains(want), "{text}\n→ {err}");
        assert!(err.contains("/x/keys.json"), "{err}");
    }
    let k24 = "11".repeat(24);
    let k32 = "22".repeat(32);
    let err = parse_err(&format!(
        r#"{{"version":1,"keysets":[{{"name":"a","kvn":1,"enc":"{k24}","mac":"{k24}","dek":"{k32}"}}]}}"#
    ));
    assert!(
        err.contains("must have the same length (got 24, 24 and 32 bytes)"),
        "{err}"
    );
    let err = parse_err(&format!(
        r#"{{"version":1,"keysets":[{{"name":"a","kvn":1,"master":"{k32}","kdf":"visa2"}}]}}"#
    ));
    assert!(err.contains("32-byte master key has no 3DES form"), "{err}");
    let err = parse_err(&format!(
        r#"{{"version":1,"keysets":[{{"name":"a","kvn":1,"master":"{K40}"}}]}}"#
    ));
    assert!(err.contains("\"master\" needs \"kdf\""), "{err}");
    let err = parse_err(&format!(
        r#"{{"version":1,"keysets":[{{"name":"a","kvn":1,"master":"{K40}","kdf":"visa"}}]}}"#
    ));
    assert!(err.contains("unknown diversification 'visa'"), "{err}");
    let err = parse_err(&format!(
        r#"{{"version":1,"keysets":[{{"name":"a","kvn":1,"master":"{K40}","kdf":"none"}},{{"name":"a","kvn":2,"master":"{K40}","kdf":"none"}}]}}"#
    ));
    assert!(
        err.contains("keyset \"a\": the name is used twice"),
        "{err}"
    );
    let err = parse_err(&format!(
        r#"{{"version":1,"keysets":[{{"name":"a","kvn":1,"master":"{K40}","kdf":"emv","enc":"{K40}","mac":"{K40}"}}]}}"#
    ));
    assert!(err.contains("either its own keys or a master key"), "{err}");
}

#[test]
fn key_bytes_never_appear_in_messages_or_debug() {
    // A key value in a field of the wrong type is quoted by the JSON parser: redacted.
    let err = parse_err(&format!(
        r#"{{"version":1,"keysets":[{{"name":"a","kvn":"{K40}"}}]}}"#
    ));
    assert!(!err.contains("4041"), "{err}");
    let store = Keystore::parse(Path::new("k.json"), two_keysets().as_bytes()).unwrap();
    let debug = format!("{store:?}");
    assert!(
        !debug.contains("4041") && !debug.contains("0101"),
        "{debug}"
    );
    assert!(debug.contains("REDACTED"));
    let a = args(&["--key-enc", K40, "--key-mac", K40]);
    let debug = format!("{a:?}");
    assert!(
        !debug.contains("4041") && debug.contains("REDACTED"),
        "{debug}"
    );
    let (keys, _) = a.resolve(None).unwrap();
    assert!(!format!("{keys:?}").contains("4041"));
    let err = args(&["--key-enc", "4041zz", "--key-mac", K40])
        .resolve(None)
        .unwrap_err()
        .to_string();
    assert!(
        !err.contains("4041") && err.starts_with("--key-enc: is not hexadecimal"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn loose_permissions_warn() {
    let (_d, path) = store_file(&two_keysets(), 0o644);
    let (_, warnings) = Keystore::load(&path).unwrap();
    assert_eq!(warnings.len(), 1);
    let text = warnings[0].to_string();
    assert!(
        text.contains("0644") && text.contains("chmod 600"),
        "{text}"
    );
    let (_d, path) = store_file(&two_keysets(), 0o600);
    assert!(Keystore::load(&path).unwrap().1.is_empty());
}

#[test]
fn resolve_precedence_command_line_then_keyset_then_eid() {
    let (_d, path) = store_file(&two_keysets(), 0o600);
    let file = path.to_str().unwrap();
    // Explicit keys win over --keyset and the EID.
    let (keys, _) = args(&[
        "--key-enc",
        K40,
        "--key-mac",
        K40,
        "--keyset",
        "gp-test",
        "--keystore",
        file,
    ])
    .resolve(Some(&eid_bytes()))
    .unwrap();
    assert_eq!(keys.source(), &KeySource::CommandLine);
    assert_eq!(keys.kvn(), 0);
    assert!(!keys.has_dek());
    // --keyset wins over the EID.
    let (keys, _) = args(&["--keyset", "gp-test", "--keystore", file])
        .resolve(Some(&eid_bytes()))
        .unwrap();
    assert_eq!(keys.kvn(), 1);
    assert_eq!(keys.diversification(), Diversification::Emv);
    assert!(matches!(keys.source(), KeySource::Keyset { name, .. } if name == "gp-test"));
    // EID match: the first of two, with a warning; --kvn picks the other.
    let (keys, warnings) = args(&["--keystore", file])
        .resolve(Some(&eid_bytes()))
        .unwrap();
    assert!(matches!(keys.source(), KeySource::Eid { name, .. } if name == "emulator"));
    assert_eq!(keys.kvn(), 0x30);
    assert!(matches!(
        &warnings[..],
        [Warning::SeveralKeysetsForEid { chosen, .. }] if chosen == "emulator"
    ));
    let (keys, warnings) = args(&["--keystore", file, "--kvn", "31"])
        .resolve(Some(&eid_bytes()))
        .unwrap();
    assert!(matches!(keys.source(), KeySource::Eid { name, .. } if name == "emulator-kvn-31"));
    assert_eq!(keys.kvn(), 0x31);
    assert!(warnings.is_empty());
    // --kvn overrides the keyset's KVN.
    let (keys, _) = args(&["--keyset", "gp-test", "--keystore", file, "--kvn", "0x05"])
        .resolve(None)
        .unwrap();
    assert_eq!(keys.kvn(), 5);
    // Master key on the command line, default template none.
    let (keys, _) = args(&["--key", K40, "--kvn", "ff"]).resolve(None).unwrap();
    assert_eq!(keys.kvn(), 0xFF);
    assert_eq!(keys.diversification(), Diversification::None);
    let (keys, _) = args(&["--key", K40, "--kdf", "visa2"])
        .resolve(None)
        .unwrap();
    assert_eq!(keys.diversification(), Diversification::Visa2);
    assert_eq!(keys.card_key_length(), smsr_proto::scp03::KeyLength::Aes128);
}

#[test]
fn resolve_errors_name_the_options() {
    let (_d, path) = store_file(&two_keysets(), 0o600);
    let file = path.to_str().unwrap();
    let err = |line: &[&str], eid: Option<&[u8]>| args(line).resolve(eid).unwrap_err().to_string();
    let nothing = err(&["--keystore", file], Some(&[0x11; 16]));
    for part in [
        "--key-enc",
        "--key",
        "--kdf",
        "--keyset",
        "--keystore",
        "SMSR_KEYSTORE",
    ] {
        assert!(nothing.contains(part), "{nothing}");
    }
    assert!(nothing.contains("has no keyset with this EID"), "{nothing}");
    assert!(nothing.contains("EID 11111111"), "{nothing}");
    let no_eid = err(&["--keystore", file], None);
    assert!(no_eid.contains("EID is unknown"), "{no_eid}");
    assert!(err(&["--key-enc", K40], None).starts_with("--key-mac: missing"));
    assert!(err(&["--key-mac", K40], None).starts_with("--key-enc: missing"));
    assert!(err(&["--key", K40, "--key-enc", K40], None).contains("not both"));
    assert!(
        err(&["--key-enc", K40, "--key-mac", K40, "--kdf", "emv"], None)
            .starts_with("--kdf: applies to a master key")
    );
    assert!(err(
        &["--keyset", "emulator", "--keystore", file, "--kdf", "emv"],
        None
    )
    .starts_with("--kdf: applies to a master key"));
    let mixed = err(&["--key-enc", K40, "--key-mac", &"11".repeat(32)], None);
    assert!(mixed.contains("same length"), "{mixed}");
    assert!(err(&["--key", &"11".repeat(15)], None).contains("15 bytes"));
    assert!(err(&["--key", &"11".repeat(32), "--kdf", "emv"], None).contains("3DES"));
    let missing = err(
        &["--keyset", "x", "--keystore", "/nonexistent/k.json"],
        None,
    );
    assert!(
        missing.contains("cannot read keystore /nonexistent/k.json")
            && missing.contains("--keystore"),
        "{missing}"
    );
    assert!(err(&["--keyset", "x", "--keystore", file], None).contains("no keyset named \"x\""));
}

#[test]
fn option_parsers() {
    assert_eq!(parse_kvn("30"), Ok(0x30));
    assert_eq!(parse_kvn("0x7f"), Ok(0x7F));
    assert_eq!(parse_kvn("FF"), Ok(0xFF));
    for bad in ["", "100", "g1", "0x"] {
        assert!(parse_kvn(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_level("auto"), Ok(LevelChoice::Auto));
    assert_eq!(
        parse_level("33"),
        Ok(LevelChoice::Exactly(SecurityLevel::CDecREncCMacRMac))
    );
    assert_eq!(
        parse_level("CMAC-CDEC"),
        Ok(LevelChoice::Exactly(SecurityLevel::CDecCMac))
    );
    assert_eq!(
        parse_level("0x11"),
        Ok(LevelChoice::Exactly(SecurityLevel::CMacRMac))
    );
    for bad in ["00", "31", "renc", ""] {
        assert!(parse_level(bad).is_err(), "{bad}");
    }
    let a = args(&[]);
    assert_eq!(a.level, LevelChoice::Auto);
    assert_eq!(a.mode(), smsr_proto::scp03::ScpMode::S8);
    assert_eq!(args(&["--s16"]).mode(), smsr_proto::scp03::ScpMode::S16);
    assert!(TestCli::try_parse_from(["t", "--kvn", "zz"]).is_err());
    assert!(TestCli::try_parse_from(["t", "--kdf", "visa"]).is_err());
}

#[test]
fn auto_level_is_the_highest_the_card_offers() {
    let opts = |i| ScpOptions::from_i(i).unwrap();
    assert_eq!(
        LevelChoice::Auto.resolve(opts(0x70)),
        SecurityLevel::CDecREncCMacRMac
    );
    assert_eq!(
        LevelChoice::Auto.resolve(opts(0x30)),
        SecurityLevel::CDecCMacRMac
    );
    assert_eq!(
        LevelChoice::Auto.resolve(opts(0x10)),
        SecurityLevel::CDecCMac
    );
    assert_eq!(
        LevelChoice::Exactly(SecurityLevel::CMac).resolve(opts(0x70)),
        SecurityLevel::CMac
    );
}

#[test]
fn card_keys_apply_the_template_to_the_kdd() {
    let master = smsr_proto::scp03::AesKey::from_bytes(&hex::decode(K40).unwrap()).unwrap();
    let keys = ResolvedKeys::from_master(0x01, master, Diversification::Emv).unwrap();
    let kdd: [u8; 10] = hex::decode("00010203040506070809")
        .unwrap()
        .try_into()
        .unwrap();
    let card = keys.card_keys(&kdd).unwrap();
    let (host, kdf) = keys.host_keys().unwrap();
    assert_eq!(kdf.try_apply(&host, &kdd).unwrap().kcvs(), card.kcvs());
    assert_ne!(card.kcvs(), host.kcvs());
    assert!(ResolvedKeys::from_master(
        0x01,
        smsr_proto::scp03::AesKey::from_bytes(&[1; 32]).unwrap(),
        Diversification::Visa2
    )
    .is_err());
}
