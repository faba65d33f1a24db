//! SCP80: secured packets of ETSI TS 102 225 in their SMS form (3GPP TS 31.115), as SGP.02
//! §2.4.3 uses them to carry ES5 scripts to the ISD-R (our `SGP02.md` §6.3).
//!
//! A command packet, after the user data header `02 70 00` (IEI `70`, the CPI):
//!
//! ```text
//! CPL(2) CHL(1) SPI(2) KIc(1) KID(1) TAR(3) | CNTR(5) PCNTR(1) RC/CC/DS | secured data ‖ padding
//!                                           |<------------ ciphered when SPI1 b3 is set -------->|
//! ```
//!
//! CPL counts every byte after itself, CHL the header bytes after itself (13 + RC/CC length).
//! The RC/CC covers CPL … PCNTR and the secured data with its padding (not the UDH). PCNTR
//! counts the zero bytes added to reach the cipher block size.
//!
//! The Proof of Receipt (response packet), after the user data header `02 71 00`:
//!
//! ```text
//! RPL(2) RHL(1) TAR(3) | CNTR(5) PCNTR(1) status(1) RC/CC/DS | additional data ‖ padding
//! ```
//!
//! RHL is 10 + RC/CC length; the RC/CC covers the UDH `02 71 00` too (TS 31.115 §4.4), then
//! RPL … status and the data with its padding; CNTR repeats the command's counter.
//!
//! - [`spi`]: SPI, KIc and KID coding.
//! - [`crypto`]: DES/3DES/AES ciphering, CBC-MAC/AES-CMAC checksums, CRC16/CRC32.
//! - [`packet`]: command packets, both directions.
//! - [`por`]: response packets and their status codes.
//! - [`card`]: the receiving entity: key sets, counter rules, security level, PoR policy.

pub mod card;
pub mod crypto;
pub mod packet;
pub mod por;
pub mod spi;

pub use card::{check_counter, MinimumSecurityLevel, ReceivingEntity, Reception};
pub use crypto::OtaKey;
pub use packet::{CommandHeader, CommandPacket, KeySet, Tar};
pub use por::{PorStatus, ResponsePacket};
pub use spi::{
    ChecksumAlgorithm, CipherAlgorithm, CounterMode, Integrity, KeyIndicator, PorRequest, Spi,
};

use thiserror::Error;

/// Largest counter value (five bytes).
pub const COUNTER_MAX: u64 = 0xFF_FFFF_FFFF;

/// Everything that can go wrong building or reading a secured packet.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Scp80Error {
    /// SPI with reserved bits set or the reserved PoR value `11`.
    #[error("SPI {:02X}{:02X} uses reserved bits or values", .0[0], .0[1])]
    ReservedSpi([u8; 2]),
    /// A KIc/KID algorithm nibble this implementation does not support.
    #[error("KIc/KID {0:02X} names an algorithm that is reserved or not supported")]
    UnsupportedAlgorithm(u8),
    /// The KIc/KID algorithm differs from the key set's.
    #[error("KIc/KID {indicator:02X} does not match key set {kvn:X}")]
    AlgorithmMismatch { indicator: u8, kvn: u8 },
    /// Digital signatures (SPI RC/CC/DS `11`) are not supported.
    #[error("digital signatures are not supported")]
    DigitalSignature,
    /// A key of the wrong length for its algorithm.
    #[error("key of {0} bytes does not fit the algorithm")]
    BadKeyLength(usize),
    /// Ciphertext not a multiple of the block size.
    #[error("ciphered part of {0} bytes is not a whole number of blocks")]
    NotBlockAligned(usize),
    /// No key set for a key version the packet names.
    #[error("no {0} key for this packet")]
    MissingKey(&'static str),
    /// The packet ends before a field.
    #[error("secured packet truncated: {what} needs {needed} bytes, {available} left")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// A length field that does not match the packet.
    #[error("{field} is {found}, {expected} expected")]
    BadLength {
        field: &'static str,
        found: usize,
        expected: usize,
    },
    /// PCNTR larger than the data or than a block.
    #[error("padding counter {pcntr} does not fit {available} bytes of data")]
    BadPadding { pcntr: u8, available: usize },
    /// The RC/CC does not verify.
    #[error("RC/CC/DS verification failed")]
    ChecksumMismatch,
    /// A user data header other than `02 70 00` / `02 71 00`.
    #[error("user data header {found} where {expected} is expected")]
    BadUdh {
        found: String,
        expected: &'static str,
    },
    /// A packet longer than a two-byte length can describe.
    #[error("packet of {0} bytes: CPL/RPL is two bytes")]
    TooLong(usize),
    /// A counter above five bytes.
    #[error("counter {0:#X} does not fit five bytes")]
    CounterOutOfRange(u64),
}

#[cfg(test)]
mod card_tests;
#[cfg(test)]
mod vector_tests;
