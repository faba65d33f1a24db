//! `euicc-emulator`: create, inspect and run an emulated SGP.02 eUICC on vsmartcard's virtual
//! reader.
//!
//! Exit codes: 0 success; 2 command line (including an invalid `--eid` or `--vpcd`); 3 state
//! file (missing, unreadable, corrupt, unsupported version, already exists, cannot be written).

use clap::{Parser, Subcommand};
use euicc_emulator::eid::{eid_to_string, parse_eid};
use euicc_emulator::state::STATE_VERSION;
use euicc_emulator::vpcd::{VpcdClient, DEFAULT_VPCD_ADDR};
use euicc_emulator::{CardState, Emulator, EmulatorError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "An SGP.02 eUICC emulator for pcscd's virtual reader (vpcd)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new card: a state file with a random or given EID; prints the EID.
    Init {
        /// The card's state file.
        #[arg(long, env = "EUICC_STATE")]
        state: PathBuf,
        /// The EID: 32 decimal digits with valid check digits (default: random).
        #[arg(long)]
        eid: Option<String>,
        /// Replace an existing state file (the card in it is lost).
        #[arg(long)]
        force: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Connect the card to vpcd and serve it until killed, reconnecting when pcscd restarts.
    Run {
        /// The card's state file.
        #[arg(long, env = "EUICC_STATE")]
        state: PathBuf,
        /// vpcd's address, HOST:PORT.
        #[arg(long, env = "EUICC_VPCD", default_value = DEFAULT_VPCD_ADDR)]
        vpcd: String,
    },
    /// Show a card's state (EID).
    Show {
        /// The card's state file.
        #[arg(long, env = "EUICC_STATE")]
        state: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("euicc-emulator: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn run(cli: Cli) -> Result<(), EmulatorError> {
    match cli.command {
        Command::Init {
            state,
            eid,
            force,
            json,
        } => {
            let eid = eid
                .map(|text| {
                    parse_eid(&text).map_err(|source| EmulatorError::InvalidEid {
                        input: text.clone(),
                        source,
                    })
                })
                .transpose()?;
            let emulator = Emulator::create(&state, CardState::new(eid), force)?;
            print_state(emulator.state(), &state, json);
            Ok(())
        }
        Command::Show { state, json } => {
            let card = CardState::load(&state)?;
            print_state(&card, &state, json);
            Ok(())
        }
        Command::Run { state, vpcd } => {
            let client = VpcdClient::new(&vpcd)?;
            let mut emulator = Emulator::open(&state)?;
            tracing::info!(
                "card {} from {}; serving vpcd at {}",
                eid_to_string(&emulator.state().eid()),
                state.display(),
                client.addr()
            );
            // The process runs until it is killed; the state file is always whole on disk.
            client.run(&mut emulator, &AtomicBool::new(false));
            Ok(())
        }
    }
}

fn print_state(card: &CardState, path: &std::path::Path, json: bool) {
    let eid = eid_to_string(&card.eid());
    if json {
        let value = serde_json::json!({
            "eid": eid,
            "state_file": path.display().to_string(),
            "state_version": STATE_VERSION,
        });
        println!("{value}");
    } else {
        println!("{eid}");
    }
}

fn exit_code(e: &EmulatorError) -> u8 {
    match e {
        EmulatorError::InvalidEid { .. } | EmulatorError::VpcdAddress { .. } => 2,
        EmulatorError::Io { .. }
        | EmulatorError::State { .. }
        | EmulatorError::StateExists { .. } => 3,
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_table() {
        Cli::command().debug_assert();
        let ok: &[&[&str]] = &[
            &["x", "init", "--state", "f"],
            &[
                "x",
                "init",
                "--state",
                "f",
                "--eid",
                "89044011112233441122334411223321",
                "--force",
                "--json",
            ],
            &["x", "run", "--state", "f"],
            &["x", "run", "--state", "f", "--vpcd", "127.0.0.1:35964"],
            &["x", "show", "--state", "f", "--json"],
        ];
        for args in ok {
            assert!(Cli::try_parse_from(*args).is_ok(), "{args:?}");
        }
        let bad: &[&[&str]] = &[
            &["x"],
            &["x", "frobnicate"],
            &["x", "init", "--eid"],
            &["x", "run", "--state", "f", "--vpcd"],
            &["x", "show", "--state", "f", "--force"],
        ];
        for args in bad {
            assert!(Cli::try_parse_from(*args).is_err(), "{args:?}");
        }
        let cli = Cli::try_parse_from(["x", "run", "--state", "f"]).unwrap();
        assert!(matches!(cli.command, Command::Run { ref vpcd, .. } if vpcd == DEFAULT_VPCD_ADDR));
    }

    #[test]
    fn exit_codes() {
        let invalid = EmulatorError::InvalidEid {
            input: "1".into(),
            source: euicc_emulator::eid::EidError::Length(1),
        };
        assert_eq!(exit_code(&invalid), 2);
        let exists = EmulatorError::StateExists {
            path: PathBuf::from("f"),
        };
        assert_eq!(exit_code(&exists), 3);
    }
}
