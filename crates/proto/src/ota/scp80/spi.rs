//! The security parameters of a secured packet: SPI (ETSI TS 102 225 §5.1.1, with the SMS bit
//! of 3GPP TS 31.115 §4.2), KIc (§5.1.2) and KID (§5.1.3).
//!
//! ```text
//! SPI1  b8..b6 reserved   b5..b4 counter   b3 ciphering   b2..b1 RC/CC/DS
//! SPI2  b8..b7 reserved   b6 PoR by SMS-SUBMIT   b5 PoR ciphered   b4..b3 PoR RC/CC/DS   b2..b1 PoR
//! KIc   b8..b5 key version   b4..b3 mode   b2..b1 algorithm (00 implicit, 01 DES, 10 AES, 11 proprietary)
//! KID   same layout; for an RC, b2..b1 = 01 CRC and b4..b3 = 00 CRC16, 01 CRC32
//! ```

use super::Scp80Error;

/// Counter handling requested by SPI1 b5..b4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterMode {
    /// `00`: no counter.
    None,
    /// `01`: counter available, no replay or sequence checking.
    Available,
    /// `10`: process only if the counter is higher than the receiving entity's.
    Higher,
    /// `11`: process only if the counter is exactly one higher than the receiving entity's.
    OneHigher,
}

/// Integrity protection (SPI b2..b1 for the command, b4..b3 of SPI2 for the PoR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// `00`: none.
    None,
    /// `01`: redundancy check (CRC).
    Rc,
    /// `10`: cryptographic checksum.
    Cc,
    /// `11`: digital signature (not supported by this implementation).
    Ds,
}

impl Integrity {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Self::None,
            1 => Self::Rc,
            2 => Self::Cc,
            _ => Self::Ds,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Rc => 1,
            Self::Cc => 2,
            Self::Ds => 3,
        }
    }
}

/// Proof of Receipt request (SPI2 b2..b1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PorRequest {
    /// `00`: no PoR.
    None,
    /// `01`: PoR required.
    Always,
    /// `10`: PoR only when an error occurred.
    OnError,
}

/// The two SPI bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Spi {
    pub counter: CounterMode,
    pub ciphered: bool,
    pub integrity: Integrity,
    pub por: PorRequest,
    pub por_integrity: Integrity,
    pub por_ciphered: bool,
    /// SPI2 b6 (3GPP TS 31.115): PoR sent as SMS-SUBMIT rather than SMS-DELIVER-REPORT.
    pub por_via_submit: bool,
}

impl Spi {
    /// Counter higher, ciphered, CC; PoR always, with CC, ciphered, in the SMS-DELIVER-REPORT
    /// (SPI `16 19`). SGP.02 notes also show `16 39`, the same with the PoR by SMS-SUBMIT.
    pub const SECURE: Spi = Spi {
        counter: CounterMode::Higher,
        ciphered: true,
        integrity: Integrity::Cc,
        por: PorRequest::Always,
        por_integrity: Integrity::Cc,
        por_ciphered: true,
        por_via_submit: false,
    };

    /// Encodes SPI1 SPI2.
    pub fn to_bytes(self) -> [u8; 2] {
        let counter = match self.counter {
            CounterMode::None => 0,
            CounterMode::Available => 1,
            CounterMode::Higher => 2,
            CounterMode::OneHigher => 3,
        };
        let spi1 = counter << 3 | u8::from(self.ciphered) << 2 | self.integrity.bits();
        let por = match self.por {
            PorRequest::None => 0,
            PorRequest::Always => 1,
            PorRequest::OnError => 2,
        };
        let spi2 = u8::from(self.por_via_submit) << 5
            | u8::from(self.por_ciphered) << 4
            | self.por_integrity.bits() << 2
            | por;
        [spi1, spi2]
    }

    /// Decodes SPI1 SPI2; reserved bits and the reserved PoR value `11` are errors.
    pub fn parse(bytes: [u8; 2]) -> Result<Self, Scp80Error> {
        let [spi1, spi2] = bytes;
        if spi1 & 0xE0 != 0 || spi2 & 0xC0 != 0 || spi2 & 3 == 3 {
            return Err(Scp80Error::ReservedSpi(bytes));
        }
        Ok(Self {
            counter: match (spi1 >> 3) & 3 {
                0 => CounterMode::None,
                1 => CounterMode::Available,
                2 => CounterMode::Higher,
                _ => CounterMode::OneHigher,
            },
            ciphered: spi1 & 0x04 != 0,
            integrity: Integrity::from_bits(spi1),
            por: match spi2 & 3 {
                0 => PorRequest::None,
                1 => PorRequest::Always,
                _ => PorRequest::OnError,
            },
            por_integrity: Integrity::from_bits(spi2 >> 2),
            por_ciphered: spi2 & 0x10 != 0,
            por_via_submit: spi2 & 0x20 != 0,
        })
    }
}

/// Ciphering algorithms a KIc names (§5.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherAlgorithm {
    /// DES in CBC mode (b4..b1 `0001`).
    DesCbc,
    /// Triple DES, two keys, outer CBC (`0101`).
    TripleDes2Key,
    /// Triple DES, three keys, outer CBC (`1001`).
    TripleDes3Key,
    /// DES in ECB mode (`1101`).
    DesEcb,
    /// AES in CBC mode (`0010`).
    AesCbc,
}

/// Checksum algorithms a KID names (§5.1.3.1 for a CC, §5.1.3.2 for an RC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// DES CBC-MAC (`0001`).
    DesCbcMac,
    /// Triple DES (two keys) CBC-MAC (`0101`).
    TripleDes2KeyMac,
    /// Triple DES (three keys) CBC-MAC (`1001`).
    TripleDes3KeyMac,
    /// AES-CMAC (`0010`).
    AesCmac,
    /// CRC16 (RC, `0001`).
    Crc16,
    /// CRC32 (RC, `0101`).
    Crc32,
}

/// A KIc or KID byte: key version in b8..b5, algorithm and mode in b4..b1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyIndicator(pub u8);

impl KeyIndicator {
    /// A KIc for `algorithm` with key version `kvn` (`0`–`F`).
    pub fn kic(kvn: u8, algorithm: CipherAlgorithm) -> Self {
        let low = match algorithm {
            CipherAlgorithm::DesCbc => 0x1,
            CipherAlgorithm::TripleDes2Key => 0x5,
            CipherAlgorithm::TripleDes3Key => 0x9,
            CipherAlgorithm::DesEcb => 0xD,
            CipherAlgorithm::AesCbc => 0x2,
        };
        Self((kvn & 0x0F) << 4 | low)
    }

    /// A KID for `algorithm` with key version `kvn` (`0`–`F`).
    pub fn kid(kvn: u8, algorithm: ChecksumAlgorithm) -> Self {
        let low = match algorithm {
            ChecksumAlgorithm::DesCbcMac | ChecksumAlgorithm::Crc16 => 0x1,
            ChecksumAlgorithm::TripleDes2KeyMac | ChecksumAlgorithm::Crc32 => 0x5,
            ChecksumAlgorithm::TripleDes3KeyMac => 0x9,
            ChecksumAlgorithm::AesCmac => 0x2,
        };
        Self((kvn & 0x0F) << 4 | low)
    }

    /// The key version number (b8..b5).
    pub fn key_version(self) -> u8 {
        self.0 >> 4
    }

    /// The ciphering algorithm this byte names as a KIc; `None` for "known implicitly" (`0`).
    pub fn cipher(self) -> Result<Option<CipherAlgorithm>, Scp80Error> {
        match self.0 & 0x0F {
            0x0 => Ok(None),
            0x1 => Ok(Some(CipherAlgorithm::DesCbc)),
            0x5 => Ok(Some(CipherAlgorithm::TripleDes2Key)),
            0x9 => Ok(Some(CipherAlgorithm::TripleDes3Key)),
            0xD => Ok(Some(CipherAlgorithm::DesEcb)),
            0x2 => Ok(Some(CipherAlgorithm::AesCbc)),
            _ => Err(Scp80Error::UnsupportedAlgorithm(self.0)),
        }
    }

    /// The checksum algorithm this byte names as a KID for `integrity`; `None` for "known
    /// implicitly" (`0`) or when there is no RC/CC.
    pub fn checksum(self, integrity: Integrity) -> Result<Option<ChecksumAlgorithm>, Scp80Error> {
        let low = self.0 & 0x0F;
        match (integrity, low) {
            (Integrity::None, _) => Ok(None),
            (Integrity::Rc | Integrity::Cc, 0x0) => Ok(None),
            (Integrity::Cc, 0x1) => Ok(Some(ChecksumAlgorithm::DesCbcMac)),
            (Integrity::Cc, 0x5) => Ok(Some(ChecksumAlgorithm::TripleDes2KeyMac)),
            (Integrity::Cc, 0x9) => Ok(Some(ChecksumAlgorithm::TripleDes3KeyMac)),
            (Integrity::Cc, 0x2) => Ok(Some(ChecksumAlgorithm::AesCmac)),
            (Integrity::Rc, 0x1) => Ok(Some(ChecksumAlgorithm::Crc16)),
            (Integrity::Rc, 0x5) => Ok(Some(ChecksumAlgorithm::Crc32)),
            _ => Err(Scp80Error::UnsupportedAlgorithm(self.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spi_values_from_public_vectors() {
        // pySim test_ota.py SPI_CC_POR_CIPHERED_CC: 06 19.
        let s = Spi::parse([0x06, 0x19]).unwrap();
        assert_eq!(s.counter, CounterMode::None);
        assert!(s.ciphered && s.por_ciphered && !s.por_via_submit);
        assert_eq!(
            (s.integrity, s.por_integrity),
            (Integrity::Cc, Integrity::Cc)
        );
        assert_eq!(s.por, PorRequest::Always);
        // asterix SecurePacket.py test_SPI1531: SPI 15 35 (CRC, counter higher, PoR by SUBMIT).
        let s = Spi::parse([0x15, 0x35]).unwrap();
        assert_eq!(s.counter, CounterMode::Higher);
        assert_eq!(
            (s.integrity, s.por_integrity),
            (Integrity::Rc, Integrity::Rc)
        );
        assert!(s.ciphered && s.por_ciphered && s.por_via_submit);
        assert_eq!(Spi::SECURE.to_bytes(), [0x16, 0x19]);
        assert_eq!(
            Spi::parse([0x1E, 0x02]).unwrap().counter,
            CounterMode::OneHigher
        );
        assert_eq!(Spi::parse([0x1E, 0x02]).unwrap().por, PorRequest::OnError);
    }

    #[test]
    fn spi_round_trip_and_reserved_bits() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                match Spi::parse([a, b]) {
                    Ok(s) => assert_eq!(s.to_bytes(), [a, b]),
                    Err(e) => {
                        assert_eq!(e, Scp80Error::ReservedSpi([a, b]));
                        assert!(a & 0xE0 != 0 || b & 0xC0 != 0 || b & 3 == 3);
                    }
                }
            }
        }
    }

    #[test]
    fn key_indicators() {
        // pySim: KIc/KID 22 (AES, KVN 2) and 35 (3DES two keys, KVN 3).
        assert_eq!(KeyIndicator::kic(2, CipherAlgorithm::AesCbc).0, 0x22);
        assert_eq!(KeyIndicator::kid(2, ChecksumAlgorithm::AesCmac).0, 0x22);
        assert_eq!(KeyIndicator::kic(3, CipherAlgorithm::TripleDes2Key).0, 0x35);
        // asterix: 39 = 3DES three keys, 15 as a KID for an RC = CRC32.
        assert_eq!(
            KeyIndicator(0x39).cipher().unwrap(),
            Some(CipherAlgorithm::TripleDes3Key)
        );
        assert_eq!(
            KeyIndicator(0x15).checksum(Integrity::Rc).unwrap(),
            Some(ChecksumAlgorithm::Crc32)
        );
        assert_eq!(KeyIndicator(0x15).key_version(), 1);
        assert_eq!(KeyIndicator(0x10).cipher().unwrap(), None);
        assert_eq!(KeyIndicator(0x15).checksum(Integrity::None).unwrap(), None);
        assert!(KeyIndicator(0x03).cipher().is_err());
        assert!(KeyIndicator(0x06).checksum(Integrity::Cc).is_err());
        assert!(KeyIndicator(0x02).checksum(Integrity::Rc).is_err());
        for b in 0..=255u8 {
            let k = KeyIndicator(b);
            if let Ok(Some(a)) = k.cipher() {
                assert_eq!(KeyIndicator::kic(k.key_version(), a), k);
            }
            if let Ok(Some(a)) = k.checksum(Integrity::Cc) {
                assert_eq!(KeyIndicator::kid(k.key_version(), a), k);
            }
        }
    }
}
