//! ETSI TS 102 226 §5.2 expanded remote command format, as SGP.02 uses it on ES5 (§2.3 of our
//! `SGP02.md` notes, §6.1).
//!
//! A command script is a Command Scripting template, definite (`AA L …`) or indefinite
//! (`AE 80 … 00 00`), holding command TLVs in execution order:
//!
//! | tag | command TLV | value |
//! |---|---|---|
//! | `22` | C-APDU | a whole command APDU (header, Lc, data, Le) |
//! | `81` | immediate action | action coding (TS 102 226 §5.2.1), kept opaque here |
//! | `82` | error action | action for the next C-APDU if it fails, kept opaque here |
//! | `83` | script chaining | `01`/`11` first script, `02` subsequent, `03` last |
//! | `84` `85` `86` | SCP03t (SGP.02 §2.5.2) | INITIALIZE UPDATE / EXTERNAL AUTHENTICATE / profile data equivalents, passed through |
//!
//! The card answers with a Response Scripting template of the same length form (`AB L …` or
//! `AF 80 … 00 00`) that starts with the number of executed command TLVs (`80 01 n`), then one
//! response TLV per executed command: `23` R-APDU (response data ‖ SW1 SW2), `81` immediate
//! action response, the SCP03t response TLVs (`84`/`85`/`86`, errors `9F44`/`9F45`/`9F46`), and
//! finally `90 01 xx` when the script was badly formatted.
//!
//! Parsers are strict: unknown tags, wrong lengths, a missing end-of-contents and trailing bytes
//! are errors naming the offset from the start of the script.

use crate::apdu::{ApduError, CommandApdu};
use crate::tlv::{encode_length, Tag, Tlv, TlvError};
use thiserror::Error;

pub use super::response::{BadFormat, ResponseScript, ResponseTlv};

/// Command Scripting template, definite length.
pub const TAG_COMMAND_SCRIPT: u8 = 0xAA;
/// Command Scripting template, indefinite length.
pub const TAG_COMMAND_SCRIPT_INDEFINITE: u8 = 0xAE;
/// Response Scripting template, definite length.
pub const TAG_RESPONSE_SCRIPT: u8 = 0xAB;
/// Response Scripting template, indefinite length.
pub const TAG_RESPONSE_SCRIPT_INDEFINITE: u8 = 0xAF;
/// C-APDU TLV.
pub const TAG_C_APDU: u8 = 0x22;
/// R-APDU TLV.
pub const TAG_R_APDU: u8 = 0x23;
/// Immediate action TLV (commands) and immediate action response TLV (responses).
pub const TAG_IMMEDIATE_ACTION: u8 = 0x81;
/// Error action TLV.
pub const TAG_ERROR_ACTION: u8 = 0x82;
/// Script chaining TLV.
pub const TAG_SCRIPT_CHAINING: u8 = 0x83;
/// Number of executed command TLVs.
pub const TAG_EXECUTED_COUNT: u8 = 0x80;
/// Bad format TLV.
pub const TAG_BAD_FORMAT: u8 = 0x90;

/// Command TLV tags passed through opaquely: the SCP03t TLVs of SGP.02 §2.5.2 (`84`
/// INITIALIZE UPDATE, `85` EXTERNAL AUTHENTICATE, `86` profile data segment). Any other tag in a
/// command script is an unknown tag (TS 102 226 bad format `01`).
pub const RAW_COMMAND_TAGS: [u32; 3] = [0x84, 0x85, 0x86];

/// Response TLV tags passed through opaquely: the SCP03t answers (`84`, `85`, `86`) and their
/// error TLVs `9F44`, `9F45`, `9F46` (SGP.02 §2.5.2; see `SGP02.md` §4.2).
pub const RAW_RESPONSE_TAGS: [u32; 6] = [0x84, 0x85, 0x86, 0x9F44, 0x9F45, 0x9F46];

/// Why bytes are not a valid script, or a script cannot be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ScriptError {
    /// A TLV-level error (offsets are from the start of the script).
    #[error("script TLV: {0}")]
    Tlv(#[from] TlvError),
    /// The first byte is not the expected template tag.
    #[error("expected a {expected} scripting template, found tag {found:02X}")]
    NotATemplate { expected: &'static str, found: u8 },
    /// An indefinite template without `80` after its tag.
    #[error("indefinite scripting template {tag:02X} must have length byte 80")]
    NotIndefinite { tag: u8 },
    /// An indefinite template without its end-of-contents `00 00`.
    #[error("indefinite scripting template has no end-of-contents 00 00")]
    MissingEndOfContents,
    /// A tag this format does not define at this place.
    #[error("unknown tag {tag} at offset {offset} in a {within} script")]
    UnknownTag {
        offset: usize,
        tag: Tag,
        within: &'static str,
    },
    /// A `22` TLV whose value is not a command APDU.
    #[error("C-APDU at offset {offset}: {source}")]
    BadCommandApdu { offset: usize, source: ApduError },
    /// A `23` TLV shorter than SW1 SW2.
    #[error("R-APDU at offset {offset} has {len} bytes: SW1 SW2 needed")]
    BadResponseApdu { offset: usize, len: usize },
    /// A TLV with a fixed length that has another.
    #[error("tag {tag} at offset {offset} has length {len}, {expected} expected")]
    WrongLength {
        offset: usize,
        tag: Tag,
        len: usize,
        expected: usize,
    },
    /// A script chaining value TS 102 226 does not define.
    #[error("script chaining value {0:02X} is not 01, 11, 02 or 03")]
    BadChaining(u8),
    /// More than one script chaining TLV.
    #[error("second script chaining TLV at offset {0}")]
    DuplicateChaining(usize),
    /// A response script without its leading `80 01 n`.
    #[error("response script does not start with the number of executed commands (80 01 n)")]
    MissingExecutedCount,
    /// A C-APDU that cannot be encoded.
    #[error("C-APDU cannot be encoded: {0}")]
    Encode(ApduError),
    /// More response TLVs than a one-byte count can report.
    #[error("{0} executed commands: the count is one byte")]
    TooManyCommands(usize),
}

/// Definite (`AA`/`AB`) or indefinite (`AE`/`AF`) length template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LengthForm {
    #[default]
    Definite,
    Indefinite,
}

/// Script chaining TLV values (TS 102 226 §5.2.1, Script Chaining TLV).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScriptChaining {
    /// `01`: first script; chaining information is deleted on reset.
    FirstDeleteOnReset,
    /// `11`: first script; chaining information is kept across a reset.
    FirstKeepOnReset,
    /// `02`: a subsequent script.
    Subsequent,
    /// `03`: the last script of the chain.
    Last,
}

impl ScriptChaining {
    /// The value byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::FirstDeleteOnReset => 0x01,
            Self::FirstKeepOnReset => 0x11,
            Self::Subsequent => 0x02,
            Self::Last => 0x03,
        }
    }

    /// Decodes a value byte.
    pub fn from_byte(b: u8) -> Result<Self, ScriptError> {
        match b {
            0x01 => Ok(Self::FirstDeleteOnReset),
            0x11 => Ok(Self::FirstKeepOnReset),
            0x02 => Ok(Self::Subsequent),
            0x03 => Ok(Self::Last),
            other => Err(ScriptError::BadChaining(other)),
        }
    }
}

/// One command TLV of a command script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandTlv {
    /// `22`: a C-APDU.
    Apdu(CommandApdu),
    /// `81`: an immediate action (value kept as sent).
    ImmediateAction(Vec<u8>),
    /// `82`: an error action (value kept as sent).
    ErrorAction(Vec<u8>),
    /// `83`: script chaining.
    Chaining(ScriptChaining),
    /// One of [`RAW_COMMAND_TAGS`] (SCP03t), passed through.
    Raw(Tlv),
}

impl CommandTlv {
    /// The TLV encoding.
    pub fn to_tlv(&self) -> Result<Tlv, ScriptError> {
        Ok(match self {
            Self::Apdu(c) => Tlv::new(TAG_C_APDU, c.to_bytes().map_err(ScriptError::Encode)?),
            Self::ImmediateAction(v) => Tlv::new(TAG_IMMEDIATE_ACTION, v.clone()),
            Self::ErrorAction(v) => Tlv::new(TAG_ERROR_ACTION, v.clone()),
            Self::Chaining(c) => Tlv::new(TAG_SCRIPT_CHAINING, vec![c.to_byte()]),
            Self::Raw(t) => t.clone(),
        })
    }

    /// Decodes one command TLV; `offset` is where `tlv` starts in the script (for errors).
    pub fn from_tlv(tlv: Tlv, offset: usize) -> Result<Self, ScriptError> {
        let value_at = offset + tlv.tag.to_bytes().len() + encode_length(tlv.value.len()).len();
        match tlv.tag.value() {
            0x22 => CommandApdu::parse(&tlv.value)
                .map(Self::Apdu)
                .map_err(|source| ScriptError::BadCommandApdu {
                    offset: value_at,
                    source,
                }),
            0x81 => Ok(Self::ImmediateAction(tlv.value)),
            0x82 => Ok(Self::ErrorAction(tlv.value)),
            0x83 => match tlv.value.as_slice() {
                [b] => ScriptChaining::from_byte(*b).map(Self::Chaining),
                v => Err(ScriptError::WrongLength {
                    offset,
                    tag: tlv.tag,
                    len: v.len(),
                    expected: 1,
                }),
            },
            t if RAW_COMMAND_TAGS.contains(&t) => Ok(Self::Raw(tlv)),
            _ => Err(ScriptError::UnknownTag {
                offset,
                tag: tlv.tag,
                within: "command",
            }),
        }
    }

    /// Whether TS 102 226 counts this TLV as an executed command (C-APDUs, immediate actions
    /// and the SCP03t TLVs; error action and script chaining only qualify other commands).
    pub fn is_command(&self) -> bool {
        matches!(
            self,
            Self::Apdu(_) | Self::ImmediateAction(_) | Self::Raw(_)
        )
    }
}

/// A command script (Command Scripting template).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CommandScript {
    pub form: LengthForm,
    pub items: Vec<CommandTlv>,
}

impl CommandScript {
    /// An empty definite-length script.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty indefinite-length script.
    pub fn indefinite() -> Self {
        Self {
            form: LengthForm::Indefinite,
            items: Vec::new(),
        }
    }

    /// A definite-length script of C-APDUs.
    pub fn of_apdus(apdus: impl IntoIterator<Item = CommandApdu>) -> Self {
        Self {
            form: LengthForm::Definite,
            items: apdus.into_iter().map(CommandTlv::Apdu).collect(),
        }
    }

    /// Appends a C-APDU.
    #[must_use]
    pub fn apdu(mut self, c: CommandApdu) -> Self {
        self.items.push(CommandTlv::Apdu(c));
        self
    }

    /// Appends a pass-through TLV (SCP03t `84`/`85`/`86`).
    #[must_use]
    pub fn raw(mut self, t: Tlv) -> Self {
        self.items.push(CommandTlv::Raw(t));
        self
    }

    /// Puts a script chaining TLV first (replacing any other).
    #[must_use]
    pub fn chained(mut self, c: ScriptChaining) -> Self {
        self.items.retain(|i| !matches!(i, CommandTlv::Chaining(_)));
        self.items.insert(0, CommandTlv::Chaining(c));
        self
    }

    /// The script chaining value, if the script has one.
    pub fn chaining(&self) -> Option<ScriptChaining> {
        self.items.iter().find_map(|i| match i {
            CommandTlv::Chaining(c) => Some(*c),
            _ => None,
        })
    }

    /// Encodes the script.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ScriptError> {
        let mut body = Vec::new();
        for item in &self.items {
            body.extend_from_slice(&item.to_tlv()?.to_bytes());
        }
        Ok(wrap(
            self.form,
            TAG_COMMAND_SCRIPT,
            TAG_COMMAND_SCRIPT_INDEFINITE,
            body,
        ))
    }

    /// Parses a script, rejecting anything TS 102 226 does not define.
    pub fn parse(bytes: &[u8]) -> Result<Self, ScriptError> {
        let (form, body, at) = unwrap_template(
            bytes,
            TAG_COMMAND_SCRIPT,
            TAG_COMMAND_SCRIPT_INDEFINITE,
            "command",
        )?;
        let mut items = Vec::new();
        let mut chaining_seen = false;
        for (tlv, offset) in tlvs_with_offsets(body, at)? {
            let item = CommandTlv::from_tlv(tlv, offset)?;
            if matches!(item, CommandTlv::Chaining(_)) {
                if chaining_seen {
                    return Err(ScriptError::DuplicateChaining(offset));
                }
                chaining_seen = true;
            }
            items.push(item);
        }
        Ok(Self { form, items })
    }
}

/// Wraps a template body in the definite or indefinite form.
pub(crate) fn wrap(form: LengthForm, definite: u8, indefinite: u8, body: Vec<u8>) -> Vec<u8> {
    match form {
        LengthForm::Definite => Tlv::new(definite, body).to_bytes(),
        LengthForm::Indefinite => {
            let mut out = Vec::with_capacity(body.len() + 4);
            out.extend_from_slice(&[indefinite, 0x80]);
            out.extend_from_slice(&body);
            out.extend_from_slice(&[0, 0]);
            out
        }
    }
}

/// Checks the template tag and length; returns the length form, the body and the body's offset.
pub(crate) fn unwrap_template<'a>(
    bytes: &'a [u8],
    definite: u8,
    indefinite: u8,
    what: &'static str,
) -> Result<(LengthForm, &'a [u8], usize), ScriptError> {
    match bytes {
        [t, 0x80, rest @ ..] if *t == indefinite => {
            let body = rest
                .strip_suffix(&[0, 0])
                .ok_or(ScriptError::MissingEndOfContents)?;
            Ok((LengthForm::Indefinite, body, 2))
        }
        [t, ..] if *t == indefinite => Err(ScriptError::NotIndefinite { tag: *t }),
        [t, ..] if *t == definite => {
            let tlv = Tlv::parse(bytes)?;
            let at = bytes.len() - tlv.value.len();
            Ok((LengthForm::Definite, &bytes[at..], at))
        }
        [t, ..] => Err(ScriptError::NotATemplate {
            expected: what,
            found: *t,
        }),
        [] => Err(ScriptError::Tlv(TlvError::Truncated {
            offset: 0,
            tag: None,
            what: "tag",
        })),
    }
}

/// The TLVs filling `body` exactly, each with its offset in the script. An end-of-contents
/// `00 00` inside the body (an indefinite template ending early) is reported as trailing bytes.
pub(crate) fn tlvs_with_offsets(body: &[u8], at: usize) -> Result<Vec<(Tlv, usize)>, ScriptError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let (tlv, used) = next_tlv(&body[pos..], at + pos)?;
        out.push((tlv, at + pos));
        pos += used;
    }
    Ok(out)
}

/// Reads one TLV at the start of `rest`, which sits at `offset` in the script.
pub(crate) fn next_tlv(rest: &[u8], offset: usize) -> Result<(Tlv, usize), ScriptError> {
    if rest.starts_with(&[0, 0]) {
        return Err(TlvError::TrailingBytes {
            offset,
            count: rest.len(),
        }
        .into());
    }
    Tlv::parse_prefix(rest).map_err(|e| ScriptError::Tlv(e.shifted(offset)))
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
