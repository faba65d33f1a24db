//! The service latency benchmark: orders DownloadProfile from a running SM-DP service (ES2,
//! mutual TLS, as the MNO) one after another, and prints the end-to-end latency of each order
//! (request to result, through the SM-DP, the SM-SR and the card) as min, median, p90 and max,
//! with the median of each step of the results. Prints figures; asserts nothing.
//!
//! ```text
//! service-bench --sm-dp URL --cert mno.tls.crt.pem --key mno.tls.key.pem --orders FILE [--enable]
//! ```
//!
//! FILE has one order per line: `EID ICCID` (the ICCIDs in the SM-DP's stock).
//! `scripts/service-bench.sh` sets up the services, a fleet or the virtual reader, and the
//! stock, then runs it.

use serde_json::{json, Value};
use smsr::service::client::Client;
use smsr::service::envelope::{status_of, RequestHeader, Status};
use smsr::tls::{self, TlsFiles};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    url: String,
    cert: PathBuf,
    key: PathBuf,
    orders: PathBuf,
    enable: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = std::env::args().skip(1);
    let (mut url, mut cert, mut key, mut orders, mut enable) = (None, None, None, None, false);
    while let Some(k) = a.next() {
        let mut v = || a.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--sm-dp" => url = Some(v()?),
            "--cert" => cert = Some(PathBuf::from(v()?)),
            "--key" => key = Some(PathBuf::from(v()?)),
            "--orders" => orders = Some(PathBuf::from(v()?)),
            "--enable" => enable = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Args {
        url: url.ok_or("--sm-dp is required")?,
        cert: cert.ok_or("--cert is required")?,
        key: key.ok_or("--key is required")?,
        orders: orders.ok_or("--orders is required")?,
        enable,
    })
}

/// The `p`-th percentile (nearest rank) of sorted values.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => sorted[((p * (n - 1) + 50) / 100).min(n - 1)],
    }
}

async fn run(args: Args) -> Result<(), String> {
    let files = TlsFiles::beside(&args.cert, &args.key, None);
    let config = tls::client_config(&files).map_err(|e| e.to_string())?;
    let name = tls::describe_certificate(&args.cert)
        .map_err(|e| e.to_string())?
        .name;
    let client = Client::new(&args.url, config).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&args.orders).map_err(|e| e.to_string())?;
    let orders: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(' ')).collect();
    let mut latencies = Vec::new();
    let mut steps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut order_of_steps: Vec<String> = Vec::new();
    for (n, (eid, iccid)) in orders.iter().enumerate() {
        let header = RequestHeader {
            function_requester_identifier: name.clone(),
            function_call_identifier: format!("bench-{}-{n}", std::process::id()),
            validity_period: Some(600),
            reply_to: None,
        };
        let t = Instant::now();
        let answer: Value = client
            .call(
                "/es2/DownloadProfile",
                &header,
                json!({"eid": eid, "iccid": iccid, "enableProfile": args.enable}),
                true,
            )
            .await
            .map_err(|e| e.to_string())?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if status_of(&answer) != Some(Status::ExecutedSuccess) {
            return Err(format!("order {n} ({eid} {iccid}) failed: {answer}"));
        }
        latencies.push(ms);
        for s in answer["steps"].as_array().into_iter().flatten() {
            let step = s["step"].as_str().unwrap_or("?").to_owned();
            if !order_of_steps.contains(&step) {
                order_of_steps.push(step.clone());
            }
            steps
                .entry(step)
                .or_default()
                .push(s["ms"].as_f64().unwrap_or(0.0));
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "DownloadProfile{} x{}: min {:.1} ms, median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        if args.enable { " (enableProfile)" } else { "" },
        latencies.len(),
        latencies.first().copied().unwrap_or(f64::NAN),
        percentile(&latencies, 50),
        percentile(&latencies, 90),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    for step in order_of_steps {
        let mut v = steps.remove(&step).unwrap_or_default();
        v.sort_by(f64::total_cmp);
        println!("  {step:<20} median {:>7.1} ms", percentile(&v, 50));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("service-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("service-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("service-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
