//! A small scripted card for the transport tests, behaving like a T=0 card: case 4 commands
//! without Le get `61xx` and their data waits for GET RESPONSE on the same logical channel; a
//! wrong short Le gets `6Cxx`. It logs every command it receives.

use super::{Transport, TransportError};
use smsr_proto::apdu::channel_of;
use smsr_proto::CommandApdu;
use std::collections::VecDeque;

/// The one application the card knows.
pub const AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0x01];
/// Its EID-like data object `5A`.
pub const EID: [u8; 16] = [
    0x89, 0x04, 0x90, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23,
];
pub const ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// GET DATA `00 FF`: 600 bytes, more than one GET RESPONSE can carry.
pub const BIG_TAG: u8 = 0xFF;

pub fn big_data() -> Vec<u8> {
    (0..600u32)
        .map(|i| u8::try_from(i % 251).unwrap_or_default())
        .collect()
}

#[derive(Debug, Default)]
pub struct FakeCard {
    /// Selected on each of channels 0..=19.
    selected: [bool; 20],
    /// Data waiting for GET RESPONSE, per channel.
    pending: [Option<Vec<u8>>; 20],
    /// Canned answers used before the card logic.
    script: VecDeque<Vec<u8>>,
    /// An answer given to every command, forever.
    always: Option<Vec<u8>>,
    /// Use `9Fxx` instead of `61xx` for commands of class `A0`.
    pub gsm: bool,
    pub log: Vec<Vec<u8>>,
    pub resets: usize,
}

impl FakeCard {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn answer_next(&mut self, response: Vec<u8>) {
        self.script.push_back(response);
    }

    pub fn answer_always(&mut self, response: Vec<u8>) {
        self.always = Some(response);
    }

    pub fn log_hex(&self) -> Vec<String> {
        self.log.iter().map(hex::encode_upper).collect()
    }

    fn respond(&mut self, channel: usize, cmd: &CommandApdu, data: Vec<u8>) -> Vec<u8> {
        match cmd.le {
            None if data.is_empty() => vec![0x90, 0x00],
            None => {
                let sw1 = if self.gsm && cmd.cla == 0xA0 {
                    0x9F
                } else {
                    0x61
                };
                let n = len_byte(data.len());
                self.pending[channel] = Some(data);
                vec![sw1, n]
            }
            Some(ne) if ne < data.len() && data.len() <= 256 => vec![0x6C, len_byte(data.len())],
            Some(ne) => {
                let take = ne.min(data.len());
                let rest = data[take..].to_vec();
                let mut out = data[..take].to_vec();
                if rest.is_empty() {
                    out.extend_from_slice(&[0x90, 0x00]);
                } else {
                    out.extend_from_slice(&[0x61, len_byte(rest.len())]);
                    self.pending[channel] = Some(rest);
                }
                out
            }
        }
    }
}

fn len_byte(n: usize) -> u8 {
    u8::try_from(n.min(256) % 256).unwrap_or_default()
}

impl Transport for FakeCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.log.push(command.to_vec());
        if let Some(r) = self.script.pop_front() {
            return Ok(r);
        }
        if let Some(r) = &self.always {
            return Ok(r.clone());
        }
        let Ok(cmd) = CommandApdu::parse(command) else {
            return Ok(vec![0x67, 0x00]);
        };
        let channel = usize::from(channel_of(cmd.cla));
        if channel >= 20 {
            return Ok(vec![0x68, 0x81]);
        }
        if cmd.ins == 0xC0 {
            let Some(data) = self.pending[channel].take() else {
                return Ok(vec![0x69, 0x85]);
            };
            let ne = cmd.le.unwrap_or(256);
            if ne > data.len() {
                return Ok(vec![0x6C, len_byte(data.len())]);
            }
            return Ok(self.respond(channel, &cmd, data));
        }
        self.pending[channel] = None;
        let data = match (cmd.ins, cmd.p1, cmd.p2) {
            (0xA4, 0x04, _) if cmd.data == AID => {
                self.selected[channel] = true;
                let mut fci = vec![0x6F, 0x0A, 0x84, 0x08];
                fci.extend_from_slice(&AID);
                fci
            }
            (0xA4, _, _) => {
                self.selected[channel] = false;
                return Ok(vec![0x6A, 0x82]);
            }
            (0xCA, 0x00, 0x5A) if self.selected[channel] => {
                let mut v = vec![0x5A, 0x10];
                v.extend_from_slice(&EID);
                v
            }
            (0xCA, 0x00, BIG_TAG) if self.selected[channel] => big_data(),
            (0xCA, _, _) => return Ok(vec![0x6A, 0x88]),
            _ => return Ok(vec![0x6D, 0x00]),
        };
        Ok(self.respond(channel, &cmd, data))
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.selected = [false; 20];
        self.pending = Default::default();
        self.resets += 1;
        Ok(ATR.to_vec())
    }

    fn atr(&self) -> Vec<u8> {
        ATR.to_vec()
    }

    fn reader_name(&self) -> String {
        "Fake Reader 00".to_owned()
    }
}
