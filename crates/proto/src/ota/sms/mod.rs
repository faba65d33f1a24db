//! The SMS carrier of SCP80 packets: 3GPP TS 23.040 SMS-DELIVER TPDUs and the SMS-PP data
//! download ENVELOPE of ETSI TS 102 223 §7.1 / 3GPP TS 31.111 §7.1.1, both directions.
//!
//! A command packet travels in the TP-UD of an SMS-DELIVER with TP-PID `7F` (SIM data
//! download), TP-DCS `F6` (class 2, 8-bit data) and a user data header carrying IEI `70` (the
//! Command Packet Identifier, TS 31.115 §4.2). A packet that does not fit one message (140 octets
//! of TP-UD) is split with the concatenation IEI `00` (TS 23.040 §9.2.3.24.1); see
//! [`CONCATENATED_CPI_PLACEMENT`]. The terminal hands each message to the UICC in an ENVELOPE:
//!
//! ```text
//! 80 C2 00 00 Lc  D1 L { 82 02 83 81   device identities: network -> UICC
//!                        [06 L TON/NPI BCD-digits]   service centre address (optional)
//!                        8B L <SMS-DELIVER TPDU> }
//! ```
//!
//! The UICC answers with the PoR user data (`02 71 00 …`) as response data: `9000` with data, or
//! `61xx`/`9Fxx` and a GET RESPONSE (T=0); `62xx`/`63xx` with data ask the terminal to return it
//! in an RP-ERROR; `9300` means the toolkit is busy (see [`EnvelopeReply`]). When SPI2 asks
//! for the PoR by SMS-SUBMIT, it comes in a SEND SHORT MESSAGE proactive command instead
//! ([`SendShortMessage`]).

use crate::tlv::TlvError;
use thiserror::Error;

mod address;
mod concat;
mod envelope;
mod submit;
mod tpdu;

pub use address::Address;
pub use concat::{command_packet_messages, Reassembler};
pub use envelope::{get_response, sms_pp_download, EnvelopeReply, SmsPpDownload};
pub use submit::{fetch, SendShortMessage, SmsSubmit, ValidityPeriod};
pub use tpdu::{encode_udh, is_8bit, parse_udh, InformationElement, SmsDeliver};

/// Largest TP-UD of one message, in octets (8-bit data).
pub const MAX_USER_DATA: usize = 140;
/// TP-PID: (U)SIM data download.
pub const PID_SIM_DATA_DOWNLOAD: u8 = 0x7F;
/// TP-DCS: class 2 (SIM specific), 8-bit data.
pub const DCS_CLASS2_8BIT: u8 = 0xF6;
/// IEI of the Command Packet Identifier.
pub const IEI_COMMAND_PACKET: u8 = 0x70;
/// IEI of the Response Packet Identifier.
pub const IEI_RESPONSE_PACKET: u8 = 0x71;
/// IEI of concatenated short messages with an 8-bit reference.
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of concatenated short messages with a 16-bit reference.
pub const IEI_CONCAT_16: u8 = 0x08;
/// BER-TLV tag of the SMS-PP download ENVELOPE.
pub const TAG_SMS_PP_DOWNLOAD: u8 = 0xD1;
/// Device identities: source network (`83`), destination UICC (`81`).
pub const DEVICE_IDS_NETWORK_TO_UICC: [u8; 2] = [0x83, 0x81];

/// Where the CPI goes in a concatenated command packet, and in what order.
///
/// TS 31.115 puts the Command Packet Identifier only in the first message of a concatenated
/// command packet; the order of the two IEs in that header is our choice, the one the Njiwa
/// SM-SR uses (`07 70 00 00 03 ref n 1`, then `05 00 03 ref n i`). The card side accepts either
/// order.
pub const CONCATENATED_CPI_PLACEMENT: &str = "first message only, before the concatenation IE";

/// Why an SMS, an address or an ENVELOPE cannot be built or read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SmsError {
    /// The TPDU or a field ends early.
    #[error("{what} truncated: {needed} bytes needed, {available} left")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// Bytes after the user data.
    #[error("{0} bytes after the TP-UD")]
    TrailingBytes(usize),
    /// Not an SMS-DELIVER (TP-MTI).
    #[error("TP-MTI {0} is not SMS-DELIVER (00)")]
    NotDeliver(u8),
    /// Not an SMS-SUBMIT (TP-MTI).
    #[error("TP-MTI {0} is not SMS-SUBMIT (01)")]
    NotSubmit(u8),
    /// A proactive command that is not SEND SHORT MESSAGE to the network.
    #[error("not a SEND SHORT MESSAGE proactive command: {0}")]
    NotSendShortMessage(&'static str),
    /// A data coding scheme whose TP-UDL is not an octet count.
    #[error("TP-DCS {0:02X} is not 8-bit data")]
    Not8Bit(u8),
    /// A digit BCD cannot carry, or an alphanumeric address.
    #[error("address: {0}")]
    BadAddress(String),
    /// More data than concatenated messages can carry, or a TP-UD over 140 octets.
    #[error("{0} octets do not fit the SMS user data")]
    TooLong(usize),
    /// A user data header that does not parse.
    #[error("user data header: {0}")]
    BadUdh(&'static str),
    /// A concatenation IE with impossible numbers, or parts that disagree.
    #[error("concatenation: {0}")]
    BadConcatenation(&'static str),
    /// A message without the Command Packet Identifier.
    #[error("no command packet identifier (IEI 70) in the first message")]
    NoCommandPacket,
    /// An ENVELOPE that is not SMS-PP download.
    #[error("not an SMS-PP download ENVELOPE: {0}")]
    NotSmsPpDownload(&'static str),
    /// A BER-TLV error inside the ENVELOPE.
    #[error("ENVELOPE TLV: {0}")]
    Tlv(#[from] TlvError),
}

#[cfg(test)]
mod tests;
