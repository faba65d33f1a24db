//! The PoR by SMS-SUBMIT (SPI2 b6, 3GPP TS 31.115 §4.4): the UICC answers the ENVELOPE with
//! `91xx`, the terminal FETCHes a SEND SHORT MESSAGE proactive command (ETSI TS 102 223 §6.6.9)
//! carrying an SMS-SUBMIT (TS 23.040 §9.2.2.2) whose user data is the response packet, and
//! acknowledges it with a TERMINAL RESPONSE.
//!
//! ```text
//! D0 L { 81 03 <number> 13 <qualifier>   command details: SEND SHORT MESSAGE
//!        82 02 81 83                     device identities: UICC -> network
//!        [05 L alpha identifier] [06 L address]
//!        8B L <SMS-SUBMIT TPDU> }
//! ```

use super::{encode_udh, is_8bit, parse_udh, Address, InformationElement, SmsError, MAX_USER_DATA};
use crate::apdu::CommandApdu;
use crate::tlv::{Tag, Tlv};

/// BER-TLV tag of a proactive command.
pub const TAG_PROACTIVE_COMMAND: u8 = 0xD0;
/// Type of command: SEND SHORT MESSAGE.
pub const SEND_SHORT_MESSAGE: u8 = 0x13;
/// Device identities: source UICC (`81`), destination network (`83`).
pub const DEVICE_IDS_UICC_TO_NETWORK: [u8; 2] = [0x81, 0x83];

/// TP-VP as TP-VPF selects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValidityPeriod {
    /// VPF `00`: none.
    None,
    /// VPF `10`: relative, one byte.
    Relative(u8),
    /// VPF `01`: enhanced, seven bytes.
    Enhanced([u8; 7]),
    /// VPF `11`: absolute, seven bytes.
    Absolute([u8; 7]),
}

/// An SMS-SUBMIT TPDU with 8-bit user data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsSubmit {
    pub reject_duplicates: bool,
    pub status_report_request: bool,
    pub reply_path: bool,
    pub message_reference: u8,
    pub destination: Address,
    pub pid: u8,
    pub dcs: u8,
    pub validity: ValidityPeriod,
    pub udh: Vec<InformationElement>,
    pub data: Vec<u8>,
}

impl SmsSubmit {
    /// An SMS-SUBMIT (PID `00`, DCS `F6`, no validity period) whose TP-UD is `ud`, which starts
    /// with a user data header (a PoR: `02 71 00 …`).
    pub fn with_header(destination: Address, ud: &[u8]) -> Result<Self, SmsError> {
        let (udh, data) = parse_udh(ud)?;
        Ok(Self {
            reject_duplicates: false,
            status_report_request: false,
            reply_path: false,
            message_reference: 0,
            destination,
            pid: 0x00,
            dcs: super::DCS_CLASS2_8BIT,
            validity: ValidityPeriod::None,
            udh,
            data: data.to_vec(),
        })
    }

    /// TP-UD as sent: the header (if any) and the data (for a PoR, what
    /// [`crate::ota::scp80::ResponsePacket::decode`] reads).
    pub fn user_data(&self) -> Result<Vec<u8>, SmsError> {
        let mut ud = if self.udh.is_empty() {
            Vec::new()
        } else {
            encode_udh(&self.udh)?
        };
        ud.extend_from_slice(&self.data);
        Ok(ud)
    }

    /// The TPDU bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SmsError> {
        if !is_8bit(self.dcs) {
            return Err(SmsError::Not8Bit(self.dcs));
        }
        let ud = self.user_data()?;
        if ud.len() > MAX_USER_DATA {
            return Err(SmsError::TooLong(ud.len()));
        }
        let (vpf, vp): (u8, Vec<u8>) = match self.validity {
            ValidityPeriod::None => (0, vec![]),
            ValidityPeriod::Relative(v) => (2, vec![v]),
            ValidityPeriod::Enhanced(v) => (1, v.to_vec()),
            ValidityPeriod::Absolute(v) => (3, v.to_vec()),
        };
        let first = 0x01
            | u8::from(self.reject_duplicates) << 2
            | vpf << 3
            | u8::from(self.status_report_request) << 5
            | u8::from(!self.udh.is_empty()) << 6
            | u8::from(self.reply_path) << 7;
        let mut out = vec![first, self.message_reference];
        out.extend_from_slice(&self.destination.to_tp_bytes()?);
        out.extend_from_slice(&[self.pid, self.dcs]);
        out.extend_from_slice(&vp);
        out.push(u8::try_from(ud.len()).map_err(|_| SmsError::TooLong(ud.len()))?);
        out.extend_from_slice(&ud);
        Ok(out)
    }

    /// Parses an SMS-SUBMIT TPDU (8-bit data only; trailing bytes are an error).
    pub fn parse(bytes: &[u8]) -> Result<Self, SmsError> {
        let short = |what, needed: usize, available| SmsError::Truncated {
            what,
            needed,
            available,
        };
        let [first, mr, rest @ ..] = bytes else {
            return Err(short("TP-MTI, TP-MR", 2, bytes.len()));
        };
        if first & 3 != 1 {
            return Err(SmsError::NotSubmit(first & 3));
        }
        let (destination, used) = Address::parse_tp(rest)?;
        let rest = &rest[used..];
        let vp_len = match (first >> 3) & 3 {
            0 => 0,
            2 => 1,
            _ => 7,
        };
        if rest.len() < 3 + vp_len {
            return Err(short(
                "TP-PID, TP-DCS, TP-VP, TP-UDL",
                3 + vp_len,
                rest.len(),
            ));
        }
        let (pid, dcs) = (rest[0], rest[1]);
        if !is_8bit(dcs) {
            return Err(SmsError::Not8Bit(dcs));
        }
        let vp = &rest[2..2 + vp_len];
        let mut seven = [0u8; 7];
        if vp_len == 7 {
            seven.copy_from_slice(vp);
        }
        let validity = match (first >> 3) & 3 {
            0 => ValidityPeriod::None,
            2 => ValidityPeriod::Relative(vp[0]),
            1 => ValidityPeriod::Enhanced(seven),
            _ => ValidityPeriod::Absolute(seven),
        };
        let udl = usize::from(rest[2 + vp_len]);
        let ud = &rest[3 + vp_len..];
        if ud.len() < udl {
            return Err(short("TP-UD", udl, ud.len()));
        }
        if ud.len() > udl {
            return Err(SmsError::TrailingBytes(ud.len() - udl));
        }
        let (udh, data) = if first & 0x40 != 0 {
            let (ies, data) = parse_udh(ud)?;
            (ies, data.to_vec())
        } else {
            (Vec::new(), ud.to_vec())
        };
        Ok(Self {
            reject_duplicates: first & 0x04 != 0,
            status_report_request: first & 0x20 != 0,
            reply_path: first & 0x80 != 0,
            message_reference: *mr,
            destination,
            pid,
            dcs,
            validity,
            udh,
            data,
        })
    }
}

/// A SEND SHORT MESSAGE proactive command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendShortMessage {
    /// Command number and qualifier from the command details.
    pub number: u8,
    pub qualifier: u8,
    pub alpha: Option<Vec<u8>>,
    pub address: Option<Address>,
    pub tpdu: SmsSubmit,
}

impl SendShortMessage {
    /// The proactive command bytes (what FETCH returns).
    pub fn to_bytes(&self) -> Result<Vec<u8>, SmsError> {
        let mut body = Tlv::new(
            0x81u8,
            vec![self.number, SEND_SHORT_MESSAGE, self.qualifier],
        )
        .to_bytes();
        body.extend_from_slice(&Tlv::new(0x82u8, DEVICE_IDS_UICC_TO_NETWORK.to_vec()).to_bytes());
        if let Some(a) = &self.alpha {
            body.extend_from_slice(&Tlv::new(0x05u8, a.clone()).to_bytes());
        }
        if let Some(a) = &self.address {
            body.extend_from_slice(&Tlv::new(0x06u8, a.to_cat_value()?).to_bytes());
        }
        body.extend_from_slice(&Tlv::new(0x8Bu8, self.tpdu.to_bytes()?).to_bytes());
        Ok(Tlv::new(TAG_PROACTIVE_COMMAND, body).to_bytes())
    }

    /// Parses a proactive command that must be SEND SHORT MESSAGE from the UICC to the network.
    pub fn parse(bytes: &[u8]) -> Result<Self, SmsError> {
        let outer = Tlv::parse(bytes)?;
        if outer.tag != Tag::new(u32::from(TAG_PROACTIVE_COMMAND)) {
            return Err(SmsError::NotSendShortMessage("BER-TLV tag is not D0"));
        }
        let (mut details, mut ids, mut alpha, mut address, mut tpdu) =
            (None, None, None, None, None);
        for t in outer.children()? {
            match t.tag.value() & 0x7F {
                0x01 if details.is_none() => details = Some(t.value),
                0x02 if ids.is_none() => ids = Some(t.value),
                0x05 if alpha.is_none() => alpha = Some(t.value),
                0x06 if address.is_none() => address = Some(Address::from_cat_value(&t.value)?),
                0x0B if tpdu.is_none() => tpdu = Some(SmsSubmit::parse(&t.value)?),
                _ => return Err(SmsError::NotSendShortMessage("unexpected or repeated TLV")),
            }
        }
        let Some([number, SEND_SHORT_MESSAGE, qualifier]) = details.as_deref().map(|d| match d {
            [a, b, c] => [*a, *b, *c],
            _ => [0, 0, 0],
        }) else {
            return Err(SmsError::NotSendShortMessage(
                "command details are not SEND SHORT MESSAGE",
            ));
        };
        if ids.as_deref() != Some(&DEVICE_IDS_UICC_TO_NETWORK[..]) {
            return Err(SmsError::NotSendShortMessage(
                "device identities are not 81 83",
            ));
        }
        Ok(Self {
            number,
            qualifier,
            alpha,
            address,
            tpdu: tpdu.ok_or(SmsError::NotSendShortMessage("no SMS TPDU"))?,
        })
    }

    /// TERMINAL RESPONSE "command performed successfully" (result `00`) for this command.
    pub fn terminal_response_ok(&self) -> CommandApdu {
        let mut data = Tlv::new(
            0x81u8,
            vec![self.number, SEND_SHORT_MESSAGE, self.qualifier],
        )
        .to_bytes();
        data.extend_from_slice(&Tlv::new(0x82u8, vec![0x82, 0x81]).to_bytes());
        data.extend_from_slice(&Tlv::new(0x83u8, vec![0x00]).to_bytes());
        CommandApdu::new(0x80, 0x14, 0x00, 0x00).with_data(data)
    }
}

/// FETCH of a pending proactive command of `len` bytes (the `xx` of `91xx`).
pub fn fetch(len: u8) -> CommandApdu {
    CommandApdu::new(0x80, 0x12, 0x00, 0x00).with_le(if len == 0 { 256 } else { usize::from(len) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ota::sms::IEI_RESPONSE_PACKET;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// asterix SecurePacket.py test_SPI1531 (SCOUT log of a real card): ENVELOPE answered
    /// `9149`, FETCH `80 12 00 00 49`, TERMINAL RESPONSE `81 03 01 13 00 82 02 82 81 83 01 00`.
    #[test]
    fn asterix_real_card_send_short_message() {
        let fetched = h("D04781030113008202818305008B3A4100038119F000F631027100002C0EC00000888B39C361C66D5F3DC4EFCEF508CC228021DD34E577B147E54EFF18B3922C9176644E2E8AA9A695");
        let ssm = SendShortMessage::parse(&fetched).unwrap();
        assert_eq!((ssm.number, ssm.qualifier), (1, 0));
        assert_eq!(ssm.alpha, Some(vec![]));
        assert_eq!(ssm.tpdu.destination, Address::unknown("910"));
        assert_eq!(ssm.tpdu.udh[0].iei, IEI_RESPONSE_PACKET);
        let ud = ssm.tpdu.user_data().unwrap();
        assert_eq!(ud[..6], h("027100002C0E")[..]);
        assert_eq!(ssm.to_bytes().unwrap(), fetched);
        assert_eq!(
            ssm.terminal_response_ok().to_bytes().unwrap(),
            h("801400000C 810301130082028281830100")
        );
        assert_eq!(fetch(0x49).to_bytes().unwrap(), h("8012000049"));
        // The card side builds the same TPDU from the PoR user data.
        let again = SmsSubmit::with_header(Address::unknown("910"), &ud).unwrap();
        assert_eq!(again, ssm.tpdu);
    }

    #[test]
    fn submit_round_trips_and_errors() {
        for vp in [
            ValidityPeriod::None,
            ValidityPeriod::Relative(0xA7),
            ValidityPeriod::Enhanced([1; 7]),
            ValidityPeriod::Absolute([2; 7]),
        ] {
            let mut s =
                SmsSubmit::with_header(Address::international("4412"), &h("027100AABB")).unwrap();
            s.validity = vp;
            s.status_report_request = true;
            assert_eq!(SmsSubmit::parse(&s.to_bytes().unwrap()).unwrap(), s);
        }
        assert_eq!(SmsSubmit::parse(&h("4000")), Err(SmsError::NotSubmit(0)));
        assert!(SendShortMessage::parse(&h("D00581031314FF")).is_err());
        assert!(SendShortMessage::parse(&h("D0078103011300 8200")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = SmsSubmit::parse(&b);
            let _ = SendShortMessage::parse(&b);
        }
    }
}
