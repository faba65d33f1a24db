//! MANAGE CHANNEL (GPCS v2.3.1 §11.7, ISO/IEC 7816-4 §11.1.2): opening and closing
//! supplementary logical channels.
//!
//! Open: `00 70 00 P2 01` (P2 `00` for the next free channel, or the channel wanted), answered
//! with the channel number (`01`–`13`). Close: `00 70 80 nn` without Le or response data. The
//! basic channel 0 is never closed. The class byte carries the channel the command is sent on,
//! which is not part of the command here.

use super::codec::expect_ins;
use super::{GpError, CLA_ISO};
use crate::apdu::CommandApdu;

/// INS of MANAGE CHANNEL.
pub const INS_MANAGE_CHANNEL: u8 = 0x70;
/// Highest logical channel number (ISO/IEC 7816-4 further interindustry class).
pub const MAX_CHANNEL: u8 = 19;

/// A MANAGE CHANNEL command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ManageChannel {
    /// Opens the next free channel (`None`) or the given one.
    Open(Option<u8>),
    /// Closes a supplementary channel.
    Close(u8),
}

fn check_channel(channel: u8) -> Result<u8, GpError> {
    if (1..=MAX_CHANNEL).contains(&channel) {
        Ok(channel)
    } else {
        Err(GpError::invalid(
            0,
            None,
            "supplementary logical channels are 01 to 13",
        ))
    }
}

impl ManageChannel {
    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        Ok(match *self {
            Self::Open(channel) => {
                let p2 = channel.map(check_channel).transpose()?.unwrap_or(0);
                CommandApdu::new(CLA_ISO, INS_MANAGE_CHANNEL, 0x00, p2).with_le(1)
            }
            Self::Close(channel) => {
                CommandApdu::new(CLA_ISO, INS_MANAGE_CHANNEL, 0x80, check_channel(channel)?)
            }
        })
    }

    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_MANAGE_CHANNEL)?;
        if !apdu.data.is_empty() {
            return Err(GpError::params(
                "MANAGE CHANNEL",
                apdu,
                "no data field allowed",
            ));
        }
        let bad_channel = |_| GpError::params("MANAGE CHANNEL", apdu, "channel outside 01-13");
        match apdu.p1 {
            0x00 if apdu.p2 == 0 => Ok(Self::Open(None)),
            0x00 => Ok(Self::Open(Some(
                check_channel(apdu.p2).map_err(bad_channel)?,
            ))),
            0x80 => Ok(Self::Close(check_channel(apdu.p2).map_err(bad_channel)?)),
            _ => Err(GpError::params(
                "MANAGE CHANNEL",
                apdu,
                "P1 is 00 (open) or 80 (close)",
            )),
        }
    }
}

/// The response to MANAGE CHANNEL (open): the channel number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelOpened(pub u8);

impl ChannelOpened {
    pub fn parse(data: &[u8]) -> Result<Self, GpError> {
        match data {
            [channel] => Ok(Self(check_channel(*channel)?)),
            [] => Err(GpError::Truncated {
                offset: 0,
                field: "channel number",
            }),
            _ => Err(GpError::TrailingBytes {
                offset: 1,
                count: data.len() - 1,
            }),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        vec![self.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::testdata::h;

    #[test]
    fn round_trips() {
        let cases = [
            (ManageChannel::Open(None), "0070000001"),
            (ManageChannel::Open(Some(2)), "0070000201"),
            (ManageChannel::Open(Some(19)), "0070001301"),
            (ManageChannel::Close(1), "00708001"),
            (ManageChannel::Close(4), "00708004"),
        ];
        for (cmd, bytes) in cases {
            let apdu = cmd.to_apdu().unwrap();
            assert_eq!(apdu.to_bytes().unwrap(), h(bytes));
            assert_eq!(ManageChannel::from_apdu(&apdu).unwrap(), cmd);
        }
        // Sent on channel 2 (CLA 02): the same command.
        let on_two = CommandApdu::parse(&h("02708003")).unwrap();
        assert_eq!(
            ManageChannel::from_apdu(&on_two).unwrap(),
            ManageChannel::Close(3)
        );
        assert_eq!(ChannelOpened::parse(&[1]).unwrap(), ChannelOpened(1));
        assert_eq!(ChannelOpened(0x13).to_bytes(), vec![0x13]);
    }

    #[test]
    fn strictness() {
        assert!(ManageChannel::Close(0).to_apdu().is_err());
        assert!(ManageChannel::Close(20).to_apdu().is_err());
        assert!(ManageChannel::Open(Some(0)).to_apdu().is_err());
        for bad in [
            "00708000",
            "00708014",
            "0070001401",
            "0070400001",
            "007000000101",
        ] {
            let apdu = CommandApdu::parse(&h(bad)).unwrap();
            assert!(
                matches!(
                    ManageChannel::from_apdu(&apdu),
                    Err(GpError::WrongParameters { .. })
                ),
                "{bad}"
            );
        }
        assert!(ChannelOpened::parse(&[]).is_err());
        assert!(ChannelOpened::parse(&[0]).is_err());
        assert!(ChannelOpened::parse(&[20]).is_err());
        assert!(matches!(
            ChannelOpened::parse(&[1, 0]),
            Err(GpError::TrailingBytes {
                offset: 1,
                count: 1
            })
        ));
    }
}
