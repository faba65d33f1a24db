//! `smsr trace decrypt`: finds each SCP03 session in a trace, derives its session keys from the
//! static keys and the recorded challenges (or takes them from a key log), checks every
//! cryptogram, C-MAC and R-MAC, and prints the plaintext ([`smsr_proto::scp03::Observer`]);
//! then opens the layers inside ([`crate::trace::layers`]): SMS-PP, SCP80, scripts, PoRs,
//! SCP81, SCP03t, the profile package.
//!
//! A command recorded as `"REDACTED"` (PUT KEY, key establishment) cannot be verified, and as
//! its C-MAC starts the next command's MAC chain, the rest of that session cannot be either;
//! record with `--trace-secrets` to decrypt such sessions whole.

use super::{sw_hex, CliError};
use crate::cli::{DecryptArgs, GlobalArgs};
use crate::hexfmt;
use crate::keylog::{KeyMaterial, Scp80Keys, TlsPsk};
use crate::names::describe_command;
use crate::trace::layers::{self, Keys, Layer};
use crate::trace::{read_trace, Record, Recorded};
use serde::Serialize;
use smsr_proto::scp03::{Diversification, ExchangeKind, ObservedExchange, Observer, StaticKeys};
use std::path::Path;
use zeroize::Zeroizing;

/// One exchange of the output (`--json`), as the issue of the trace format fixes it, with
/// extras after the fixed fields.
#[derive(Debug, Serialize)]
pub struct Decrypted {
    pub seq: u64,
    pub c_apdu_plain: String,
    pub r_data_plain: String,
    pub sw: String,
    pub c_mac_ok: Option<bool>,
    pub r_mac_ok: Option<bool>,
    pub kind: &'static str,
    pub cryptogram_ok: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The layers inside (SMS-PP, SCP80, scripts, PoR, TLS, SCP03t), each with its plain
    /// content and checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Layer>,
}

fn kind_name(kind: ExchangeKind) -> &'static str {
    match kind {
        ExchangeKind::Clear => "clear",
        ExchangeKind::InitializeUpdate => "initialize_update",
        ExchangeKind::ExternalAuthenticate => "external_authenticate",
        ExchangeKind::Secured => "secured",
        ExchangeKind::GetResponse { .. } => "get_response",
        ExchangeKind::WrongLe => "wrong_le",
        ExchangeKind::Unparsable => "unparsable",
    }
}

fn key(name: &str, text: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let bytes =
        Zeroizing::new(hexfmt::parse(text).map_err(|e| CliError::Input(format!("{name}: {e}")))?);
    if ![16, 24, 32].contains(&bytes.len()) {
        return Err(CliError::Input(format!(
            "{name} has {} bytes: an AES key has 16, 24 or 32",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The static key set from the options; `None` when none is given.
fn static_keys(args: &DecryptArgs) -> Result<Option<(StaticKeys, Diversification)>, CliError> {
    if args.key.is_none() && args.key_enc.is_none() && args.key_mac.is_none() {
        if args.kdf.is_some() {
            return Err(CliError::Input(
                "--kdf applies to a master key: give --key with --kdf".into(),
            ));
        }
        return Ok(None);
    }
    static_keys_given(args).map(Some)
}

fn static_keys_given(args: &DecryptArgs) -> Result<(StaticKeys, Diversification), CliError> {
    let bad = |e: smsr_proto::scp03::ScpError| CliError::Input(e.to_string());
    let kvn = args.kvn.unwrap_or(0);
    let kdf: Diversification = args
        .kdf
        .as_deref()
        .unwrap_or("none")
        .parse()
        .map_err(|e: smsr_proto::scp03::ScpError| CliError::Input(format!("--kdf: {e}")))?;
    match (&args.key, &args.key_enc, &args.key_mac) {
        (Some(master), None, None) => {
            let m = key("--key", master)?;
            Ok((StaticKeys::single(kvn, &m).map_err(bad)?, kdf))
        }
        (None, Some(enc), Some(mac)) => {
            let enc = key("--key-enc", enc)?;
            let mac = key("--key-mac", mac)?;
            // The DEK only protects key components, which the observer does not decrypt:
            // without --key-dek the MAC key stands in.
            let dek = match &args.key_dek {
                Some(d) => key("--key-dek", d)?,
                None => mac.clone(),
            };
            if kdf != Diversification::None {
                return Err(CliError::Input(
                    "--kdf applies to a master key: give --key with --kdf, or the card's own \
                     keys with --key-enc/--key-mac"
                        .into(),
                ));
            }
            Ok((StaticKeys::new(kvn, &enc, &mac, &dek).map_err(bad)?, kdf))
        }
        _ => Err(CliError::Input(
            "give the session's static keys: --key-enc HEX --key-mac HEX [--key-dek HEX], or a \
             master key --key HEX with --kdf emv|visa2|kdf3"
                .into(),
        )),
    }
}

/// Decodes the exchanges of a trace.
pub fn decrypt(records: &[Record], observer: &Observer) -> Vec<Decrypted> {
    views(records, observer.observe(&layers::exchange_pairs(records)))
}

/// The exchanges of a trace with the SCP03 observer's reading of each.
fn views(records: &[Record], observed: Vec<ObservedExchange>) -> Vec<Decrypted> {
    let exchanges: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(x) => Some(x),
            Record::Event(_) => None,
        })
        .collect();
    let mut after_redacted = false;
    observed
        .into_iter()
        .zip(&exchanges)
        .enumerate()
        .map(|(i, (o, x)): (usize, (ObservedExchange, _))| {
            let redacted = x.c_apdu == Recorded::Redacted;
            let mut note = o.note.clone();
            if redacted {
                after_redacted = true;
                note = Some(
                    "command recorded as REDACTED (carries keys): not verifiable; record with \
                     --trace-secrets"
                        .into(),
                );
            } else if after_redacted && o.c_mac_ok == Some(false) {
                note = Some(
                    "the MAC chain runs through a REDACTED command: this MAC cannot be checked"
                        .into(),
                );
            }
            if matches!(o.kind, ExchangeKind::InitializeUpdate) {
                after_redacted = false;
            }
            Decrypted {
                seq: x.seq.unwrap_or(u64::try_from(i).unwrap_or(u64::MAX)),
                c_apdu_plain: if redacted {
                    crate::trace::REDACTED.to_owned()
                } else {
                    hexfmt::upper(&o.c_apdu_plain)
                },
                r_data_plain: hexfmt::upper(&o.r_data_plain),
                sw: o.sw.map(sw_hex).unwrap_or_default(),
                c_mac_ok: o.c_mac_ok,
                r_mac_ok: o.r_mac_ok,
                kind: kind_name(o.kind),
                cryptogram_ok: o.cryptogram_ok,
                note,
                layers: Vec::new(),
            }
        })
        .collect()
}

fn verdict(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "ok",
        Some(false) => "FAILED",
        None => "-",
    }
}

/// The keys a trace reader has: the key log (global `--keylog`), an EIS's ISD-R keys (SCP80,
/// SCP03, and SCP81's PSKs with the identity the card presents), static SCP03 keys.
pub fn trace_keys(
    g: &GlobalArgs,
    eis: Option<&Path>,
    scp03: Option<(StaticKeys, Diversification)>,
) -> Result<Keys, CliError> {
    let mut keys = Keys::default();
    if let Some(path) = &g.keylog {
        keys.material = KeyMaterial::read(path).map_err(CliError::Input)?;
    }
    if let Some(path) = eis {
        let text = smsr_proto::bounded::read_to_string(path, 1 << 20, "EIS")
            .map_err(|e| CliError::Input(format!("cannot read the EIS {}: {e}", path.display())))?;
        let eis = crate::sm_sr::eis::Eis::from_json(&text)
            .map_err(|e| CliError::Input(format!("EIS {}: {e}", path.display())))?;
        let bad = |e: String| CliError::Input(format!("EIS {}: {e}", path.display()));
        for k in &eis.isd_r.scp80 {
            let keyset = k.keyset().map_err(bad)?;
            keys.material.scp80.push(Scp80Keys { tar: None, keyset });
        }
        for k in &eis.isd_r.scp03 {
            keys.scp03.push(k.static_keys().map_err(bad)?);
        }
        for k in &eis.isd_r.scp81 {
            let psk = k.psk.bytes().map_err(|e| {
                CliError::Input(format!("EIS SCP81 key set {:02X}: PSK: {e}", k.kvn))
            })?;
            keys.material.psks.push(TlsPsk {
                identity: Some(eis.scp81_identity(k)),
                psk,
                source: format!("EIS SCP81 key set KVN {:02X} KID {:02X}", k.kvn, k.kid),
            });
        }
    }
    if let Some((set, kdf)) = scp03 {
        keys.scp03.push(set);
        keys.diversification = kdf;
    }
    Ok(keys)
}

pub fn run(g: &GlobalArgs, args: &DecryptArgs) -> Result<(), CliError> {
    let scp03 = static_keys(args)?;
    let mut keys = trace_keys(g, args.eis.as_deref(), scp03)?;
    keys.show_secrets = args.show_secrets;
    if keys.scp03.is_empty()
        && keys.material.scp03.is_empty()
        && keys.material.scp03t.is_empty()
        && keys.material.scp80.is_empty()
        && keys.material.tls.is_empty()
        && keys.material.psks.is_empty()
    {
        return Err(CliError::Input(
            "no keys: give the run's key log (--keylog FILE, written by the command that made \
             the trace with --keylog), an EIS (--eis EIS.json), or SCP03 keys (--key-enc HEX \
             --key-mac HEX, or --key HEX --kdf ...)"
                .into(),
        ));
    }
    let records = read_trace(&args.file)?;
    let decoded = layers::decode(&records, &keys);
    let mut out = views(&records, decoded.observed.clone());
    for (d, view) in out.iter_mut().zip(&decoded.exchanges) {
        d.layers = view
            .layers
            .iter()
            .filter(|l| l.layer != "scp03")
            .cloned()
            .collect();
    }
    if g.json {
        for d in &out {
            match serde_json::to_string(d) {
                Ok(line) => println!("{line}"),
                Err(e) => return Err(CliError::Input(format!("cannot write JSON: {e}"))),
            }
        }
    } else {
        for d in &out {
            print!("{}", render(d));
        }
        let (verified, failed, unverifiable) = decoded.tally();
        println!(
            "summary: {} exchanges; {verified} checks verified, {failed} failed, {unverifiable} \
             not verifiable with these keys; {} profile package(s) reassembled",
            out.len(),
            decoded.packages.len()
        );
    }
    if let Some(path) = &args.extract_profile {
        let Some(package) = decoded.packages.last() else {
            return Err(CliError::Failed(
                "no whole profile package in this trace: no SCP03t download was opened to its \
                 end (is the key log the one of this run? does the trace hold the download?)"
                    .into(),
            ));
        };
        crate::secret_file::write_private(path, package)
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))?;
        let note = if decoded.packages.len() > 1 {
            format!(
                " (the last of {} downloads in the trace)",
                decoded.packages.len()
            )
        } else {
            String::new()
        };
        eprintln!(
            "profile package: {} bytes written to {}{note}",
            package.len(),
            path.display()
        );
    }
    let failures = decoded.failures();
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .take(5)
            .map(|(at, what)| format!("{at} {what}"))
            .collect();
        return Err(CliError::Failed(format!(
            "{} check(s) failed: {}{} (wrong keys, a tampered or incomplete trace, or a \
             REDACTED command in a MAC chain)",
            failures.len(),
            list.join("; "),
            if failures.len() > 5 { "; ..." } else { "" }
        )));
    }
    Ok(())
}

/// One exchange of the listing.
fn render(d: &Decrypted) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let name = hexfmt::parse(&d.c_apdu_plain)
        .ok()
        .map_or_else(|| "(redacted)".to_owned(), |b| describe_command(&b));
    let _ = writeln!(s, "#{} {} [{}]", d.seq, name, d.kind);
    let _ = writeln!(s, "  > {}", d.c_apdu_plain);
    if !d.r_data_plain.is_empty() {
        let _ = writeln!(s, "  < {}", d.r_data_plain);
    }
    let mut checks = format!(
        "  < {}  C-MAC {}  R-MAC {}",
        d.sw,
        verdict(d.c_mac_ok),
        verdict(d.r_mac_ok)
    );
    if d.cryptogram_ok.is_some() {
        let _ = write!(checks, "  cryptogram {}", verdict(d.cryptogram_ok));
    }
    let _ = writeln!(s, "{checks}");
    if let Some(n) = &d.note {
        let _ = writeln!(s, "  note: {n}");
    }
    s.push_str(&crate::trace::layers::render_layers(&d.layers, "  "));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::parse_trace;
    use std::path::{Path, PathBuf};

    /// `scp03.json` from the shared vectors (`SMSR_SHARED`, default `../shared`).
    fn vectors() -> Option<serde_json::Value> {
        let shared = std::env::var_os("SMSR_SHARED").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")),
            PathBuf::from,
        );
        let path = shared.join("vectors/scp03.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_json::from_str(&text).unwrap()),
            Err(e) => {
                assert!(
                    std::env::var("SMSR_REQUIRE_TESTDATA").as_deref() != Ok("1"),
                    "{} required but unreadable: {e}",
                    path.display()
                );
                eprintln!("skipped: no ../shared/vectors ({})", path.display());
                None
            }
        }
    }

    /// A trace of foreign lines (only `c_apdu` and `r_apdu`) from the Samsung OpenSCP session.
    fn samsung_trace(session: &serde_json::Value) -> Vec<Record> {
        let p = &session["published_apdus"];
        let mut text = String::new();
        for step in [
            "INITIALIZE_UPDATE",
            "EXTERNAL_AUTHENTICATE",
            "LIST_PACKAGES",
            "LIST_APPLETS",
            "LIST_ISSUER_DOMAIN",
        ] {
            let c = p[format!("{step}_CAPDU_EXPECTED")].as_str().unwrap();
            let r = p[format!("{step}_RAPDU")].as_str().unwrap();
            text.push_str(&format!("{{\"c_apdu\":\"{c}\",\"r_apdu\":\"{r}\"}}\n"));
        }
        parse_trace(text.as_bytes(), Path::new("samsung")).unwrap()
    }

    fn args(session: &serde_json::Value) -> DecryptArgs {
        let s = |k: &str| session[k].as_str().map(str::to_owned);
        DecryptArgs {
            file: PathBuf::new(),
            key_enc: s("key_enc"),
            key_mac: s("key_mac"),
            key_dek: s("key_dek"),
            key: None,
            kdf: None,
            kvn: Some(0x30),
            eis: None,
            extract_profile: None,
            show_secrets: false,
        }
    }

    #[test]
    fn samsung_openscp_session_decrypts_to_its_published_plaintext() {
        let Some(v) = vectors() else { return };
        let set = &v["scp03_sessions_samsung"];
        let session = &set["sessions"][0];
        let (keys, kdf) = static_keys(&args(session)).unwrap().unwrap();
        let out = decrypt(
            &samsung_trace(session),
            &Observer::new(vec![keys]).with_diversification(kdf),
        );
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].kind, "initialize_update");
        assert_eq!(out[0].cryptogram_ok, Some(true));
        assert_eq!(out[1].kind, "external_authenticate");
        assert_eq!(out[1].c_mac_ok, Some(true));
        for (i, name) in ["LIST_PACKAGES", "LIST_APPLETS", "LIST_ISSUER_DOMAIN"]
            .iter()
            .enumerate()
        {
            let d = &out[i + 2];
            assert_eq!(d.seq, u64::try_from(i + 2).unwrap());
            assert_eq!(d.kind, "secured");
            assert_eq!(
                d.c_apdu_plain,
                set["plain_commands"][name].as_str().unwrap()
            );
            assert_eq!(
                d.r_data_plain,
                set["plain_responses"][name].as_str().unwrap()
            );
            assert_eq!((d.c_mac_ok, d.r_mac_ok), (Some(true), Some(true)), "{name}");
            assert_eq!(d.sw, "9000");
        }
        let line = serde_json::to_string(&out[2]).unwrap();
        assert!(
            line.starts_with("{\"seq\":2,\"c_apdu_plain\":\"80F22000024F00\",\"r_data_plain\":"),
            "{line}"
        );
    }

    #[test]
    fn wrong_keys_and_tampering_are_reported() {
        let Some(v) = vectors() else { return };
        let session = &v["scp03_sessions_samsung"]["sessions"][0];
        let mut wrong = args(session);
        wrong.key_mac = Some("00".repeat(16));
        let (keys, _) = static_keys(&wrong).unwrap().unwrap();
        let out = decrypt(&samsung_trace(session), &Observer::new(vec![keys]));
        assert_eq!(out[0].cryptogram_ok, Some(false));
        assert!(out[2..].iter().all(|d| d.c_mac_ok != Some(true)));

        let mut records = samsung_trace(session);
        if let Record::Exchange(x) = &mut records[3] {
            let n = x.r_apdu.len();
            x.r_apdu[n - 3] ^= 0x01; // last byte of the R-MAC
        }
        let (keys, _) = static_keys(&args(session)).unwrap().unwrap();
        let out = decrypt(&records, &Observer::new(vec![keys]));
        assert_eq!(out[2].r_mac_ok, Some(true));
        assert_eq!(out[3].r_mac_ok, Some(false));
    }

    #[test]
    fn a_redacted_command_is_named_not_verified() {
        let Some(v) = vectors() else { return };
        let session = &v["scp03_sessions_samsung"]["sessions"][0];
        let mut records = samsung_trace(session);
        if let Record::Exchange(x) = &mut records[2] {
            x.c_apdu = Recorded::Redacted;
        }
        let (keys, _) = static_keys(&args(session)).unwrap().unwrap();
        let out = decrypt(&records, &Observer::new(vec![keys]));
        assert_eq!(out[2].c_apdu_plain, "REDACTED");
        assert!(out[2].note.as_deref().unwrap().contains("--trace-secrets"));
        assert_ne!(out[3].c_mac_ok, Some(true));
    }

    #[test]
    fn key_options_are_checked() {
        let mut a = DecryptArgs {
            file: PathBuf::new(),
            key_enc: Some("00".repeat(16)),
            key_mac: None,
            key_dek: None,
            key: None,
            kdf: None,
            kvn: None,
            eis: None,
            extract_profile: None,
            show_secrets: false,
        };
        assert!(static_keys(&a)
            .unwrap_err()
            .to_string()
            .contains("--key-mac"));
        a.key_mac = Some("00".repeat(15));
        assert!(static_keys(&a)
            .unwrap_err()
            .to_string()
            .contains("15 bytes"));
        a.key_mac = Some("00".repeat(16));
        a.kdf = Some("emv".into());
        assert!(static_keys(&a)
            .unwrap_err()
            .to_string()
            .contains("master key"));
        a.kdf = Some("bogus".into());
        assert!(static_keys(&a).is_err());
    }
}
