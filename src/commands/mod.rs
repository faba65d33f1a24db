//! What each `smsr` command does. Data goes to stdout (a table, or JSON with `--json`),
//! diagnostics to stderr; every failure is a [`CliError`] with an exit code.

pub mod apdu;
pub mod bench;
pub mod decrypt;
pub mod doctor;
pub mod export;
pub mod fleet;
pub mod gp;
pub mod info;
pub mod keys;
pub mod pki;
pub mod platform;
pub mod provision;
pub mod readers;
pub mod remote;
pub mod saip;
pub mod serve;
pub mod stock;
pub mod trace;

use crate::cli::{Cli, Command, GlobalArgs, TraceCommand, TransportKind};
use crate::exit_code;
use crate::trace::TraceError;
use crate::transport::channel::ResponseAssembler;
use crate::transport::gsmtap::GsmtapTap;
use crate::transport::in_process::InProcess;
use crate::transport::pcsc::{PcscOptions, PcscTransport};
use crate::transport::record::Recorder;
use crate::transport::{Transport, TransportError};
use serde::Serialize;
use smsr_proto::StatusWord;
use thiserror::Error;

/// Whether a command printed its JSON on stdout (an error after it is then not printed as a
/// second JSON object).
static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`print_json`] printed anything.
pub fn json_printed() -> bool {
    JSON_PRINTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CliError {
    #[error("{0}")]
    Transport(#[from] TransportError),
    #[error("{0}")]
    Trace(#[from] TraceError),
    /// A value given on the command line or in a file is wrong; the text says which and how
    /// to fix it.
    #[error("{0}")]
    Input(String),
    /// The card answered an error status word to a command the operation needed.
    #[error("{what}: the card answered {sw:04X} ({meaning})", sw = sw.to_u16(), meaning = sw.meaning())]
    CardRefused { what: String, sw: StatusWord },
    /// A secure channel could not be opened or broke.
    #[error("{0}")]
    Secure(crate::secure::SecureError),
    /// The card answered something that does not follow the specification.
    #[error("{0}")]
    BadResponse(String),
    /// The operation ran and its outcome is a failure (already reported on stdout).
    #[error("{0}")]
    Failed(String),
    /// A service (SM-SR, SM-DP) could not be reached: down, wrong URL, TLS refused.
    #[error("{0}")]
    Service(String),
    /// A security check failed outside a secure channel session (a PSK-TLS handshake).
    #[error("{0}")]
    Security(String),
    /// Another process held what the command needed (the registry's lock) for longer than it
    /// waits.
    #[error("{0}")]
    InUse(String),
}

impl CliError {
    /// The error as `--json` prints it on stdout: `{"error": {"exitCode", "kind", "message",
    /// "fix"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let code = self.exit_code();
        let (kind, fix) = exit_code::describe(code);
        serde_json::json!({"error": {
            "exitCode": code,
            "kind": kind,
            "message": self.to_string(),
            "fix": fix,
        }})
    }

    /// The process exit code (see [`crate::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Transport(e) | Self::Secure(crate::secure::SecureError::Transport(e)) => {
                transport_exit_code(e)
            }
            Self::Secure(_) | Self::Security(_) => exit_code::SECURITY,
            Self::Trace(_) | Self::Input(_) => exit_code::INPUT,
            Self::CardRefused { .. } | Self::BadResponse(_) | Self::Failed(_) => exit_code::FAILURE,
            Self::Service(_) => exit_code::SERVICE,
            Self::InUse(_) => exit_code::NO_CARD,
        }
    }
}

fn transport_exit_code(e: &TransportError) -> u8 {
    match e {
        e if e.is_setup_problem() => exit_code::NO_CARD,
        TransportError::SecureChannel { .. } => exit_code::SECURITY,
        TransportError::InvalidCommand(_)
        | TransportError::Trace { .. }
        | TransportError::EmulatorDamaged { .. } => exit_code::INPUT,
        _ => exit_code::COMMUNICATION,
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let g = &cli.global;
    // The trace readers read the key log; every other command writes it.
    if let (Some(path), false) = (&g.keylog, matches!(cli.command, Command::Trace(_))) {
        crate::keylog::install(path).map_err(|e| {
            CliError::Input(format!(
                "cannot open the key log {}: {e}; give a writable path to --keylog",
                path.display()
            ))
        })?;
    }
    match &cli.command {
        Command::Readers => readers::run(g),
        Command::Info => info::run(g),
        Command::Doctor(args) => doctor::run(g, args),
        Command::Apdu(args) => apdu::run(g, args),
        Command::Trace(TraceCommand::Show(args)) => trace::show(g, args),
        Command::Bench(args) => bench::run(g, args),
        Command::Gp(cmd) => gp::run(g, cmd),
        Command::Eis(cmd) => platform::eis(g, cmd),
        Command::Isdp(cmd) => platform::isdp(g, cmd),
        Command::Profile(cmd) => platform::profile(g, cmd),
        Command::Audit(args) => platform::audit(g, args),
        Command::Provision(args) => provision::run(g, args),
        Command::Keys(cmd) => keys::run(g, cmd),
        Command::Notifications(args) => platform::notifications(g, args),
        Command::Trace(TraceCommand::Decrypt(args)) => decrypt::run(g, args),
        Command::Trace(TraceCommand::Export(args)) => export::run(g, args),
        Command::Pki(cmd) => pki::run(g, cmd),
        Command::Serve(cmd) => serve::run(g, cmd),
        Command::Mno(cmd) => remote::mno(g, cmd),
        Command::Eum(cmd) => remote::eum(g, cmd),
        Command::Stock(cmd) => stock::run(g, cmd),
        // Both are made in memory, then printed: a closed stdout ends them as any other
        // command (see main.rs).
        Command::Completions { shell } => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "smsr", &mut out);
            print!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
        Command::Manpage => {
            let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|e| CliError::Failed(format!("cannot make the manual page: {e}")))?;
            print!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
        Command::Fleet(cmd) => fleet::run(g, cmd),
    }
}

/// The card as the global options say: PC/SC or the emulator linked in, recorded to the
/// trace and streamed to `--gsmtap` when asked, with whole responses (61xx/6Cxx resolved above the recorder, so the
/// trace shows every GET RESPONSE).
pub fn open_card(g: &GlobalArgs) -> Result<Box<dyn Transport>, CliError> {
    // A --gsmtap host that does not resolve is refused before the card is touched.
    let gsmtap = g
        .gsmtap
        .as_ref()
        .map(crate::transport::gsmtap::GsmtapTarget::resolve)
        .transpose()
        .map_err(CliError::Input)?;
    let base: Box<dyn Transport> = match g.transport {
        TransportKind::Pcsc => Box::new(PcscTransport::connect(&PcscOptions {
            reader: g.reader.clone(),
            exclusive: g.exclusive,
            protocol: g.protocol,
        })?),
        TransportKind::Emulator => {
            let Some(path) = &g.emulator_state else {
                return Err(CliError::Input(
                    "--transport emulator needs --emulator-state FILE (or SMSR_EMULATOR_STATE); \
                     make one with `euicc-emulator init --state FILE`"
                        .into(),
                ));
            };
            let durability = if g.emulator_fsync {
                euicc_emulator::Durability::Synced
            } else {
                euicc_emulator::Durability::Atomic
            };
            Box::new(InProcess::open_with(path, durability)?)
        }
    };
    // The fault campaign's hook (README, Tests): faults scheduled by exchange number.
    // The schedule goes to the first card the process opens (provision's ES5 link, not the
    // later profile check).
    static FAULTS_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let base: Box<dyn Transport> = match std::env::var(crate::transport::fault::FAULT_VARIABLE) {
        Ok(text)
            if !text.is_empty()
                && !FAULTS_TAKEN.swap(true, std::sync::atomic::Ordering::SeqCst) =>
        {
            let mut f = crate::transport::fault::FaultInjector::new(base);
            for (n, fault) in
                crate::transport::fault::parse_schedule(&text).map_err(CliError::Input)?
            {
                f.schedule(n, fault);
            }
            Box::new(f)
        }
        _ => base,
    };
    let base: Box<dyn Transport> = Box::new(crate::transport::count::Counting(base));
    let recorded: Box<dyn Transport> = match &g.trace {
        Some(path) => Box::new(Recorder::new(base, path, g.trace_secrets)?),
        None => base,
    };
    // The live GSMTAP tap sits at the recorder's layer: its frames are the exported trace's.
    let recorded: Box<dyn Transport> = match gsmtap {
        Some(addr) => Box::new(GsmtapTap::new(recorded, addr, g.trace_secrets)),
        None => recorded,
    };
    Ok(Box::new(ResponseAssembler::new(recorded)))
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            JSON_PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
            println!("{text}");
        }
        Err(e) => eprintln!("smsr: cannot write JSON: {e}"),
    }
}

/// `SW1SW2` as four hex digits.
pub fn sw_hex(sw: StatusWord) -> String {
    format!("{:04X}", sw.to_u16())
}
