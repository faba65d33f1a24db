//! TPDUs with 8-bit user data and their user data headers (3GPP TS 23.040 §9.2).

use super::{Address, SmsError, DCS_CLASS2_8BIT, MAX_USER_DATA, PID_SIM_DATA_DOWNLOAD};

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
