//! ETSI TS 102 223 Card Application Toolkit, as far as the Bearer Independent Protocol (BIP)
//! needs it: COMPREHENSION-TLV coding, proactive commands (what FETCH returns), TERMINAL
//! RESPONSE, event download ENVELOPEs and the TERMINAL PROFILE.
//!
//! Both sides use this module: the host plays the terminal (parses proactive commands, builds
//! terminal responses and events), the eUICC emulator plays the proactive UICC (builds proactive
//! commands, parses terminal responses and events). Byte layouts and the real-trace vectors the
//! tests decode are in `shared/protocol/SCP81-BIP.md` §3.
//!
//! ```text
//! 91 XX -> FETCH 80 12 00 00 XX   -> D0 L { 81 03 nn type qq, 82 02 81 dest, ... }  (Proactive)
//! TERMINAL RESPONSE 80 14 00 00 Lc   { 81 03 nn type qq, 82 02 82 81, 83 L result, ... }
//! ENVELOPE 80 C2 00 00 Lc            D6 L { 99 01 event, 82 02 82 81, B8 02 status, ... }
//! TERMINAL PROFILE 80 10 00 00 Lc    profile bytes (TS 102 223 §5.2)
//! ```
//!
//! Clause numbers are from TS 102 223 as we recall them (Release 12 or so); the ones marked
//! "(clause recalled)" were not checked against the text.
//!
//! Parsers are strict: every length is checked, trailing bytes are an error, and every error
//! names the offset (from the start of the input) where it was found. Nothing here panics on any
//! input.

mod ctlv;
mod download;
mod open_channel;
mod proactive;
mod profile;
mod response;
mod typed;

#[cfg(test)]
mod tests;

use thiserror::Error;

pub use crate::ota::sms::fetch;
pub use ctlv::{parse_ctlvs, push_ctlv, push_length, Ctlv};
pub(crate) use ctlv::{parse_ctlvs_at, parse_outer, wrap_outer};
pub use download::{channel_status, Event, TAG_EVENT_DOWNLOAD};
pub use open_channel::{OpenChannel, OtherAddress, Transport};
pub use proactive::{ProactiveCommand, MAX_PROACTIVE_COMMAND, TAG_PROACTIVE_COMMAND};
pub use profile::{announces_bip, terminal_profile_apdu, TERMINAL_PROFILE_BIP};
pub use response::{
    bip_error, get_channel_status_ok, open_channel_ok, receive_data_ok, send_data_ok,
    TerminalResponse, MAX_TERMINAL_RESPONSE,
};
pub use typed::{CloseChannel, Proactive, ReceiveData, SendData, SEND_DATA_MAX};

/// COMPREHENSION-TLV tag values without the CR bit (TS 102 223 §9.3 and TS 101 220 §7.2,
/// clause recalled). Cards send either form (`35` or `B5`); match on `tag & 0x7F`.
pub mod tags {
    /// Command details (§8.6).
    pub const COMMAND_DETAILS: u8 = 0x01;
    /// Device identities (§8.7).
    pub const DEVICE_IDENTITIES: u8 = 0x02;
    /// Result (§8.12).
    pub const RESULT: u8 = 0x03;
    /// Alpha identifier (§8.2).
    pub const ALPHA_IDENTIFIER: u8 = 0x05;
    /// Text string (§8.15): OPEN CHANNEL login and password.
    pub const TEXT_STRING: u8 = 0x0D;
    /// Event list (§8.25).
    pub const EVENT_LIST: u8 = 0x19;
    /// Icon identifier (§8.31, clause recalled): display only, ignored by the BIP parsers.
    pub const ICON_IDENTIFIER: u8 = 0x1E;
    /// Bearer description (§8.52, clause recalled).
    pub const BEARER_DESCRIPTION: u8 = 0x35;
    /// Channel data (§8.53, clause recalled).
    pub const CHANNEL_DATA: u8 = 0x36;
    /// Channel data length (§8.54, clause recalled).
    pub const CHANNEL_DATA_LENGTH: u8 = 0x37;
    /// Channel status (§8.56, clause recalled).
    pub const CHANNEL_STATUS: u8 = 0x38;
    /// Buffer size (§8.55, clause recalled).
    pub const BUFFER_SIZE: u8 = 0x39;
    /// UICC/terminal interface transport level (§8.59, clause recalled).
    pub const TRANSPORT_LEVEL: u8 = 0x3C;
    /// Other address (§8.58, clause recalled): OPEN CHANNEL local and data destination address.
    pub const OTHER_ADDRESS: u8 = 0x3E;
    /// Network access name (§8.70, clause recalled).
    pub const NETWORK_ACCESS_NAME: u8 = 0x47;
    /// The comprehension-required flag, bit 8 of the tag (TS 101 220 §7.1.1, clause recalled).
    pub const CR: u8 = 0x80;
}

/// Device identities (TS 102 223 §8.7).
pub mod device {
    /// The UICC.
    pub const UICC: u8 = 0x81;
    /// The terminal.
    pub const TERMINAL: u8 = 0x82;
    /// The network.
    pub const NETWORK: u8 = 0x83;

    /// The device identity of BIP channel `id` (`21`–`27` for channels 1–7).
    pub fn channel(id: u8) -> u8 {
        0x20_u8.wrapping_add(id)
    }

    /// The channel number of a channel device identity (`21`–`27`), if it is one.
    pub fn channel_of(identity: u8) -> Option<u8> {
        matches!(identity, 0x21..=0x27).then(|| identity & 0x07)
    }
}

/// Type of command, byte 2 of the command details (TS 102 223 §9.4, clause recalled).
pub mod command_type {
    /// REFRESH.
    pub const REFRESH: u8 = 0x01;
    /// MORE TIME.
    pub const MORE_TIME: u8 = 0x02;
    /// POLL INTERVAL.
    pub const POLL_INTERVAL: u8 = 0x03;
    /// POLLING OFF.
    pub const POLLING_OFF: u8 = 0x04;
    /// SET UP EVENT LIST (§6.4.16).
    pub const SET_UP_EVENT_LIST: u8 = 0x05;
    /// SEND SHORT MESSAGE (§6.4.10).
    pub const SEND_SHORT_MESSAGE: u8 = 0x13;
    /// DISPLAY TEXT.
    pub const DISPLAY_TEXT: u8 = 0x21;
    /// SET UP MENU.
    pub const SET_UP_MENU: u8 = 0x25;
    /// PROVIDE LOCAL INFORMATION.
    pub const PROVIDE_LOCAL_INFORMATION: u8 = 0x26;
    /// TIMER MANAGEMENT.
    pub const TIMER_MANAGEMENT: u8 = 0x27;
    /// OPEN CHANNEL (§6.4.27).
    pub const OPEN_CHANNEL: u8 = 0x40;
    /// CLOSE CHANNEL (§6.4.28).
    pub const CLOSE_CHANNEL: u8 = 0x41;
    /// RECEIVE DATA (§6.4.29).
    pub const RECEIVE_DATA: u8 = 0x42;
    /// SEND DATA (§6.4.30).
    pub const SEND_DATA: u8 = 0x43;
    /// GET CHANNEL STATUS (§6.4.31).
    pub const GET_CHANNEL_STATUS: u8 = 0x44;

    /// The spec's name of a command type (for logs), `"UNKNOWN"` for types not listed here.
    pub fn name(kind: u8) -> &'static str {
        match kind {
            REFRESH => "REFRESH",
            MORE_TIME => "MORE TIME",
            POLL_INTERVAL => "POLL INTERVAL",
            POLLING_OFF => "POLLING OFF",
            SET_UP_EVENT_LIST => "SET UP EVENT LIST",
            SEND_SHORT_MESSAGE => "SEND SHORT MESSAGE",
            DISPLAY_TEXT => "DISPLAY TEXT",
            SET_UP_MENU => "SET UP MENU",
            PROVIDE_LOCAL_INFORMATION => "PROVIDE LOCAL INFORMATION",
            TIMER_MANAGEMENT => "TIMER MANAGEMENT",
            OPEN_CHANNEL => "OPEN CHANNEL",
            CLOSE_CHANNEL => "CLOSE CHANNEL",
            RECEIVE_DATA => "RECEIVE DATA",
            SEND_DATA => "SEND DATA",
            GET_CHANNEL_STATUS => "GET CHANNEL STATUS",
            _ => "UNKNOWN",
        }
    }
}

/// Event list values (TS 102 223 §8.25).
pub mod event {
    /// Data available (§7.5.10).
    pub const DATA_AVAILABLE: u8 = 0x09;
    /// Channel status (§7.5.11).
    pub const CHANNEL_STATUS: u8 = 0x0A;
}

/// General result, first byte of the result TLV (TS 102 223 §8.12).
pub mod result {
    /// Command performed successfully.
    pub const OK: u8 = 0x00;
    /// Command performed with missing information (RECEIVE DATA: fewer bytes than requested).
    pub const MISSING_INFORMATION: u8 = 0x02;
    /// Command performed with modification (OPEN CHANNEL: smaller buffer granted).
    pub const MODIFIED: u8 = 0x07;
    /// Terminal currently unable to process command (additional information follows).
    pub const TERMINAL_UNABLE: u8 = 0x20;
    /// Command beyond terminal's capabilities.
    pub const BEYOND_CAPABILITIES: u8 = 0x30;
    /// Command data not understood by terminal.
    pub const NOT_UNDERSTOOD: u8 = 0x32;
    /// Bearer Independent Protocol error (additional information: a [`bip_cause`](super::bip_cause)).
    pub const BIP_ERROR: u8 = 0x3A;
}

/// Additional information for [`result::BIP_ERROR`] (TS 102 223 §8.12.11, clause recalled).
pub mod bip_cause {
    /// No specific cause can be given.
    pub const NO_SPECIFIC_CAUSE: u8 = 0x00;
    /// No channel available.
    pub const NO_CHANNEL_AVAILABLE: u8 = 0x01;
    /// Channel closed.
    pub const CHANNEL_CLOSED: u8 = 0x02;
    /// Channel identifier not valid.
    pub const CHANNEL_ID_NOT_VALID: u8 = 0x03;
    /// Requested buffer size not available.
    pub const BUFFER_SIZE_NOT_AVAILABLE: u8 = 0x04;
    /// Security error (unsuccessful authentication).
    pub const SECURITY_ERROR: u8 = 0x05;
    /// Requested UICC/terminal interface transport level not available.
    pub const TRANSPORT_LEVEL_NOT_AVAILABLE: u8 = 0x06;
    /// Remote device is not reachable.
    pub const REMOTE_DEVICE_NOT_REACHABLE: u8 = 0x07;
    /// Service error.
    pub const SERVICE_ERROR: u8 = 0x08;
    /// Service identifier unknown.
    pub const SERVICE_ID_UNKNOWN: u8 = 0x09;
    /// Port not available.
    pub const PORT_NOT_AVAILABLE: u8 = 0x10;
}

/// Second byte of a channel status (TS 102 223 §8.56, clause recalled).
pub mod status_info {
    /// No further information.
    pub const NONE: u8 = 0x00;
    /// Link dropped (network failure or user cancellation).
    pub const LINK_DROPPED: u8 = 0x05;
}

/// The most data bytes one RECEIVE DATA terminal response carries in a short APDU: 255 minus
/// `81 03 …` (5), `82 02 82 81` (4), `83 01 00` (3), `36 81 LL` (3) and `37 01 NN` (3).
pub const MAX_RECEIVE_DATA: u8 = 0xED;

/// Why bytes are not valid CAT data, or values cannot be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CatError {
    /// The input ends before a tag, length or value it announces.
    #[error("{what} at offset {offset} truncated: {needed} bytes needed, {available} available")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A length byte that is neither `00`–`7F`, `81` nor `82`.
    #[error("bad length byte {byte:#04x} at offset {offset}")]
    BadLength { offset: usize, byte: u8 },
    /// A length in a longer form than needed (`81 05`, `82 00 90`).
    #[error("non-minimal length {len} at offset {offset}")]
    NonMinimalLength { offset: usize, len: usize },
    /// A tag that is not a single-byte COMPREHENSION-TLV tag (`00`, `80`, `7F`, `FF`).
    #[error("tag {tag:#04x} at offset {offset} is not a single-byte COMPREHENSION-TLV tag")]
    BadTag { offset: usize, tag: u8 },
    /// The outer BER-TLV tag is not the one expected (`D0` proactive command, `D6` event).
    #[error("{what}: expected tag {expected:#04x}, found {found:#04x}")]
    WrongTag {
        what: &'static str,
        expected: u8,
        found: u8,
    },
    /// Bytes left after the structure ended.
    #[error("{count} trailing bytes at offset {offset}")]
    TrailingBytes { offset: usize, count: usize },
    /// Something too long for its length field or for one short APDU.
    #[error("{what} is {len} bytes, at most {max} allowed")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// A mandatory data object is absent.
    #[error("{context}: {what} (tag {tag:#04x}) missing")]
    Missing {
        context: &'static str,
        what: &'static str,
        tag: u8,
    },
    /// A data object whose value is malformed.
    #[error("{context}: tag {tag:#04x} at offset {offset}: {reason}")]
    BadValue {
        context: &'static str,
        tag: u8,
        offset: usize,
        reason: &'static str,
    },
    /// A data object present twice where it may appear once.
    #[error("{context}: tag {tag:#04x} at offset {offset} repeated")]
    Repeated {
        context: &'static str,
        tag: u8,
        offset: usize,
    },
    /// A data object this command does not define, with the comprehension-required flag set or in
    /// a position where nothing else is allowed.
    #[error("{context}: unexpected tag {tag:#04x} at offset {offset}")]
    Unexpected {
        context: &'static str,
        tag: u8,
        offset: usize,
    },
    /// Device identities that do not fit the message (source, destination).
    #[error("{context}: device identities {from:#04x} -> {to:#04x} not allowed")]
    BadDeviceIdentities {
        context: &'static str,
        from: u8,
        to: u8,
    },
    /// A command qualifier with bits this codec cannot represent (RFU, or UICC server mode).
    #[error("{context}: command qualifier {qualifier:#04x} not supported")]
    UnsupportedQualifier {
        context: &'static str,
        qualifier: u8,
    },
    /// A BIP channel number outside 1–7.
    #[error("channel {0} not in 1..=7")]
    BadChannel(u8),
    /// An event download of an event this codec does not handle.
    #[error("event {0:#04x} not supported (only 09 data available and 0A channel status)")]
    UnsupportedEvent(u8),
    /// An APDU that is not the CAT command expected.
    #[error("APDU {cla:#04x} {ins:#04x} is not {what}")]
    WrongApdu {
        what: &'static str,
        cla: u8,
        ins: u8,
    },
    /// Values that cannot be encoded together.
    #[error("cannot encode: {0}")]
    Invalid(&'static str),
}

/// Command details (TS 102 223 §8.6): command number, type of command, command qualifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandDetails {
    pub number: u8,
    pub kind: u8,
    pub qualifier: u8,
}

impl CommandDetails {
    /// The three value bytes.
    pub fn to_value(&self) -> [u8; 3] {
        [self.number, self.kind, self.qualifier]
    }

    /// Reads the value of a command details TLV (exactly three bytes).
    pub fn from_value(value: &[u8]) -> Option<Self> {
        match value {
            [number, kind, qualifier] => Some(Self {
                number: *number,
                kind: *kind,
                qualifier: *qualifier,
            }),
            _ => None,
        }
    }

    /// Leniently reads the command details at the start of a proactive command that may
    /// otherwise be malformed, so the terminal can still answer it (TS 102 223 §6.10, clause
    /// recalled: "command data not understood", [`result::NOT_UNDERSTOOD`]). Looks only at
    /// `D0 L 01/81 03 nn tt qq`.
    pub fn peek(bytes: &[u8]) -> Option<Self> {
        let rest = match bytes {
            [TAG_PROACTIVE_COMMAND, 0x81, _, rest @ ..] => rest,
            [TAG_PROACTIVE_COMMAND, len, rest @ ..] if *len < 0x80 => rest,
            _ => return None,
        };
        match rest {
            [tag, 3, value @ ..] if tag & 0x7F == tags::COMMAND_DETAILS => {
                Self::from_value(value.get(..3)?)
            }
            _ => None,
        }
    }
}
