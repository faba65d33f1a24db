//! The command line of `smsr-load` (clap derive); the services, the certificate, the fleet, the
//! stock and the scenario also come from the environment variables `smsr` uses (`SMSR_SM_DP`…).

use clap::{Parser, ValueEnum};
use std::path::PathBuf;

const LONG_ABOUT: &str = "Load generator for the smsr services (goose): drives ES2 at the SM-DP and \
ES4 at the SM-SR over mutual TLS as the operator (MNO), times every card operation from its request \
to its result (the 202 and the polls of GET /operations/{id}), and judges the run by thresholds.

Each download takes a profile of the SM-DP's stock: with --stock-db the stock is filled first with \
built profiles (distinct ICCIDs) so the run has enough; with --iccids FILE the caller did it.

Scenarios:
  smoke        one download with enable on the first card, every step of its result checked,
               then ES4.AuditEIS shows the profile enabled
  performance  downloads at a steady rate (--rate, flows started per second) for --duration
               seconds; a list of rates (--rate 5,10,20) runs one stage per rate
  stress       the rate ramped (x --ramp per stage of --duration s) until a stage's error rate
               or p99 passes the threshold, or --max-stages: the knee is where throughput
               stops rising while p99 climbs
  lifecycle    per card: a base profile downloaded, enabled and made the fallback, then cycles
               of download, enable, audit, disable, delete (ES2 and ES4)

Every run is bounded: --count flows at most, --duration seconds per stage, --max-stages stages.

Exit codes: 0 thresholds met, 1 thresholds failed (or a smoke check), 2 wrong command line,
5 bad input (fleet, stock, certificate), 7 a service could not be reached.";

/// What the run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// One download with enable, every step checked.
    Smoke,
    /// Downloads at a steady rate (one stage per rate given).
    Performance,
    /// The rate ramped until the thresholds are passed: the knee.
    Stress,
    /// Download, enable, audit, disable, delete on each card, mixed.
    Lifecycle,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Smoke => "smoke",
            Scenario::Performance => "performance",
            Scenario::Stress => "stress",
            Scenario::Lifecycle => "lifecycle",
        }
    }
}

/// `smsr-load`.
#[derive(Debug, Parser)]
#[command(name = "smsr-load", version, about = "Load generator for the smsr SM-DP and SM-SR services", long_about = LONG_ABOUT)]
pub struct Args {
    /// The SM-DP's URL (ES2); several, comma-separated, share the users (user i calls the
    /// i-th modulo their number): SM-DP instances on one stock.
    #[arg(
        long = "sm-dp",
        value_name = "URL[,…]",
        env = "SMSR_SM_DP",
        value_delimiter = ',',
        required = true
    )]
    pub sm_dp: Vec<String>,
    /// The SM-SR's URL (ES4, and its status); several, comma-separated, as --sm-dp: SM-SR
    /// instances on one registry and fleet.
    #[arg(
        long = "sm-sr",
        value_name = "URL[,…]",
        env = "SMSR_SM_SR",
        value_delimiter = ',',
        required = true
    )]
    pub sm_sr: Vec<String>,
    /// The operator's TLS certificate, e.g. pki/mno.tls.crt.pem.
    #[arg(long, value_name = "FILE", env = "SMSR_CERT")]
    pub cert: PathBuf,
    /// Its private key.
    #[arg(long, value_name = "FILE", env = "SMSR_KEY")]
    pub key: PathBuf,
    /// The TLS CA certificate, the only root trusted (default: tls-ca.crt.pem beside --cert).
    #[arg(long, value_name = "FILE", env = "SMSR_CA")]
    pub ca: Option<PathBuf>,
    /// The fleet directory the SM-SR serves (`smsr fleet init`): the EIDs of the run.
    #[arg(long, value_name = "DIR", env = "SMSR_FLEET")]
    pub fleet: PathBuf,
    /// Use only the first N cards of the fleet.
    #[arg(long, value_name = "N")]
    pub cards: Option<usize>,
    /// The SM-DP's stock (its --db): filled first with built profiles when it has too few.
    #[arg(
        long,
        value_name = "FILE",
        env = "SMSR_STOCK_DB",
        conflicts_with = "iccids"
    )]
    pub stock_db: Option<PathBuf>,
    /// With --stock-db: fill the stock with copies of this SAIP package (DER), each with its
    /// own ICCID and IMSI, instead of built minimal profiles (e.g. a 12 KB TS.48 package).
    #[arg(
        long,
        value_name = "PACKAGE",
        requires = "stock_db",
        env = "SMSR_LOAD_PROFILE_TEMPLATE"
    )]
    pub profile_template: Option<PathBuf>,
    /// The ICCIDs to download, one per line (the caller put them in the SM-DP's stock).
    #[arg(long, value_name = "FILE", required_unless_present = "stock_db")]
    pub iccids: Option<PathBuf>,
    /// What to run.
    #[arg(long, value_enum, default_value_t = Scenario::Smoke, env = "SMSR_LOAD_SCENARIO")]
    pub scenario: Scenario,
    /// Simulated operator clients (goose users): the most flows at once.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub users: usize,
    /// Flows started per second (a schedule: late starts count against latency); a list
    /// gives performance one stage per rate; 0 starts each flow as soon as a user is free.
    /// Default: 5 (stress: the first stage).
    #[arg(long, value_name = "PER_SECOND[,…]", value_delimiter = ',')]
    pub rate: Vec<f64>,
    /// Seconds per stage (performance, stress, lifecycle).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub duration: f64,
    /// The most flows in the whole run.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stress: each stage's rate is the previous one's times this.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.5)]
    pub ramp: f64,
    /// Stress: the most stages.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_stages: usize,
    /// Fail (exit 1) when an operation's error rate is above this percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 0.0)]
    pub max_error_rate: f64,
    /// Fail (exit 1) when an operation's p99 (from when it was due) is above this.
    #[arg(long, value_name = "MS", default_value_t = 10_000.0)]
    pub p99_ms: f64,
    /// Download without enabling (performance, stress).
    #[arg(long)]
    pub no_enable: bool,
    /// Seconds an operation may take before it counts as failed (timeout).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout: u64,
    /// Write report.json (the machine-readable result), report.html and goose's own
    /// metrics (goose.json) here.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

impl Args {
    /// The stage rates of a performance or lifecycle run, or the first of a stress ramp.
    pub fn rates(&self) -> Vec<f64> {
        if self.rate.is_empty() {
            vec![5.0]
        } else {
            self.rate.clone()
        }
    }

    /// What is wrong with the values clap cannot check.
    pub fn check(&self) -> Result<(), String> {
        if self.users == 0 {
            return Err("--users must be at least 1".into());
        }
        if self.rate.iter().any(|r| !r.is_finite() || *r < 0.0) {
            return Err("--rate takes numbers >= 0 (flows per second)".into());
        }
        if !(self.duration.is_finite() && self.duration > 0.0 && self.duration <= 3600.0) {
            return Err("--duration must be more than 0 and at most 3600 seconds".into());
        }
        if self.scenario == Scenario::Stress
            && !(self.ramp.is_finite() && self.ramp > 1.0 && self.rates()[0] > 0.0)
        {
            return Err("stress needs --ramp > 1 and a first --rate > 0".into());
        }
        if self.max_stages == 0 || self.max_stages > 50 {
            return Err("--max-stages must be 1 to 50".into());
        }
        if !(0.0..=100.0).contains(&self.max_error_rate) {
            return Err("--max-error-rate is a percent, 0 to 100".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_lines() {
        Args::command().debug_assert();
        let base = [
            "smsr-load",
            "--sm-dp",
            "https://127.0.0.1:1",
            "--sm-sr",
            "https://127.0.0.1:2",
            "--cert",
            "c",
            "--key",
            "k",
            "--fleet",
            "f",
        ];
        let parse = |extra: &[&str]| Args::try_parse_from(base.iter().chain(extra));
        let a = parse(&[
            "--stock-db",
            "dp.db",
            "--scenario",
            "performance",
            "--rate",
            "5,10",
        ])
        .unwrap();
        assert_eq!(a.rates(), [5.0, 10.0]);
        assert_eq!(a.scenario, Scenario::Performance);
        assert!(a.check().is_ok());
        // A stock or a list of ICCIDs, not both, not neither.
        assert!(parse(&[]).is_err());
        assert!(parse(&["--stock-db", "a", "--iccids", "b"]).is_err());
        assert!(parse(&["--iccids", "b"]).is_ok());
        let a = parse(&["--iccids", "b", "--scenario", "stress", "--rate", "0"]).unwrap();
        assert!(a.check().is_err());
        let a = parse(&["--iccids", "b", "--duration", "0"]).unwrap();
        assert!(a.check().is_err());
        assert!(parse(&["--iccids", "b", "--scenario", "soak"]).is_err());
    }
}
