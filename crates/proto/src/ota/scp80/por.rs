//! Response packets, the Proof of Receipt (ETSI TS 102 225 §5.2, 3GPP TS 31.115 §4.4), and the
//! response status codes (TS 102 225 Table 5.3, TS 31.115 §7).

use super::crypto::{checksum, decrypt, encrypt};
use super::packet::{
    counter_bytes, counter_value, len16, padding, resolve, verify, CommandHeader, KeySet, Tar,
};
use super::Scp80Error;

/// The user data header of a response packet: UDHL `02`, IEI `71` (RPI), IEIDL `00`.
pub const RESPONSE_UDH: [u8; 3] = [0x02, 0x71, 0x00];

/// RHL without RC/CC/DS: TAR(3) CNTR(5) PCNTR status.
pub const RHL_BASE: usize = 10;

/// Response status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PorStatus {
    /// `00`: PoR OK.
    Ok,
    /// `01`: RC/CC/DS failed.
    RcCcDsFailed,
    /// `02`: CNTR low.
    CounterLow,
    /// `03`: CNTR high.
    CounterHigh,
    /// `04`: CNTR blocked.
    CounterBlocked,
    /// `05`: ciphering error.
    CipheringError,
    /// `06`: unidentified security error.
    UnidentifiedSecurityError,
    /// `07`: insufficient memory to process the incoming message.
    InsufficientMemory,
    /// `08`: more time needed to process the command packet.
    MoreTime,
    /// `09`: TAR unknown.
    TarUnknown,
    /// `0A`: insufficient security level.
    InsufficientSecurityLevel,
    /// `0B`: the actual response is sent by SMS-SUBMIT (TS 31.115).
    ResponseBySmsSubmit,
    /// `0C`: the actual response is sent by USSD (TS 31.115).
    ResponseByUssd,
    /// Any other (RFU or proprietary) value.
    Other(u8),
}

impl PorStatus {
    /// The status byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Ok => 0x00,
            Self::RcCcDsFailed => 0x01,
            Self::CounterLow => 0x02,
            Self::CounterHigh => 0x03,
            Self::CounterBlocked => 0x04,
            Self::CipheringError => 0x05,
            Self::UnidentifiedSecurityError => 0x06,
            Self::InsufficientMemory => 0x07,
            Self::MoreTime => 0x08,
            Self::TarUnknown => 0x09,
            Self::InsufficientSecurityLevel => 0x0A,
            Self::ResponseBySmsSubmit => 0x0B,
            Self::ResponseByUssd => 0x0C,
            Self::Other(b) => b,
        }
    }

    /// Decodes a status byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0x00 => Self::Ok,
            0x01 => Self::RcCcDsFailed,
            0x02 => Self::CounterLow,
            0x03 => Self::CounterHigh,
            0x04 => Self::CounterBlocked,
            0x05 => Self::CipheringError,
            0x06 => Self::UnidentifiedSecurityError,
            0x07 => Self::InsufficientMemory,
            0x08 => Self::MoreTime,
            0x09 => Self::TarUnknown,
            0x0A => Self::InsufficientSecurityLevel,
            0x0B => Self::ResponseBySmsSubmit,
            0x0C => Self::ResponseByUssd,
            other => Self::Other(other),
        }
    }

    /// Whether the receiving entity reports this status without ciphering or RC/CC: the
    /// statuses raised before the command's own security was verified (TAR, keys, security
    /// level, deciphering, RC/CC), where the card cannot trust the keys the command names.
    /// Counter statuses and everything after come from an authenticated command and are
    /// secured as SPI2 asks. This is the one place that rule lives.
    pub fn is_sent_unsecured(self) -> bool {
        matches!(
            self,
            Self::RcCcDsFailed
                | Self::CipheringError
                | Self::UnidentifiedSecurityError
                | Self::TarUnknown
                | Self::InsufficientSecurityLevel
        )
    }
}

/// A Proof of Receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponsePacket {
    pub tar: Tar,
    /// CNTR: the command's counter.
    pub counter: u64,
    pub status: PorStatus,
    /// Additional response data (for SGP.02: a response script).
    pub data: Vec<u8>,
}

impl ResponsePacket {
    /// Encodes the PoR as user data (`02 71 00` ‖ RPL …), secured as `command`'s SPI2 asks,
    /// with the KIc/KID of the command.
    pub fn encode(
        &self,
        command: &CommandHeader,
        keysets: &[KeySet],
    ) -> Result<Vec<u8>, Scp80Error> {
        let spi = command.spi;
        let p = resolve(
            spi.por_ciphered,
            spi.por_integrity,
            command.kic,
            command.kid,
            keysets,
        )?;
        self.build(&p)
    }

    /// Encodes the PoR without ciphering or RC/CC (RHL `0A`).
    pub fn encode_unsecured(&self) -> Result<Vec<u8>, Scp80Error> {
        self.build(&super::packet::Protection {
            cipher: None,
            check: None,
        })
    }

    fn build(&self, p: &super::packet::Protection<'_>) -> Result<Vec<u8>, Scp80Error> {
        let cc_len = p.check_len();
        let pad = padding(p, 7 + cc_len + self.data.len());
        let rhl = RHL_BASE + cc_len;
        let rpl = len16(1 + rhl + self.data.len() + pad)?;
        let mut head = RESPONSE_UDH.to_vec();
        head.extend_from_slice(&rpl);
        head.push(u8::try_from(rhl).map_err(|_| Scp80Error::TooLong(rhl))?);
        head.extend_from_slice(&self.tar);
        let mut clear = counter_bytes(self.counter)?.to_vec();
        clear.push(u8::try_from(pad).map_err(|_| Scp80Error::TooLong(pad))?);
        clear.push(self.status.to_byte());
        let mut data = self.data.clone();
        data.resize(self.data.len() + pad, 0);
        if let Some((alg, key)) = p.check {
            let signed = [head.as_slice(), &clear, &data].concat();
            clear.extend_from_slice(&checksum(alg, key, &signed)?);
        }
        clear.extend_from_slice(&data);
        let body = match p.cipher {
            Some((alg, key)) => encrypt(alg, key, &clear)?,
            None => clear,
        };
        head.extend_from_slice(&body);
        Ok(head)
    }

    /// Decodes a PoR (user data starting `02 71 00`) answering `command`.
    ///
    /// A PoR whose RHL is `0A` while SPI2 asks for an RC/CC, and whose status is an error, is
    /// read as an unsecured error report ([`PorStatus::is_sent_unsecured`]).
    pub fn decode(
        ud: &[u8],
        command: &CommandHeader,
        keysets: &[KeySet],
    ) -> Result<Self, Scp80Error> {
        let (head, rest) = split_head(ud)?;
        let spi = command.spi;
        let p = resolve(
            spi.por_ciphered,
            spi.por_integrity,
            command.kic,
            command.kid,
            keysets,
        )?;
        let rhl = usize::from(head[5]);
        if rhl == RHL_BASE && p.check_len() != 0 {
            let r = Self::open(
                head,
                rest,
                &super::packet::Protection {
                    cipher: None,
                    check: None,
                },
            )?;
            if r.status.is_sent_unsecured() {
                return Ok(r);
            }
        }
        if rhl != RHL_BASE + p.check_len() {
            return Err(Scp80Error::BadLength {
                field: "RHL",
                found: rhl,
                expected: RHL_BASE + p.check_len(),
            });
        }
        Self::open(head, rest, &p)
    }

    /// Decodes an unsecured PoR (no ciphering, no RC/CC).
    pub fn decode_unsecured(ud: &[u8]) -> Result<Self, Scp80Error> {
        let (head, rest) = split_head(ud)?;
        if usize::from(head[5]) != RHL_BASE {
            return Err(Scp80Error::BadLength {
                field: "RHL",
                found: usize::from(head[5]),
                expected: RHL_BASE,
            });
        }
        Self::open(
            head,
            rest,
            &super::packet::Protection {
                cipher: None,
                check: None,
            },
        )
    }

    fn open(
        head: &[u8],
        rest: &[u8],
        p: &super::packet::Protection<'_>,
    ) -> Result<Self, Scp80Error> {
        let cc_len = p.check_len();
        let plain = match p.cipher {
            Some((alg, key)) => decrypt(alg, key, rest)?,
            None => rest.to_vec(),
        };
        if plain.len() < 7 + cc_len {
            return Err(Scp80Error::Truncated {
                what: "CNTR, PCNTR, status and RC/CC",
                needed: 7 + cc_len,
                available: plain.len(),
            });
        }
        let pcntr = plain[5];
        let data = &plain[7 + cc_len..];
        if usize::from(pcntr) > data.len() {
            return Err(Scp80Error::BadPadding {
                pcntr,
                available: data.len(),
            });
        }
        let signed = [head, &plain[..7], data].concat();
        verify(p.check, &plain[7..7 + cc_len], &signed)?;
        Ok(Self {
            tar: [head[6], head[7], head[8]],
            counter: counter_value(&plain[..5]),
            status: PorStatus::from_byte(plain[6]),
            data: data[..data.len() - usize::from(pcntr)].to_vec(),
        })
    }
}

/// Checks the UDH, RPL and the RHL/TAR presence; returns (UDH‖RPL‖RHL‖TAR, rest).
fn split_head(ud: &[u8]) -> Result<(&[u8], &[u8]), Scp80Error> {
    if ud.len() < 9 {
        return Err(Scp80Error::Truncated {
            what: "response header",
            needed: 9,
            available: ud.len(),
        });
    }
    if ud[..3] != RESPONSE_UDH {
        return Err(Scp80Error::BadUdh {
            found: hex::encode_upper(&ud[..3]),
            expected: "027100",
        });
    }
    let rpl = usize::from(u16::from_be_bytes([ud[3], ud[4]]));
    if rpl != ud.len() - 5 {
        return Err(Scp80Error::BadLength {
            field: "RPL",
            found: rpl,
            expected: ud.len() - 5,
        });
    }
    Ok(ud.split_at(9))
}
