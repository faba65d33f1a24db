//! `smsr bench`: the round-trip time of one APDU through the chosen transport (PC/SC reader,
//! the virtual reader, or the emulator linked in): min, median, p90, p99, max.
//!
//! The default command is SELECT ECASD without response data (`00 A4 04 0C 10 <ECASD>`): the
//! card answers `9000` and nothing else, so the figure is the link's cost, not the card's.

use super::{open_card, print_json, sw_hex, CliError};
use crate::cli::{BenchArgs, GlobalArgs};
use crate::hexfmt;
use serde::Serialize;
use smsr_proto::gp::aid::ECASD;
use smsr_proto::StatusWord;
use std::time::Instant;

/// Round-trip statistics in microseconds.
#[derive(Debug, PartialEq, Serialize)]
pub struct Stats {
    pub count: usize,
    pub min_us: f64,
    pub median_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

/// Statistics of samples in microseconds (nearest-rank percentiles). `None` when empty.
pub fn stats(samples: &mut [f64]) -> Option<Stats> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let rank = |p: usize| samples[((n * p).div_ceil(100)).clamp(1, n) - 1];
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    };
    let sum: f64 = samples.iter().sum();
    Some(Stats {
        count: n,
        min_us: samples[0],
        median_us: median,
        p90_us: rank(90),
        p99_us: rank(99),
        max_us: samples[n - 1],
        mean_us: sum / f64::from(u32::try_from(n).unwrap_or(u32::MAX)),
    })
}

#[derive(Serialize)]
struct Output {
    reader: String,
    apdu: String,
    sw: String,
    warmup: usize,
    #[serde(flatten)]
    stats: Stats,
}

fn default_apdu() -> Vec<u8> {
    let mut apdu = vec![0x00, 0xA4, 0x04, 0x0C, 0x10];
    apdu.extend_from_slice(&ECASD);
    apdu
}

pub fn run(g: &GlobalArgs, args: &BenchArgs) -> Result<(), CliError> {
    if args.count == 0 {
        return Err(CliError::Input("--count must be at least 1".into()));
    }
    let apdu = match &args.apdu {
        Some(text) => hexfmt::parse(text).map_err(|e| CliError::Input(format!("--apdu: {e}")))?,
        None => default_apdu(),
    };
    let mut card = open_card(g)?;
    let mut last_sw = StatusWord::Success;
    for _ in 0..args.warmup {
        card.transmit(&apdu)?;
    }
    let mut samples = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        let start = Instant::now();
        let r = card.transmit(&apdu)?;
        samples.push(start.elapsed().as_secs_f64() * 1e6);
        if let [.., sw1, sw2] = r[..] {
            last_sw = StatusWord::from_bytes(sw1, sw2);
        }
    }
    let stats = stats(&mut samples).ok_or_else(|| CliError::Input("no samples".into()))?;
    let out = Output {
        reader: card.reader_name(),
        apdu: hexfmt::upper(&apdu),
        sw: sw_hex(last_sw),
        warmup: args.warmup,
        stats,
    };
    if g.json {
        print_json(&out);
    } else {
        let s = &out.stats;
        println!("reader  {}", out.reader);
        println!("APDU    {} -> {}", out.apdu, out.sw);
        println!(
            "{} round trips: min {:.1} µs, median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs, mean {:.1} µs",
            s.count, s.min_us, s.median_us, s.p90_us, s.p99_us, s.max_us, s.mean_us
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = stats(&mut v).unwrap();
        assert_eq!(s.count, 100);
        assert_eq!((s.min_us, s.max_us), (1.0, 100.0));
        assert_eq!(s.median_us, 50.5);
        assert_eq!((s.p90_us, s.p99_us), (90.0, 99.0));
        assert_eq!(s.mean_us, 50.5);
        let s = stats(&mut [7.0]).unwrap();
        assert_eq!((s.median_us, s.p99_us), (7.0, 7.0));
        assert!(stats(&mut []).is_none());
    }
}
