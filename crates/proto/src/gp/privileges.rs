//! Privileges (GPCS v2.3.1 §11.1.2, Tables 11-7 to 11-9): three bytes, or one byte in older
//! cards' GET STATUS responses and in INSTALL commands of earlier specification versions.
//!
//! Three privileges are combinations of bits of byte 1: DAP Verification (b8 b7, b1 = 0),
//! Delegated Management (b8 b6) and Mandated DAP Verification (b8 b7 b1).

use super::GpError;
use std::fmt;

/// One privilege, named as in GPCS Tables 11-7 to 11-9 (privilege numbers 0–19).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Privilege {
    SecurityDomain,
    DapVerification,
    DelegatedManagement,
    CardLock,
    CardTerminate,
    CardReset,
    CvmManagement,
    MandatedDapVerification,
    TrustedPath,
    AuthorizedManagement,
    TokenManagement,
    GlobalDelete,
    GlobalLock,
    GlobalRegistry,
    FinalApplication,
    GlobalService,
    ReceiptGeneration,
    CipheredLoadFileDataBlock,
    ContactlessActivation,
    ContactlessSelfActivation,
}

impl Privilege {
    /// Every privilege, in privilege-number order.
    pub const ALL: [Privilege; 20] = [
        Self::SecurityDomain,
        Self::DapVerification,
        Self::DelegatedManagement,
        Self::CardLock,
        Self::CardTerminate,
        Self::CardReset,
        Self::CvmManagement,
        Self::MandatedDapVerification,
        Self::TrustedPath,
        Self::AuthorizedManagement,
        Self::TokenManagement,
        Self::GlobalDelete,
        Self::GlobalLock,
        Self::GlobalRegistry,
        Self::FinalApplication,
        Self::GlobalService,
        Self::ReceiptGeneration,
        Self::CipheredLoadFileDataBlock,
        Self::ContactlessActivation,
        Self::ContactlessSelfActivation,
    ];

    /// (byte index, bits that must be set, bits that must be clear).
    fn coding(self) -> (usize, u8, u8) {
        match self {
            Self::SecurityDomain => (0, 0x80, 0),
            Self::DapVerification => (0, 0xC0, 0x01),
            Self::DelegatedManagement => (0, 0xA0, 0),
            Self::CardLock => (0, 0x10, 0),
            Self::CardTerminate => (0, 0x08, 0),
            Self::CardReset => (0, 0x04, 0),
            Self::CvmManagement => (0, 0x02, 0),
            Self::MandatedDapVerification => (0, 0xC1, 0),
            Self::TrustedPath => (1, 0x80, 0),
            Self::AuthorizedManagement => (1, 0x40, 0),
            Self::TokenManagement => (1, 0x20, 0),
            Self::GlobalDelete => (1, 0x10, 0),
            Self::GlobalLock => (1, 0x08, 0),
            Self::GlobalRegistry => (1, 0x04, 0),
            Self::FinalApplication => (1, 0x02, 0),
            Self::GlobalService => (1, 0x01, 0),
            Self::ReceiptGeneration => (2, 0x80, 0),
            Self::CipheredLoadFileDataBlock => (2, 0x40, 0),
            Self::ContactlessActivation => (2, 0x20, 0),
            Self::ContactlessSelfActivation => (2, 0x10, 0),
        }
    }

    /// The name used in the specification.
    pub fn name(self) -> &'static str {
        match self {
            Self::SecurityDomain => "Security Domain",
            Self::DapVerification => "DAP Verification",
            Self::DelegatedManagement => "Delegated Management",
            Self::CardLock => "Card Lock",
            Self::CardTerminate => "Card Terminate",
            Self::CardReset => "Card Reset",
            Self::CvmManagement => "CVM Management",
            Self::MandatedDapVerification => "Mandated DAP Verification",
            Self::TrustedPath => "Trusted Path",
            Self::AuthorizedManagement => "Authorized Management",
            Self::TokenManagement => "Token Management",
            Self::GlobalDelete => "Global Delete",
            Self::GlobalLock => "Global Lock",
            Self::GlobalRegistry => "Global Registry",
            Self::FinalApplication => "Final Application",
            Self::GlobalService => "Global Service",
            Self::ReceiptGeneration => "Receipt Generation",
            Self::CipheredLoadFileDataBlock => "Ciphered Load File Data Block",
            Self::ContactlessActivation => "Contactless Activation",
            Self::ContactlessSelfActivation => "Contactless Self-Activation",
        }
    }
}

/// Privilege bytes as coded on the card: three bytes, or the one-byte form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Privileges {
    bytes: [u8; 3],
    one_byte: bool,
}

impl Privileges {
    /// The ISD-P privileges of SGP.02 CreateISDP: Security Domain, Trusted Path, Authorized
    /// Management (`80 C0 00`).
    pub const ISD_P: Self = Self::new([0x80, 0xC0, 0x00]);
    /// No privilege (three bytes of zero).
    pub const NONE: Self = Self::new([0; 3]);

    /// Three privilege bytes.
    pub const fn new(bytes: [u8; 3]) -> Self {
        Self {
            bytes,
            one_byte: false,
        }
    }

    /// The one-byte form (byte 1 only).
    pub const fn one_byte(byte1: u8) -> Self {
        Self {
            bytes: [byte1, 0, 0],
            one_byte: true,
        }
    }

    /// One or three bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GpError> {
        match bytes {
            [b1] => Ok(Self::one_byte(*b1)),
            [b1, b2, b3] => Ok(Self::new([*b1, *b2, *b3])),
            _ => Err(GpError::invalid(0, None, "privileges are 1 or 3 bytes")),
        }
    }

    /// The privileges of a list.
    pub fn from_list(list: &[Privilege]) -> Self {
        list.iter().fold(Self::NONE, |p, &x| p.with(x))
    }

    /// These privileges plus `p`.
    #[must_use]
    pub fn with(mut self, p: Privilege) -> Self {
        let (i, set, _) = p.coding();
        self.bytes[i] |= set;
        if i > 0 {
            self.one_byte = false;
        }
        self
    }

    /// The encoded bytes (one or three).
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.one_byte {
            vec![self.bytes[0]]
        } else {
            self.bytes.to_vec()
        }
    }

    /// The three bytes (bytes 2 and 3 are zero in the one-byte form).
    pub fn bytes(&self) -> [u8; 3] {
        self.bytes
    }

    /// Whether this was coded on one byte.
    pub fn is_one_byte(&self) -> bool {
        self.one_byte
    }

    /// Whether privilege `p` is granted.
    pub fn contains(&self, p: Privilege) -> bool {
        let (i, set, clear) = p.coding();
        self.bytes[i] & set == set && self.bytes[i] & clear == 0
    }

    /// Whether this entry is a Security Domain.
    pub fn is_security_domain(&self) -> bool {
        self.contains(Privilege::SecurityDomain)
    }

    /// Every privilege granted, in privilege-number order.
    pub fn list(&self) -> Vec<Privilege> {
        Privilege::ALL
            .into_iter()
            .filter(|&p| self.contains(p))
            .collect()
    }
}

impl fmt::Debug for Privileges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Privileges({})", hex::encode_upper(self.to_bytes()))
    }
}

/// Hex bytes then the privilege names: `80C000 (Security Domain, Trusted Path, ...)`.
impl fmt::Display for Privileges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.list().into_iter().map(Privilege::name).collect();
        write!(
            f,
            "{} ({})",
            hex::encode_upper(self.to_bytes()),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Privilege::*;

    #[test]
    fn isd_p_privileges() {
        // SGP.02 CreateISDP (njiwa and whty agree): 80 C0 00.
        let p = Privileges::ISD_P;
        assert_eq!(p.to_bytes(), vec![0x80, 0xC0, 0x00]);
        assert_eq!(
            p.list(),
            vec![SecurityDomain, TrustedPath, AuthorizedManagement]
        );
        assert_eq!(
            Privileges::from_list(&[SecurityDomain, TrustedPath, AuthorizedManagement]),
            p
        );
        assert_eq!(
            p.to_string(),
            "80C000 (Security Domain, Trusted Path, Authorized Management)"
        );
    }

    #[test]
    fn combined_bits() {
        // GlobalPlatformPro TestParseTags: ISD privileges 9EFE80.
        let isd = Privileges::from_bytes(&[0x9E, 0xFE, 0x80]).unwrap();
        assert_eq!(
            isd.list(),
            vec![
                SecurityDomain,
                CardLock,
                CardTerminate,
                CardReset,
                CvmManagement,
                TrustedPath,
                AuthorizedManagement,
                TokenManagement,
                GlobalDelete,
                GlobalLock,
                GlobalRegistry,
                FinalApplication,
                ReceiptGeneration,
            ]
        );
        let dap = Privileges::one_byte(0xC0);
        assert!(dap.contains(DapVerification) && !dap.contains(MandatedDapVerification));
        let mandated = Privileges::one_byte(0xC1);
        assert!(mandated.contains(MandatedDapVerification) && !mandated.contains(DapVerification));
        // Delegated Management needs the Security Domain bit too.
        assert!(!Privileges::one_byte(0x20).contains(DelegatedManagement));
        assert!(Privileges::one_byte(0xA0).contains(DelegatedManagement));
        assert_eq!(Privileges::one_byte(0x00).to_string(), "00 (none)");
        for p in Privilege::ALL {
            assert!(Privileges::NONE.with(p).contains(p), "{p:?}");
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(
            Privileges::from_bytes(&[0x80]).unwrap().to_bytes(),
            vec![0x80]
        );
        assert!(Privileges::from_bytes(&[]).is_err());
        assert!(Privileges::from_bytes(&[1, 2]).is_err());
        assert!(Privileges::from_bytes(&[1, 2, 3, 4]).is_err());
        // Adding a byte-2 privilege to the one-byte form switches to three bytes.
        let p = Privileges::one_byte(0x80).with(TrustedPath);
        assert_eq!(p.to_bytes(), vec![0x80, 0x80, 0x00]);
    }
}
