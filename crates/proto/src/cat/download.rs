//! Event download ENVELOPEs for BIP (TS 102 223 §7.5.10 Data available, §7.5.11 Channel
//! status) and the channel status value (§8.56, clause recalled).
//!
//! ```text
//! 80 C2 00 00 Lc  D6 L  99 01 09  82 02 82 81  B8 02 status  B7 01 n     data available
//! 80 C2 00 00 Lc  D6 L  99 01 0A  82 02 82 81  B8 02 status              channel status
//! ```

use super::{
    device, event, parse_ctlvs_at, parse_outer, push_ctlv, status_info, tags, wrap_outer, CatError,
    Ctlv,
};
use crate::apdu::CommandApdu;

/// BER-TLV tag of an event download ENVELOPE (TS 102 223 §9.1, clause recalled).
pub const TAG_EVENT_DOWNLOAD: u8 = 0xD6;

const CONTEXT: &str = "event download";

/// A BIP event download (what the terminal sends in an ENVELOPE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Data available (§7.5.10): the Rx buffer of a channel went from empty to non-empty;
    /// `length` = bytes waiting (`FF` for more than 255).
    DataAvailable { channel_status: [u8; 2], length: u8 },
    /// Channel status (§7.5.11): e.g. link dropped, or link up after a background-mode OPEN
    /// CHANNEL.
    ChannelStatus { channel_status: [u8; 2] },
}

impl Event {
    /// Data available on `channel` (link up) with `pending` bytes waiting (`FF` above 255).
    pub fn data_available(channel: u8, pending: usize) -> Self {
        Self::DataAvailable {
            channel_status: channel_status(channel, true, status_info::NONE),
            length: u8::try_from(pending).unwrap_or(0xFF),
        }
    }

    /// Channel status "link dropped" on `channel`.
    pub fn link_dropped(channel: u8) -> Self {
        Self::ChannelStatus {
            channel_status: channel_status(channel, false, status_info::LINK_DROPPED),
        }
    }

    /// The event code (§8.25): `09` or `0A`.
    pub fn code(&self) -> u8 {
        match self {
            Self::DataAvailable { .. } => event::DATA_AVAILABLE,
            Self::ChannelStatus { .. } => event::CHANNEL_STATUS,
        }
    }

    /// Encodes the `D6` BER-TLV with CR tags, as terminals send it: event list `99`, device
    /// identities `82` (terminal to UICC), channel status `B8`, channel data length `B7`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CatError> {
        let mut body = Vec::new();
        push_ctlv(&mut body, tags::EVENT_LIST | tags::CR, &[self.code()])?;
        push_ctlv(
            &mut body,
            tags::DEVICE_IDENTITIES | tags::CR,
            &[device::TERMINAL, device::UICC],
        )?;
        match self {
            Self::DataAvailable {
                channel_status,
                length,
            } => {
                push_ctlv(&mut body, tags::CHANNEL_STATUS | tags::CR, channel_status)?;
                push_ctlv(&mut body, tags::CHANNEL_DATA_LENGTH | tags::CR, &[*length])?;
            }
            Self::ChannelStatus { channel_status } => {
                push_ctlv(&mut body, tags::CHANNEL_STATUS | tags::CR, channel_status)?;
            }
        }
        wrap_outer(TAG_EVENT_DOWNLOAD, &body)
    }

    /// The ENVELOPE command `80 C2 00 00 Lc D6 …` (no Le).
    pub fn to_envelope(&self) -> Result<CommandApdu, CatError> {
        Ok(CommandApdu::new(0x80, 0xC2, 0x00, 0x00).with_data(self.to_bytes()?))
    }

    /// Parses an ENVELOPE command (CLA `80`, INS `C2`) carrying an event download.
    pub fn from_envelope(apdu: &CommandApdu) -> Result<Self, CatError> {
        if (apdu.cla, apdu.ins) != (0x80, 0xC2) {
            return Err(CatError::WrongApdu {
                what: "ENVELOPE",
                cla: apdu.cla,
                ins: apdu.ins,
            });
        }
        Self::parse(&apdu.data)
    }

    /// Parses the `D6` BER-TLV (CR and non-CR tags). Strict: one event, device identities
    /// `82 81`, then exactly the data objects of that event in order; nothing else.
    pub fn parse(bytes: &[u8]) -> Result<Self, CatError> {
        let (value, start) = parse_outer(bytes, TAG_EVENT_DOWNLOAD, CONTEXT)?;
        let mut tlvs = parse_ctlvs_at(value, start)?.into_iter();
        let [code] = take(
            &mut tlvs,
            tags::EVENT_LIST,
            "event list",
            "event list must hold one event",
        )?;
        let [source, destination] = take(
            &mut tlvs,
            tags::DEVICE_IDENTITIES,
            "device identities",
            "device identities must be 2 bytes",
        )?;
        if (source, destination) != (device::TERMINAL, device::UICC) {
            return Err(CatError::BadDeviceIdentities {
                context: CONTEXT,
                from: source,
                to: destination,
            });
        }
        let event = match code {
            event::DATA_AVAILABLE => {
                let channel_status = take(
                    &mut tlvs,
                    tags::CHANNEL_STATUS,
                    "channel status",
                    "channel status must be 2 bytes",
                )?;
                let [length] = take(
                    &mut tlvs,
                    tags::CHANNEL_DATA_LENGTH,
                    "channel data length",
                    "channel data length must be 1 byte",
                )?;
                Self::DataAvailable {
                    channel_status,
                    length,
                }
            }
            event::CHANNEL_STATUS => Self::ChannelStatus {
                channel_status: take(
                    &mut tlvs,
                    tags::CHANNEL_STATUS,
                    "channel status",
                    "channel status must be 2 bytes",
                )?,
            },
            other => return Err(CatError::UnsupportedEvent(other)),
        };
        match tlvs.next() {
            Some((offset, t)) => Err(CatError::Unexpected {
                context: CONTEXT,
                tag: t.encoded_tag(),
                offset,
            }),
            None => Ok(event),
        }
    }
}

/// Takes the next data object, which must have `tag` and an `N`-byte value.
fn take<const N: usize>(
    tlvs: &mut impl Iterator<Item = (usize, Ctlv)>,
    tag: u8,
    what: &'static str,
    reason: &'static str,
) -> Result<[u8; N], CatError> {
    match tlvs.next() {
        Some((offset, t)) if t.tag == tag => {
            <[u8; N]>::try_from(t.value.as_slice()).map_err(|_| CatError::BadValue {
                context: CONTEXT,
                tag,
                offset,
                reason,
            })
        }
        Some((offset, t)) => Err(CatError::Unexpected {
            context: CONTEXT,
            tag: t.encoded_tag(),
            offset,
        }),
        None => Err(CatError::Missing {
            context: CONTEXT,
            what,
            tag,
        }),
    }
}

/// A channel status value (TS 102 223 §8.56, clause recalled): byte 1 = channel id (b1–b3,
/// `channel` is masked to 3 bits) with b8 set when the link is established (UICC client mode);
/// byte 2 = further information (see [`status_info`]).
pub fn channel_status(channel: u8, link_up: bool, info: u8) -> [u8; 2] {
    let up = if link_up { 0x80 } else { 0x00 };
    [up | (channel & 0x07), info]
}
