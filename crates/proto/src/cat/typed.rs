//! Typed BIP proactive commands (TS 102 223 §6.4.27–§6.4.31 and §6.4.16, clauses recalled):
//! what the card asks and the terminal runs.
//!
//! Typed parsing follows the terminal's rules of §6.10 (clause recalled): a data object the
//! command does not define is ignored unless its comprehension-required flag is set, in which
//! case parsing fails (the terminal then answers [`result::NOT_UNDERSTOOD`], taking the command
//! details from [`CommandDetails::peek`]). Alpha and icon identifiers are display-only and always
//! ignored. Qualifier bits a variant cannot carry are refused
//! ([`CatError::UnsupportedQualifier`]) so that [`Proactive::details`] always equals the command
//! details sent, which the terminal response must echo.

#[cfg(doc)]
use super::result;
use super::{
    command_type, device, tags, CatError, CommandDetails, Ctlv, OpenChannel, ProactiveCommand,
    MAX_PROACTIVE_COMMAND,
};

/// The most data bytes one SEND DATA can carry so that its `D0` fits 256 bytes:
/// `D0 81 LL` (3) + `81 03 nn 43 qq` (5) + `82 02 81 2c` (4) + `36 81 LL` (3) = 15 bytes of
/// overhead.
pub const SEND_DATA_MAX: usize = MAX_PROACTIVE_COMMAND - 15;

/// A BIP proactive command, typed; any other command is kept raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proactive {
    /// OPEN CHANNEL (`40`), to the terminal.
    OpenChannel(OpenChannel),
    /// SEND DATA (`43`), to a channel.
    SendData(SendData),
    /// RECEIVE DATA (`42`), to a channel.
    ReceiveData(ReceiveData),
    /// CLOSE CHANNEL (`41`), to a channel.
    CloseChannel(CloseChannel),
    /// GET CHANNEL STATUS (`44`), to the terminal, qualifier `00`.
    GetChannelStatus { number: u8 },
    /// SET UP EVENT LIST (`05`), to the terminal, qualifier `00`: the event list (`19`/`99`),
    /// empty to remove all events.
    SetUpEventList { number: u8, events: Vec<u8> },
    /// Any other type of command, kept raw.
    Other(ProactiveCommand),
}

/// SEND DATA (TS 102 223 §6.4.30, clause recalled): `D0 L 81 03 nn 43 qq 82 02 81 2c 36 L data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendData {
    pub number: u8,
    /// Qualifier b1: send immediately (else store in the Tx buffer).
    pub flush: bool,
    /// Channel 1–7 (device identity `20 + channel`).
    pub channel: u8,
    /// Channel data (`36`), at most [`SEND_DATA_MAX`] bytes.
    pub data: Vec<u8>,
}

/// RECEIVE DATA (TS 102 223 §6.4.29, clause recalled): `D0 0C 81 03 nn 42 00 82 02 81 2c 37 01
/// length`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveData {
    pub number: u8,
    /// Channel 1–7.
    pub channel: u8,
    /// Channel data length (`37`): bytes requested.
    pub length: u8,
}

/// CLOSE CHANNEL (TS 102 223 §6.4.28, clause recalled): `D0 09 81 03 nn 41 00 82 02 81 2c`
/// (client mode; the UICC server mode qualifier is not supported).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseChannel {
    pub number: u8,
    /// Channel 1–7.
    pub channel: u8,
}

impl SendData {
    /// The command details this command carries (qualifier `01` when `flush`, else `00`).
    pub fn details(&self) -> CommandDetails {
        CommandDetails {
            number: self.number,
            kind: command_type::SEND_DATA,
            qualifier: u8::from(self.flush),
        }
    }
}

impl ReceiveData {
    /// The command details this command carries (qualifier `00`).
    pub fn details(&self) -> CommandDetails {
        CommandDetails {
            number: self.number,
            kind: command_type::RECEIVE_DATA,
            qualifier: 0,
        }
    }
}

impl CloseChannel {
    /// The command details this command carries (qualifier `00`).
    pub fn details(&self) -> CommandDetails {
        CommandDetails {
            number: self.number,
            kind: command_type::CLOSE_CHANNEL,
            qualifier: 0,
        }
    }
}

impl Proactive {
    /// Parses a proactive command (what FETCH returned) and types it by its command type (see
    /// the module documentation for the rules).
    pub fn parse(bytes: &[u8]) -> Result<Self, CatError> {
        let (cmd, offsets) = ProactiveCommand::parse_with_offsets(bytes)?;
        let body = Body {
            cmd: &cmd,
            offsets: &offsets,
        };
        let number = cmd.details.number;
        Ok(match cmd.details.kind {
            command_type::OPEN_CHANNEL => Self::OpenChannel(OpenChannel::parse_body(&body)?),
            command_type::SEND_DATA => {
                const CTX: &str = "SEND DATA";
                let qualifier = body.qualifier(0x01, CTX)?;
                let channel = body.channel(CTX)?;
                let mut data = None;
                for (offset, t) in body.tlvs() {
                    match t.tag {
                        tags::CHANNEL_DATA => once(&mut data, t.value.clone(), CTX, t, offset)?,
                        _ => ignore_or_reject(CTX, t, offset)?,
                    }
                }
                Self::SendData(SendData {
                    number,
                    flush: qualifier & 0x01 != 0,
                    channel,
                    data: data.ok_or(missing(CTX, "channel data", tags::CHANNEL_DATA))?,
                })
            }
            command_type::RECEIVE_DATA => {
                const CTX: &str = "RECEIVE DATA";
                body.qualifier(0x00, CTX)?;
                let channel = body.channel(CTX)?;
                let mut length = None;
                for (offset, t) in body.tlvs() {
                    match (t.tag, t.value.as_slice()) {
                        (tags::CHANNEL_DATA_LENGTH, [n]) => once(&mut length, *n, CTX, t, offset)?,
                        (tags::CHANNEL_DATA_LENGTH, _) => {
                            return Err(CatError::BadValue {
                                context: CTX,
                                tag: t.tag,
                                offset,
                                reason: "channel data length must be 1 byte",
                            })
                        }
                        _ => ignore_or_reject(CTX, t, offset)?,
                    }
                }
                Self::ReceiveData(ReceiveData {
                    number,
                    channel,
                    length: length.ok_or(missing(
                        CTX,
                        "channel data length",
                        tags::CHANNEL_DATA_LENGTH,
                    ))?,
                })
            }
            command_type::CLOSE_CHANNEL => {
                const CTX: &str = "CLOSE CHANNEL";
                body.qualifier(0x00, CTX)?;
                let channel = body.channel(CTX)?;
                body.no_data(CTX)?;
                Self::CloseChannel(CloseChannel { number, channel })
            }
            command_type::GET_CHANNEL_STATUS => {
                const CTX: &str = "GET CHANNEL STATUS";
                body.qualifier(0x00, CTX)?;
                body.to(device::TERMINAL, CTX)?;
                body.no_data(CTX)?;
                Self::GetChannelStatus { number }
            }
            command_type::SET_UP_EVENT_LIST => {
                const CTX: &str = "SET UP EVENT LIST";
                body.qualifier(0x00, CTX)?;
                body.to(device::TERMINAL, CTX)?;
                let mut events = None;
                for (offset, t) in body.tlvs() {
                    match t.tag {
                        tags::EVENT_LIST => once(&mut events, t.value.clone(), CTX, t, offset)?,
                        _ => ignore_or_reject(CTX, t, offset)?,
                    }
                }
                Self::SetUpEventList {
                    number,
                    events: events.ok_or(missing(CTX, "event list", tags::EVENT_LIST))?,
                }
            }
            _ => Self::Other(cmd),
        })
    }

    /// The untyped command. BIP data objects use non-CR tags like the traces; the event list is
    /// `99` (CR) as live cards send it. Errors on a channel outside 1–7 or SEND DATA longer than
    /// [`SEND_DATA_MAX`].
    pub fn to_command(&self) -> Result<ProactiveCommand, CatError> {
        let details = self.details();
        let (destination, tlvs) = match self {
            Self::OpenChannel(c) => return c.to_command(),
            Self::SendData(c) => {
                if c.data.len() > SEND_DATA_MAX {
                    return Err(CatError::TooLong {
                        what: "SEND DATA channel data",
                        len: c.data.len(),
                        max: SEND_DATA_MAX,
                    });
                }
                let data = Ctlv::new(tags::CHANNEL_DATA, c.data.clone());
                (channel_device(c.channel)?, vec![data])
            }
            Self::ReceiveData(c) => (
                channel_device(c.channel)?,
                vec![Ctlv::new(tags::CHANNEL_DATA_LENGTH, [c.length])],
            ),
            Self::CloseChannel(c) => (channel_device(c.channel)?, vec![]),
            Self::GetChannelStatus { .. } => (device::TERMINAL, vec![]),
            Self::SetUpEventList { events, .. } => (
                device::TERMINAL,
                vec![Ctlv::required(tags::EVENT_LIST, events.clone())],
            ),
            Self::Other(c) => return Ok(c.clone()),
        };
        Ok(ProactiveCommand {
            details,
            destination,
            tlvs,
        })
    }

    /// Encodes the command (what FETCH returns), at most 256 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CatError> {
        self.to_command()?.to_bytes()
    }

    /// The command details (number, type, qualifier) this command carries.
    pub fn details(&self) -> CommandDetails {
        let simple = |number, kind, qualifier| CommandDetails {
            number,
            kind,
            qualifier,
        };
        match self {
            Self::OpenChannel(c) => c.details(),
            Self::SendData(c) => c.details(),
            Self::ReceiveData(c) => c.details(),
            Self::CloseChannel(c) => c.details(),
            Self::GetChannelStatus { number } => {
                simple(*number, command_type::GET_CHANNEL_STATUS, 0)
            }
            Self::SetUpEventList { number, .. } => {
                simple(*number, command_type::SET_UP_EVENT_LIST, 0)
            }
            Self::Other(c) => c.details.clone(),
        }
    }

    /// The spec's name of the command, e.g. `"OPEN CHANNEL"` (for `Other`, by its type).
    pub fn name(&self) -> &'static str {
        command_type::name(self.details().kind)
    }
}

fn channel_device(channel: u8) -> Result<u8, CatError> {
    match channel {
        1..=7 => Ok(device::channel(channel)),
        _ => Err(CatError::BadChannel(channel)),
    }
}

fn missing(context: &'static str, what: &'static str, tag: u8) -> CatError {
    CatError::Missing { context, what, tag }
}

/// A parsed command with the offsets of its data objects, for typed parsing.
pub(crate) struct Body<'a> {
    pub(crate) cmd: &'a ProactiveCommand,
    pub(crate) offsets: &'a [usize],
}

impl Body<'_> {
    /// The data objects after the device identities, with their offsets.
    pub(crate) fn tlvs(&self) -> impl Iterator<Item = (usize, &Ctlv)> {
        self.offsets.iter().copied().zip(self.cmd.tlvs.iter())
    }

    /// Checks the destination device.
    pub(crate) fn to(&self, device: u8, context: &'static str) -> Result<(), CatError> {
        if self.cmd.destination == device {
            Ok(())
        } else {
            Err(self.bad_identities(context))
        }
    }

    /// The channel (1–7) the command is addressed to.
    fn channel(&self, context: &'static str) -> Result<u8, CatError> {
        device::channel_of(self.cmd.destination).ok_or(self.bad_identities(context))
    }

    /// The qualifier, if it has no bits outside `allowed`.
    fn qualifier(&self, allowed: u8, context: &'static str) -> Result<u8, CatError> {
        let qualifier = self.cmd.details.qualifier;
        if qualifier & !allowed == 0 {
            Ok(qualifier)
        } else {
            Err(CatError::UnsupportedQualifier { context, qualifier })
        }
    }

    /// Checks there is nothing a terminal must understand after the device identities.
    fn no_data(&self, context: &'static str) -> Result<(), CatError> {
        self.tlvs()
            .try_for_each(|(offset, t)| ignore_or_reject(context, t, offset))
    }

    fn bad_identities(&self, context: &'static str) -> CatError {
        CatError::BadDeviceIdentities {
            context,
            from: device::UICC,
            to: self.cmd.destination,
        }
    }
}

/// A data object the command does not define: alpha and icon identifiers are ignored, others
/// are ignored unless comprehension is required.
pub(crate) fn ignore_or_reject(
    context: &'static str,
    t: &Ctlv,
    offset: usize,
) -> Result<(), CatError> {
    match t.tag {
        tags::ALPHA_IDENTIFIER | tags::ICON_IDENTIFIER => Ok(()),
        _ if t.cr => Err(CatError::Unexpected {
            context,
            tag: t.encoded_tag(),
            offset,
        }),
        _ => Ok(()),
    }
}

/// Stores a data object that may appear once.
pub(crate) fn once<T>(
    slot: &mut Option<T>,
    value: T,
    context: &'static str,
    t: &Ctlv,
    offset: usize,
) -> Result<(), CatError> {
    if slot.is_some() {
        return Err(CatError::Repeated {
            context,
            tag: t.encoded_tag(),
            offset,
        });
    }
    *slot = Some(value);
    Ok(())
}
