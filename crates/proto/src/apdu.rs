//! Command and response APDUs: ISO/IEC 7816-4 §5.1 (cases 1–4, short and extended length) and
//! §5.1.1 (logical channels in the class byte); GlobalPlatform Card Specification v2.3.1 §11.1.4.
//!
//! Encoding chooses the short form whenever both Lc and Le fit, and the extended form otherwise;
//! [`CommandApdu::parse`] accepts every case in both forms and rejects anything else.

use crate::status::StatusWord;
use thiserror::Error;

/// Largest Ne expressible by a short Le (`00` = 256).
pub const SHORT_LE_MAX: usize = 256;
/// Largest Ne expressible by an extended Le (`0000` = 65536).
pub const EXTENDED_LE_MAX: usize = 65536;
/// Largest Nc expressible by an extended Lc.
pub const EXTENDED_LC_MAX: usize = 65535;

/// Why bytes are not a valid APDU, or a command cannot be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ApduError {
    /// Fewer than four header bytes.
    #[error("command APDU too short: {0} bytes (at least 4 needed: CLA INS P1 P2)")]
    TooShort(usize),
    /// The length fields do not agree with the number of bytes present.
    #[error("command APDU length fields do not match its {len} bytes: {reason}")]
    BadLength { len: usize, reason: &'static str },
    /// A response shorter than SW1 SW2.
    #[error("response APDU too short: {0} bytes (SW1 SW2 needed)")]
    ResponseTooShort(usize),
    /// Data longer than an extended Lc can carry.
    #[error("command data of {0} bytes exceeds 65535")]
    DataTooLong(usize),
    /// Ne of zero or above 65536.
    #[error("expected response length {0} out of range 1..=65536")]
    BadLe(usize),
    /// Channel number above 19.
    #[error("logical channel {0} out of range 0..=19")]
    BadChannel(u8),
}

/// A command APDU.
///
/// `le` is Ne, the maximum number of response bytes expected: `None` for cases 1 and 3,
/// `Some(1..=65536)` for cases 2 and 4 (`Some(256)` is the short `Le = 00`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandApdu {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    pub le: Option<usize>,
}

impl CommandApdu {
    /// A case 1 command (header only).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    /// Sets the command data (case 3, or case 4 with an Le).
    #[must_use]
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// Sets Ne (case 2, or case 4 with data).
    #[must_use]
    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// Removes Le.
    #[must_use]
    pub fn without_le(mut self) -> Self {
        self.le = None;
        self
    }

    /// The ISO 7816-4 case number (1–4).
    pub fn case(&self) -> u8 {
        match (self.data.is_empty(), self.le.is_some()) {
            (true, false) => 1,
            (true, true) => 2,
            (false, false) => 3,
            (false, true) => 4,
        }
    }

    /// Whether this command needs the extended length form.
    pub fn needs_extended(&self) -> bool {
        self.data.len() > 255 || self.le.is_some_and(|le| le > SHORT_LE_MAX)
    }

    /// Encodes the command in the short form where possible, else the extended form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ApduError> {
        self.encode(self.needs_extended())
    }

    /// Encodes the command, in the extended form when `extended` is set (or needed).
    pub fn encode(&self, extended: bool) -> Result<Vec<u8>, ApduError> {
        let nc = self.data.len();
        if nc > EXTENDED_LC_MAX {
            return Err(ApduError::DataTooLong(nc));
        }
        if let Some(le) = self.le {
            if le == 0 || le > EXTENDED_LE_MAX {
                return Err(ApduError::BadLe(le));
            }
        }
        let extended = extended || self.needs_extended();
        let mut out = Vec::with_capacity(4 + 3 + nc + 3);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if extended {
            if nc > 0 {
                out.push(0);
                out.extend_from_slice(&len16(nc));
            }
            if let Some(le) = self.le {
                if nc == 0 {
                    out.push(0);
                }
                out.extend_from_slice(&len16(le % EXTENDED_LE_MAX));
            }
        } else {
            if nc > 0 {
                out.push(len8(nc));
            }
            if let Some(le) = self.le {
                out.push(len8(le % SHORT_LE_MAX));
            }
        }
        if nc > 0 {
            let at = if extended { 7 } else { 5 };
            out.splice(at..at, self.data.iter().copied());
        }
        Ok(out)
    }

    /// Parses any case 1–4 command in the short or extended form; trailing bytes are an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let n = bytes.len();
        let bad = |reason| ApduError::BadLength { len: n, reason };
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(ApduError::TooShort(n));
        };
        let mut cmd = Self::new(*cla, *ins, *p1, *p2);
        match body {
            [] => {}
            [le] => cmd.le = Some(short_ne(*le)),
            [0, rest @ ..] if rest.len() >= 2 => {
                // Extended form (or a short Lc of zero, which ISO forbids).
                let first = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let tail = &rest[2..];
                if tail.is_empty() {
                    // Case 2E: 00 Le1 Le2.
                    cmd.le = Some(extended_ne(first));
                } else {
                    if first == 0 {
                        return Err(bad("extended Lc of zero"));
                    }
                    match tail.len() {
                        l if l == first => cmd.data = tail.to_vec(),
                        l if l == first + 2 => {
                            cmd.data = tail[..first].to_vec();
                            let le =
                                usize::from(u16::from_be_bytes([tail[first], tail[first + 1]]));
                            cmd.le = Some(extended_ne(le));
                        }
                        _ => return Err(bad("extended Lc does not match the data")),
                    }
                }
            }
            [0, ..] => return Err(bad("short Lc of zero")),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len() {
                    l if l == lc => cmd.data = rest.to_vec(),
                    l if l == lc + 1 => {
                        cmd.data = rest[..lc].to_vec();
                        cmd.le = Some(short_ne(rest[lc]));
                    }
                    _ => return Err(bad("Lc does not match the data")),
                }
            }
        }
        Ok(cmd)
    }

    /// The logical channel number encoded in CLA (ISO 7816-4 §5.4.1): 0–3 in the first
    /// interindustry class, 4–19 in the further interindustry class.
    pub fn channel(&self) -> u8 {
        channel_of(self.cla)
    }

    /// The CLA with the logical channel set to `channel`, keeping the class's other bits
    /// (secure messaging, chaining, proprietary bit b8).
    pub fn with_channel(mut self, channel: u8) -> Result<Self, ApduError> {
        self.cla = cla_with_channel(self.cla, channel)?;
        Ok(self)
    }

    /// Whether CLA bit b5 says "command chaining: more commands follow".
    pub fn is_chained(&self) -> bool {
        self.cla & 0x10 != 0
    }
}

/// The logical channel carried by a class byte.
pub fn channel_of(cla: u8) -> u8 {
    if cla & 0x40 == 0 {
        cla & 0x03
    } else {
        4 + (cla & 0x0F)
    }
}

/// Moves a class byte to another logical channel. Secure messaging is mapped between the two
/// interindustry forms (b4..b3 in the first, b6 in the further class).
pub fn cla_with_channel(cla: u8, channel: u8) -> Result<u8, ApduError> {
    if channel > 19 {
        return Err(ApduError::BadChannel(channel));
    }
    let proprietary = cla & 0x80;
    let chaining = cla & 0x10;
    let sm = if cla & 0x40 == 0 {
        cla & 0x0C != 0
    } else {
        cla & 0x20 != 0
    };
    Ok(if channel < 4 {
        proprietary | chaining | if sm { 0x04 } else { 0 } | channel
    } else {
        proprietary | 0x40 | chaining | if sm { 0x20 } else { 0 } | (channel - 4)
    })
}

fn short_ne(le: u8) -> usize {
    if le == 0 {
        SHORT_LE_MAX
    } else {
        usize::from(le)
    }
}

fn extended_ne(le: usize) -> usize {
    if le == 0 {
        EXTENDED_LE_MAX
    } else {
        le
    }
}

/// Low byte of a length already known to be below 256.
fn len8(n: usize) -> u8 {
    u8::try_from(n & 0xFF).unwrap_or_default()
}

/// Two big-endian bytes of a length already known to be below 65536.
fn len16(n: usize) -> [u8; 2] {
    u16::try_from(n & 0xFFFF).unwrap_or_default().to_be_bytes()
}

/// A response APDU: data followed by SW1 SW2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseApdu {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl ResponseApdu {
    /// A response with data and a status word.
    pub fn new(data: impl Into<Vec<u8>>, sw: StatusWord) -> Self {
        Self {
            data: data.into(),
            sw,
        }
    }

    /// A response of a status word alone.
    pub fn status(sw: StatusWord) -> Self {
        Self {
            data: Vec::new(),
            sw,
        }
    }

    /// `9000` with data.
    pub fn success(data: impl Into<Vec<u8>>) -> Self {
        Self::new(data, StatusWord::Success)
    }

    /// Splits the last two bytes off as the status word.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        match bytes {
            [data @ .., sw1, sw2] => Ok(Self::new(data, StatusWord::from_bytes(*sw1, *sw2))),
            _ => Err(ApduError::ResponseTooShort(bytes.len())),
        }
    }

    /// Data followed by SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }

    /// The data if the status word is a success (`9000`/`91xx`), else the status word.
    pub fn into_success(self) -> Result<Vec<u8>, StatusWord> {
        if self.sw.is_success() {
            Ok(self.data)
        } else {
            Err(self.sw)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn cases_short() {
        let c1 = CommandApdu::new(0x00, 0xA4, 0x04, 0x00);
        assert_eq!(c1.to_bytes().unwrap(), hex("00A40400"));
        let c2 = CommandApdu::new(0x80, 0xCA, 0x00, 0x5A).with_le(256);
        assert_eq!(c2.to_bytes().unwrap(), hex("80CA005A00"));
        let c3 = CommandApdu::new(0x00, 0xA4, 0x00, 0x04).with_data([0x3F, 0x00]);
        assert_eq!(c3.to_bytes().unwrap(), hex("00A40004023F00"));
        let c4 = c3.clone().with_le(0x10);
        assert_eq!(c4.to_bytes().unwrap(), hex("00A40004023F0010"));
        for c in [c1, c2, c3, c4] {
            assert_eq!(CommandApdu::parse(&c.to_bytes().unwrap()).unwrap(), c);
        }
    }

    #[test]
    fn cases_extended() {
        let data = vec![0xAB; 300];
        let c3 = CommandApdu::new(0x80, 0xE2, 0x91, 0x00).with_data(data.clone());
        let b = c3.to_bytes().unwrap();
        assert_eq!(&b[..7], &hex("80E2910000012C"));
        assert_eq!(b.len(), 7 + 300);
        let c4 = c3.clone().with_le(65536);
        let b4 = c4.to_bytes().unwrap();
        assert_eq!(&b4[b4.len() - 2..], &[0, 0]);
        let c2 = CommandApdu::new(0x00, 0xB0, 0, 0).with_le(1000);
        assert_eq!(
            c2.to_bytes().unwrap(),
            hex("00B00000" /* 00 03E8 */)
                .into_iter()
                .chain(hex("0003E8"))
                .collect::<Vec<_>>()
        );
        for c in [c2, c3, c4] {
            assert_eq!(CommandApdu::parse(&c.to_bytes().unwrap()).unwrap(), c);
        }
        // The short case 4 can also be sent in the extended form.
        let small = CommandApdu::new(0, 0xA4, 4, 0)
            .with_data([1, 2])
            .with_le(256);
        let e = small.encode(true).unwrap();
        assert_eq!(e, hex("00A4040000000201020100"));
        assert_eq!(CommandApdu::parse(&e).unwrap(), small);
    }

    #[test]
    fn rejects_bad_lengths() {
        assert!(CommandApdu::parse(&hex("00A404")).is_err());
        assert!(CommandApdu::parse(&hex("00A4040002AA")).is_err());
        assert!(CommandApdu::parse(&hex("00A4040002AABBCCDD")).is_err());
        assert!(CommandApdu::parse(&hex("00A4040000AA")).is_err());
        assert!(CommandApdu::parse(&hex("00A40400000002AA")).is_err());
        assert!(CommandApdu::new(0, 0, 0, 0).with_le(0).to_bytes().is_err());
        assert!(CommandApdu::new(0, 0, 0, 0)
            .with_data(vec![0; 65536])
            .to_bytes()
            .is_err());
    }

    #[test]
    fn logical_channels() {
        let c = CommandApdu::new(0x84, 0xF2, 0x40, 0x02);
        assert_eq!(c.clone().with_channel(2).unwrap().cla, 0x86);
        assert_eq!(c.clone().with_channel(5).unwrap().cla, 0xE1);
        assert_eq!(channel_of(0xE1), 5);
        assert_eq!(channel_of(0x03), 3);
        assert_eq!(channel_of(0x4F), 19);
        assert!(c.with_channel(20).is_err());
    }

    #[test]
    fn response() {
        let r = ResponseApdu::parse(&hex("5A109000")).unwrap();
        assert_eq!(r.data, hex("5A10"));
        assert_eq!(r.sw, StatusWord::Success);
        assert_eq!(r.to_bytes(), hex("5A109000"));
        assert!(ResponseApdu::parse(&[0x90]).is_err());
    }

    fn any_command() -> impl Strategy<Value = CommandApdu> {
        (
            any::<[u8; 4]>(),
            prop::collection::vec(any::<u8>(), 0..600),
            prop::option::of(1usize..=65536),
        )
            .prop_map(|(h, data, le)| CommandApdu {
                cla: h[0],
                ins: h[1],
                p1: h[2],
                p2: h[3],
                data,
                le,
            })
    }

    proptest! {
        #[test]
        fn encode_parse_round_trip(c in any_command(), ext in any::<bool>()) {
            let b = c.encode(ext).unwrap();
            prop_assert_eq!(CommandApdu::parse(&b).unwrap(), c);
        }

        #[test]
        fn parse_never_panics(b in prop::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(c) = CommandApdu::parse(&b) {
                // Whatever parses re-encodes to a command that parses to the same value.
                let again = c.encode(b.len() > 5 && b[4] == 0).unwrap();
                prop_assert_eq!(CommandApdu::parse(&again).unwrap(), c);
            }
            let _ = ResponseApdu::parse(&b);
        }
    }
}
