//! Splitting a command packet over SMS-DELIVER messages and reassembling it on the card
//! (TS 23.040 §9.2.3.24.1 concatenation, TS 31.115 §4.2).

use super::{
    Address, InformationElement, SmsDeliver, SmsError, IEI_COMMAND_PACKET, IEI_CONCAT_16,
    IEI_CONCAT_8, MAX_USER_DATA,
};
use std::collections::BTreeMap;

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
