//! GlobalPlatform card-management commands and their responses (GlobalPlatform Card
//! Specification v2.3.1, chapter 11), typed in both directions: the host builds commands and
//! parses responses, the card emulator parses commands and builds responses, with the same code.
//!
//! Every command type has `to_apdu()` / `from_apdu()`; every response type has `parse()` /
//! `to_bytes()`. Commands are built with the basic-channel class (`'80'` for GlobalPlatform
//! commands, `'00'` for SELECT and MANAGE CHANNEL); logical channels and secure messaging are
//! applied on top ([`CommandApdu::with_channel`], the SCP03 layer), and `from_apdu` does not
//! look at those class bits. Parsers are strict: bad lengths and trailing bytes are errors that
//! name the offset (and tag) where decoding stopped.
//!
//! - [`aid`]: application identifiers and the well-known AIDs (GP, SGP.02).
//! - [`select`]: SELECT [by name] and the File Control Information (§11.9).
//! - [`get_data`]: GET DATA and the data objects it returns (§11.3, Appendix H).
//! - [`get_status`]: GET STATUS and GlobalPlatform Registry entries (§11.4).
//! - [`life_cycle`], [`privileges`]: life-cycle state and privilege coding (§11.1.1, §11.1.2).
//! - [`install`]: INSTALL in all its roles and its parameters (§11.5).
//! - [`load`]: LOAD and Load File blocks (§11.6).
//! - [`delete`]: DELETE of card content and keys (§11.2).
//! - [`store_data`]: STORE DATA and DGI coding (§11.11, §11.1.12).
//! - [`set_status`]: SET STATUS (§11.10).
//! - [`put_key`]: PUT KEY framing around key data fields (§11.8).
//! - [`manage_channel`]: MANAGE CHANNEL (§11.7).
//! - [`confirmation`]: the response data of INSTALL, LOAD and DELETE (§11.1.6).
//! - [`blocks`]: numbered block sequences (LOAD, STORE DATA) on the card side.

pub mod aid;
pub mod blocks;
mod codec;
pub mod confirmation;
pub mod delete;
pub mod get_data;
pub mod get_status;
pub mod install;
pub mod install_params;
pub mod life_cycle;
pub mod load;
pub mod manage_channel;
pub mod privileges;
pub mod put_key;
pub mod select;
pub mod set_status;
pub mod store_data;

pub use aid::{known_aid_name, Aid};
pub use blocks::BlockAssembler;
pub use codec::MAX_COMMAND_DATA;
pub use confirmation::{Confirmation, ConfirmationResponse};
pub use delete::{Delete, DeleteTarget};
pub use get_data::card_capability::CardCapability;
pub use get_data::card_recognition::{CardData, CardRecognitionData, ScpOption};
pub use get_data::cplc::Cplc;
pub use get_data::key_info::{KeyInformation, KeyInformationTemplate};
pub use get_data::{DataObject, ExtendedCardResources, GetData};
pub use get_status::{GetStatus, RegistryEntry, ResponseFormat, StatusScope};
pub use install::Install;
pub use install_params::InstallParameters;
pub use life_cycle::EntityKind;
pub use load::{Load, LoadFile};
pub use manage_channel::{ChannelOpened, ManageChannel};
pub use privileges::{Privilege, Privileges};
pub use put_key::{KeyData, PutKey, PutKeyResponse};
pub use select::{Fci, Select};
pub use set_status::{SetStatus, StatusType};
pub use store_data::{Dgi, StoreData};

use crate::apdu::{ApduError, CommandApdu};
use crate::tlv::{Tag, TlvError};
use thiserror::Error;

/// Class byte of GlobalPlatform commands on the basic channel without secure messaging.
pub const CLA_GP: u8 = 0x80;
/// Class byte of ISO commands (SELECT, MANAGE CHANNEL) on the basic channel.
pub const CLA_ISO: u8 = 0x00;

/// Why a GlobalPlatform command or response cannot be decoded or encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GpError {
    /// Malformed BER-TLV (the offset and tag are inside).
    #[error(transparent)]
    Tlv(#[from] TlvError),
    /// A command that cannot be encoded as an APDU.
    #[error(transparent)]
    Apdu(#[from] ApduError),
    /// A command with another instruction than the one being decoded.
    #[error("instruction {found:02X} where {expected:02X} was expected")]
    WrongInstruction { expected: u8, found: u8 },
    /// P1/P2 values the command does not define.
    #[error("{command}: P1 {p1:02X} P2 {p2:02X} not supported: {reason}")]
    WrongParameters {
        command: &'static str,
        p1: u8,
        p2: u8,
        reason: &'static str,
    },
    /// The data ends inside a field.
    #[error("data truncated at offset {offset}: {field} runs past the end")]
    Truncated { offset: usize, field: &'static str },
    /// Bytes left after the last field.
    #[error("{count} unexpected trailing bytes at offset {offset}")]
    TrailingBytes { offset: usize, count: usize },
    /// A field whose value is not allowed.
    #[error("invalid value at offset {offset}{}: {reason}", tag_suffix(*tag))]
    Invalid {
        offset: usize,
        tag: Option<Tag>,
        reason: &'static str,
    },
    /// An AID outside 5 to 16 bytes (ISO/IEC 7816-5).
    #[error("AID of {0} bytes: AIDs are 5 to 16 bytes long")]
    AidLength(usize),
    /// An EID that is not 16 bytes (32 digits).
    #[error("EID of {0} hex digits: an EID is 32 digits (16 bytes)")]
    EidLength(usize),
    /// Text that is not an even number of hex digits.
    #[error("not hexadecimal: {0}")]
    BadHex(String),
    /// A LOAD or STORE DATA block out of sequence.
    #[error("block number {found:02X} where {expected:02X} was expected")]
    BlockSequence { expected: u8, found: u8 },
    /// More data than one command or structure can carry.
    #[error("{what} of {len} bytes exceeds {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
}

fn tag_suffix(tag: Option<Tag>) -> String {
    tag.map(|t| format!(" (tag {t})")).unwrap_or_default()
}

impl GpError {
    pub(crate) fn invalid(offset: usize, tag: Option<Tag>, reason: &'static str) -> Self {
        Self::Invalid {
            offset,
            tag,
            reason,
        }
    }

    pub(crate) fn params(command: &'static str, apdu: &CommandApdu, reason: &'static str) -> Self {
        Self::WrongParameters {
            command,
            p1: apdu.p1,
            p2: apdu.p2,
            reason,
        }
    }
}

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod prop_tests;

#[cfg(test)]
pub(crate) mod testdata {
    //! Loads `shared/vectors/gp_tlv_examples.json` at test time (never copied into the
    //! repository); `SMSR_SHARED` overrides the shared directory.
    use serde_json::Value;
    use std::path::PathBuf;

    /// The parsed sample file, or `None` (with a note on stderr) when it is absent, unless
    /// `SMSR_REQUIRE_TESTDATA=1` makes that a failure.
    pub fn gp_examples() -> Option<Value> {
        let path = std::env::var_os("SMSR_SHARED").map_or_else(
            || {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../../shared/vectors/gp_tlv_examples.json"
                ))
            },
            |dir| PathBuf::from(dir).join("vectors/gp_tlv_examples.json"),
        );
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_json::from_str(&text).expect("gp_tlv_examples.json is JSON")),
            Err(e) => {
                if std::env::var("SMSR_REQUIRE_TESTDATA").as_deref() == Ok("1") {
                    panic!("{} required but unreadable: {e}", path.display());
                }
                eprintln!("skipped: no ../shared/vectors");
                None
            }
        }
    }

    /// The entries of one section, each with its `source`.
    pub fn section(name: &str) -> Vec<Value> {
        gp_examples()
            .map(|v| {
                v[name]
                    .as_array()
                    .unwrap_or_else(|| panic!("section {name} missing"))
                    .clone()
            })
            .unwrap_or_default()
    }

    /// Hex string field → bytes (spaces allowed).
    pub fn hex_field(v: &Value, field: &str) -> Vec<u8> {
        let s = v[field]
            .as_str()
            .unwrap_or_else(|| panic!("field {field} missing"));
        h(s)
    }

    /// Hex literal → bytes (spaces allowed).
    pub fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("valid hex")
    }
}
