//! `smsr doctor`: checks, each with a verdict and, when it is not fine, a fix.

use super::{info, open_card, print_json, CliError};
use crate::cli::{GlobalArgs, TransportKind};
use crate::hexfmt;
use crate::transport::pcsc::{check_service, list_readers};
use crate::transport::readers::{select_reader, ReaderInfo};
use serde::Serialize;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A check's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    Skip,
}

/// One check.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn bad(
        name: &'static str,
        verdict: Verdict,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            name,
            verdict,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn skip(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Skip,
            detail: detail.into(),
            fix: None,
        }
    }
}

#[derive(Serialize)]
struct Output<'a> {
    ok: bool,
    checks: &'a [Check],
    #[serde(skip_serializing_if = "<[Component]>::is_empty")]
    components: &'a [Component],
}

/// The vpcd driver as configured for pcscd: its reader.conf file and TCP port.
#[derive(Debug, PartialEq, Eq)]
pub struct VpcdConfig {
    pub file: PathBuf,
    pub port: u16,
}

/// Finds vpcd entries in pcscd's reader configuration (`/etc/reader.conf.d/*`): a `LIBPATH`
/// naming the vpcd driver and its `CHANNELID`, the TCP port (vsmartcard's `vpcd` package).
pub fn find_vpcd_config(dir: &Path) -> Vec<VpcdConfig> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        found.extend(parse_reader_conf(&text).into_iter().map(|port| VpcdConfig {
            file: entry.path(),
            port,
        }));
    }
    found.sort_by_key(|c| c.port);
    found
}

/// The CHANNELIDs of the vpcd entries in a reader.conf text.
fn parse_reader_conf(text: &str) -> Vec<u16> {
    let mut ports = Vec::new();
    let mut libpath_vpcd = false;
    let mut channel = None;
    let mut flush = |libpath_vpcd: &mut bool, channel: &mut Option<u16>| {
        if *libpath_vpcd {
            if let Some(c) = channel.take() {
                ports.push(c);
            }
        }
        *libpath_vpcd = false;
        *channel = None;
    };
    for line in text.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("FRIENDLYNAME"), _) => flush(&mut libpath_vpcd, &mut channel),
            (Some("LIBPATH"), Some(path)) => libpath_vpcd = path.contains("vpcd"),
            (Some("CHANNELID"), Some(id)) => {
                let id = id.trim_start_matches("0x").trim_start_matches("0X");
                channel = u16::from_str_radix(id, 16).ok();
            }
            _ => {}
        }
    }
    flush(&mut libpath_vpcd, &mut channel);
    ports
}

/// Whether something listens on 127.0.0.1:`port`.
fn port_listening(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Files with secrets this tool reads: they must not be readable by others.
fn secret_files() -> Vec<(&'static str, PathBuf)> {
    let mut files = Vec::new();
    if let Some(p) = std::env::var_os("SMSR_KEYSTORE") {
        files.push(("keystore (SMSR_KEYSTORE)", PathBuf::from(p)));
    }
    if let Some(p) = std::env::var_os("SMSR_DB") {
        files.push(("SM-SR registry (SMSR_DB)", PathBuf::from(p)));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(c) = config {
        files.push(("keystore", c.join("smsr/keys.json")));
    }
    files
}

fn file_check(what: &'static str, path: &Path) -> Option<Check> {
    let meta = std::fs::metadata(path).ok()?;
    let name = "file permissions";
    if std::fs::File::open(path).is_err() {
        return Some(Check::bad(
            name,
            Verdict::Fail,
            format!("{what} {} is not readable", path.display()),
            format!("chmod u+r {}", path.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Some(Check::bad(
                name,
                Verdict::Warn,
                format!(
                    "{what} {} is readable by others (mode {:o})",
                    path.display(),
                    mode & 0o777
                ),
                format!("chmod 600 {}", path.display()),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Some(Check::ok(
        name,
        format!("{what} {} is private", path.display()),
    ))
}

/// Runs the checks.
pub fn checks(g: &GlobalArgs) -> Vec<Check> {
    let mut out = Vec::new();
    if g.transport == TransportKind::Emulator {
        out.push(Check::skip(
            "pcscd",
            "--transport emulator does not use pcscd",
        ));
        card_checks(g, &mut out);
        registry_check(g, &mut out);
        files_checks(&mut out);
        return out;
    }
    match check_service() {
        Ok(()) => out.push(Check::ok("pcscd", "the PC/SC service answers")),
        Err(e) => out.push(Check::bad(
            "pcscd",
            Verdict::Fail,
            e.to_string(),
            "sudo systemctl start pcscd.socket, or scripts/virtual-reader.sh start",
        )),
    }
    let readers: Vec<ReaderInfo> = match list_readers() {
        Ok(r) if r.is_empty() => {
            out.push(Check::bad(
                "readers",
                Verdict::Fail,
                "pcscd lists no reader",
                "plug a reader in, or install vsmartcard-vpcd and restart pcscd \
                 (scripts/install-deps.sh, scripts/virtual-reader.sh start)",
            ));
            Vec::new()
        }
        Ok(r) => {
            let names: Vec<String> = r.iter().map(|r| format!("{:?}", r.name)).collect();
            out.push(Check::ok("readers", names.join(", ")));
            r
        }
        Err(e) => {
            out.push(Check::skip("readers", format!("not listed: {e}")));
            Vec::new()
        }
    };
    let vpcd = find_vpcd_config(Path::new("/etc/reader.conf.d"));
    match vpcd.first() {
        None => out.push(Check::bad(
            "vpcd driver",
            Verdict::Warn,
            "no vpcd entry in /etc/reader.conf.d (needed only for the virtual reader)",
            "sudo apt-get install vsmartcard-vpcd, then restart pcscd",
        )),
        Some(c) => {
            out.push(Check::ok(
                "vpcd driver",
                format!("{} configures port {}", c.file.display(), c.port),
            ));
            let virtual_reader = readers.iter().find(|r| r.name.starts_with("Virtual PCD"));
            match virtual_reader {
                // The emulator holds vpcd's one client connection: the port is evidently up,
                // and probing it would queue a stray connection.
                Some(r) if r.card_present => out.push(Check::ok(
                    "vpcd port",
                    format!("127.0.0.1:{}: a card is connected ({:?})", c.port, r.name),
                )),
                _ if port_listening(c.port) => out.push(Check::bad(
                    "vpcd port",
                    Verdict::Warn,
                    format!("127.0.0.1:{} listens but no emulator is connected", c.port),
                    "scripts/virtual-reader.sh start, or euicc-emulator run --state FILE",
                )),
                _ => out.push(Check::bad(
                    "vpcd port",
                    Verdict::Fail,
                    format!("nothing listens on 127.0.0.1:{}", c.port),
                    "restart pcscd so that it loads the vpcd driver (scripts/virtual-reader.sh \
                     restart-pcscd)",
                )),
            }
        }
    }
    if readers.is_empty() {
        out.push(Check::skip("card", "no reader"));
    } else {
        match select_reader(g.reader.as_deref(), &readers) {
            Ok(r) if r.card_present => {
                let atr = r.atr.clone().unwrap_or_default();
                out.push(Check::ok("card", format!("{:?} holds a card", r.name)));
                out.push(atr_check(&atr));
                card_checks(g, &mut out);
            }
            Ok(r) => out.push(Check::bad(
                "card",
                Verdict::Fail,
                format!("no card in {:?}", r.name),
                "insert a card, or start the emulator: scripts/virtual-reader.sh start",
            )),
            Err(e) => out.push(Check::bad(
                "card",
                Verdict::Fail,
                e.to_string(),
                "choose a reader with --reader (see smsr readers)",
            )),
        }
    }
    registry_check(g, &mut out);
    files_checks(&mut out);
    out
}

fn atr_check(atr: &[u8]) -> Check {
    match smsr_proto::atr::parse(atr) {
        Err(fault) => Check::bad(
            "ATR",
            Verdict::Warn,
            format!("{} is not a well-formed ATR: {fault}", hexfmt::upper(atr)),
            "re-insert the card; if it persists the card or reader is faulty",
        ),
        Ok(info) => {
            let list: Vec<String> = info.protocols.iter().map(|t| format!("T={t}")).collect();
            Check::ok(
                "ATR",
                format!("{} offers {}", hexfmt::upper(atr), list.join(" and ")),
            )
        }
    }
}

fn card_checks(g: &GlobalArgs, out: &mut Vec<Check>) {
    let mut card = match open_card(g) {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::bad(
                "eUICC",
                Verdict::Fail,
                e.to_string(),
                "see the message: it names the fix",
            ));
            return;
        }
    };
    match info::collect(card.as_mut()) {
        Ok(i) => {
            let apps: Vec<String> = i
                .applications
                .iter()
                .map(|a| {
                    format!(
                        "{} {}",
                        a.name,
                        if a.selectable { "selectable" } else { "absent" }
                    )
                })
                .collect();
            let detail = format!(
                "{}; EID {}",
                apps.join(", "),
                i.eid.as_deref().unwrap_or("not readable")
            );
            if i.eid.is_some() && i.applications.iter().all(|a| a.selectable) {
                out.push(Check::ok("eUICC", detail));
            } else {
                out.push(Check::bad(
                    "eUICC",
                    Verdict::Fail,
                    detail,
                    "this card does not answer as an SGP.02 eUICC; check the reader choice \
                     (--reader)",
                ));
            }
        }
        Err(e) => out.push(Check::bad(
            "eUICC",
            Verdict::Fail,
            e.to_string(),
            "re-insert the card and retry",
        )),
    }
}

/// The SM-SR registry (`--db`, `SMSR_DB` or the default place): read without changing it.
fn registry_check(g: &GlobalArgs, out: &mut Vec<Check>) {
    let Some(path) = g.db.clone().or_else(crate::sm_sr::registry::default_path) else {
        out.push(Check::skip("registry", "no --db and no home directory"));
        return;
    };
    if !path.exists() {
        out.push(Check::skip(
            "registry",
            format!(
                "{} does not exist yet (`smsr eis register` creates it)",
                path.display()
            ),
        ));
        return;
    }
    match crate::sm_sr::registry::Registry::inspect(&path) {
        Ok(h) if usize::try_from(h.schema).map_or(true, |s| s > h.known) => out.push(Check::bad(
            "registry",
            Verdict::Fail,
            format!(
                "{}: schema version {} is newer than this smsr's ({})",
                path.display(),
                h.schema,
                h.known
            ),
            "use the smsr that wrote it (or a newer one)",
        )),
        Ok(h) if !h.faults.is_empty() => out.push(Check::bad(
            "registry",
            Verdict::Fail,
            format!(
                "{}: schema {} but {} fault(s): {}",
                path.display(),
                h.schema,
                h.faults.len(),
                h.faults.join("; ")
            ),
            "the file was changed by another program or is damaged: restore a backup; or move \
             it away, register the cards again (`smsr eis register`) and `smsr audit` each",
        )),
        Ok(h) => out.push(Check::ok(
            "registry",
            format!(
                "{}: schema {}{}, {} card(s) registered",
                path.display(),
                h.schema,
                if usize::try_from(h.schema).ok() == Some(h.known) {
                    String::new()
                } else {
                    format!(" (upgraded to {} on first use)", h.known)
                },
                h.cards.unwrap_or(0)
            ),
        )),
        Err(e) => out.push(Check::bad(
            "registry",
            Verdict::Fail,
            format!("{}: {e}", path.display()),
            "restore it from a backup, or move it away and register the cards again \
             (their SCP80 counters must then be raised in the EIS)",
        )),
    }
}

fn files_checks(out: &mut Vec<Check>) {
    let mut any = false;
    for (what, path) in secret_files() {
        if let Some(c) = file_check(what, &path) {
            any = true;
            out.push(c);
        }
    }
    if !any {
        out.push(Check::skip(
            "file permissions",
            "no keystore or registry file found",
        ));
    }
}

/// `smsr doctor` options: the services to check too.
#[derive(Debug, Default, clap::Args)]
pub struct DoctorArgs {
    /// Also check the SM-DP service at this URL (status, TLS handshake, response time).
    #[arg(long = "sm-dp", value_name = "URL", env = "SMSR_SM_DP")]
    pub sm_dp: Option<String>,
    /// Also check the SM-SR service at this URL, and list the cards it reaches.
    #[arg(long = "sm-sr", value_name = "URL", env = "SMSR_SM_SR")]
    pub sm_sr: Option<String>,
    /// The client certificate for the services (any role of the test PKI).
    #[arg(long, value_name = "FILE", env = "SMSR_CERT")]
    pub cert: Option<PathBuf>,
    /// Its private key.
    #[arg(long, value_name = "FILE", env = "SMSR_KEY")]
    pub key: Option<PathBuf>,
    /// The TLS CA (default: tls-ca.crt.pem beside --cert).
    #[arg(long, value_name = "FILE", env = "SMSR_CA")]
    pub ca: Option<PathBuf>,
}

/// One service as `doctor` found it.
#[derive(Debug, Serialize)]
pub struct Component {
    pub service: &'static str,
    pub url: String,
    pub verdict: Verdict,
    /// TCP connect and TLS handshake, ms.
    pub tls_ms: Option<f64>,
    /// The whole `GET /status`, ms.
    pub response_ms: Option<f64>,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The cards an SM-SR reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards: Option<serde_json::Value>,
}

fn components(args: &DoctorArgs) -> Vec<Component> {
    let targets: Vec<(&'static str, &String)> = [("sm-dp", &args.sm_dp), ("sm-sr", &args.sm_sr)]
        .into_iter()
        .filter_map(|(n, u)| u.as_ref().map(|u| (n, u)))
        .collect();
    if targets.is_empty() {
        return Vec::new();
    }
    let down = |service, url: &str, detail: String, fix: &str| Component {
        service,
        url: url.to_owned(),
        verdict: Verdict::Fail,
        tls_ms: None,
        response_ms: None,
        detail,
        fix: Some(fix.to_owned()),
        cards: None,
    };
    let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
        return targets
            .into_iter()
            .map(|(s, u)| down(s, u, "no client certificate given".into(), "give --cert FILE --key FILE (e.g. pki/mno.tls.crt.pem and its key); the services refuse clients without one"))
            .collect();
    };
    let files = crate::tls::TlsFiles::beside(cert, key, args.ca.as_deref());
    let config = match crate::tls::client_config(&files) {
        Ok(c) => c,
        Err(e) => {
            return targets
                .into_iter()
                .map(|(s, u)| {
                    down(
                        s,
                        u,
                        e.to_string(),
                        "check the certificate, key and CA files",
                    )
                })
                .collect()
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return targets
                .into_iter()
                .map(|(s, u)| down(s, u, e.to_string(), "try again"))
                .collect()
        }
    };
    targets
        .into_iter()
        .map(|(service, url)| {
            let client = match crate::service::client::Client::new(url, config.clone()) {
                Ok(c) => c,
                Err(e) => return down(service, url, e.to_string(), "give https://HOST:PORT"),
            };
            match rt.block_on(client.request("/status", None)) {
                Ok(a) if a.status == 200 && a.body["service"] == service => {
                    let cards = a.body.get("cards").cloned();
                    let n = cards.as_ref().and_then(|c| c.as_array()).map(Vec::len);
                    Component {
                        service,
                        url: url.clone(),
                        verdict: Verdict::Ok,
                        tls_ms: Some(a.connect.as_secs_f64() * 1000.0),
                        response_ms: Some(a.total.as_secs_f64() * 1000.0),
                        detail: format!(
                            "{} up, {} operation(s) in flight{}",
                            a.body["name"].as_str().unwrap_or(service),
                            a.body["operationsInFlight"],
                            n.map(|n| format!(", {n} card(s) reached"))
                                .unwrap_or_default()
                        ),
                        fix: None,
                        cards,
                    }
                }
                Ok(a) => down(
                    service,
                    url,
                    format!(
                        "GET /status answered HTTP {} ({})",
                        a.status, a.body["service"]
                    ),
                    "is this URL the service named? (--sm-dp for the SM-DP, --sm-sr for the SM-SR)",
                ),
                Err(e) => down(
                    service,
                    url,
                    e.to_string(),
                    "start it (`smsr serve sm-dp|sm-sr`) or fix the URL",
                ),
            }
        })
        .collect()
}

pub fn run(g: &GlobalArgs, args: &DoctorArgs) -> Result<(), CliError> {
    let checks = checks(g);
    let components = components(args);
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count()
        + components
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .count();
    if g.json {
        print_json(&Output {
            ok: failed == 0,
            checks: &checks,
            components: &components,
        });
    } else {
        for c in &checks {
            let v = match c.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "WARN",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "skip",
            };
            println!("{v}  {:<16} {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("      {:<16} fix: {fix}", "");
            }
        }
        if !components.is_empty() {
            println!();
            println!(
                "{:<6} {:<28} {:<6} {:>8} {:>11}  detail",
                "service", "url", "status", "TLS ms", "response ms"
            );
            for c in &components {
                let ms =
                    |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
                println!(
                    "{:<7} {:<28} {:<6} {:>8} {:>11}  {}",
                    c.service,
                    c.url,
                    if c.verdict == Verdict::Ok {
                        "up"
                    } else {
                        "DOWN"
                    },
                    ms(c.tls_ms),
                    ms(c.response_ms),
                    c.detail
                );
                if let Some(fix) = &c.fix {
                    println!("        fix: {fix}");
                }
                for card in c
                    .cards
                    .as_ref()
                    .and_then(|c| c.as_array())
                    .into_iter()
                    .flatten()
                {
                    println!(
                        "        card {} ({})",
                        card["eid"].as_str().unwrap_or("?"),
                        card.get("state")
                            .or_else(|| card.get("reader"))
                            .and_then(|v| v.as_str())
                            .unwrap_or("?")
                    );
                }
            }
        }
    }
    if failed > 0 {
        return Err(CliError::Failed(format!("{failed} check(s) failed")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpcd_entries_are_found_in_reader_conf() {
        let text = "# vpcd\nFRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x8C7B\n\
                    LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x8C7B\n\n\
                    FRIENDLYNAME \"Other\"\nLIBPATH /usr/lib/other.so\nCHANNELID 0x0001\n";
        assert_eq!(parse_reader_conf(text), vec![35963]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vpcd"), text).unwrap();
        let found = find_vpcd_config(dir.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].port, 35963);
        assert!(find_vpcd_config(&dir.path().join("none")).is_empty());
    }

    #[test]
    fn private_and_shared_files_get_their_verdicts() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys.json");
        std::fs::write(&p, "{}").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(file_check("keystore", &p).unwrap().verdict, Verdict::Warn);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(file_check("keystore", &p).unwrap().verdict, Verdict::Ok);
        assert!(file_check("keystore", &dir.path().join("none")).is_none());
    }
}
