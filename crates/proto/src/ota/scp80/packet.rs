//! Command packets (ETSI TS 102 225 §5.1, 3GPP TS 31.115 §4.2): the sending entity builds them,
//! the receiving entity checks and opens them with the same code.

use super::crypto::{block_size, checksum, checksum_len, decrypt, encrypt, OtaKey};
use super::spi::{ChecksumAlgorithm, CipherAlgorithm, Integrity, KeyIndicator, Spi};
use super::{Scp80Error, COUNTER_MAX};
use subtle::ConstantTimeEq;

/// Toolkit Application Reference (TS 101 220 §6): three bytes naming the receiving application.
pub type Tar = [u8; 3];

/// CHL without RC/CC/DS: SPI(2) KIc KID TAR(3) CNTR(5) PCNTR.
pub const CHL_BASE: usize = 13;

/// An SCP80 key set (key version `01`–`0F`): the KIc and KID keys with their algorithms, and a
/// counter (on the card: the receiving entity's counter; on the host: the last counter sent).
#[derive(Clone, Debug)]
pub struct KeySet {
    pub kvn: u8,
    pub cipher: CipherAlgorithm,
    pub kic: OtaKey,
    pub checksum: ChecksumAlgorithm,
    pub kid: OtaKey,
    pub counter: u64,
}

impl KeySet {
    /// An AES key set (AES-CBC KIc, AES-CMAC KID).
    pub fn aes(kvn: u8, kic: &[u8], kid: &[u8]) -> Self {
        Self {
            kvn,
            cipher: CipherAlgorithm::AesCbc,
            kic: OtaKey::new(kic),
            checksum: ChecksumAlgorithm::AesCmac,
            kid: OtaKey::new(kid),
            counter: 0,
        }
    }

    /// A triple-DES key set, two-key (16-byte keys) or three-key (24-byte keys) by key length.
    pub fn triple_des(kvn: u8, kic: &[u8], kid: &[u8]) -> Self {
        let three = kic.len() == 24;
        Self {
            kvn,
            cipher: if three {
                CipherAlgorithm::TripleDes3Key
            } else {
                CipherAlgorithm::TripleDes2Key
            },
            kic: OtaKey::new(kic),
            checksum: if kid.len() == 24 {
                ChecksumAlgorithm::TripleDes3KeyMac
            } else {
                ChecksumAlgorithm::TripleDes2KeyMac
            },
            kid: OtaKey::new(kid),
            counter: 0,
        }
    }

    /// The KIc byte naming this key set explicitly.
    pub fn kic_indicator(&self) -> KeyIndicator {
        KeyIndicator::kic(self.kvn, self.cipher)
    }

    /// The KID byte naming this key set explicitly (for a CC).
    pub fn kid_indicator(&self) -> KeyIndicator {
        KeyIndicator::kid(self.kvn, self.checksum)
    }
}

/// The algorithms and keys one direction of a packet uses.
pub(crate) struct Protection<'a> {
    pub cipher: Option<(CipherAlgorithm, &'a OtaKey)>,
    pub check: Option<(ChecksumAlgorithm, Option<&'a OtaKey>)>,
}

impl Protection<'_> {
    pub fn check_len(&self) -> usize {
        self.check.map_or(0, |(a, _)| checksum_len(a))
    }
}

fn find(keysets: &[KeySet], kvn: u8) -> Option<&KeySet> {
    keysets.iter().find(|k| k.kvn == kvn)
}

/// Resolves the algorithms and keys for ciphering `ciphered` and integrity `integrity`.
pub(crate) fn resolve<'a>(
    ciphered: bool,
    integrity: Integrity,
    kic: KeyIndicator,
    kid: KeyIndicator,
    keysets: &'a [KeySet],
) -> Result<Protection<'a>, Scp80Error> {
    let cipher = if ciphered {
        let ks = find(keysets, kic.key_version()).ok_or(Scp80Error::MissingKey("KIc"))?;
        let alg = match kic.cipher()? {
            Some(a) if a != ks.cipher => {
                return Err(Scp80Error::AlgorithmMismatch {
                    indicator: kic.0,
                    kvn: ks.kvn,
                })
            }
            Some(a) => a,
            None => ks.cipher,
        };
        Some((alg, &ks.kic))
    } else {
        None
    };
    let check = match integrity {
        Integrity::None => None,
        Integrity::Ds => return Err(Scp80Error::DigitalSignature),
        Integrity::Rc => match kid.checksum(Integrity::Rc)? {
            Some(a) => Some((a, None)),
            None => return Err(Scp80Error::UnsupportedAlgorithm(kid.0)),
        },
        Integrity::Cc => {
            let ks = find(keysets, kid.key_version()).ok_or(Scp80Error::MissingKey("KID"))?;
            let alg = match kid.checksum(Integrity::Cc)? {
                Some(a) if a != ks.checksum => {
                    return Err(Scp80Error::AlgorithmMismatch {
                        indicator: kid.0,
                        kvn: ks.kvn,
                    })
                }
                Some(a) => a,
                None => ks.checksum,
            };
            Some((alg, Some(&ks.kid)))
        }
    };
    Ok(Protection { cipher, check })
}

/// Number of zero bytes that bring `len` to a multiple of the cipher block (0 unciphered).
pub(crate) fn padding(p: &Protection<'_>, len: usize) -> usize {
    p.cipher.map_or(0, |(alg, _)| {
        let bs = block_size(alg);
        (bs - len % bs) % bs
    })
}

/// Big-endian five-byte counter.
pub(crate) fn counter_bytes(counter: u64) -> Result<[u8; 5], Scp80Error> {
    if counter > COUNTER_MAX {
        return Err(Scp80Error::CounterOutOfRange(counter));
    }
    let b = counter.to_be_bytes();
    Ok([b[3], b[4], b[5], b[6], b[7]])
}

pub(crate) fn counter_value(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x))
}

/// Two-byte length.
pub(crate) fn len16(n: usize) -> Result<[u8; 2], Scp80Error> {
    u16::try_from(n)
        .map(u16::to_be_bytes)
        .map_err(|_| Scp80Error::TooLong(n))
}

/// Verifies an RC/CC in constant time.
pub(crate) fn verify(
    check: Option<(ChecksumAlgorithm, Option<&OtaKey>)>,
    received: &[u8],
    signed: &[u8],
) -> Result<(), Scp80Error> {
    if let Some((alg, key)) = check {
        let expected = checksum(alg, key, signed)?;
        if !bool::from(expected.ct_eq(received)) {
            return Err(Scp80Error::ChecksumMismatch);
        }
    }
    Ok(())
}

/// The clear header of a command packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandHeader {
    pub spi: Spi,
    pub kic: KeyIndicator,
    pub kid: KeyIndicator,
    pub tar: Tar,
    /// CNTR (five bytes).
    pub counter: u64,
}

/// A command packet opened by the receiving entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandPacket {
    pub header: CommandHeader,
    /// The secured data without padding (for SGP.02: a command script).
    pub data: Vec<u8>,
}

/// The fields readable before any key is used: SPI (possibly invalid), KIc, KID and TAR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearHeader {
    pub spi: Result<Spi, Scp80Error>,
    pub kic: KeyIndicator,
    pub kid: KeyIndicator,
    pub tar: Tar,
}

impl CommandPacket {
    /// Builds a command packet (from CPL on; the UDH `02 70 00` is the SMS layer's).
    pub fn encode(
        header: &CommandHeader,
        keysets: &[KeySet],
        data: &[u8],
    ) -> Result<Vec<u8>, Scp80Error> {
        let cntr = counter_bytes(header.counter)?;
        let spi = header.spi;
        let p = resolve(spi.ciphered, spi.integrity, header.kic, header.kid, keysets)?;
        let cc_len = p.check_len();
        let pad = padding(&p, 6 + cc_len + data.len());
        let chl = CHL_BASE + cc_len;
        let cpl = len16(1 + chl + data.len() + pad)?;
        let mut head = Vec::with_capacity(10);
        head.extend_from_slice(&cpl);
        head.push(u8::try_from(chl).map_err(|_| Scp80Error::TooLong(chl))?);
        head.extend_from_slice(&spi.to_bytes());
        head.extend_from_slice(&[header.kic.0, header.kid.0]);
        head.extend_from_slice(&header.tar);
        let mut secured = data.to_vec();
        secured.resize(data.len() + pad, 0);
        let mut clear = cntr.to_vec();
        clear.push(u8::try_from(pad).map_err(|_| Scp80Error::TooLong(pad))?);
        if let Some((alg, key)) = p.check {
            let signed = [head.as_slice(), &clear, &secured].concat();
            clear.extend_from_slice(&checksum(alg, key, &signed)?);
        }
        clear.extend_from_slice(&secured);
        let body = match p.cipher {
            Some((alg, key)) => encrypt(alg, key, &clear)?,
            None => clear,
        };
        head.extend_from_slice(&body);
        Ok(head)
    }

    /// Reads CPL (which must match the packet length) and the clear header fields.
    pub fn peek(bytes: &[u8]) -> Result<ClearHeader, Scp80Error> {
        if bytes.len() < 10 {
            return Err(Scp80Error::Truncated {
                what: "command header",
                needed: 10,
                available: bytes.len(),
            });
        }
        let cpl = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        if cpl != bytes.len() - 2 {
            return Err(Scp80Error::BadLength {
                field: "CPL",
                found: cpl,
                expected: bytes.len() - 2,
            });
        }
        Ok(ClearHeader {
            spi: Spi::parse([bytes[3], bytes[4]]),
            kic: KeyIndicator(bytes[5]),
            kid: KeyIndicator(bytes[6]),
            tar: [bytes[7], bytes[8], bytes[9]],
        })
    }

    /// Opens a command packet: deciphers, checks CHL, PCNTR and the RC/CC. Counter rules are
    /// the receiving entity's business ([`super::card`]).
    pub fn decode(bytes: &[u8], keysets: &[KeySet]) -> Result<Self, Scp80Error> {
        let clear = Self::peek(bytes)?;
        let spi = clear.spi?;
        let p = resolve(spi.ciphered, spi.integrity, clear.kic, clear.kid, keysets)?;
        let cc_len = p.check_len();
        let chl = usize::from(bytes[2]);
        if chl != CHL_BASE + cc_len {
            return Err(Scp80Error::BadLength {
                field: "CHL",
                found: chl,
                expected: CHL_BASE + cc_len,
            });
        }
        let rest = &bytes[10..];
        let plain = match p.cipher {
            Some((alg, key)) => decrypt(alg, key, rest)?,
            None => rest.to_vec(),
        };
        if plain.len() < 6 + cc_len {
            return Err(Scp80Error::Truncated {
                what: "CNTR, PCNTR and RC/CC",
                needed: 6 + cc_len,
                available: plain.len(),
            });
        }
        let pcntr = plain[5];
        let secured = &plain[6 + cc_len..];
        let max_pad = p.cipher.map_or(secured.len(), |(a, _)| block_size(a) - 1);
        if usize::from(pcntr) > secured.len().min(max_pad) {
            return Err(Scp80Error::BadPadding {
                pcntr,
                available: secured.len(),
            });
        }
        let signed = [&bytes[..10], &plain[..6], secured].concat();
        verify(p.check, &plain[6..6 + cc_len], &signed)?;
        Ok(Self {
            header: CommandHeader {
                spi,
                kic: clear.kic,
                kid: clear.kid,
                tar: clear.tar,
                counter: counter_value(&plain[..5]),
            },
            data: secured[..secured.len() - usize::from(pcntr)].to_vec(),
        })
    }
}
