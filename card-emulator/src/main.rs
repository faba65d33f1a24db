//! `euicc-emulator`: create, inspect and run an emulated SGP.02 eUICC on vsmartcard's virtual
//! reader.
//!
//! Exit codes: 0 success; 2 command line (including an invalid `--eid` or `--vpcd`); 3 state
//! file (missing, unreadable, corrupt, unsupported version, already exists, cannot be written,
//! or the keystore file cannot be written); 4 no randomness from the OS for the card's keys.
//!
//! The card's keys leave the state file only through `keys`: `show` never prints them.

use clap::{Parser, Subcommand, ValueEnum};
use euicc_emulator::eid::{eid_to_string, parse_eid};
use euicc_emulator::keyset::{keystore_json, keystore_name};
use euicc_emulator::state::{write_atomic, STATE_VERSION};
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
        /// The ISD-R's SCP03 key set (KVN 30): `random` (from the OS) or `default`, the
        /// GlobalPlatform test key 404142…4F for ENC, MAC and DEK — for tests only.
        #[arg(long, value_enum, default_value_t = KeyChoice::Random)]
        keys: KeyChoice,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the ISD-R's SCP03 key sets (secret!), or write them as a keystore for `smsr
    /// --keystore`.
    Keys {
        /// The card's state file.
        #[arg(long, env = "EUICC_STATE")]
        state: PathBuf,
        /// Print the keystore JSON document instead of a listing.
        #[arg(long)]
        json: bool,
        /// Write the keystore JSON document to this file (mode 0600) instead of printing.
        #[arg(long, conflicts_with = "json")]
        out: Option<PathBuf>,
    },
    /// Connect the card to vpcd and serve it until killed, reconnecting when pcscd restarts.
    Run {
        /// The card's state file.
        #[arg(long, env = "EUICC_STATE")]
        state: PathBuf,
        /// vpcd's address, HOST:PORT.
        #[arg(long, env = "EUICC_VPCD", default_value = DEFAULT_VPCD_ADDR)]
        vpcd: String,
        /// Leave the socket options at their defaults (no TCP_NODELAY, no TCP_QUICKACK): every
        /// APDU then stalls about 44 ms. Only for measuring what the tuning saves.
        #[arg(long)]
        no_socket_tuning: bool,
    },
    /// Show a card's state: EID, key versions, registry (never the keys).
    Show {
        /// The card's state file.
        #[arg(long, env = "EUICC_STATE")]
        state: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where a new card's keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KeyChoice {
    /// Random keys from the OS.
    Random,
    /// The GlobalPlatform test key 404142…4F (tests only).
    Default,
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
            keys,
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
            let card = match keys {
                KeyChoice::Random => CardState::generate(eid)?,
                KeyChoice::Default => CardState::new(eid),
            };
            let emulator = Emulator::create(&state, card, force)?;
            print_state(emulator.state(), &state, json, false);
            Ok(())
        }
        Command::Show { state, json } => {
            let card = CardState::load(&state)?;
            print_state(&card, &state, json, true);
            Ok(())
        }
        Command::Keys { state, json, out } => {
            let card = CardState::load(&state)?;
            let keystore = keystore_json(
                &card.eid(),
                card.scp03().keysets().iter().map(|set| &set.keys),
            );
            match out {
                Some(path) => {
                    let mut bytes = zeroize::Zeroizing::new(keystore.as_bytes().to_vec());
                    bytes.push(b'\n');
                    write_atomic(&path, &bytes)
                        .map_err(|source| EmulatorError::Io { path, source })?;
                }
                None if json => println!("{}", keystore.as_str()),
                None => print_keys(&card),
            }
            Ok(())
        }
        Command::Run {
            state,
            vpcd,
            no_socket_tuning,
        } => {
            let client = VpcdClient::new(&vpcd)?.with_socket_tuning(!no_socket_tuning);
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

/// The EID (`init`), with key versions and registry (`show`), or all of it as JSON.
fn print_state(card: &CardState, path: &std::path::Path, json: bool, details: bool) {
    let eid = eid_to_string(&card.eid());
    if json {
        let registry: Vec<_> = card
            .registry()
            .entries()
            .iter()
            .map(|e| {
                serde_json::json!({
                    "kind": e.kind.name(),
                    "aid": hex::encode_upper(e.aid.as_bytes()),
                    "life_cycle": format!("{:02X}", e.life_cycle),
                    "privileges": e.privileges.map(|p| hex::encode_upper(p.to_bytes())),
                    "associated_sd": e.associated_sd.as_ref().map(|a| hex::encode_upper(a.as_bytes())),
                    "modules": e.modules.iter().map(|m| hex::encode_upper(m.as_bytes())).collect::<Vec<_>>(),
                })
            })
            .collect();
        let value = serde_json::json!({
            "eid": eid,
            "state_file": path.display().to_string(),
            "state_version": STATE_VERSION,
            "isd_r": {
                "kvns": card.kvns(),
                "scp03_i": format!("{:02X}", card.scp03().options().to_i()),
                "kdd": hex::encode_upper(card.kdd()),
            },
            "registry": registry,
        });
        println!("{value}");
    } else {
        println!("{eid}");
        if details {
            let kvns: Vec<String> = card.kvns().iter().map(|k| format!("{k:02X}")).collect();
            println!(
                "ISD-R SCP03 key versions {} (i = {:02X}, KDD {})",
                kvns.join(" "),
                card.scp03().options().to_i(),
                hex::encode_upper(card.kdd())
            );
            println!("registry:");
            for e in card.registry().entries() {
                let privileges = e
                    .privileges
                    .map(|p| format!(" privileges {}", hex::encode_upper(p.to_bytes())))
                    .unwrap_or_default();
                println!(
                    "  {:<11} {} life cycle {:02X}{privileges}",
                    e.kind.name(),
                    hex::encode_upper(e.aid.as_bytes()),
                    e.life_cycle
                );
                for m in &e.modules {
                    println!("  {:<11}   module {}", "", hex::encode_upper(m.as_bytes()));
                }
            }
        }
    }
}

/// The listing of `keys`.
fn print_keys(card: &CardState) {
    println!("EID  {}", eid_to_string(&card.eid()));
    for (i, set) in card.scp03().keysets().iter().enumerate() {
        let keys = &set.keys;
        println!();
        println!("name {}", keystore_name(i, keys.kvn()));
        println!("KVN  {:02X} ({})", keys.kvn(), keys.kvn());
        for (name, key) in [
            ("ENC", keys.enc()),
            ("MAC", keys.mac()),
            ("DEK", keys.dek()),
        ] {
            let hex = zeroize::Zeroizing::new(hex::encode_upper(key.as_bytes()));
            println!(
                "{name}  {}  (KCV {})",
                hex.as_str(),
                hex::encode_upper(key.kcv())
            );
        }
        println!("sequence counter {:06X}", set.sequence_counter);
    }
}

fn exit_code(e: &EmulatorError) -> u8 {
    match e {
        EmulatorError::InvalidEid { .. } | EmulatorError::VpcdAddress { .. } => 2,
        EmulatorError::Io { .. }
        | EmulatorError::State { .. }
        | EmulatorError::StateExists { .. } => 3,
        EmulatorError::KeyGeneration(_) => 4,
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
            &["x", "init", "--state", "f", "--keys", "default"],
            &["x", "init", "--state", "f", "--keys", "random"],
            &["x", "keys", "--state", "f"],
            &["x", "keys", "--state", "f", "--json"],
            &["x", "keys", "--state", "f", "--out", "k.json"],
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
            &["x", "init", "--state", "f", "--keys", "weak"],
            &["x", "keys", "--state", "f", "--json", "--out", "k.json"],
            &["x", "keys", "--state", "f", "--out"],
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
        let rng = EmulatorError::KeyGeneration(euicc_emulator::keyset::KeyGenerationError(
            "no entropy".into(),
        ));
        assert_eq!(exit_code(&rng), 4);
        assert!(rng.to_string().contains("no entropy"));
    }
}
