//! The `smsr` command line (clap derive). Each command's work is in [`crate::commands`].

use crate::exit_code;
use crate::transport::pcsc::ProtocolChoice;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const ABOUT: &str = "SGP.02 SM-SR and SM-DP at APDU level: talk to eUICCs through PC/SC or to the \
                     bundled emulator";

const LONG_ABOUT: &str = "SGP.02 SM-SR and SM-DP at APDU level: talk to eUICCs through PC/SC or \
to the bundled emulator.

A card is reached through pcscd (a USB reader, or the virtual reader `Virtual PCD 00 00` that the \
bundled euicc-emulator plugs into), or with `--transport emulator` through the emulator linked \
in (no pcscd needed). Data goes to stdout (a table, or JSON with --json), diagnostics to stderr.

Examples:
  smsr readers                         list readers, cards and ATRs
  smsr info                            ATR, EID, which eUICC applications answer
  smsr --reader 'Virtual PCD' info     the card in the virtual reader
  smsr doctor                          check pcscd, readers, vpcd, the card, file permissions
  smsr apdu 00A4040010A0000005591010FFFFFFFF8900000200 80CA005A00
  smsr gp keys-check --key-enc HEX --key-mac HEX    do these keys open the ISD-R?
  smsr gp list --keyset NAME           the GlobalPlatform registry through SCP03
  smsr --trace run.jsonl info && smsr trace show run.jsonl";

const PROVISION_LONG_ABOUT: &str = "SM-SR + SM-DP: download a profile into a registered card \
and enable it: CreateISDP, key establishment (ECKA), SCP03t download, EnableProfile with a reset, \
notifications, and a check that the profile's USIM authenticates with its K/OPc; each step timed.

The profile is a SAIP package file (--profile), or is built on the fly from the values `smsr \
profile build` takes (--iccid, --imsi, --ki, --opc, --algo): the same values give the same \
package, so `smsr profile check` takes them too. Values are checked before the card is touched.

Examples:
  smsr provision --eid EID --pki pki --profile p.der
  smsr provision --eid EID --pki pki --iccid 89882800000000000011 --imsi 001010000000011 \\
      --ki 000102030405060708090A0B0C0D0E0F --opc 00112233445566778899AABBCCDDEEFF
  smsr profile check --eid EID --iccid 89882800000000000011 --imsi 001010000000011 \\
      --ki 000102030405060708090A0B0C0D0E0F --opc 00112233445566778899AABBCCDDEEFF";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "smsr", version, about = ABOUT, long_about = LONG_ABOUT, after_help = exit_code::HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Clone, Debug, Args)]
pub struct GlobalArgs {
    /// Reader: exact name, index from `smsr readers`, or a unique part of a name
    /// (case-insensitive). Default: the first reader holding a card.
    #[arg(long, short = 'r', global = true, env = "SMSR_READER")]
    pub reader: Option<String>,
    /// How to reach the card: `pcsc` (pcscd) or `emulator` (the bundled emulator linked in;
    /// needs --emulator-state).
    #[arg(long, global = true, value_enum, default_value_t = TransportKind::Pcsc, env = "SMSR_TRANSPORT")]
    pub transport: TransportKind,
    /// State file of the emulator for `--transport emulator` (made by `euicc-emulator init`).
    #[arg(long, global = true, value_name = "FILE", env = "SMSR_EMULATOR_STATE")]
    pub emulator_state: Option<PathBuf>,
    /// With --transport emulator: sync the card's state file to disk after every command that
    /// changed it (it is always replaced atomically; this also survives a machine crash).
    #[arg(
        long,
        global = true,
        env = "SMSR_EMULATOR_FSYNC",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub emulator_fsync: bool,
    /// Append every APDU exchange to this JSON Lines trace (see `smsr trace show`).
    #[arg(long, global = true, value_name = "FILE", env = "SMSR_TRACE")]
    pub trace: Option<PathBuf>,
    /// Append the secrets that open this run's secure channels again to FILE (SCP03 and SCP03t
    /// session keys, SCP80 key sets per TAR, TLS 1.2 master secrets in the NSS key log format
    /// Wireshark reads), for `smsr trace decrypt --keylog FILE`. Created 0600; keep it private.
    #[arg(long, global = true, value_name = "FILE", env = "SMSR_KEYLOG")]
    pub keylog: Option<PathBuf>,
    /// Write key-carrying commands (PUT KEY, key establishment) into the trace instead of
    /// "REDACTED". The trace then holds secrets: keep it private.
    #[arg(long, global = true)]
    pub trace_secrets: bool,
    /// Stream every APDU exchange live as GSMTAP (type SIM) over UDP to HOST[:PORT] (port 4729
    /// when left out; a port alone, e.g. `--gsmtap 4729`, is the loopback interface): the frames `smsr trace export --pcap` writes, for Wireshark capturing
    /// on that interface (display filter `gsm_sim`) or `pySim-trace.py gsmtap-udp`. Any address
    /// is accepted, and the frames carry the APDUs in clear (key-carrying commands redacted as
    /// in --trace unless --trace-secrets): send them only where you would keep the trace. No
    /// listener is not an error.
    #[arg(
        long,
        global = true,
        value_name = "HOST[:PORT]",
        env = "SMSR_GSMTAP",
        value_parser = crate::transport::gsmtap::GsmtapTarget::parse
    )]
    pub gsmtap: Option<crate::transport::gsmtap::GsmtapTarget>,
    /// Open the card in exclusive mode: no other program may use it meanwhile.
    #[arg(long, global = true)]
    pub exclusive: bool,
    /// Transmission protocol: auto (T=1 if offered, else T=0), t0, t1, any.
    #[arg(long, global = true, default_value = "auto", value_parser = parse_protocol)]
    pub protocol: ProtocolChoice,
    /// Print JSON on stdout instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// The SM-SR registry (SQLite) of the eis/isdp/profile/audit commands. Default:
    /// $XDG_DATA_HOME/smsr/smsr.db or ~/.local/share/smsr/smsr.db.
    #[arg(long, global = true, value_name = "FILE", env = "SMSR_DB")]
    pub db: Option<PathBuf>,
    /// What a SQLite commit (registry, stock) survives: `full` syncs the log at every commit
    /// (a crash of the machine loses nothing committed); `normal` syncs it at checkpoints only
    /// (a crash of the process loses nothing, one of the machine may undo the last commits).
    /// README "Durability".
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "LEVEL",
        default_value = "full",
        env = "SMSR_DB_SYNC"
    )]
    pub db_sync: crate::db::sqlite::Durability,
    /// More diagnostics on stderr (-v: each APDU, -vv: debug).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn parse_protocol(s: &str) -> Result<ProtocolChoice, String> {
    s.parse()
}

/// How to reach the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportKind {
    /// Through pcscd.
    Pcsc,
    /// The bundled emulator, linked in.
    Emulator,
}

/// How ES5 commands reach the ISD-R.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Es5Choice {
    /// ETSI TS 102 225 secured packets (EIS SCP80 KIc/KID, counter in the registry) in SMS-PP
    /// download ENVELOPEs: how an SM-SR reaches a real SGP.02 eUICC.
    Scp80,
    /// An SCP03 session on the ISD-R with the EIS's keys (test-card convenience).
    Scp03,
    /// HTTPS with a pre-shared key (GP Amendment B, EIS SCP81 PSK): an SCP80 SMS wakes the
    /// card, which opens a BIP channel this tool relays to its own PSK-TLS admin server; every
    /// script of the operation travels in one TLS session.
    Scp81,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List readers, whether each holds a card, and the card's ATR.
    Readers,
    /// Show the card's ATR, its EID (ECASD GET DATA 5A) and which of ISD-R and ECASD answer.
    Info,
    /// Check pcscd, the readers, the virtual reader driver, the card and file permissions;
    /// each check gets a verdict and, when it fails, a fix. With --sm-dp/--sm-sr, a component
    /// table of the services too: status, TLS handshake and response time, cards reached.
    Doctor(crate::commands::doctor::DoctorArgs),
    /// Send raw APDUs (hex) and print each response with its status word's meaning.
    ///
    /// Responses are whole: 61xx is resolved with GET RESPONSE and 6Cxx by resending with the
    /// right Le. Sending stops at the first error status word unless --keep-going is given.
    Apdu(ApduArgs),
    /// Read APDU traces.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Measure the round-trip time of one APDU through the chosen transport (median, p90,
    /// p99): a reader's speed, or the virtual reader's socket tuning.
    Bench(BenchArgs),
    /// GlobalPlatform card management through SCP03: keys-check, list, info, apdu, put-key,
    /// delete, install, store-data.
    #[command(subcommand)]
    Gp(crate::commands::gp::GpCommand),
    /// SM-SR: the eUICC Information Sets in the registry (register, show, list).
    #[command(subcommand)]
    Eis(crate::commands::platform::EisCommand),
    /// SM-SR: ISD-P management on the card (ES5.CreateISDP).
    #[command(subcommand)]
    Isdp(crate::commands::platform::IsdpCommand),
    /// SM-SR: profile life cycle on the card (ES5.EnableProfile, DisableProfile,
    /// SetFallbackAttribute, DeleteProfile, POL2); SAIP packages offline (inspect, build,
    /// personalize).
    #[command(subcommand)]
    Profile(crate::commands::platform::ProfileCommand),
    /// SM-SR: read the card's notifications, record and confirm them
    /// (HandleNotificationConfirmation); ISD-Ps the card deleted on confirmation leave the
    /// registry.
    Notifications(crate::commands::platform::NotificationsArgs),
    /// SM-SR + SM-DP: download a profile into a registered card and enable it: CreateISDP,
    /// key establishment (ECKA), SCP03t download, EnableProfile with a reset, notifications,
    /// and a check that the profile's USIM authenticates with its K/OPc; each step timed.
    #[command(
        long_about = PROVISION_LONG_ABOUT,
        override_usage = "smsr provision [OPTIONS] --eid <EID> --pki <DIR> \
                          (--profile <FILE> | --iccid <ICCID> --imsi <IMSI> --ki <KI> --opc <OPC>)"
    )]
    Provision(crate::commands::provision::ProvisionArgs),
    /// SM-DP: ES8 key establishment on one ISD-P on its own (`establish`), with `--probe` to
    /// find which reading of the open points of ES8 the card follows.
    #[command(subcommand)]
    Keys(crate::commands::keys::KeysCommand),
    /// SM-SR: ES5.AuditEIS — read the card's ISD-Ps and make the registry agree, settling
    /// operations a crash left pending.
    Audit(crate::commands::platform::AuditArgs),
    /// PKI files: make a test PKI directory with its TLS test PKI (init), issue another TLS
    /// certificate (issue), decode and verify a 7F21 certificate (show).
    #[command(subcommand)]
    Pki(crate::commands::pki::PkiCommand),
    /// Run the SM-SR or the SM-DP as an HTTPS service with mutual TLS (ES1/ES3/ES4, ES2).
    #[command(subcommand, long_about = crate::commands::serve::LONG_ABOUT)]
    Serve(crate::commands::serve::ServeCommand),
    /// The operator (MNO) as a client of the services: download-profile (ES2), enable,
    /// disable, delete (ES2 or ES4), set-fallback, audit, get-eis (ES4).
    #[command(subcommand)]
    Mno(crate::commands::remote::MnoCommand),
    /// The EUM as a client of the SM-SR: register an EIS (ES1).
    #[command(subcommand)]
    Eum(crate::commands::remote::EumCommand),
    /// SM-DP: the profile stock DownloadProfile takes profiles from (add, list).
    #[command(subcommand)]
    Stock(crate::commands::stock::StockCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), e.g.
    /// `smsr completions bash > /etc/bash_completion.d/smsr`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `smsr manpage > smsr.1 && man ./smsr.1`.
    Manpage,
    /// A fleet of EUM-personalized emulator cards for `serve sm-sr --fleet` (init): made on
    /// every core, each EIS registered through ES1 or in the registry.
    #[command(subcommand)]
    Fleet(crate::commands::fleet::FleetCommand),
}

/// `smsr bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Round trips to time.
    #[arg(long, short = 'n', default_value_t = 2000)]
    pub count: usize,
    /// Untimed round trips first.
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,
    /// The APDU to send (default: SELECT ECASD without response data, answered 9000).
    #[arg(long, value_name = "HEX")]
    pub apdu: Option<String>,
}

/// `smsr apdu`.
#[derive(Debug, Args)]
pub struct ApduArgs {
    /// Command APDUs in hex, one per argument (spaces and colons inside a quoted argument are
    /// ignored: '00 A4 04 00 00' is one APDU).
    #[arg(required = true, value_name = "HEX")]
    pub apdus: Vec<String>,
    /// Go on after an error status word.
    #[arg(long)]
    pub keep_going: bool,
}

/// `smsr trace ...`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// A readable listing of a trace: command names, AIDs, status-word meanings, timings, TLV
    /// trees of response data, proactive commands, and the structure of SMS-PP ENVELOPEs and
    /// PoRs (SMS header, SPI, KIc, KID, TAR; with --keylog or --eis, opened as `decrypt` does).
    Show(ShowArgs),
    /// Open every layer of a trace the keys reach, and verify it: SCP03 sessions (cryptograms,
    /// C-MAC, R-MAC), SMS-PP ENVELOPEs → SCP80 packets (checksum, counter order) → ES5 scripts,
    /// PoRs → response scripts, SCP81 TLS records → HTTP → scripts, and SCP03t profile
    /// segments (every MAC; joined into the profile with --extract-profile). Keys: the key log
    /// of the run (`--keylog FILE`, written by any command given --keylog), an EIS (--eis:
    /// SCP80 and SCP03 keys of the ISD-R, and its SCP81 PSKs, which open the TLS sessions
    /// without the key log), or SCP03 static keys. Any failed check, or a line
    /// missing or out of order, is reported at its exchange and the exit code is 1.
    /// With --json, one object per exchange per line.
    ///
    /// Example: smsr --trace run.jsonl --keylog run.keys provision ... ;
    /// smsr trace decrypt run.jsonl --keylog run.keys --extract-profile profile.der
    Decrypt(DecryptArgs),
    /// Write a trace as a pcap file for Wireshark: one GSMTAP (type SIM) frame per exchange,
    /// read by Wireshark's `gsm_sim` dissector and pySim-trace.
    #[command(long_about = crate::commands::export::LONG_ABOUT)]
    Export(crate::commands::export::ExportArgs),
}

/// `smsr trace show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The trace (JSON Lines; lines with only "c_apdu" and "r_apdu" are accepted).
    pub file: PathBuf,
    /// An EIS (JSON) whose ISD-R SCP80, SCP03 and SCP81 (PSK) keys open the trace's packets and
    /// sessions (the key log is the global --keylog FILE; its TLS secrets are tried first).
    #[arg(long, value_name = "EIS.json")]
    pub eis: Option<PathBuf>,
}

/// `smsr trace decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The trace (JSON Lines; lines with only "c_apdu" and "r_apdu" are accepted).
    pub file: PathBuf,
    /// An EIS (JSON) whose ISD-R SCP80, SCP03 and SCP81 (PSK) keys open the trace's packets and
    /// sessions (the key log is the global --keylog FILE; its TLS secrets are tried first).
    #[arg(long, value_name = "EIS.json")]
    pub eis: Option<PathBuf>,
    /// Write the profile package the SM-DP sent, joined from the decrypted SCP03t segments
    /// (the last download of the trace), to this file (mode 0600: it holds K and OPc).
    #[arg(long, value_name = "OUT.der")]
    pub extract_profile: Option<PathBuf>,
    /// Show the profile segments' plaintext (K and OPc among it).
    #[arg(long)]
    pub show_secrets: bool,
    /// The static ENC key (hex, 16/24/32 bytes).
    #[arg(long, value_name = "HEX", env = "SMSR_KEY_ENC", hide_env_values = true)]
    pub key_enc: Option<String>,
    /// The static MAC key.
    #[arg(long, value_name = "HEX", env = "SMSR_KEY_MAC", hide_env_values = true)]
    pub key_mac: Option<String>,
    /// The static DEK (only for key components; optional).
    #[arg(long, value_name = "HEX", env = "SMSR_KEY_DEK", hide_env_values = true)]
    pub key_dek: Option<String>,
    /// A master key, diversified per card with --kdf (instead of --key-enc/--key-mac).
    #[arg(long, value_name = "HEX", conflicts_with_all = ["key_enc", "key_mac", "key_dek"])]
    pub key: Option<String>,
    /// Diversification of --key: none, emv, visa2, kdf3.
    #[arg(long, value_name = "TEMPLATE")]
    pub kdf: Option<String>,
    /// The key version number (any KVN is tried; this one first).
    #[arg(long, value_parser = parse_hex_byte)]
    pub kvn: Option<u8>,
}

/// A byte in hex (`30`, `0x30`).
pub fn parse_hex_byte(s: &str) -> Result<u8, String> {
    let t = s.trim_start_matches("0x").trim_start_matches("0X");
    u8::from_str_radix(t, 16).map_err(|_| format!("{s:?} is not a hex byte (e.g. 30)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_anywhere() {
        let cli = Cli::try_parse_from(["smsr", "info", "--reader", "1", "--json"]).unwrap();
        assert_eq!(cli.global.reader.as_deref(), Some("1"));
        assert!(cli.global.json);
        let cli = Cli::try_parse_from([
            "smsr",
            "--transport",
            "emulator",
            "--emulator-state",
            "card.json",
            "apdu",
            "00A40400",
            "80CA005A00",
        ])
        .unwrap();
        assert_eq!(cli.global.transport, TransportKind::Emulator);
        let Command::Apdu(a) = cli.command else {
            panic!("not apdu")
        };
        assert_eq!(a.apdus.len(), 2);
        assert!(Cli::try_parse_from(["smsr", "--protocol", "t2", "info"]).is_err());
        assert!(Cli::try_parse_from(["smsr", "apdu"]).is_err());
        let cli = Cli::try_parse_from(["smsr", "info", "--emulator-fsync"]).unwrap();
        assert!(cli.global.emulator_fsync);
    }

    const EID: &str = "89001999000010000000000000000022";
    const ISDP: &str = "A0000005591010FFFFFFFF8900001000";

    #[test]
    fn eids_and_isdp_aids_are_read_by_the_parser() {
        let ok: &[&[&str]] = &[
            &["isdp", "create", "--eid", EID],
            &["eis", "show", EID],
            &["eis", "show"],
            &["profile", "enable", "--eid", EID, "--isdp", ISDP],
            &[
                "profile",
                "delete",
                "--eid",
                EID,
                "--isdp",
                "a0000005591010ffffffff8900001000",
            ],
            &["profile", "pol2", "--eid", EID, "--iccid", "8988"],
            &["audit", "--eid", EID],
            &["notifications", "--eid", EID],
            &[
                "keys",
                "establish",
                "--eid",
                EID,
                "--pki",
                "p",
                "--isdp",
                ISDP,
            ],
            &[
                "provision",
                "--eid",
                EID,
                "--pki",
                "p",
                "--profile",
                "p.der",
            ],
        ];
        for line in ok {
            let args = ["smsr"].iter().chain(line.iter());
            assert!(Cli::try_parse_from(args).is_ok(), "{line:?}");
        }
        let bad: &[(&[&str], &str)] = &[
            (&["isdp", "create", "--eid", "E"], "--eid"),
            (
                &["audit", "--eid", "8900199900001000000000000000001"],
                "--eid",
            ),
            (
                &["notifications", "--eid", "8900199900001000000000000000001A"],
                "--eid",
            ),
            (&["eis", "show", "89AB"], "[EID]"),
            (
                &["profile", "check", "--eid", "E", "--profile", "p.der"],
                "--eid",
            ),
            (
                &["profile", "enable", "--eid", EID, "--isdp", "A0"],
                "--isdp",
            ),
            (
                &["profile", "delete", "--eid", EID, "--isdp", "ISD-P"],
                "--isdp",
            ),
            (
                &[
                    "keys",
                    "establish",
                    "--eid",
                    EID,
                    "--pki",
                    "p",
                    "--isdp",
                    "A0000",
                ],
                "--isdp",
            ),
        ];
        for (line, option) in bad {
            let args = ["smsr"].iter().chain(line.iter());
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{line:?}"
            );
            let text = err.to_string();
            assert!(text.contains(option), "{line:?}: {text}");
            let expected = if *option == "--isdp" {
                "is not an AID (5 to 16 bytes in hex)"
            } else {
                "is not an EID: 32 decimal digits expected"
            };
            assert!(text.contains(expected), "{line:?}: {text}");
        }
    }

    #[test]
    fn provision_takes_a_file_or_the_inline_values_not_both() {
        let base = ["smsr", "provision", "--eid", EID, "--pki", "pki"];
        let inline = [
            "--iccid",
            "89882800000000000011",
            "--imsi",
            "001010000000011",
            "--ki",
            "000102030405060708090A0B0C0D0E0F",
            "--opc",
            "00112233445566778899AABBCCDDEEFF",
        ];
        let parse = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra));
        let Command::Provision(a) = parse(&["--profile", "p.der"]).unwrap().command else {
            panic!("not provision")
        };
        assert!(a.source.profile.is_some() && a.source.fields.is_none());
        let Command::Provision(a) = parse(&inline).unwrap().command else {
            panic!("not provision")
        };
        let fields = a.source.fields.unwrap();
        assert_eq!(fields.imsi, "001010000000011");
        assert_eq!(fields.algo, crate::commands::saip::AlgoChoice::Milenage);
        assert!(a.source.profile.is_none());
        // Neither, both, or an incomplete inline set: refused by the parser.
        assert!(parse(&[]).is_err());
        let both: Vec<&str> = inline
            .iter()
            .copied()
            .chain(["--profile", "p.der"])
            .collect();
        assert!(parse(&both).is_err());
        assert!(parse(&inline[..6]).is_err());
        assert!(parse(&["--iccid", "89882800000000000011"]).is_err());
        // `profile check` takes the same choice.
        let check = |extra: &[&str]| {
            Cli::try_parse_from(
                ["smsr", "profile", "check", "--eid", EID]
                    .iter()
                    .chain(extra),
            )
        };
        assert!(check(&inline).is_ok());
        assert!(check(&["--profile", "p.der"]).is_ok());
        assert!(check(&both).is_err());
    }
}
