//! Before the run: the fleet's EIDs, the ICCIDs to download (the SM-DP's stock filled with
//! built profiles when it has too few), and the services' status (the component table).

use smsr::report::Component;
use smsr::service::client::Client;
use smsr::sm_dp::stock::Stock;
use smsr_proto::saip::minimal::MinimalProfile;
use smsr_proto::saip::package::Package;
use std::path::Path;
use std::sync::Arc;

/// ICCIDs this tool builds: `8988299` + a 12-digit number + the Luhn check digit.
const ICCID_PREFIX: &str = "8988299";
/// The K and OPc of the built profiles (test values: these profiles are for load only).
const TEST_K: [u8; 16] = [0x11; 16];
const TEST_OPC: [u8; 16] = [0x22; 16];

/// The EIDs of the emulator state files (`*.json`) in `dir`, by file name; the first `limit`.
pub fn fleet_eids(dir: &Path, limit: Option<usize>) -> Result<Vec<String>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            format!(
                "fleet {}: {e} (make one with `smsr fleet init`)",
                dir.display()
            )
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json") && p.is_file())
        .collect();
    files.sort();
    files.truncate(limit.unwrap_or(usize::MAX));
    let eids = files
        .iter()
        .map(|p| {
            euicc_emulator::CardState::load(p)
                .map(|s| hex::encode_upper(s.eid()))
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if eids.is_empty() {
        return Err(format!(
            "fleet {}: no card state file in it (make some with `smsr fleet init`)",
            dir.display()
        ));
    }
    Ok(eids)
}

/// The Luhn check digit of a string of digits (ITU-T E.118 for the ICCID).
pub fn luhn(digits: &str) -> u32 {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// Our ICCID number `n`.
pub fn iccid(n: u64) -> String {
    let body = format!("{ICCID_PREFIX}{n:012}");
    format!("{body}{}", luhn(&body))
}

/// The ICCIDs of the stock at `path` still available, after adding profiles until there are
/// `needed`: copies of `template` (a SAIP package, each copy with its own ICCID and IMSI) or,
/// without one, built minimal profiles; prints what it added on stderr.
pub fn fill_stock(
    path: &Path,
    needed: usize,
    template: Option<&Path>,
) -> Result<Vec<String>, String> {
    let mut template = match template {
        Some(t) => {
            let bytes = smsr_proto::bounded::read(t, smsr_proto::bounded::PACKAGE_MAX, "a package")
                .map_err(|e| format!("--profile-template {}: {e}", t.display()))?;
            Some(Package::parse(&bytes).map_err(|e| {
                format!(
                    "--profile-template {}: not a profile package: {e}",
                    t.display()
                )
            })?)
        }
        None => None,
    };
    let mut stock = Stock::open(path).map_err(|e| e.to_string())?;
    let items = stock.list().map_err(|e| e.to_string())?;
    let mut available: Vec<String> = items
        .iter()
        .filter(|i| i.state == "available")
        .map(|i| i.iccid.clone())
        .collect();
    let first = items
        .iter()
        .filter_map(|i| {
            i.iccid
                .strip_prefix(ICCID_PREFIX)?
                .get(..12)?
                .parse::<u64>()
                .ok()
        })
        .max()
        .map_or(1, |n| n + 1);
    let missing = needed.saturating_sub(available.len());
    let start = std::time::Instant::now();
    for next in first..first + missing as u64 {
        let iccid = iccid(next);
        let imsi = format!("00101{:010}", next % 10_000_000_000);
        let der = match template.as_mut() {
            Some(package) => {
                package
                    .set_iccid(&iccid)
                    .and_then(|()| package.set_imsi(&imsi))
                    .map_err(|e| format!("personalizing the template for {iccid}: {e}"))?;
                package.to_der()
            }
            None => MinimalProfile::milenage(&iccid, &imsi, TEST_K, TEST_OPC)
                .build()
                .map_err(|e| format!("building profile {iccid}: {e}"))?
                .to_der(),
        };
        stock
            .add(&format!("smsr-load profile {iccid}"), &der)
            .map_err(|e| e.to_string())?;
        available.push(iccid);
    }
    if missing > 0 {
        eprintln!(
            "smsr-load: added {missing} {} to the stock {} in {:.1} s",
            if template.is_some() {
                "copies of the template"
            } else {
                "built profile(s)"
            },
            path.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(available)
}

/// The ICCIDs of a file, one per line (blank lines and `#` comments skipped).
pub fn iccid_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// `GET /status` of a service: up or not, the handshake and response times, the cards.
pub async fn component(service: &str, url: &str, tls: Arc<rustls::ClientConfig>) -> Component {
    let down = |detail: String| Component {
        service: service.into(),
        url: url.into(),
        ok: false,
        detail,
        ..Component::default()
    };
    let client = match Client::new(url, tls) {
        Ok(c) => c,
        Err(e) => return down(e.to_string()),
    };
    match client.request("/status", None).await {
        Ok(a) if a.status == 200 && a.body["service"] == service => {
            let cards = a.body["cards"].as_array().map(Vec::len);
            Component {
                service: service.into(),
                url: url.into(),
                ok: true,
                tls_ms: Some(a.connect.as_secs_f64() * 1000.0),
                response_ms: Some(a.total.as_secs_f64() * 1000.0),
                cards,
                detail: format!(
                    "{} up, {} operation(s) in flight",
                    a.body["name"].as_str().unwrap_or(service),
                    a.body["operationsInFlight"]
                ),
            }
        }
        Ok(a) => down(format!(
            "GET /status answered HTTP {} ({}): is this the {service}?",
            a.status, a.body["service"]
        )),
        Err(e) => down(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iccids_carry_their_check_digit() {
        for n in [1u64, 42, 999_999_999_999] {
            let i = iccid(n);
            assert_eq!(i.len(), 20, "{i}");
            assert_eq!(luhn(&i[..19]), i[19..].parse::<u32>().unwrap());
        }
        assert_eq!(luhn("7992739871"), 3); // the well-known Luhn example
        assert_ne!(iccid(1), iccid(2));
    }
}
