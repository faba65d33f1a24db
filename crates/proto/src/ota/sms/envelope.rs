//! The SMS-PP data download ENVELOPE (ETSI TS 102 223 §7.1, 3GPP TS 31.111 §7.1.1) and its
//! answers.

use super::{Address, SmsDeliver, SmsError, DEVICE_IDS_NETWORK_TO_UICC, TAG_SMS_PP_DOWNLOAD};
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;
use crate::tlv::{Tag, Tlv};

/// The SMS-PP data download ENVELOPE for one message.
pub fn sms_pp_download(
    tpdu: &SmsDeliver,
    service_centre: Option<&Address>,
) -> Result<CommandApdu, SmsError> {
    let mut body = Tlv::new(0x82u8, DEVICE_IDS_NETWORK_TO_UICC.to_vec()).to_bytes();
    if let Some(sc) = service_centre {
        body.extend_from_slice(&Tlv::new(0x06u8, sc.to_cat_value()?).to_bytes());
    }
    body.extend_from_slice(&Tlv::new(0x8Bu8, tpdu.to_bytes()?).to_bytes());
    let data = Tlv::new(TAG_SMS_PP_DOWNLOAD, body).to_bytes();
    if data.len() > 255 {
        return Err(SmsError::TooLong(data.len()));
    }
    Ok(CommandApdu::new(0x80, 0xC2, 0x00, 0x00).with_data(data))
}

/// An SMS-PP data download as the UICC reads it from an ENVELOPE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsPpDownload {
    pub service_centre: Option<Address>,
    pub tpdu: SmsDeliver,
}

impl SmsPpDownload {
    /// Parses ENVELOPE (SMS-PP download): `80 C2 00 00`, `D1` with device identities network →
    /// UICC, an optional address and the TPDU. Tags are accepted with or without their
    /// comprehension-required bit (TS 102 223 §7.3.1.1); any other TLV is an error.
    pub fn from_apdu(cmd: &CommandApdu) -> Result<Self, SmsError> {
        if cmd.ins != 0xC2 || cmd.p1 != 0 || cmd.p2 != 0 {
            return Err(SmsError::NotSmsPpDownload("not ENVELOPE 80 C2 00 00"));
        }
        let outer = Tlv::parse(&cmd.data)?;
        if outer.tag != Tag::new(u32::from(TAG_SMS_PP_DOWNLOAD)) {
            return Err(SmsError::NotSmsPpDownload("BER-TLV tag is not D1"));
        }
        let (mut ids, mut sc, mut tpdu) = (None, None, None);
        for t in outer.children()? {
            match t.tag.value() & 0x7F {
                0x02 if ids.is_none() => ids = Some(t.value),
                0x06 if sc.is_none() => sc = Some(Address::from_cat_value(&t.value)?),
                0x0B if tpdu.is_none() => tpdu = Some(SmsDeliver::parse(&t.value)?),
                _ => return Err(SmsError::NotSmsPpDownload("unexpected or repeated TLV")),
            }
        }
        if ids.as_deref() != Some(&DEVICE_IDS_NETWORK_TO_UICC[..]) {
            return Err(SmsError::NotSmsPpDownload(
                "device identities are not 83 81",
            ));
        }
        Ok(Self {
            service_centre: sc,
            tpdu: tpdu.ok_or(SmsError::NotSmsPpDownload("no SMS TPDU"))?,
        })
    }
}

/// What an ENVELOPE (SMS-PP download) answer means for the terminal (TS 31.111 §7.1.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvelopeReply {
    /// `9000` without data: acknowledged, no PoR in the response.
    Acknowledged,
    /// `9000` with data: the PoR user data (`02 71 00 …`) for the SMS-DELIVER-REPORT.
    Por(Vec<u8>),
    /// `61xx`/`9Fxx`: fetch `xx` bytes (`00` = 256) with GET RESPONSE; they are the PoR.
    GetResponse(usize),
    /// `62xx`/`63xx` with data: PoR user data for an RP-ERROR.
    ErrorWithPor(Vec<u8>, StatusWord),
    /// `91xx`: acknowledged; a proactive command (e.g. SEND SHORT MESSAGE with the PoR) waits.
    ProactivePending(u8),
    /// `9300`: the SIM toolkit is busy; retry later.
    Busy,
    /// Any other status word.
    Failed(StatusWord),
}

impl EnvelopeReply {
    /// Classifies the ENVELOPE's response.
    pub fn classify(r: &ResponseApdu) -> Self {
        match r.sw {
            StatusWord::Success if r.data.is_empty() => Self::Acknowledged,
            StatusWord::Success => Self::Por(r.data.clone()),
            StatusWord::BytesAvailable(n) | StatusWord::GsmBytesAvailable(n) => {
                Self::GetResponse(if n == 0 { 256 } else { usize::from(n) })
            }
            StatusWord::ProactiveCommandPending(n) => Self::ProactivePending(n),
            sw if sw.to_u16() == 0x9300 => Self::Busy,
            sw if sw.is_warning() && !r.data.is_empty() => Self::ErrorWithPor(r.data.clone(), sw),
            sw => Self::Failed(sw),
        }
    }
}

/// GET RESPONSE for `len` bytes (ETSI TS 102 221 §11.1.13).
pub fn get_response(len: usize) -> CommandApdu {
    CommandApdu::new(0x00, 0xC0, 0x00, 0x00).with_le(len)
}
