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
//! in an RP-ERROR; `9300` means the toolkit is busy (see [`EnvelopeReply`]).

use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;
use crate::tlv::{Tag, Tlv, TlvError};
use std::collections::BTreeMap;
use thiserror::Error;

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

/// The extended BCD digits, by nibble value (`F` is the filler).
const BCD_DIGITS: &[u8; 15] = b"0123456789*#abc";

/// A dialling number: type of number / numbering plan byte and digits (`0`–`9`, `*`, `#`, `a`,
/// `b`, `c`), BCD coded with swapped nibbles as in TS 23.040 §9.1.2.3 / TS 24.008 §10.5.4.7.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    pub ton_npi: u8,
    pub digits: String,
}

impl Address {
    /// An international ISDN number (TON/NPI `91`).
    pub fn international(digits: &str) -> Self {
        Self {
            ton_npi: 0x91,
            digits: digits.to_string(),
        }
    }

    /// An ISDN number of unknown type (TON/NPI `81`).
    pub fn unknown(digits: &str) -> Self {
        Self {
            ton_npi: 0x81,
            digits: digits.to_string(),
        }
    }

    fn bcd(&self) -> Result<Vec<u8>, SmsError> {
        if self.ton_npi & 0x70 == 0x50 {
            return Err(SmsError::BadAddress(
                "alphanumeric addresses are not supported".into(),
            ));
        }
        let nibbles = self
            .digits
            .chars()
            .map(|c| {
                BCD_DIGITS
                    .iter()
                    .position(|&d| char::from(d) == c.to_ascii_lowercase())
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| SmsError::BadAddress(format!("digit {c:?}")))
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Ok(nibbles
            .chunks(2)
            .map(|p| p[0] | p.get(1).copied().unwrap_or(0xF) << 4)
            .collect())
    }

    fn digits_from(bcd: &[u8], count: usize) -> Result<String, SmsError> {
        let mut out = String::with_capacity(count);
        for (i, n) in bcd.iter().flat_map(|b| [b & 0xF, b >> 4]).enumerate() {
            if i >= count {
                if n != 0xF {
                    return Err(SmsError::BadAddress("filler is not F".into()));
                }
                continue;
            }
            let d = BCD_DIGITS
                .get(usize::from(n))
                .ok_or_else(|| SmsError::BadAddress("filler F inside the number".into()))?;
            out.push(char::from(*d));
        }
        Ok(out)
    }

    /// The TP-OA/TP-DA encoding: digit count, TON/NPI, BCD digits.
    pub fn to_tp_bytes(&self) -> Result<Vec<u8>, SmsError> {
        let n = u8::try_from(self.digits.chars().count())
            .ok()
            .filter(|&n| n <= 20)
            .ok_or(SmsError::BadAddress("more than 20 digits".into()))?;
        let mut out = vec![n, self.ton_npi];
        out.extend_from_slice(&self.bcd()?);
        Ok(out)
    }

    /// Reads a TP address at the start of `bytes`; returns it and the bytes used.
    pub fn parse_tp(bytes: &[u8]) -> Result<(Self, usize), SmsError> {
        let (&n, rest) = bytes.split_first().ok_or(SmsError::Truncated {
            what: "address length",
            needed: 1,
            available: 0,
        })?;
        let count = usize::from(n);
        let len = 1 + count.div_ceil(2);
        if rest.len() < len {
            return Err(SmsError::Truncated {
                what: "address",
                needed: len,
                available: rest.len(),
            });
        }
        let a = Self {
            ton_npi: rest[0],
            digits: Self::digits_from(&rest[1..len], count)?,
        };
        if a.ton_npi & 0x70 == 0x50 {
            return Err(SmsError::BadAddress(
                "alphanumeric addresses are not supported".into(),
            ));
        }
        Ok((a, 1 + len))
    }

    /// The value of a CAT Address TLV (TS 102 223 §8.1): TON/NPI then BCD digits.
    pub fn to_cat_value(&self) -> Result<Vec<u8>, SmsError> {
        let mut out = vec![self.ton_npi];
        out.extend_from_slice(&self.bcd()?);
        Ok(out)
    }

    /// Reads a CAT Address TLV value (the digit count is implied; a trailing `F` is filler).
    pub fn from_cat_value(v: &[u8]) -> Result<Self, SmsError> {
        let (&ton_npi, bcd) = v.split_first().ok_or(SmsError::Truncated {
            what: "address",
            needed: 1,
            available: 0,
        })?;
        let count = bcd.len() * 2 - usize::from(bcd.last().is_some_and(|b| b >> 4 == 0xF));
        Ok(Self {
            ton_npi,
            digits: Self::digits_from(bcd, count)?,
        })
    }
}

/// One information element of a user data header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InformationElement {
    pub iei: u8,
    pub data: Vec<u8>,
}

/// A user data header's bytes (UDHL and IEs).
pub fn encode_udh(ies: &[InformationElement]) -> Result<Vec<u8>, SmsError> {
    let mut body = Vec::new();
    for ie in ies {
        body.push(ie.iei);
        body.push(u8::try_from(ie.data.len()).map_err(|_| SmsError::BadUdh("IE too long"))?);
        body.extend_from_slice(&ie.data);
    }
    let mut out = vec![u8::try_from(body.len()).map_err(|_| SmsError::BadUdh("UDH too long"))?];
    out.extend_from_slice(&body);
    Ok(out)
}

/// Splits TP-UD into its header IEs and the data after it.
pub fn parse_udh(ud: &[u8]) -> Result<(Vec<InformationElement>, &[u8]), SmsError> {
    let (&udhl, rest) = ud
        .split_first()
        .ok_or(SmsError::BadUdh("empty user data"))?;
    let udhl = usize::from(udhl);
    if rest.len() < udhl {
        return Err(SmsError::BadUdh("UDHL past the end of the user data"));
    }
    let (mut h, data) = rest.split_at(udhl);
    let mut ies = Vec::new();
    while let [iei, len, tail @ ..] = h {
        let len = usize::from(*len);
        if tail.len() < len {
            return Err(SmsError::BadUdh("IE length past the end of the header"));
        }
        ies.push(InformationElement {
            iei: *iei,
            data: tail[..len].to_vec(),
        });
        h = &tail[len..];
    }
    if !h.is_empty() {
        return Err(SmsError::BadUdh("a lone byte at the end of the header"));
    }
    Ok((ies, data))
}

/// Whether TP-DCS says 8-bit data (TS 23.038 §4), so that TP-UDL counts octets.
pub fn is_8bit(dcs: u8) -> bool {
    match dcs >> 4 {
        // General data coding (and its automatic-deletion twin): uncompressed, alphabet 01.
        0x0..=0x7 => dcs & 0x20 == 0 && (dcs >> 2) & 3 == 1,
        // Data coding / message class: b3 = 1 is 8-bit data.
        0xF => dcs & 0x04 != 0,
        _ => false,
    }
}

/// An SMS-DELIVER TPDU with 8-bit user data (TS 23.040 §9.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsDeliver {
    /// TP-MMS set: no more messages are waiting in the service centre.
    pub no_more_messages: bool,
    /// TP-LP, TP-SRI, TP-RP.
    pub loop_prevention: bool,
    pub status_report_indication: bool,
    pub reply_path: bool,
    /// TP-OA.
    pub originator: Address,
    pub pid: u8,
    pub dcs: u8,
    /// TP-SCTS (seven semi-octets pairs, as sent).
    pub scts: [u8; 7],
    /// The user data header IEs (TP-UDHI set when not empty).
    pub udh: Vec<InformationElement>,
    /// The user data after the header.
    pub data: Vec<u8>,
}

impl SmsDeliver {
    /// An SIM data download message (PID `7F`, DCS `F6`) with no header yet.
    pub fn data_download(originator: Address, scts: [u8; 7], data: Vec<u8>) -> Self {
        Self {
            no_more_messages: false,
            loop_prevention: false,
            status_report_indication: false,
            reply_path: false,
            originator,
            pid: PID_SIM_DATA_DOWNLOAD,
            dcs: DCS_CLASS2_8BIT,
            scts,
            udh: Vec::new(),
            data,
        }
    }

    /// The TPDU bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SmsError> {
        if !is_8bit(self.dcs) {
            return Err(SmsError::Not8Bit(self.dcs));
        }
        let mut ud = if self.udh.is_empty() {
            Vec::new()
        } else {
            encode_udh(&self.udh)?
        };
        ud.extend_from_slice(&self.data);
        if ud.len() > MAX_USER_DATA {
            return Err(SmsError::TooLong(ud.len()));
        }
        let first = u8::from(self.no_more_messages) << 2
            | u8::from(self.loop_prevention) << 3
            | u8::from(self.status_report_indication) << 5
            | u8::from(!self.udh.is_empty()) << 6
            | u8::from(self.reply_path) << 7;
        let mut out = vec![first];
        out.extend_from_slice(&self.originator.to_tp_bytes()?);
        out.extend_from_slice(&[self.pid, self.dcs]);
        out.extend_from_slice(&self.scts);
        out.push(u8::try_from(ud.len()).map_err(|_| SmsError::TooLong(ud.len()))?);
        out.extend_from_slice(&ud);
        Ok(out)
    }

    /// Parses an SMS-DELIVER TPDU; other message types, 7-bit/UCS2 data and trailing bytes are
    /// errors.
    pub fn parse(bytes: &[u8]) -> Result<Self, SmsError> {
        let (&first, rest) = bytes.split_first().ok_or(SmsError::Truncated {
            what: "TPDU",
            needed: 1,
            available: 0,
        })?;
        if first & 3 != 0 {
            return Err(SmsError::NotDeliver(first & 3));
        }
        let (originator, used) = Address::parse_tp(rest)?;
        let rest = &rest[used..];
        if rest.len() < 10 {
            return Err(SmsError::Truncated {
                what: "TP-PID, TP-DCS, TP-SCTS, TP-UDL",
                needed: 10,
                available: rest.len(),
            });
        }
        let (pid, dcs) = (rest[0], rest[1]);
        if !is_8bit(dcs) {
            return Err(SmsError::Not8Bit(dcs));
        }
        let mut scts = [0u8; 7];
        scts.copy_from_slice(&rest[2..9]);
        let udl = usize::from(rest[9]);
        let ud = &rest[10..];
        if ud.len() < udl {
            return Err(SmsError::Truncated {
                what: "TP-UD",
                needed: udl,
                available: ud.len(),
            });
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
            no_more_messages: first & 0x04 != 0,
            loop_prevention: first & 0x08 != 0,
            status_report_indication: first & 0x20 != 0,
            reply_path: first & 0x80 != 0,
            originator,
            pid,
            dcs,
            scts,
            udh,
            data,
        })
    }

    /// The IE with `iei`, if present.
    pub fn ie(&self, iei: u8) -> Option<&InformationElement> {
        self.udh.iter().find(|ie| ie.iei == iei)
    }
}

/// Splits a command packet (CPL onwards) into SMS-DELIVER messages: one with UDH `02 70 00`
/// when it fits, else concatenated messages with 8-bit reference `reference`.
pub fn command_packet_messages(
    packet: &[u8],
    originator: &Address,
    scts: [u8; 7],
    reference: u8,
) -> Result<Vec<SmsDeliver>, SmsError> {
    let cpi = InformationElement {
        iei: IEI_COMMAND_PACKET,
        data: Vec::new(),
    };
    let mut base = SmsDeliver::data_download(originator.clone(), scts, Vec::new());
    if 3 + packet.len() <= MAX_USER_DATA {
        base.udh = vec![cpi];
        base.data = packet.to_vec();
        return Ok(vec![base]);
    }
    // UDHL + CPI (2) + concatenation IE (5) in the first message, UDHL + 5 after.
    let first_room = MAX_USER_DATA - 8;
    let room = MAX_USER_DATA - 6;
    let parts = 1 + (packet.len() - first_room).div_ceil(room);
    let total = u8::try_from(parts).map_err(|_| SmsError::TooLong(packet.len()))?;
    let mut out = Vec::with_capacity(parts);
    let mut at = 0;
    for seq in 1..=total {
        let take = if seq == 1 { first_room } else { room }.min(packet.len() - at);
        let mut m = base.clone();
        let concat = InformationElement {
            iei: IEI_CONCAT_8,
            data: vec![reference, total, seq],
        };
        m.udh = if seq == 1 {
            vec![cpi.clone(), concat]
        } else {
            vec![concat]
        };
        m.no_more_messages = seq == total;
        m.data = packet[at..at + take].to_vec();
        at += take;
        out.push(m);
    }
    Ok(out)
}

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

/// The concatenation numbers of one message: (reference, total, sequence).
fn concatenation(m: &SmsDeliver) -> Result<Option<(u16, u8, u8)>, SmsError> {
    let c8 = m.ie(IEI_CONCAT_8);
    let c16 = m.ie(IEI_CONCAT_16);
    let (r, n, s) = match (c8, c16) {
        (None, None) => return Ok(None),
        (Some(ie), None) => match ie.data[..] {
            [r, n, s] => (u16::from(r), n, s),
            _ => return Err(SmsError::BadConcatenation("IE 00 must have 3 bytes")),
        },
        (None, Some(ie)) => match ie.data[..] {
            [r1, r2, n, s] => (u16::from_be_bytes([r1, r2]), n, s),
            _ => return Err(SmsError::BadConcatenation("IE 08 must have 4 bytes")),
        },
        (Some(_), Some(_)) => return Err(SmsError::BadConcatenation("both IE 00 and IE 08")),
    };
    if n == 0 || s == 0 || s > n {
        return Err(SmsError::BadConcatenation("sequence outside 1..=total"));
    }
    Ok(Some((r, n, s)))
}

#[derive(Debug, Default)]
struct Partial {
    total: u8,
    parts: BTreeMap<u8, (bool, Vec<u8>)>,
}

/// The UICC side: collects SMS-DELIVER messages and returns whole command packets.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: BTreeMap<(String, u16), Partial>,
}

impl Reassembler {
    /// A reassembler with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one message; returns the command packet (CPL onwards) once it is complete.
    pub fn push(&mut self, m: &SmsDeliver) -> Result<Option<Vec<u8>>, SmsError> {
        let has_cpi = m.ie(IEI_COMMAND_PACKET).is_some();
        let Some((reference, total, seq)) = concatenation(m)? else {
            return if has_cpi {
                Ok(Some(m.data.clone()))
            } else {
                Err(SmsError::NoCommandPacket)
            };
        };
        let key = (m.originator.digits.clone(), reference);
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Partial {
            total,
            parts: BTreeMap::new(),
        });
        if entry.total != total {
            return Err(SmsError::BadConcatenation("parts disagree on the total"));
        }
        entry.parts.insert(seq, (has_cpi, m.data.clone()));
        if entry.parts.len() < usize::from(total) {
            return Ok(None);
        }
        let done = self.pending.remove(&key).unwrap_or_default();
        if !done.parts.get(&1).is_some_and(|(cpi, _)| *cpi) {
            return Err(SmsError::NoCommandPacket);
        }
        Ok(Some(
            done.parts.into_values().flat_map(|(_, d)| d).collect(),
        ))
    }

    /// Number of packets still waiting for parts.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
#[path = "sms_tests.rs"]
mod tests;
