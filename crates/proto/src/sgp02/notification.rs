//! The eUICC's notification to the SM-SR (GSMA SGP.02 §4.1.1.11), confirmed by the SM-SR with
//! HandleNotificationConfirmation (§4.1.1.12, [`super::Es5Command::NotificationConfirmation`]).
//!
//! ```text
//! E1 L { 4C L <EID>  4D 01 <type>  4E 02 <sequence number>  [2F|AF L <ISD-P AID>]
//!        [14|94 L <IMEI>]  [6D|ED L <MEID>] }
//! ```
//! ETSI TS 101 220 COMPREHENSION-TLV tags, in njiwa's order (`sr/model/NotificationMessage.java`);
//! the parser accepts each tag with or without the comprehension-required bit (b8) and the
//! objects in any order, each at most once. Types and tags: [`super::codings`].

use super::codings::{
    NOTIFICATION_EUICC_DECLARATION, NOTIFICATION_PROFILE_CHANGE_AFTER_FALLBACK,
    NOTIFICATION_PROFILE_CHANGE_FAILED, NOTIFICATION_PROFILE_CHANGE_SUCCEEDED, NOTIFICATION_VOID,
    TAG_NOTIFICATION, TAG_NOTIFICATION_AID, TAG_NOTIFICATION_EID, TAG_NOTIFICATION_IMEI,
    TAG_NOTIFICATION_MEID, TAG_NOTIFICATION_TYPE, TAG_SEQUENCE_NUMBER,
};
use crate::gp::{Aid, GpError};
use crate::tlv::{tlv, Tag, Tlv};

/// Length of an EID (SGP.02 §2.2.2: 32 digits, 16 bytes).
pub const EID_LEN: usize = 16;

/// The notification type (`4D`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationType {
    /// `01`: eUICC declaration (first network attach).
    EuiccDeclaration,
    /// `02`: profile change succeeded.
    ProfileChangeSucceeded,
    /// `03`: profile change failed and rollback.
    ProfileChangeFailed,
    /// `04`: void notification.
    Void,
    /// `05`: profile change after fallback.
    ProfileChangeAfterFallback,
    /// Any other value, kept.
    Other(u8),
}

impl NotificationType {
    /// The coded byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::EuiccDeclaration => NOTIFICATION_EUICC_DECLARATION,
            Self::ProfileChangeSucceeded => NOTIFICATION_PROFILE_CHANGE_SUCCEEDED,
            Self::ProfileChangeFailed => NOTIFICATION_PROFILE_CHANGE_FAILED,
            Self::Void => NOTIFICATION_VOID,
            Self::ProfileChangeAfterFallback => NOTIFICATION_PROFILE_CHANGE_AFTER_FALLBACK,
            Self::Other(b) => b,
        }
    }

    /// From the coded byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            NOTIFICATION_EUICC_DECLARATION => Self::EuiccDeclaration,
            NOTIFICATION_PROFILE_CHANGE_SUCCEEDED => Self::ProfileChangeSucceeded,
            NOTIFICATION_PROFILE_CHANGE_FAILED => Self::ProfileChangeFailed,
            NOTIFICATION_VOID => Self::Void,
            NOTIFICATION_PROFILE_CHANGE_AFTER_FALLBACK => Self::ProfileChangeAfterFallback,
            other => Self::Other(other),
        }
    }
}

/// One `E1` notification message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub eid: [u8; EID_LEN],
    pub kind: NotificationType,
    pub sequence: u16,
    /// The ISD-P the notification is about (the one enabled by the change).
    pub isd_p: Option<Aid>,
    /// IMEI of the device (`14`), as received.
    pub imei: Option<Vec<u8>>,
    /// MEID of the device (`6D`), as received.
    pub meid: Option<Vec<u8>>,
}

impl Notification {
    /// The `E1` message (AID with tag `2F`, IMEI `14`, MEID `6D`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = tlv(TAG_NOTIFICATION_EID, &self.eid);
        v.extend(tlv(TAG_NOTIFICATION_TYPE, &[self.kind.to_byte()]));
        v.extend(tlv(TAG_SEQUENCE_NUMBER, &self.sequence.to_be_bytes()));
        if let Some(aid) = &self.isd_p {
            v.extend(tlv(TAG_NOTIFICATION_AID, aid.as_bytes()));
        }
        if let Some(imei) = &self.imei {
            v.extend(tlv(TAG_NOTIFICATION_IMEI, imei));
        }
        if let Some(meid) = &self.meid {
            v.extend(tlv(TAG_NOTIFICATION_MEID, meid));
        }
        tlv(TAG_NOTIFICATION, &v)
    }

    /// Parses one `E1` message filling `bytes` exactly. EID, type and sequence number are
    /// mandatory; unknown objects are an error (they would be silently lost otherwise).
    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        let outer = Tlv::parse_expect(bytes, TAG_NOTIFICATION)?;
        let header = bytes.len() - outer.value.len();
        let (mut eid, mut kind, mut sequence) = (None, None, None);
        let (mut isd_p, mut imei, mut meid) = (None, None, None);
        let mut at = 0;
        while at < outer.value.len() {
            let offset = header + at;
            let (object, used) = Tlv::parse_prefix(&outer.value[at..])
                .map_err(|e| GpError::from(e.shifted(offset)))?;
            at += used;
            let tag = Some(object.tag);
            let invalid = |reason| GpError::invalid(offset, tag, reason);
            let value = object.value;
            // Comprehension-required bit b8 off; multi-byte tags never match.
            let simple = u8::try_from(object.tag.value()).map_or(0, |t| t & 0x7F);
            let slot_taken = match simple {
                t if t == TAG_NOTIFICATION_EID & 0x7F => {
                    let v: [u8; EID_LEN] = value
                        .as_slice()
                        .try_into()
                        .map_err(|_| invalid("the EID has 16 bytes"))?;
                    eid.replace(v).is_some()
                }
                t if t == TAG_NOTIFICATION_TYPE & 0x7F => match value.as_slice() {
                    [b] => kind.replace(NotificationType::from_byte(*b)).is_some(),
                    _ => return Err(invalid("the notification type is one byte")),
                },
                t if t == TAG_SEQUENCE_NUMBER & 0x7F => match value.as_slice() {
                    [a, b] => sequence.replace(u16::from_be_bytes([*a, *b])).is_some(),
                    _ => return Err(invalid("the sequence number has 2 bytes")),
                },
                t if t == TAG_NOTIFICATION_AID & 0x7F => {
                    let aid = Aid::new(&value).map_err(|_| invalid("AID of 5 to 16 bytes"))?;
                    isd_p.replace(aid).is_some()
                }
                t if t == TAG_NOTIFICATION_IMEI & 0x7F => imei.replace(value).is_some(),
                t if t == TAG_NOTIFICATION_MEID & 0x7F => meid.replace(value).is_some(),
                _ => return Err(invalid("not an object of a notification")),
            };
            if slot_taken {
                return Err(invalid("object appears twice"));
            }
        }
        let missing = |what| GpError::Truncated {
            offset: bytes.len(),
            field: what,
        };
        Ok(Self {
            eid: eid.ok_or_else(|| missing("EID (4C)"))?,
            kind: kind.ok_or_else(|| missing("notification type (4D)"))?,
            sequence: sequence.ok_or_else(|| missing("sequence number (4E)"))?,
            isd_p,
            imei,
            meid,
        })
    }
}

/// The tag of the notification (for callers matching GET DATA answers).
pub fn notification_tag() -> Tag {
    Tag::from(TAG_NOTIFICATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    const EID: &str = "89044011112233441122334411223321";

    fn sample() -> Notification {
        Notification {
            eid: h(EID).try_into().unwrap(),
            kind: NotificationType::ProfileChangeSucceeded,
            sequence: 0x0102,
            isd_p: Some(Aid::isd_p(0x10).unwrap()),
            imei: None,
            meid: None,
        }
    }

    #[test]
    fn message_bytes_and_round_trip() {
        let n = sample();
        let bytes = n.to_bytes();
        assert_eq!(
            bytes,
            h(&format!(
                "E12B 4C10{EID} 4D0102 4E020102 2F10A0000005591010FFFFFFFF8900001000"
            ))
        );
        assert_eq!(Notification::parse(&bytes).unwrap(), n);
        let declaration = Notification {
            kind: NotificationType::EuiccDeclaration,
            isd_p: None,
            imei: Some(h("3512345678901234")),
            ..n
        };
        let bytes = declaration.to_bytes();
        assert_eq!(bytes.len(), 2 + 18 + 3 + 4 + 10);
        assert_eq!(Notification::parse(&bytes).unwrap(), declaration);
    }

    /// `E1 L body` with the length computed.
    fn e1(body: &str) -> Vec<u8> {
        tlv(0xE1u8, &h(body))
    }

    #[test]
    fn comprehension_required_tags_and_any_order() {
        // AF for the AID, CC for the EID, 94 IMEI, ED MEID, sequence first.
        let bytes = e1(&format!(
            "4E020007 CC10{EID} 4D0105 AF10A0000005591010FFFFFFFF8900001100 9402AABB ED03010203"
        ));
        assert_eq!(bytes[1], 0x34);
        let n = Notification::parse(&bytes).unwrap();
        assert_eq!(n.kind, NotificationType::ProfileChangeAfterFallback);
        assert_eq!(n.sequence, 7);
        assert_eq!(n.isd_p, Some(Aid::isd_p(0x11).unwrap()));
        assert_eq!(n.imei, Some(h("AABB")));
        assert_eq!(n.meid, Some(h("010203")));
        assert_eq!(NotificationType::from_byte(0x09).to_byte(), 0x09);
    }

    #[test]
    fn malformed_messages_are_rejected() {
        let good = format!("4C10{EID} 4D0102 4E020001");
        assert!(Notification::parse(&e1(&good)).is_ok());
        let bad = [
            // No sequence number, no type, no EID.
            e1(&format!("4C10{EID} 4D0102")),
            e1(&format!("4C10{EID} 4E020001")),
            e1("4D0102 4E020001"),
            // Sequence number twice (also with the CR bit).
            e1(&format!("{good} 4E020002")),
            e1(&format!("{good} CE020002")),
            // EID of 15 bytes.
            e1("4C0F890440111122334411223344112233 4D0102 4E020001"),
            // Unknown object.
            e1(&format!("{good} 0100")),
            // Type of two bytes, sequence number of one.
            e1(&format!("4C10{EID} 4D020102 4E020001")),
            e1(&format!("4C10{EID} 4D0102 4E0101")),
            // AID of 4 bytes.
            e1(&format!("{good} 2F04A0000005")),
            // Trailing byte after E1; other outer tag; inner length past the end.
            [e1(&good), vec![0]].concat(),
            tlv(0xE2u8, &h(&good)),
            e1(&format!("{good} 2F10A000")),
        ];
        for b in bad {
            assert!(
                Notification::parse(&b).is_err(),
                "{}",
                hex::encode_upper(&b)
            );
        }
        assert_eq!(notification_tag(), Tag::from(0xE1u8));
    }
}

#[cfg(test)]
mod prop_tests {
    use super::*;
    use crate::sgp02::{parse_confirmation_response, Es5Command};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Notification::parse(&bytes);
            let _ = parse_confirmation_response(&bytes);
            let _ = Es5Command::from_dgi(&crate::gp::Dgi::new(0x3A03, bytes.clone()));
            let _ = Es5Command::from_dgi(&crate::gp::Dgi::new(0x3A08, bytes));
        }

        #[test]
        fn notification_round_trip(
            eid in proptest::array::uniform16(any::<u8>()),
            kind in any::<u8>(),
            sequence in any::<u16>(),
            number in 0x10u16..,
            with_aid in any::<bool>(),
        ) {
            let n = Notification {
                eid,
                kind: NotificationType::from_byte(kind),
                sequence,
                isd_p: with_aid.then(|| Aid::isd_p(number).unwrap()),
                imei: None,
                meid: None,
            };
            prop_assert_eq!(Notification::parse(&n.to_bytes()).unwrap(), n);
        }

        #[test]
        fn es5_round_trip(number in 0x10u16.., which in 0u8..4, sequence in any::<u16>()) {
            let aid = Aid::isd_p(number).unwrap();
            let command = match which {
                0 => Es5Command::EnableProfile(aid),
                1 => Es5Command::DisableProfile(aid),
                2 => Es5Command::SetFallbackAttribute(aid),
                _ => Es5Command::NotificationConfirmation(sequence),
            };
            let apdu = command.to_apdu().unwrap();
            prop_assert_eq!(Es5Command::from_apdu(&apdu).unwrap(), command);
        }
    }
}
