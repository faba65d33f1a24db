//! The UICC file system as far as this card has one: the master file `3F00` and its FCP template
//! (ETSI TS 102 221 §11.1.1.3, Table 11.3 "FCP for a DF").

use crate::class::Class;
use smsr_proto::tlv::tlv;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// The master file's identifier.
pub const MF_FILE_ID: [u8; 2] = [0x3F, 0x00];

/// The MF's FCP template, `62` with, in the order of TS 102 221 Table 11.3:
/// - `82 02 78 21` file descriptor: `78` = shareable DF, `21` = data coding byte (§11.1.1.4.3);
/// - `83 02 3F00` file identifier;
/// - `A5 03 80 01 71` proprietary information, UICC characteristics (§11.1.1.4.6.1): clock stop
///   allowed, supply voltage classes A, B and C;
/// - `8A 01 05` life cycle status: operational state, activated (§11.1.1.4.9);
/// - `8B 03 2F06 01` security attributes, referenced to EF.ARR `2F06` record 1 (§11.1.1.4.7.3);
/// - `C6 09 90 01 40 83 01 01 83 01 0A` PIN status template DO (§11.1.1.4.10): PIN status byte
///   with PIN Appl 1 (key reference `01`) disabled and ADM1 (`0A`) enabled.
pub fn mf_fcp() -> Vec<u8> {
    let fields = [
        tlv(0x82u8, &[0x78, 0x21]),
        tlv(0x83u8, &MF_FILE_ID),
        tlv(0xA5u8, &tlv(0x80u8, &[0x71])),
        tlv(0x8Au8, &[0x05]),
        tlv(0x8Bu8, &[0x2F, 0x06, 0x01]),
        tlv(
            0xC6u8,
            &[
                tlv(0x90u8, &[0x40]),
                tlv(0x83u8, &[0x01]),
                tlv(0x83u8, &[0x0A]),
            ]
            .concat(),
        ),
    ];
    tlv(0x62u8, &fields.concat())
}

/// Commands addressed to the MF when it is the current selection. None is implemented beyond
/// SELECT (handled by the card): no EF exists yet.
pub(crate) fn process(class: Class, _cmd: &CommandApdu) -> ResponseApdu {
    if class.secure_messaging {
        return ResponseApdu::status(StatusWord::SecureMessagingNotSupported);
    }
    ResponseApdu::status(StatusWord::InsNotSupported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsr_proto::Tlv;

    #[test]
    fn fcp_layout() {
        let fcp = mf_fcp();
        assert_eq!(
            hex::encode_upper(&fcp),
            concat!(
                "6220",
                "82027821",
                "83023F00",
                "A503800171",
                "8A0105",
                "8B032F0601",
                "C60990014083010183010A"
            )
        );
        // A strict parse sees the TS 102 221 DOs in order.
        let tags: Vec<u32> = Tlv::parse(&fcp)
            .unwrap()
            .children()
            .unwrap()
            .iter()
            .map(|t| t.tag.value())
            .collect();
        assert_eq!(tags, [0x82, 0x83, 0xA5, 0x8A, 0x8B, 0xC6]);
    }
}
