//! TERMINAL RESPONSE (TS 102 223 §6.8, clause recalled) and the terminal's typical BIP answers.
//!
//! ```text
//! 80 14 00 00 Lc  81 03 nn tt qq  82 02 82 81  83 L result [additional info]  [TLVs]
//! ```

use super::proactive::{details_and_identities, find};
use super::{
    channel_status, device, parse_ctlvs_at, push_ctlv, result, tags, CatError, CommandDetails,
    Ctlv, OpenChannel, ReceiveData, SendData,
};
use crate::apdu::CommandApdu;

/// The most bytes a terminal response may take (the Lc of a short APDU).
pub const MAX_TERMINAL_RESPONSE: usize = 255;

const CONTEXT: &str = "terminal response";

/// TERMINAL RESPONSE data: `81 03 <details> 82 02 82 81 83 L <general result> <additional
/// info> <TLVs>` (TS 102 223 §6.8, clause recalled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminalResponse {
    /// The command details of the command answered, echoed unchanged.
    pub details: CommandDetails,
    /// General result (§8.12), see [`result`].
    pub general_result: u8,
    /// Additional information on the result (e.g. a [`bip_cause`](super::bip_cause)).
    pub additional_info: Vec<u8>,
    /// The data objects after the result, in order, with their CR flags.
    pub tlvs: Vec<Ctlv>,
}

impl TerminalResponse {
    /// A response with this result and nothing else.
    pub fn new(details: CommandDetails, general_result: u8) -> Self {
        Self {
            details,
            general_result,
            additional_info: Vec::new(),
            tlvs: Vec::new(),
        }
    }

    /// Appends a data object; non-CR unless `tag` has bit 8 set.
    #[must_use]
    pub fn with(mut self, tag: u8, value: &[u8]) -> Self {
        self.tlvs.push(Ctlv {
            tag: tag & 0x7F,
            cr: tag & tags::CR != 0,
            value: value.to_vec(),
        });
        self
    }

    /// Sets the additional information of the result.
    #[must_use]
    pub fn with_info(mut self, info: &[u8]) -> Self {
        self.additional_info = info.to_vec();
        self
    }

    /// Encodes the response data: command details, device identities (terminal to UICC) and
    /// result with the CR bit (`81`, `82`, `83`, as terminals send them), then the TLVs as
    /// stored. At most [`MAX_TERMINAL_RESPONSE`] bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CatError> {
        let mut out = Vec::new();
        push_ctlv(
            &mut out,
            tags::COMMAND_DETAILS | tags::CR,
            &self.details.to_value(),
        )?;
        push_ctlv(
            &mut out,
            tags::DEVICE_IDENTITIES | tags::CR,
            &[device::TERMINAL, device::UICC],
        )?;
        let mut result = vec![self.general_result];
        result.extend_from_slice(&self.additional_info);
        push_ctlv(&mut out, tags::RESULT | tags::CR, &result)?;
        for t in &self.tlvs {
            t.push_to(&mut out)?;
        }
        if out.len() > MAX_TERMINAL_RESPONSE {
            return Err(CatError::TooLong {
                what: CONTEXT,
                len: out.len(),
                max: MAX_TERMINAL_RESPONSE,
            });
        }
        Ok(out)
    }

    /// Parses response data (CR and non-CR tags): command details, device identities `82 81`
    /// and result (at least the general result) must come first, in that order.
    pub fn parse(bytes: &[u8]) -> Result<Self, CatError> {
        if bytes.len() > MAX_TERMINAL_RESPONSE {
            return Err(CatError::TooLong {
                what: CONTEXT,
                len: bytes.len(),
                max: MAX_TERMINAL_RESPONSE,
            });
        }
        let mut tlvs = parse_ctlvs_at(bytes, 0)?.into_iter();
        let (details, (source, destination)) = details_and_identities(&mut tlvs, CONTEXT)?;
        if (source, destination) != (device::TERMINAL, device::UICC) {
            return Err(CatError::BadDeviceIdentities {
                context: CONTEXT,
                from: source,
                to: destination,
            });
        }
        let (general_result, additional_info) = match tlvs.next() {
            Some((offset, t)) if t.tag == tags::RESULT => match t.value.split_first() {
                Some((general, info)) => (*general, info.to_vec()),
                None => {
                    return Err(CatError::BadValue {
                        context: CONTEXT,
                        tag: t.tag,
                        offset,
                        reason: "result is empty",
                    })
                }
            },
            Some((offset, t)) => {
                return Err(CatError::Unexpected {
                    context: CONTEXT,
                    tag: t.encoded_tag(),
                    offset,
                })
            }
            None => {
                return Err(CatError::Missing {
                    context: CONTEXT,
                    what: "result",
                    tag: tags::RESULT,
                })
            }
        };
        Ok(Self {
            details,
            general_result,
            additional_info,
            tlvs: tlvs.map(|(_, t)| t).collect(),
        })
    }

    /// The TERMINAL RESPONSE command `80 14 00 00 Lc data` (no Le).
    pub fn to_apdu(&self) -> Result<CommandApdu, CatError> {
        Ok(CommandApdu::new(0x80, 0x14, 0x00, 0x00).with_data(self.to_bytes()?))
    }

    /// Parses a TERMINAL RESPONSE command (CLA `80`, INS `14`).
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, CatError> {
        if (apdu.cla, apdu.ins) != (0x80, 0x14) {
            return Err(CatError::WrongApdu {
                what: "TERMINAL RESPONSE",
                cla: apdu.cla,
                ins: apdu.ins,
            });
        }
        Self::parse(&apdu.data)
    }

    /// The first data object after the result with this tag (CR bit ignored).
    pub fn find(&self, tag: u8) -> Option<&Ctlv> {
        find(&self.tlvs, tag)
    }
}

/// A count as a one-byte channel data length: `FF` means "more than 255" (§8.54, recalled).
fn length_byte(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(0xFF)
}

/// OPEN CHANNEL done (TS 102 223 §6.4.27, clause recalled): result `00`, or `07` "performed
/// with modification" when `buffer_size` is below the one requested; then channel status
/// `38 02 (80|channel) 00` (link established), the bearer description echoed (if the command
/// had one) and the buffer size granted. For a background-mode channel not yet up, build the
/// response with [`channel_status`] and `link_up = false` instead.
pub fn open_channel_ok(cmd: &OpenChannel, channel: u8, buffer_size: u16) -> TerminalResponse {
    let general = if buffer_size < cmd.buffer_size {
        result::MODIFIED
    } else {
        result::OK
    };
    let mut tr = TerminalResponse::new(cmd.details(), general).with(
        tags::CHANNEL_STATUS,
        &channel_status(channel, true, super::status_info::NONE),
    );
    if !cmd.bearer.is_empty() {
        tr = tr.with(tags::BEARER_DESCRIPTION, &cmd.bearer);
    }
    tr.with(tags::BUFFER_SIZE, &buffer_size.to_be_bytes())
}

/// SEND DATA done (TS 102 223 §6.4.30, clause recalled): result `00` and channel data length
/// `37 01` = free space in the Tx buffer (`FF` for more than 255).
pub fn send_data_ok(cmd: &SendData, free: usize) -> TerminalResponse {
    TerminalResponse::new(cmd.details(), result::OK)
        .with(tags::CHANNEL_DATA_LENGTH, &[length_byte(free)])
}

/// RECEIVE DATA done (TS 102 223 §6.4.29, clause recalled): channel data `36` (the `81 LL`
/// form above 127 bytes) and channel data length `37 01` = bytes still in the Rx buffer (`FF`
/// for more than 255).
///
/// The result is `00`, or `02` "performed with missing information" when `data` is shorter than
/// the command asked for (as §6.4.29 says, recalled, and as Android's BipProxy does; the otaman
/// bridge answers `00`). `data` longer than requested is the caller's error; more than
/// [`MAX_RECEIVE_DATA`](super::MAX_RECEIVE_DATA) bytes does not fit and `to_bytes` refuses it.
pub fn receive_data_ok(cmd: &ReceiveData, data: &[u8], remaining: usize) -> TerminalResponse {
    let general = if data.len() < usize::from(cmd.length) {
        result::MISSING_INFORMATION
    } else {
        result::OK
    };
    TerminalResponse::new(cmd.details(), general)
        .with(tags::CHANNEL_DATA, data)
        .with(tags::CHANNEL_DATA_LENGTH, &[length_byte(remaining)])
}

/// GET CHANNEL STATUS done (TS 102 223 §6.4.31, clause recalled): result `00` and one channel
/// status `38 02` per channel.
pub fn get_channel_status_ok(number: u8, statuses: &[[u8; 2]]) -> TerminalResponse {
    let details = CommandDetails {
        number,
        kind: super::command_type::GET_CHANNEL_STATUS,
        qualifier: 0,
    };
    statuses
        .iter()
        .fold(TerminalResponse::new(details, result::OK), |tr, s| {
            tr.with(tags::CHANNEL_STATUS, s)
        })
}

/// A BIP error (TS 102 223 §8.12.11, clause recalled): result `3A` with the cause as additional
/// information (see [`bip_cause`](super::bip_cause)); append `35`/`39` for OPEN CHANNEL with
/// [`TerminalResponse::with`].
pub fn bip_error(details: CommandDetails, cause: u8) -> TerminalResponse {
    TerminalResponse::new(details, result::BIP_ERROR).with_info(&[cause])
}
