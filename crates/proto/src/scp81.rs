//! SCP81: GlobalPlatform Card Specification v2.3 Amendment B "Remote Application Management
//! over HTTP", as GSMA SGP.02 §2.4.4 uses it for ES5 (SM-SR ↔ ISD-R), at the byte level.
//!
//! Shared by the SM-SR (the HTTP *admin server*) and the eUICC emulator (the *admin agent*,
//! an HTTP client). The card always POSTs; the server answers each POST with a command script
//! (`200 OK`) or ends the session (`204 No Content`). TLS-PSK is done elsewhere (openssl); this
//! module only turns values into the bytes that travel inside the TLS records and back.
//!
//! - [`trigger`]: the administration session triggering parameters (`81 …`), the secured data
//!   of the SCP80 push SMS that makes the ISD-R open the session (GP Amd B Table 3-3).
//! - [`psk`]: the SGP.02 PSK identity (njiwa's reading of "Table 4 of SGP.02 v4.1").
//! - [`address`]: the `X-Admin-From` agent id and `X-Admin-Targeted-Application` values.
//! - [`admin`]: the Amd B requests and responses (`X-Admin-*` headers, content types, status).
//! - [`reader`]: incremental, bounded HTTP/1.1 message reading for bytes arriving in pieces
//!   (TLS records relayed in BIP chunks of at most 237 bytes); [`message`]: start line and
//!   header fields; `body` (private): `Content-Length` and chunked framing.
//!
//! Sources and confidence are those of `shared/protocol/SCP81-BIP.md` §1.5 and §2 and
//! `shared/protocol/SGP02.md` §6.2: GP Amd B itself was not available to us; its header and
//! TLV lists come second-hand from pySim, njiwa, sysmocom's SCP81 scripts and traces of live
//! cards. Each item says where its reading comes from, with the notes' confidence markers:
//! `[impl]` seen in public code, `[trace]` seen in hex from real cards, `[rec]` recollection of
//! a spec, `[I]` our inference.

pub mod address;
pub mod admin;
mod body;
pub mod message;
pub mod psk;
pub mod reader;
pub mod trigger;

pub use address::{admin_from, parse_admin_from, parse_targeted_application, targeted_application};
pub use admin::{
    AdminRequest, AdminResponse, ScriptStatus, ADMIN_PROTOCOL, CONTENT_TYPE_COMMANDS,
    CONTENT_TYPE_RESPONSES,
};
pub use message::HttpMessage;
pub use psk::PskIdentity;
pub use reader::MessageReader;
pub use trigger::{AdminTrigger, TriggerSecurity, TAG_TRIGGER};

use crate::tlv::{Tag, TlvError};
use thiserror::Error;

/// The TLS 1.2 pre-shared-key suites both ends offer, in order (OpenSSL names): those GP
/// Amendment B and SGP.02 name that Debian's OpenSSL 3 still has (no 3DES, no NULL suites;
/// `shared/protocol/SCP81-BIP.md` §1.4). The one list the admin server and the card's agent use.
pub const TLS_CIPHERS: &str = "PSK-AES128-GCM-SHA256:PSK-AES128-CBC-SHA256:PSK-AES128-CBC-SHA";

/// The most bytes an HTTP start line plus header fields (and the blank line) may take; also the
/// bound for one chunk-size line and for a trailer section. Far above what GP Amd B messages use
/// (a few hundred bytes) `[I]`.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The largest HTTP body accepted: a GP Amd B script is a few kilobytes, and a whole SAIP
/// profile in SCP03t segments fits many times over `[I]`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most unread bytes a [`MessageReader`] holds (push, then take messages, in turns): room
/// for a whole maximal message twice over `[I]`.
pub const MAX_BUFFERED_BYTES: usize = 2 * (MAX_HEADER_BYTES + MAX_BODY_BYTES);

/// Why SCP81 bytes or text are not acceptable. Every message names the field (trigger tag,
/// header, PSK identity part, HTTP framing element) and what is wrong with it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Scp81Error {
    /// A BER-TLV structure (trigger, PSK identity) that does not parse.
    #[error("{what}: {source}")]
    Tlv {
        what: &'static str,
        source: TlvError,
    },
    /// A tag other than the one the structure requires at this place.
    #[error("{what}: expected tag {expected}, found {found}")]
    UnexpectedTag {
        what: &'static str,
        expected: Tag,
        found: Tag,
    },
    /// A required tag that is absent.
    #[error("{what}: tag {tag} missing")]
    MissingTag { what: &'static str, tag: Tag },
    /// A tag that may appear once appears again.
    #[error("{within}: tag {tag} appears twice")]
    DuplicateTag { within: &'static str, tag: Tag },
    /// A field whose content breaks its coding rule.
    #[error("{field}: {fault}")]
    Invalid {
        field: &'static str,
        fault: &'static str,
    },
    /// A field with the wrong length.
    #[error("{field}: {len} bytes where {expected} are required")]
    BadLength {
        field: &'static str,
        len: usize,
        expected: &'static str,
    },
    /// A field too long for its length coding.
    #[error("{field}: {len} bytes, at most {max} fit")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// Text that should be hex digits.
    #[error("{field}: not hex at character {offset}")]
    NotHex { field: &'static str, offset: usize },
    /// Text that should be UTF-8.
    #[error("{field}: not UTF-8")]
    NotUtf8 { field: &'static str },
    /// Text that does not have the expected shape.
    #[error("{field}: {text:?} is not of the form {form}")]
    BadForm {
        field: &'static str,
        text: String,
        form: &'static str,
    },
    /// The HTTP start line and headers are longer than [`MAX_HEADER_BYTES`] (or a chunk-size
    /// line or a trailer section longer than that).
    #[error("HTTP {what} longer than {max} bytes")]
    HeaderTooLarge { what: &'static str, max: usize },
    /// A body larger than [`MAX_BODY_BYTES`], found from its declared length.
    #[error("HTTP body of {declared} bytes or more is over the {max}-byte limit")]
    BodyTooLarge { declared: u64, max: usize },
    /// More unread bytes than [`MAX_BUFFERED_BYTES`] pushed into a [`MessageReader`].
    #[error("HTTP reader holds more than {max} unread bytes")]
    BufferFull { max: usize },
    /// A start line (request line or status line) that does not parse.
    #[error("HTTP {what} malformed ({fault}): {line:?}")]
    BadStartLine {
        what: &'static str,
        fault: &'static str,
        line: String,
    },
    /// A header line that does not parse.
    #[error("HTTP header line malformed ({fault}): {line:?}")]
    BadHeader { fault: &'static str, line: String },
    /// A `Content-Length` that is not one decimal number.
    #[error("HTTP Content-Length {value:?} is not a decimal length")]
    BadContentLength { value: String },
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3: a smuggling risk).
    #[error("HTTP message has both Transfer-Encoding and Content-Length")]
    LengthConflict,
    /// A transfer coding other than `chunked` alone.
    #[error("HTTP Transfer-Encoding {value:?} is not supported (only chunked)")]
    UnsupportedTransferEncoding { value: String },
    /// A bad chunk-size line or chunk framing in a chunked body.
    #[error("HTTP chunked body: {fault}: {line:?}")]
    BadChunk { fault: &'static str, line: String },
    /// A [`MessageReader`] asked for a response while it holds part of a request, or the
    /// reverse.
    #[error("HTTP reader holds part of a {partial}, asked for a {asked}")]
    WrongKind {
        partial: &'static str,
        asked: &'static str,
    },
    /// A request method other than POST (GP Amd B: the admin agent only POSTs).
    #[error("HTTP method {method:?} where GP Amd B requires POST")]
    NotPost { method: String },
    /// A required header that is absent.
    #[error("HTTP header {name} missing")]
    MissingHeader { name: &'static str },
    /// A header whose value is not one GP Amd B allows.
    #[error("HTTP header {name}: {value:?} is not {expected}")]
    BadHeaderValue {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A message that is not an HTTP response where one is needed.
    #[error("not an HTTP response (start line {line:?})")]
    NotAResponse { line: String },
    /// A response status other than `200` or `204`.
    #[error("HTTP status {code} {reason:?}: GP Amd B admin servers answer 200 or 204")]
    UnexpectedStatus { code: u16, reason: String },
}

/// At most this many characters of input text are quoted in an error message.
const EXCERPT_CHARS: usize = 80;

/// The start of `text` for an error message, cut at a character boundary.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// [`excerpt`] of bytes that may not be UTF-8.
pub(crate) fn excerpt_bytes(bytes: &[u8]) -> String {
    let head = bytes.get(..4 * EXCERPT_CHARS).unwrap_or(bytes);
    excerpt(&String::from_utf8_lossy(head))
}

#[cfg(test)]
mod tests;
