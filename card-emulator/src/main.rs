//! `euicc-emulator`: create, inspect and run an emulated SGP.02 eUICC on vsmartcard's virtual
//! reader.
//!
//! Exit codes: 0 success; 2 command line (including an invalid `--eid`, `--vpcd`, `--isdp`,
//! `--iccid`, `--pol1` or an unreadable `--package`); 3 state file (missing, unreadable,
//! corrupt, unsupported version, already exists, cannot be written, card in use by another
//! process, or the keystore file cannot be written); 4 no randomness from the OS for the card's
//! keys; 5 the card refuses the profile or its package (`profile-add`); 6 the PKI directory of
//! `init --pki` cannot be used.
//!
//! The card's keys leave the state file only through `keys`: `show` never prints them.
//!
//! `run` holds the state file's lock (`<state file>.lock`) for its whole life, reconnections to
//! vpcd included; `init` and `profile-add` take it while they write, and fail at once when
//! another process serves the card. `show` and `keys` only read and take no lock.

use clap::{Parser, Subcommand, ValueEnum};
use euicc_emulator::eid::{eid_to_string, parse_eid};
use euicc_emulator::eum;
use euicc_emulator::isd_p::{iccid_to_string, IsdP};
use euicc_emulator::keyset::{keystore_json, keystore_name};
use euicc_emulator::state::{write_atomic, EckaReading, STATE_VERSION};
use euicc_emulator::test_installer::{add_package, add_profile, PackageProfile, TestProfile};
use euicc_emulator::vpcd::{VpcdClient, DEFAULT_VPCD_ADDR};
use euicc_emulator::{CardState, Durability, Emulator, EmulatorError};
use smsr_proto::pki::Issuers;
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
        /// Play the EUM of this PKI directory (`smsr pki init`): generate the ECASD key pair,
        /// CERT.ECASD.ECKA signed by the EUM, store PK.CI, and give the ISD-R an SCP80 key set.
        #[arg(long, value_name = "DIR")]
        pki: Option<PathBuf>,
        /// Write the card's eUICC Information Set (for `smsr eis register`; it holds the ISD-R
        /// keys, mode 0600) to this file. Needs --pki.
        #[arg(long, value_name = "FILE", requires = "pki")]
        eis_out: Option<PathBuf>,
        /// The reading of the ES8 open points the card follows: `default` (the README's
        /// assumptions) or `njiwa` (one derived key, padded receipt input), a card for
        /// `smsr keys establish --probe` to identify.
        #[arg(long, value_enum, default_value_t = Reading::Default)]
        ecka_reading: Reading,
        /// The protocols the ATR offers: `t0` (the default, as eUICCs in devices: pcscd then
        /// talks T=0), `t1`, or `both` (pcscd then picks T=1).
        #[arg(long, value_enum, conflicts_with = "atr")]
        protocols: Option<ProtocolsArg>,
        /// The ATR in hex (checked: TS, interface bytes, historical bytes, TCK), e.g. a real
        /// card's.
        #[arg(long, value_name = "HEX")]
        atr: Option<String>,
        /// Install this SAIP package (DER) as the bootstrap profile, as the EUM does at
        /// manufacture: in the first ISD-P (…8900001000), ENABLED, with the Fallback
        /// Attribute; the EIS (--eis-out) lists it. Without it the card has no profile.
        #[arg(long, value_name = "PACKAGE")]
        bootstrap: Option<PathBuf>,
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
        /// Sync the state file to disk (fsync of the file and its directory) before answering
        /// each command that changed it, so that a crash of the machine loses nothing. Without
        /// it the file is still replaced atomically: killing the emulator (pulling the card)
        /// never leaves it torn.
        #[arg(long, env = "EUICC_FSYNC", value_parser = clap::builder::FalseyValueParser::new())]
        fsync: bool,
    },
    /// Test installer: put a profile into an ISD-P (created if absent), which becomes DISABLED
    /// (1F) as after an ES8 download. With --package, a SAIP profile package is installed
    /// (file system, USIM, AKA; prints the card's EUICCResponse); with --iccid only ICCID,
    /// Fallback Attribute and POL1 are recorded (no file system).
    #[command(name = "profile-add")]
    #[command(group(clap::ArgGroup::new("content").required(true).args(["iccid", "package"])))]
    ProfileAdd {
        /// The card's state file.
        #[arg(long, env = "EUICC_STATE")]
        state: PathBuf,
        /// The ISD-P instance AID, A0000005591010FFFFFFFF89 00 nnnn 00 in hex (first ISD-P:
        /// A0000005591010FFFFFFFF8900001000).
        #[arg(long)]
        isdp: String,
        /// The profile's ICCID, 19 or 20 digits (a profile without a file system).
        #[arg(long)]
        iccid: Option<String>,
        /// A SAIP profile package (DER) to install; its header gives the ICCID.
        #[arg(long)]
        package: Option<PathBuf>,
        /// Give the profile the Fallback Attribute (taken from any other profile).
        #[arg(long)]
        fallback: bool,
        /// POL1, one byte in hex: 01 disabling not allowed, 02 deletion not allowed, 04 delete
        /// when disabled (codings assumed, see smsr-proto sgp02::codings).
        #[arg(long, default_value = "00")]
        pol1: String,
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

/// [`euicc_emulator::atr::Protocols`] on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ProtocolsArg {
    T0,
    T1,
    Both,
}

/// [`EckaReading`] on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Reading {
    Default,
    Njiwa,
}

impl From<Reading> for EckaReading {
    fn from(r: Reading) -> Self {
        match r {
            Reading::Default => EckaReading::Default,
            Reading::Njiwa => EckaReading::Njiwa,
        }
    }
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
            pki,
            eis_out,
            ecka_reading,
            protocols,
            atr,
            bootstrap,
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
            let mut card = match keys {
                KeyChoice::Random => CardState::generate(eid)?,
                KeyChoice::Default => CardState::new(eid),
            };
            card.set_ecka_reading(ecka_reading.into());
            let atr = match (atr, protocols) {
                (Some(text), _) => {
                    let compact: String = text.split_whitespace().collect();
                    Some(
                        hex::decode(&compact).map_err(|e| EmulatorError::InvalidArgument {
                            what: "--atr",
                            input: text.clone(),
                            reason: e.to_string(),
                        })?,
                    )
                    .map(|bytes| (bytes, text))
                }
                (None, Some(p)) => {
                    let p = match p {
                        ProtocolsArg::T0 => euicc_emulator::atr::Protocols::T0,
                        ProtocolsArg::T1 => euicc_emulator::atr::Protocols::T1,
                        ProtocolsArg::Both => euicc_emulator::atr::Protocols::Both,
                    };
                    let bytes = euicc_emulator::atr::for_protocols(p);
                    let text = hex::encode_upper(&bytes);
                    Some((bytes, text))
                }
                (None, None) => None,
            };
            if let Some((bytes, text)) = atr {
                card.set_atr(Some(bytes))
                    .map_err(|reason| EmulatorError::InvalidArgument {
                        what: "--atr",
                        input: text,
                        reason,
                    })?;
            }
            let issuers = pki
                .map(|dir| Issuers::read_dir(&dir).map_err(|e| EmulatorError::Pki(e.to_string())))
                .transpose()?;
            if let Some(issuers) = &issuers {
                eum::personalize(&mut card, issuers).map_err(|e| match e {
                    eum::EumError::Random(r) => EmulatorError::KeyGeneration(r),
                    other => EmulatorError::Pki(other.to_string()),
                })?;
            }
            if let Some(package) = &bootstrap {
                let der = std::fs::read(package).map_err(|e| EmulatorError::InvalidArgument {
                    what: "--bootstrap",
                    input: package.display().to_string(),
                    reason: e.to_string(),
                })?;
                euicc_emulator::test_installer::install_bootstrap(&mut card, &der)?;
            }
            if !force && state.symlink_metadata().is_ok() {
                return Err(EmulatorError::StateExists { path: state });
            }
            if let (Some(path), Some(issuers)) = (eis_out, &issuers) {
                let eis = eum::eis_json(&card, issuers);
                write_atomic(&path, eis.as_bytes())
                    .map_err(|source| EmulatorError::Io { path, source })?;
            }
            let emulator = Emulator::create(&state, card, force)?;
            print_state(emulator.state(), &state, json, false);
            Ok(())
        }
        Command::ProfileAdd {
            state,
            isdp,
            iccid: _,
            package: Some(package),
            fallback,
            pol1,
        } => {
            let profile = PackageProfile::parse(&isdp, &package, fallback, &pol1)?;
            let (card, response) = add_package(&state, &profile)?;
            let iccid = card
                .registry()
                .isd_p(profile.isd_p.as_bytes())
                .and_then(|(_, d)| d.profile.as_ref())
                .map(|p| iccid_to_string(&p.iccid))
                .unwrap_or_default();
            println!(
                "{} ICCID {} DISABLED{}, {} PEs ok",
                hex::encode_upper(profile.isd_p.as_bytes()),
                iccid,
                if profile.fallback { ", fallback" } else { "" },
                response.pe_status.len()
            );
            println!("EUICCResponse {}", hex::encode_upper(response.to_der()));
            Ok(())
        }
        Command::ProfileAdd {
            state,
            isdp,
            iccid,
            package: None,
            fallback,
            pol1,
        } => {
            let iccid = iccid.unwrap_or_default();
            let profile = TestProfile::parse(&isdp, &iccid, fallback, &pol1)?;
            add_profile(&state, &profile)?;
            println!(
                "{} ICCID {} DISABLED{}",
                hex::encode_upper(profile.isd_p.as_bytes()),
                profile.iccid_digits(),
                if profile.fallback { ", fallback" } else { "" }
            );
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
            fsync,
        } => {
            let client = VpcdClient::new(&vpcd)?.with_socket_tuning(!no_socket_tuning);
            let durability = if fsync {
                Durability::Synced
            } else {
                Durability::Atomic
            };
            let mut emulator = Emulator::open(&state)?.with_durability(durability);
            tracing::info!(
                "card {} from {}; serving vpcd at {}",
                eid_to_string(&emulator.state().eid()),
                state.display(),
                client.addr()
            );
            // The process runs until it is killed; the state file is always whole on disk. The
            // emulator, and with it the state file's lock, lives as long as the process:
            // reconnections to vpcd serve the same locked card.
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
                    "isd_p": e.isd_p.as_ref().map(isd_p_json),
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
                "scp80_kvns": card.scp80_keysets().iter().map(|k| k.kvn).collect::<Vec<_>>(),
            },
            "ecasd": card.ecasd_keys().map(|e| serde_json::json!({
                "certificate": hex::encode_upper(e.certificate.to_bytes()),
                "ci_public_key": hex::encode_upper(e.ci.to_uncompressed()),
            })),
            "registry": registry,
            "notifications": card.notifications().pending().map(|n| serde_json::json!({
                "sequence": n.sequence,
                "type": format!("{:02X}", n.kind.to_byte()),
                "isd_p": n.isd_p.as_ref().map(|a| hex::encode_upper(a.as_bytes())),
            })).collect::<Vec<_>>(),
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
            let scp80: Vec<String> = card
                .scp80_keysets()
                .iter()
                .map(|k| format!("{:02X} (counter {})", k.kvn, k.counter))
                .collect();
            if !scp80.is_empty() {
                println!("ISD-R SCP80 key versions {}", scp80.join(" "));
            }
            match card.ecasd_keys() {
                Some(e) => println!(
                    "ECASD key agreement key certified by {:?} (CERT.ECASD.ECKA serial {})",
                    String::from_utf8_lossy(&e.certificate.body.ca_id),
                    hex::encode_upper(&e.certificate.body.serial)
                ),
                None => println!("ECASD without key agreement key (no ES8; init --pki gives one)"),
            }
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
                if let Some(p) = e.isd_p.as_ref().and_then(|d| d.profile.as_ref()) {
                    println!(
                        "  {:<11}   profile ICCID {} POL1 {:02X}{}",
                        "",
                        iccid_to_string(&p.iccid),
                        p.pol1,
                        if p.fallback { " fallback" } else { "" }
                    );
                }
            }
        }
    }
}

/// An ISD-P's SGP.02 data for `show --json`.
fn isd_p_json(d: &IsdP) -> serde_json::Value {
    serde_json::json!({
        "scp03_i": format!("{:02X}", d.scp03_i),
        "non_volatile_quota": d.non_volatile_quota,
        "volatile_quota": d.volatile_quota,
        "pending_reset": d.pending_reset,
        "profile": d.profile.as_ref().map(|p| serde_json::json!({
            "iccid": iccid_to_string(&p.iccid),
            "fallback": p.fallback,
            "pol1": format!("{:02X}", p.pol1),
        })),
    })
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
        EmulatorError::InvalidEid { .. }
        | EmulatorError::VpcdAddress { .. }
        | EmulatorError::InvalidArgument { .. } => 2,
        EmulatorError::Io { .. }
        | EmulatorError::State { .. }
        | EmulatorError::StateExists { .. }
        | EmulatorError::InUse { .. } => 3,
        EmulatorError::KeyGeneration(_) => 4,
        EmulatorError::Profile(_) | EmulatorError::PackageRefused { .. } => 5,
        EmulatorError::Pki(_) => 6,
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
            &[
                "x",
                "profile-add",
                "--state",
                "f",
                "--isdp",
                "A0000005591010FFFFFFFF8900001000",
                "--iccid",
                "8949449999999990023",
                "--fallback",
                "--pol1",
                "04",
            ],
            &[
                "x",
                "profile-add",
                "--state",
                "f",
                "--isdp",
                "A0000005591010FFFFFFFF8900001000",
                "--package",
                "p.der",
            ],
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
            &[
                "x",
                "profile-add",
                "--state",
                "f",
                "--iccid",
                "8949449999999990023",
            ],
            &["x", "profile-add", "--state", "f", "--isdp", "A0"],
            &[
                "x",
                "profile-add",
                "--state",
                "f",
                "--isdp",
                "A0",
                "--iccid",
                "8949449999999990023",
                "--package",
                "p.der",
            ],
            &[
                "x",
                "profile-add",
                "--state",
                "f",
                "--isdp",
                "A0",
                "--iccid",
                "1",
                "--pol1",
            ],
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
        let in_use = EmulatorError::InUse {
            path: PathBuf::from("card.json"),
            pid: Some(42),
        };
        assert_eq!(exit_code(&in_use), 3);
        assert!(in_use.to_string().contains("process 42"), "{in_use}");
        let rng = EmulatorError::KeyGeneration(euicc_emulator::keyset::KeyGenerationError(
            "no entropy".into(),
        ));
        assert_eq!(exit_code(&rng), 4);
        assert!(rng.to_string().contains("no entropy"));
    }
}
