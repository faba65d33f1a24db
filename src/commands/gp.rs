//! `smsr gp`: GlobalPlatform card management through an SCP03 session on a Security Domain
//! (the ISD-R by default): keys check, registry listing, card information, secure APDUs, PUT
//! KEY, DELETE, INSTALL and STORE DATA — what GlobalPlatformPro users do, with the keys checked
//! against the card cryptogram before any EXTERNAL AUTHENTICATE is sent.

use super::{info, open_card, print_json, sw_hex, CliError};
use crate::cli::GlobalArgs;
use crate::gp::{get_status_all, StatusError};
use crate::hexfmt;
use crate::keys::ResolvedKeys;
use crate::keys::{parse_kvn, KeyArgs};
use crate::names::describe_command;
use crate::secure::{keys_check, SecureChannel, SecureError, SessionInfo, SessionOptions};
use crate::transport::Transport;
use clap::{Args, Subcommand};
use serde::Serialize;
use smsr_proto::gp::aid::{known_aid_name, Aid};
use smsr_proto::gp::delete::Delete;
use smsr_proto::gp::get_data::cplc::Cplc;
use smsr_proto::gp::get_data::key_info::{key_type_name, KeyInformationTemplate};
use smsr_proto::gp::get_data::{tags, DataObject, ExtendedCardResources, GetData};
use smsr_proto::gp::get_status::{RegistryEntry, StatusScope};
use smsr_proto::gp::install::{ForInstall, Install};
use smsr_proto::gp::life_cycle;
use smsr_proto::gp::privileges::Privileges;
use smsr_proto::gp::store_data::StoreData;
use smsr_proto::scp03::StaticKeys;
use smsr_proto::{CommandApdu, ResponseApdu};

/// `smsr gp ...`.
#[derive(Debug, Subcommand)]
pub enum GpCommand {
    /// INITIALIZE UPDATE only: show the card's KVN, SCP "i" parameter and key diversification
    /// data, and whether the card cryptogram matches the keys. No EXTERNAL AUTHENTICATE is sent,
    /// so a wrong key costs no retry. Exit code 0: the keys match; 1: they do not.
    ///
    /// The card cryptogram is computed with the session MAC key, so it proves Key-MAC (and the
    /// KVN and diversification); Key-ENC and Key-DEK are proven only when used.
    ///
    /// Example: smsr gp keys-check --key-enc 4041...4F --key-mac 4041...4F --kvn 30
    KeysCheck(SessionArgs),
    /// The GlobalPlatform registry: the Issuer Security Domain, applications and Security
    /// Domains (ISD-Ps included), load files and their modules, with life cycles and
    /// privileges.
    ///
    /// Example: smsr gp list --keyset my-card
    List(SessionArgs),
    /// Card data (66), key information template (E0), CPLC (9F7F), IIN (42), CIN (45),
    /// sequence counter (C1) and free memory (FF21), each read in the session; an object the
    /// card does not hold is listed with its status word.
    Info(SessionArgs),
    /// Send APDUs (hex) through an SCP03 session at the chosen --level, and print each
    /// plaintext response. Stops at the first error status word unless --keep-going.
    ///
    /// Example: smsr gp apdu --secure --level cmac-cdec-rmac-renc 80CA00E000
    Apdu(GpApduArgs),
    /// PUT KEY: load a new AES key set (ENC, MAC, DEK) encrypted with the session's DEK,
    /// adding it or replacing a key set; the key check values the card answers are verified.
    ///
    /// Example: smsr gp put-key --new-kvn 31 --new-key 00112233445566778899AABBCCDDEEFF
    PutKey(PutKeyArgs),
    /// DELETE an application, Security Domain or load file by AID.
    Delete(DeleteArgs),
    /// INSTALL [for install (and make selectable)] of an application from a load file module.
    Install(InstallArgs),
    /// STORE DATA to the Security Domain, or to an application after INSTALL [for
    /// personalization] (--to), cut into numbered blocks.
    StoreData(StoreDataArgs),
}

/// The Security Domain and the keys of the session.
#[derive(Debug, Args)]
pub struct SessionArgs {
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Security Domain to open the session on (AID in hex). Default: the ISD-R
    /// A0000005591010FFFFFFFF8900000100.
    #[arg(long, value_name = "AID")]
    pub sd: Option<String>,
}

/// `smsr gp apdu`.
#[derive(Debug, Args)]
pub struct GpApduArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Send the APDUs through the SCP03 session (without it they go in clear after the SELECT
    /// of the Security Domain).
    #[arg(long)]
    pub secure: bool,
    /// Go on after an error status word.
    #[arg(long)]
    pub keep_going: bool,
    /// Command APDUs in hex, as plaintext (the session adds MACs and encryption).
    #[arg(required = true, value_name = "HEX")]
    pub apdus: Vec<String>,
}

/// `smsr gp put-key`.
#[derive(Debug, Args)]
pub struct PutKeyArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// KVN of the new key set (hex, 01–7F).
    #[arg(long, value_name = "HEX", value_parser = parse_kvn)]
    pub new_kvn: u8,
    /// One AES key (hex) used for the new ENC, MAC and DEK.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["new_key_enc", "new_key_mac", "new_key_dek"])]
    pub new_key: Option<String>,
    /// The new Key-ENC (hex).
    #[arg(long, value_name = "HEX", requires_all = ["new_key_mac", "new_key_dek"])]
    pub new_key_enc: Option<String>,
    /// The new Key-MAC (hex).
    #[arg(long, value_name = "HEX")]
    pub new_key_mac: Option<String>,
    /// The new Key-DEK (hex).
    #[arg(long, value_name = "HEX")]
    pub new_key_dek: Option<String>,
    /// Replace the key set with this KVN (hex) instead of adding one; `--replace` alone
    /// replaces the key set the session was opened with.
    #[arg(long, value_name = "HEX", num_args = 0..=1, default_missing_value = "00", value_parser = parse_kvn)]
    pub replace: Option<u8>,
}

/// `smsr gp delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// AID (hex) of what to delete.
    #[arg(value_name = "AID")]
    pub aid: String,
    /// Delete the related objects too (P2 80: a load file with its applications, an ISD-P
    /// with its profile).
    #[arg(long)]
    pub related: bool,
}

/// `smsr gp install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Executable Load File AID (hex).
    #[arg(long, value_name = "AID")]
    pub load_file: String,
    /// Executable Module AID (hex).
    #[arg(long, value_name = "AID")]
    pub module: String,
    /// The new application's AID (hex).
    #[arg(long, value_name = "AID")]
    pub aid: String,
    /// Privileges (hex, 1 or 3 bytes; 00 for none).
    #[arg(long, value_name = "HEX", default_value = "00")]
    pub privileges: String,
    /// Install parameters (hex, e.g. C900 or C9 04 81 02 03 70).
    #[arg(long, value_name = "HEX", default_value = "C900")]
    pub params: String,
    /// Install only (P1 04), without making the application selectable.
    #[arg(long)]
    pub not_selectable: bool,
}

/// `smsr gp store-data`.
#[derive(Debug, Args)]
pub struct StoreDataArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Send INSTALL [for personalization] of this application (AID hex) first.
    #[arg(long, value_name = "AID")]
    pub to: Option<String>,
    /// The data is DGI formatted (P1 b4).
    #[arg(long, conflicts_with = "ber")]
    pub dgi: bool,
    /// The data is BER-TLV formatted (P1 b5).
    #[arg(long)]
    pub ber: bool,
    /// Largest data field per block (bytes).
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub block_size: usize,
    /// The data (hex), cut into blocks.
    #[arg(value_name = "HEX")]
    pub data: String,
}

fn aid_arg(what: &str, text: &str) -> Result<Aid, CliError> {
    let bytes = hexfmt::parse(text).map_err(|e| CliError::Input(format!("{what}: {e}")))?;
    Aid::new(&bytes).map_err(|e| CliError::Input(format!("{what} {text}: {e}")))
}

fn hex_arg(what: &str, text: &str) -> Result<Vec<u8>, CliError> {
    hexfmt::parse(text).map_err(|e| CliError::Input(format!("{what}: {e}")))
}

impl From<SecureError> for CliError {
    fn from(e: SecureError) -> Self {
        match e {
            SecureError::Transport(t) => CliError::Transport(t),
            other => CliError::Secure(other),
        }
    }
}

/// The card, the Security Domain and the resolved keys.
struct Prepared {
    card: Box<dyn Transport>,
    sd: Aid,
    keys: ResolvedKeys,
    options: SessionOptions,
}

fn prepare(g: &GlobalArgs, args: &SessionArgs) -> Result<Prepared, CliError> {
    let sd = match &args.sd {
        Some(text) => aid_arg("--sd", text)?,
        None => crate::secure::default_sd_aid(),
    };
    let mut card = open_card(g)?;
    let k = &args.keys;
    let from_command_line = k.key.is_some() || k.key_enc.is_some() || k.keyset.is_some();
    // The keystore finds a card's keys by its EID: read it only when it is needed.
    let eid = if from_command_line {
        None
    } else {
        info::read_eid(card.as_mut()).ok().map(|e| e.0)
    };
    let (keys, warnings) = k
        .resolve(eid.as_ref().map(|e| &e[..]))
        .map_err(|e| CliError::Input(e.to_string()))?;
    for w in warnings {
        eprintln!("smsr: warning: {w}");
    }
    Ok(Prepared {
        card,
        sd,
        keys,
        options: SessionOptions {
            mode: k.mode(),
            ..SessionOptions::default()
        },
    })
}

fn open(
    g: &GlobalArgs,
    args: &SessionArgs,
) -> Result<(SecureChannel<Box<dyn Transport>>, SessionInfo), CliError> {
    let p = prepare(g, args)?;
    let (channel, info) =
        SecureChannel::open(p.card, Some(&p.sd), &p.keys, args.keys.level, &p.options)?;
    if !g.json {
        eprintln!(
            "smsr: SCP03 session on {} with key version {} (i={}, {}), level {}",
            info.sd_aid.as_deref().unwrap_or("-"),
            info.kvn,
            info.i,
            info.mode,
            info.level_name.as_deref().unwrap_or("-")
        );
    }
    Ok((channel, info))
}

pub fn run(g: &GlobalArgs, cmd: &GpCommand) -> Result<(), CliError> {
    match cmd {
        GpCommand::KeysCheck(args) => keys_check_cmd(g, args),
        GpCommand::List(args) => list(g, args),
        GpCommand::Info(args) => card_info(g, args),
        GpCommand::Apdu(args) => apdu(g, args),
        GpCommand::PutKey(args) => put_key(g, args),
        GpCommand::Delete(args) => delete(g, args),
        GpCommand::Install(args) => install(g, args),
        GpCommand::StoreData(args) => store_data(g, args),
    }
}

fn keys_check_cmd(g: &GlobalArgs, args: &SessionArgs) -> Result<(), CliError> {
    let mut p = prepare(g, args)?;
    let check = keys_check(&mut p.card, Some(&p.sd), &p.keys, &p.options)?;
    if g.json {
        print_json(&check);
    } else {
        let s = &check.session;
        println!("Security Domain    {}", s.sd_aid.as_deref().unwrap_or("-"));
        println!("key version (KVN)  {}", s.kvn);
        println!("SCP                {} i={} {}", s.scp, s.i, s.mode);
        println!("KDD                {}", s.kdd);
        if let Some(c) = s.sequence_counter {
            println!("sequence counter   {c:06X}");
        }
        println!("keys               {}", s.keys);
        println!("diversification    {}", s.diversification);
        println!("KCV ENC MAC DEK    {}", check.kcvs.join(" "));
        println!(
            "card cryptogram    {}",
            if check.matches {
                "matches: Key-MAC is right (Key-ENC and Key-DEK are proven only when \
                 they are used: an encrypted command, PUT KEY)"
            } else {
                "does NOT match"
            }
        );
    }
    if check.matches {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "the keys do not match the card's key set '{}': wrong key, wrong --kvn, or the \
             card's keys are diversified (try --key with --kdf emv, visa2 or kdf3); no EXTERNAL \
             AUTHENTICATE was sent, so no retry was spent",
            check.session.kvn
        )))
    }
}

/// One registry entry as `smsr gp list` shows it.
#[derive(Debug, Serialize)]
pub struct ListedEntry {
    /// "isd", "security-domain", "isd-p", "application", "load-file".
    pub kind: &'static str,
    pub aid: String,
    /// The AID's well-known name (ISD-R, ECASD...).
    pub name: Option<&'static str>,
    /// Life cycle (hex) and its name.
    pub life_cycle: String,
    pub life_cycle_name: String,
    /// Privileges (hex) and their names.
    pub privileges: Option<String>,
    pub privilege_names: Vec<&'static str>,
    pub associated_sd: Option<String>,
    pub load_file: Option<String>,
    pub modules: Vec<String>,
}

fn listed(e: &RegistryEntry, scope: StatusScope) -> ListedEntry {
    let kind = e.kind(scope);
    ListedEntry {
        kind: match kind {
            life_cycle::EntityKind::IssuerSecurityDomain => "isd",
            life_cycle::EntityKind::SecurityDomain => "security-domain",
            life_cycle::EntityKind::IsdP => "isd-p",
            life_cycle::EntityKind::LoadFile => "load-file",
            _ => "application",
        },
        aid: hexfmt::upper(e.aid.as_bytes()),
        name: known_aid_name(e.aid.as_bytes()),
        life_cycle: format!("{:02X}", e.life_cycle),
        life_cycle_name: life_cycle::describe(kind, e.life_cycle),
        privileges: e.privileges.map(|p| hexfmt::upper(&p.to_bytes())),
        privilege_names: e
            .privileges
            .map(|p| p.list().into_iter().map(|x| x.name()).collect())
            .unwrap_or_default(),
        associated_sd: e
            .associated_sd
            .as_ref()
            .map(|a| hexfmt::upper(a.as_bytes())),
        load_file: e.load_file.as_ref().map(|a| hexfmt::upper(a.as_bytes())),
        modules: e
            .modules
            .iter()
            .map(|m| hexfmt::upper(m.as_bytes()))
            .collect(),
    }
}

fn status_error(scope: StatusScope, e: StatusError<SecureError>) -> CliError {
    match e {
        StatusError::Link(s) => s.into(),
        StatusError::Refused(sw) => CliError::CardRefused {
            what: format!("GET STATUS P1 {:02X}", scope.p1()),
            sw,
        },
        StatusError::BadResponse(m) => CliError::BadResponse(m),
    }
}

fn list(g: &GlobalArgs, args: &SessionArgs) -> Result<(), CliError> {
    let (mut channel, _) = open(g, args)?;
    let mut out = Vec::new();
    for scope in [
        StatusScope::IssuerSecurityDomain,
        StatusScope::Applications,
        StatusScope::LoadFilesAndModules,
    ] {
        let entries = match get_status_all(scope, |c| channel.exchange(c)) {
            // Cards that do not list modules (P1 10) still list load files (P1 20).
            Err(StatusError::Refused(_)) if scope == StatusScope::LoadFilesAndModules => {
                get_status_all(StatusScope::LoadFiles, |c| channel.exchange(c))
                    .map_err(|e| status_error(StatusScope::LoadFiles, e))?
            }
            other => other.map_err(|e| status_error(scope, e))?,
        };
        out.extend(entries.iter().map(|e| listed(e, scope)));
    }
    if g.json {
        print_json(&serde_json::json!({ "entries": out }));
        return Ok(());
    }
    for e in &out {
        let name = e.name.map(|n| format!(" ({n})")).unwrap_or_default();
        println!("{:<15} {}{name}", e.kind, e.aid);
        println!("                life cycle {}", e.life_cycle_name);
        if let Some(p) = &e.privileges {
            println!(
                "                privileges {p} {}",
                e.privilege_names.join(", ")
            );
        }
        for m in &e.modules {
            println!("                module {m}");
        }
    }
    Ok(())
}

/// One data object read by `smsr gp info`.
#[derive(Debug, Serialize)]
struct InfoObject {
    tag: String,
    name: &'static str,
    /// The raw TLV (hex), when the card gave it.
    value: Option<String>,
    /// The status word when the card did not.
    sw: Option<String>,
    /// A readable decoding.
    decoded: Vec<String>,
}

fn decode_object(tag: u16, bytes: &[u8]) -> Result<Vec<String>, String> {
    let e = |e: smsr_proto::gp::GpError| e.to_string();
    Ok(match tag {
        tags::CARD_DATA => {
            let d =
                smsr_proto::gp::get_data::card_recognition::CardData::parse(bytes).map_err(e)?;
            let mut v = vec![format!(
                "GlobalPlatform {}",
                d.recognition
                    .gp_version()
                    .unwrap_or_else(|| "version unknown".into())
            )];
            v.extend(
                d.recognition
                    .scp_options()
                    .iter()
                    .map(|o| format!("SCP{:02X} i={:02X}", o.scp, o.i)),
            );
            v
        }
        tags::KEY_INFORMATION => KeyInformationTemplate::parse(bytes)
            .map_err(e)?
            .keys
            .iter()
            .map(|k| {
                let comps: Vec<String> = k
                    .components
                    .iter()
                    .map(|c| format!("{} {} bytes", key_type_name(c.key_type), c.length))
                    .collect();
                format!(
                    "key version {:02X} id {:02X}: {}",
                    k.version,
                    k.id,
                    comps.join(", ")
                )
            })
            .collect(),
        tags::CPLC => Cplc::parse(bytes)
            .map_err(e)?
            .fields()
            .iter()
            .map(|(n, v)| format!("{n} {}", hexfmt::upper(v)))
            .collect(),
        tags::EXTENDED_CARD_RESOURCES => {
            let r = ExtendedCardResources::parse(bytes).map_err(e)?;
            let n = |v: Option<u32>| v.map_or("-".to_owned(), |x| x.to_string());
            vec![
                format!("installed applications {}", n(r.installed_applications)),
                format!("free non-volatile memory {}", n(r.free_non_volatile_memory)),
                format!("free volatile memory {}", n(r.free_volatile_memory)),
            ]
        }
        _ => Vec::new(),
    })
}

fn card_info(g: &GlobalArgs, args: &SessionArgs) -> Result<(), CliError> {
    let (mut channel, session) = open(g, args)?;
    let objects = [
        (tags::CARD_DATA, "card data"),
        (tags::KEY_INFORMATION, "key information template"),
        (tags::CPLC, "CPLC"),
        (tags::IIN, "IIN"),
        (tags::CIN, "CIN"),
        (tags::SEQUENCE_COUNTER, "sequence counter"),
        (tags::EXTENDED_CARD_RESOURCES, "extended card resources"),
    ];
    let mut out = Vec::new();
    for (tag, name) in objects {
        let cmd = GetData::new(tag)
            .to_apdu()
            .map_err(|e| CliError::Input(e.to_string()))?;
        let r = channel.exchange(&cmd)?;
        let mut o = InfoObject {
            tag: format!("{tag:02X}"),
            name,
            value: None,
            sw: None,
            decoded: Vec::new(),
        };
        if r.sw.is_success() {
            o.value = Some(hexfmt::upper(&r.data));
            o.decoded =
                decode_object(tag, &r.data).unwrap_or_else(|e| vec![format!("cannot decode: {e}")]);
        } else {
            o.sw = Some(format!("{} {}", sw_hex(r.sw), r.sw.meaning()));
        }
        out.push(o);
    }
    if g.json {
        print_json(&serde_json::json!({ "session": session, "objects": out }));
        return Ok(());
    }
    for o in &out {
        match (&o.value, &o.sw) {
            (Some(v), _) => {
                println!("{} ({}) {v}", o.name, o.tag);
                for d in &o.decoded {
                    println!("    {d}");
                }
            }
            (None, sw) => println!(
                "{} ({}) not available: {}",
                o.name,
                o.tag,
                sw.as_deref().unwrap_or("-")
            ),
        }
    }
    Ok(())
}

/// Sends one command (through the session, or in clear).
type Sender = dyn FnMut(&CommandApdu) -> Result<ResponseApdu, CliError>;

#[derive(Debug, Serialize)]
struct Exchanged {
    command: String,
    c_apdu_plain: String,
    r_data_plain: String,
    sw: String,
    meaning: String,
}

fn apdu(g: &GlobalArgs, args: &GpApduArgs) -> Result<(), CliError> {
    let commands: Vec<(Vec<u8>, CommandApdu)> = args
        .apdus
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let bytes = hex_arg(&format!("APDU {}", i + 1), t)?;
            let parsed = CommandApdu::parse(&bytes).map_err(|e| {
                CliError::Input(format!("APDU {} is not a command APDU: {e}", i + 1))
            })?;
            Ok((bytes, parsed))
        })
        .collect::<Result<_, CliError>>()?;
    let mut send: Box<Sender> = if args.secure {
        let (mut channel, _) = open(g, &args.session)?;
        Box::new(move |c| Ok(channel.exchange(c)?))
    } else {
        let p = prepare(g, &args.session)?;
        let mut card = p.card;
        let sw = info::select(card.as_mut(), p.sd.as_bytes())?;
        if !sw.is_success() {
            return Err(CliError::CardRefused {
                what: format!("SELECT {}", hexfmt::upper(p.sd.as_bytes())),
                sw,
            });
        }
        Box::new(move |c| Ok(card.send(c)?))
    };
    let mut out = Vec::new();
    let mut failed = None;
    for (bytes, c) in &commands {
        let r = send(c)?;
        let x = Exchanged {
            command: describe_command(bytes),
            c_apdu_plain: hexfmt::upper(bytes),
            r_data_plain: hexfmt::upper(&r.data),
            sw: sw_hex(r.sw),
            meaning: r.sw.meaning(),
        };
        if !g.json {
            println!("> {}  {}", x.c_apdu_plain, x.command);
            if !r.data.is_empty() {
                println!("< {}", x.r_data_plain);
            }
            println!("< {} {}", x.sw, x.meaning);
        }
        out.push(x);
        if !(r.sw.is_success() || r.sw.is_warning()) && failed.is_none() {
            failed = Some(r.sw);
            if !args.keep_going {
                break;
            }
        }
    }
    if g.json {
        print_json(&serde_json::json!({ "exchanges": out }));
    }
    match failed {
        Some(sw) => Err(CliError::Failed(format!(
            "the card answered {} ({})",
            sw_hex(sw),
            sw.meaning()
        ))),
        None => Ok(()),
    }
}

fn put_key(g: &GlobalArgs, args: &PutKeyArgs) -> Result<(), CliError> {
    let key = |what: &str, t: &Option<String>| -> Result<Vec<u8>, CliError> {
        let t = t
            .as_ref()
            .ok_or_else(|| CliError::Input(format!("{what} is missing")))?;
        hex_arg(what, t)
    };
    let (enc, mac, dek) = match &args.new_key {
        Some(_) => {
            let k = key("--new-key", &args.new_key)?;
            (k.clone(), k.clone(), k)
        }
        None => {
            if args.new_key_enc.is_none() {
                return Err(CliError::Input(
                    "give the new keys: --new-key (one key for ENC, MAC and DEK) or \
                     --new-key-enc, --new-key-mac and --new-key-dek"
                        .into(),
                ));
            }
            (
                key("--new-key-enc", &args.new_key_enc)?,
                key("--new-key-mac", &args.new_key_mac)?,
                key("--new-key-dek", &args.new_key_dek)?,
            )
        }
    };
    if !(0x01..=0x7F).contains(&args.new_kvn) {
        return Err(CliError::Input(format!(
            "--new-kvn {:02X}: a key version number is 01 to 7F",
            args.new_kvn
        )));
    }
    let new_keys = StaticKeys::new(args.new_kvn, &enc, &mac, &dek)
        .map_err(|e| CliError::Input(format!("new keys: {e}")))?;
    let (mut channel, session) = open(g, &args.session)?;
    let replace = match args.replace {
        // `--replace` alone: the key set of this session.
        Some(0) => u8::from_str_radix(&session.kvn, 16).ok(),
        other => other,
    };
    let outcome = channel.put_key(&new_keys, replace)?;
    if g.json {
        print_json(&outcome);
    } else {
        match &outcome.replaced {
            Some(old) => println!("key set {old} replaced by key set {}", outcome.kvn),
            None => println!("key set {} added", outcome.kvn),
        }
        println!("key check values {} (verified)", outcome.kcvs.join(" "));
        eprintln!(
            "smsr: the card now holds key set {}: keep its keys, they are the only way in",
            outcome.kvn
        );
    }
    Ok(())
}

/// Sends commands in the session; the last response must be a success.
fn run_all(
    channel: &mut SecureChannel<Box<dyn Transport>>,
    what: &str,
    commands: &[CommandApdu],
) -> Result<ResponseApdu, CliError> {
    let mut last = None;
    for c in commands {
        let r = channel.exchange(c)?;
        if !r.sw.is_success() {
            return Err(CliError::CardRefused {
                what: what.to_owned(),
                sw: r.sw,
            });
        }
        last = Some(r);
    }
    last.ok_or_else(|| CliError::Input(format!("{what}: nothing to send")))
}

fn delete(g: &GlobalArgs, args: &DeleteArgs) -> Result<(), CliError> {
    let aid = aid_arg("AID", &args.aid)?;
    let command = if args.related {
        Delete::object_and_related(aid.clone())
    } else {
        Delete::object(aid.clone())
    };
    let apdus = command
        .to_apdus()
        .map_err(|e| CliError::Input(e.to_string()))?;
    let (mut channel, _) = open(g, &args.session)?;
    run_all(
        &mut channel,
        &format!("DELETE {}", hexfmt::upper(aid.as_bytes())),
        &apdus,
    )?;
    if g.json {
        print_json(
            &serde_json::json!({"deleted": hexfmt::upper(aid.as_bytes()), "related": args.related}),
        );
    } else {
        println!("deleted {}", hexfmt::upper(aid.as_bytes()));
    }
    Ok(())
}

fn install(g: &GlobalArgs, args: &InstallArgs) -> Result<(), CliError> {
    let privileges = Privileges::from_bytes(&hex_arg("--privileges", &args.privileges)?)
        .map_err(|e| CliError::Input(format!("--privileges: {e}")))?;
    let command = Install::ForInstall {
        data: ForInstall {
            load_file: Some(aid_arg("--load-file", &args.load_file)?),
            module: Some(aid_arg("--module", &args.module)?),
            application: aid_arg("--aid", &args.aid)?,
            privileges,
            parameters: hex_arg("--params", &args.params)?,
            token: Vec::new(),
        },
        make_selectable: !args.not_selectable,
    };
    let apdus = command
        .to_apdus()
        .map_err(|e| CliError::Input(e.to_string()))?;
    let (mut channel, _) = open(g, &args.session)?;
    run_all(&mut channel, &format!("INSTALL of {}", args.aid), &apdus)?;
    if g.json {
        print_json(
            &serde_json::json!({"installed": args.aid.to_uppercase(), "selectable": !args.not_selectable}),
        );
    } else {
        println!("installed {}", args.aid.to_uppercase());
    }
    Ok(())
}

fn store_data(g: &GlobalArgs, args: &StoreDataArgs) -> Result<(), CliError> {
    let data = hex_arg("data", &args.data)?;
    let mut sd = StoreData::new(data);
    if args.dgi {
        sd = sd.dgi();
    } else if args.ber {
        sd = sd.ber_tlv();
    }
    let blocks = sd
        .split(args.block_size)
        .map_err(|e| CliError::Input(format!("STORE DATA: {e}")))?;
    let mut apdus = Vec::new();
    if let Some(to) = &args.to {
        apdus.extend(
            Install::ForPersonalization(aid_arg("--to", to)?)
                .to_apdus()
                .map_err(|e| CliError::Input(e.to_string()))?,
        );
    }
    for b in &blocks {
        apdus.push(b.to_apdu().map_err(|e| CliError::Input(e.to_string()))?);
    }
    let (mut channel, _) = open(g, &args.session)?;
    let last = run_all(&mut channel, "STORE DATA", &apdus)?;
    if g.json {
        print_json(
            &serde_json::json!({"blocks": blocks.len(), "response": hexfmt::upper(&last.data)}),
        );
    } else {
        println!("{} STORE DATA block(s) accepted", blocks.len());
        if !last.data.is_empty() {
            println!("< {}", hexfmt::upper(&last.data));
        }
    }
    Ok(())
}
