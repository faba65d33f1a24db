//! The `smsr` command line against the bundled emulator linked in (`--transport emulator`): no
//! pcscd needed, runs on every `cargo test`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EID: &str = "89001999000010000000000000000022";

fn card(dir: &Path) -> PathBuf {
    let state = dir.join("card.json");
    let mut emulator = euicc_emulator::Emulator::create(
        &state,
        euicc_emulator::CardState::new(Some(hex_eid())),
        false,
    )
    .unwrap();
    emulator.power_off();
    state
}

fn hex_eid() -> [u8; 16] {
    hex::decode(EID).unwrap().try_into().unwrap()
}

fn smsr(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(["--transport", "emulator", "--emulator-state"])
        .arg(state)
        .args(args)
        .env_remove("SMSR_TRACE")
        .env_remove("SMSR_READER")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_reads_the_eid() {
    let dir = tempfile::tempdir().unwrap();
    let state = card(dir.path());
    let out = smsr(&state, &["info", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["eid"], EID);
    assert_eq!(v["atr"], hex::encode_upper(euicc_emulator::ATR));
    assert_eq!(v["applications"][0]["name"], "ISD-R");
    assert_eq!(v["applications"][0]["selectable"], true);
    assert_eq!(v["applications"][1]["selectable"], true);
    let text = stdout(&smsr(&state, &["info"]));
    assert!(text.contains(EID), "{text}");
}

#[test]
fn apdu_prints_responses_and_fails_on_error_status() {
    let dir = tempfile::tempdir().unwrap();
    let state = card(dir.path());
    let out = smsr(
        &state,
        &[
            "apdu",
            "--json",
            "00A4040010A0000005591010FFFFFFFF8900000200",
            "80 CA 00 5A 00",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["exchanges"][1]["data"], format!("5A10{EID}"));
    assert_eq!(v["exchanges"][1]["sw"], "9000");
    assert_eq!(v["exchanges"][1]["command"], "GET DATA 5A (EID)");

    let out = smsr(&state, &["apdu", "80FE0000", "80CA005A00"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("6D00 instruction not supported"), "{text}");
    assert!(
        !text.contains("80CA005A00"),
        "stops after the error: {text}"
    );
    assert!(stderr(&out).contains("--keep-going"));
    let out = smsr(&state, &["apdu", "--keep-going", "80FE0000", "80CA005A00"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("80CA005A00"));
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let state = card(dir.path());
    let out = smsr(&state, &["apdu", "00A4040Q"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("not a hex digit"), "{}", stderr(&out));

    let missing = dir.path().join("none.json");
    let out = smsr(&missing, &["info"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("euicc-emulator init"),
        "{}",
        stderr(&out)
    );

    // A damaged state file is bad input (5), and it is neither replaced nor given up: the
    // message says how to recover.
    let damaged = dir.path().join("damaged.json");
    std::fs::write(&damaged, b"{\"version\":5,\"eid\":").unwrap();
    let out = smsr(&damaged, &["info"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("restore it from your own copy"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&damaged).unwrap(), b"{\"version\":5,\"eid\":");

    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(["--transport", "emulator", "info"])
        .env_remove("SMSR_EMULATOR_STATE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("--emulator-state"),
        "{}",
        stderr(&out)
    );

    let bad_trace = dir.path().join("bad.jsonl");
    std::fs::write(&bad_trace, "{\"c_apdu\":\"00A40400\"}\n").unwrap();
    let out = smsr(&state, &["trace", "show", bad_trace.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));

    let out = smsr(&state, &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn trace_is_recorded_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let state = card(dir.path());
    let trace = dir.path().join("t.jsonl");
    let out = smsr(&state, &["--trace", trace.to_str().unwrap(), "info"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&trace).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "connect");
    assert_eq!(first["atr"], hex::encode_upper(euicc_emulator::ATR));
    assert!(text.contains(&format!("5A10{EID}9000")), "{text}");

    let out = smsr(&state, &["trace", "show", trace.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("SELECT ISD-R (A0000005591010FFFFFFFF8900000100)"),
        "{shown}"
    );
    assert!(shown.contains("GET DATA 5A (EID)"), "{shown}");
    assert!(shown.contains("9000 success"), "{shown}");

    let out = smsr(
        &state,
        &["trace", "show", "--json", trace.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["r_data"] == format!("5A10{EID}")));
}

#[test]
fn help_teaches_exit_codes_and_examples() {
    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .arg("--help")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("Exit codes:") && text.contains("smsr readers"),
        "{text}"
    );
}

/// `smsr … | head`: a closed stdout ends the command quietly with status 141 (as a program
/// killed by SIGPIPE), not a panic.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let mut f = std::fs::File::create(&trace).unwrap();
    for _ in 0..20_000 {
        writeln!(
            f,
            r#"{{"c_apdu":"00A4040010A0000005591010FFFFFFFF8900000200","r_apdu":"9000"}}"#
        )
        .unwrap();
    }
    drop(f);
    let keys = ["--key-enc", &"40".repeat(16), "--key-mac", &"41".repeat(16)];
    let printing: [(&[&str], &[&str]); 3] = [
        (&["trace", "show"], &[]),
        (&["trace", "decrypt"], &keys),
        (&["completions"], &["bash"]),
    ];
    for ((command, more), json) in printing.iter().flat_map(|c| [(c, false), (c, true)]) {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_smsr"));
        cmd.args(*command);
        if command[0] == "trace" {
            cmd.arg(&trace);
        }
        cmd.args(*more);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // The reader is dropped: stdout is closed with most of the listing unwritten.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(141),
            "{command:?} json {json}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A TLV nested 20,000 deep in a response: listed and decrypted without overflowing the stack,
/// with a note where the listing stops expanding it; a 100 MB line: a clear error, at once.
#[test]
fn deep_tlvs_and_huge_lines_in_traces_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("deep.jsonl");
    let be = |n: usize| u64::try_from(n).unwrap().to_be_bytes();
    let mut tlv = vec![0xE1, 0x00];
    for _ in 0..20_000 {
        let len = tlv.len();
        let mut outer = vec![0xE1];
        match len {
            0..=0x7F => outer.push(u8::try_from(len).unwrap()),
            0x80..=0xFF => outer.extend([0x81, u8::try_from(len).unwrap()]),
            0x100..=0xFFFF => outer.extend([0x82, be(len)[6], be(len)[7]]),
            _ => outer.extend([0x83, be(len)[5], be(len)[6], be(len)[7]]),
        }
        outer.extend(tlv);
        tlv = outer;
    }
    let line = format!(
        "{{\"c_apdu\":\"80CA00E100\",\"r_apdu\":\"{}9000\"}}\n",
        hex::encode_upper(&tlv)
    );
    std::fs::write(&trace, &line).unwrap();
    let keys = ["--key-enc", &"40".repeat(16), "--key-mac", &"41".repeat(16)];
    for (args, json) in [
        (vec!["trace", "show"], false),
        (vec!["trace", "show"], true),
        (vec!["trace", "decrypt"], false),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsr"));
        cmd.args(&args).arg(&trace);
        if args[1] == "decrypt" {
            cmd.args(keys);
        }
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        if args[1] == "show" && !json {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("nested deeper than"),
                "{args:?}"
            );
        }
    }
    // 100 MB on one line: refused at the line limit without reading the rest.
    let huge = dir.path().join("huge.jsonl");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    for args in [["trace", "show"], ["trace", "decrypt"]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsr"));
        cmd.args(args).arg(&huge);
        if args[1] == "decrypt" {
            cmd.args(keys);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {err}");
        assert!(
            err.contains("line 1") && err.contains("longer than"),
            "{err}"
        );
    }
}

/// Every file a command reads is bounded by the largest it can legitimately be: /dev/zero as
/// an EIS, a package, a trace, a card state, a stock package or a PKI is refused at once (exit
/// 5) instead of growing the process.
#[cfg(unix)]
#[test]
fn endless_files_are_refused_at_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let db = db.to_str().unwrap();
    let zero = "/dev/zero";
    let cases: Vec<Vec<&str>> = vec![
        vec!["--db", db, "eis", "register", zero],
        vec!["profile", "inspect", zero],
        vec!["trace", "show", zero],
        vec!["--transport", "emulator", "--emulator-state", zero, "info"],
        vec!["--db", db, "stock", "add", zero],
    ];
    for args in cases {
        let t = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {err}");
        assert!(
            err.contains("larger than") || err.contains("longer than"),
            "{args:?}: {err}"
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
}

/// Shell completions and the manual page come from the command line's own definition.
#[test]
fn completions_and_manual_page() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        assert!(
            script.contains("provision") && script.contains("serve"),
            "{shell}"
        );
    }
    let man = run(&["manpage"]);
    assert!(
        man.contains(".TH smsr 1") && man.contains("provision"),
        "{man}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn json_errors_are_one_object_with_the_exit_code_and_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .arg("--db")
        .arg(&db)
        .args(["--json", "eis", "show", "89001999000010000000000000000022"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["exitCode"], 1);
    assert_eq!(v["error"]["kind"], "failure");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("smsr eis register"),
        "{v}"
    );
    assert!(v["error"]["fix"].as_str().is_some_and(|f| !f.is_empty()));
    // Bad input: exit 5, kind "input".
    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .arg("--db")
        .arg(&db)
        .args(["--json", "eis", "register"])
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["error"]["exitCode"].as_u64(), v["error"]["kind"].as_str()),
        (Some(5), Some("input"))
    );
    // Without --json: the message on stderr, nothing on stdout.
    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .arg("--db")
        .arg(&db)
        .args(["eis", "show", "89001999000010000000000000000022"])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("smsr: "));
}
