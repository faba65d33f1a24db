//! The class byte: ISO/IEC 7816-4 §5.4.1 (interindustry classes) and GlobalPlatform Card
//! Specification v2.3.1 §11.1.4 (the proprietary classes GP uses with the same layout).
//!
//! | CLA | class | SM | chaining | channel |
//! |---|---|---|---|---|
//! | `0X`, `1X` | first interindustry | b4 b3 | b5 | b2 b1 (0–3) |
//! | `4X`–`7X` | further interindustry | b6 | b5 | 4 + b4..b1 (4–19) |
//! | `8X`, `9X` | GP, first-interindustry layout | b4 b3 | b5 | b2 b1 |
//! | `CX`–`FE` | GP, further-interindustry layout | b6 | b5 | 4 + b4..b1 |
//!
//! `2X`/`3X` are reserved by ISO, `AX`/`BX` would be GSM 11.11's class (not a UICC class, see ETSI
//! TS 102 221 §10.1.1) and `FF` is invalid (PPS): all of them answer `6E00`.

/// Chaining bit b5: more commands of the chain follow.
pub const CLA_CHAINING: u8 = 0x10;

/// A decoded class byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    /// b8: a proprietary (GlobalPlatform) class rather than an interindustry one.
    pub proprietary: bool,
    /// Secure messaging indicated.
    pub secure_messaging: bool,
    /// Command chaining: not the last command of a chain.
    pub chaining: bool,
    /// Logical channel number, 0–19.
    pub channel: u8,
}

impl Class {
    /// Decodes a class byte; `None` for the classes answered with `6E00`.
    pub fn parse(cla: u8) -> Option<Self> {
        let proprietary = cla & 0x80 != 0;
        let chaining = cla & CLA_CHAINING != 0;
        match cla & 0x60 {
            _ if cla == 0xFF => None,
            0x00 => Some(Self {
                proprietary,
                secure_messaging: cla & 0x0C != 0,
                chaining,
                channel: cla & 0x03,
            }),
            0x40 | 0x60 => Some(Self {
                proprietary,
                secure_messaging: cla & 0x20 != 0,
                chaining,
                channel: 4 + (cla & 0x0F),
            }),
            _ => None,
        }
    }

    /// Whether this is an interindustry (ISO) class.
    pub fn is_interindustry(self) -> bool {
        !self.proprietary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsr_proto::apdu::channel_of;

    #[test]
    fn valid_classes() {
        let c = Class::parse(0x00).unwrap();
        assert_eq!(
            c,
            Class {
                proprietary: false,
                secure_messaging: false,
                chaining: false,
                channel: 0
            }
        );
        let c = Class::parse(0x84 | 0x03).unwrap();
        assert!(c.proprietary && c.secure_messaging && !c.chaining);
        assert_eq!(c.channel, 3);
        let c = Class::parse(0x10).unwrap();
        assert!(c.chaining && c.is_interindustry());
        let c = Class::parse(0x4F).unwrap();
        assert_eq!(c.channel, 19);
        assert!(!c.secure_messaging);
        let c = Class::parse(0xE1).unwrap();
        assert!(c.proprietary && c.secure_messaging);
        assert_eq!(c.channel, 5);
        let c = Class::parse(0x70).unwrap();
        assert!(c.chaining && c.secure_messaging);
    }

    #[test]
    fn invalid_classes() {
        for cla in [0x20, 0x3F, 0xA0, 0xA4, 0xBF, 0xFF] {
            assert_eq!(Class::parse(cla), None, "{cla:02X}");
        }
    }

    #[test]
    fn channel_agrees_with_the_apdu_model() {
        for cla in 0..=0xFFu8 {
            if let Some(c) = Class::parse(cla) {
                assert_eq!(c.channel, channel_of(cla), "{cla:02X}");
            }
        }
    }
}
