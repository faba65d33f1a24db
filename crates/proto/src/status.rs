//! Status words (SW1 SW2): ISO/IEC 7816-4 §5.1.3, ETSI TS 102 221 §10.2 and the GlobalPlatform
//! Card Specification v2.3.1 §11 uses of them.
//!
//! Every two-byte value maps to exactly one [`StatusWord`] and back ([`StatusWord::from_u16`] /
//! [`StatusWord::to_u16`] are inverse), so nothing read from a card is ever lost.

use std::fmt;

/// A status word with its named meaning; [`StatusWord::Other`] keeps any value not named here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusWord {
    /// `9000`: normal processing.
    Success,
    /// `61xx`: `xx` bytes of response data are available (GET RESPONSE; `00` means 256).
    BytesAvailable(u8),
    /// `9Fxx`: ETSI TS 102 221 / GSM 11.11 — `xx` bytes of response data available.
    GsmBytesAvailable(u8),
    /// `91xx`: ETSI TS 102 221 — normal ending, a proactive command of `xx` bytes is pending.
    ProactiveCommandPending(u8),
    /// `6283`: selected file or application is invalidated / locked.
    SelectedFileInvalidated,
    /// `6300`: authentication failed (GP: host cryptogram verification failed).
    AuthenticationFailed,
    /// `6310`: more data available (GP GET STATUS paging).
    MoreDataAvailable,
    /// `63Cx`: verification failed, `x` retries left.
    VerificationFailed(u8),
    /// `6400`: execution error, non-volatile memory unchanged.
    ExecutionError,
    /// `6581`: memory failure.
    MemoryFailure,
    /// `6700`: wrong length (Lc or Le).
    WrongLength,
    /// `6881`: logical channel not supported.
    LogicalChannelNotSupported,
    /// `6882`: secure messaging not supported.
    SecureMessagingNotSupported,
    /// `6883`: last command of the chain expected.
    LastCommandOfChainExpected,
    /// `6884`: command chaining not supported.
    CommandChainingNotSupported,
    /// `6982`: security status not satisfied.
    SecurityStatusNotSatisfied,
    /// `6983`: authentication method blocked.
    AuthenticationMethodBlocked,
    /// `6984`: reference data not usable.
    ReferenceDataNotUsable,
    /// `6985`: conditions of use not satisfied.
    ConditionsOfUseNotSatisfied,
    /// `6986`: command not allowed (no current EF).
    CommandNotAllowed,
    /// `6987`: expected secure-messaging data objects missing.
    SmDataObjectsMissing,
    /// `6988`: incorrect secure-messaging data objects.
    IncorrectSmDataObjects,
    /// `6999`: GP — applet selection failed.
    SelectionFailed,
    /// `69E1`: SGP.02 — the profile's POL1 forbids this action.
    Pol1Refused,
    /// `6A80`: incorrect parameters in the command data field.
    IncorrectData,
    /// `6A81`: function not supported.
    FunctionNotSupported,
    /// `6A82`: file or application not found.
    FileNotFound,
    /// `6A84`: not enough memory space.
    NotEnoughMemory,
    /// `6A86`: incorrect parameters P1-P2.
    IncorrectP1P2,
    /// `6A88`: referenced data or key not found.
    ReferencedDataNotFound,
    /// `6B00`: wrong parameters P1-P2.
    WrongP1P2,
    /// `6Cxx`: wrong Le; `xx` is the exact length available (`00` means 256).
    WrongLe(u8),
    /// `6D00`: instruction code not supported or invalid.
    InsNotSupported,
    /// `6E00`: class not supported.
    ClaNotSupported,
    /// `6F00`: no precise diagnosis.
    NoPreciseDiagnosis,
    /// Any other value.
    Other(u16),
}

impl StatusWord {
    /// Decodes SW1 SW2.
    pub fn from_bytes(sw1: u8, sw2: u8) -> Self {
        Self::from_u16(u16::from_be_bytes([sw1, sw2]))
    }

    /// Decodes a status word given as one big-endian number.
    pub fn from_u16(sw: u16) -> Self {
        let [sw1, sw2] = sw.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => Self::Success,
            (0x61, n) => Self::BytesAvailable(n),
            (0x9F, n) => Self::GsmBytesAvailable(n),
            (0x91, n) => Self::ProactiveCommandPending(n),
            (0x62, 0x83) => Self::SelectedFileInvalidated,
            (0x63, 0x00) => Self::AuthenticationFailed,
            (0x63, 0x10) => Self::MoreDataAvailable,
            (0x63, n) if n & 0xF0 == 0xC0 => Self::VerificationFailed(n & 0x0F),
            (0x64, 0x00) => Self::ExecutionError,
            (0x65, 0x81) => Self::MemoryFailure,
            (0x67, 0x00) => Self::WrongLength,
            (0x68, 0x81) => Self::LogicalChannelNotSupported,
            (0x68, 0x82) => Self::SecureMessagingNotSupported,
            (0x68, 0x83) => Self::LastCommandOfChainExpected,
            (0x68, 0x84) => Self::CommandChainingNotSupported,
            (0x69, 0x82) => Self::SecurityStatusNotSatisfied,
            (0x69, 0x83) => Self::AuthenticationMethodBlocked,
            (0x69, 0x84) => Self::ReferenceDataNotUsable,
            (0x69, 0x85) => Self::ConditionsOfUseNotSatisfied,
            (0x69, 0x86) => Self::CommandNotAllowed,
            (0x69, 0x87) => Self::SmDataObjectsMissing,
            (0x69, 0x88) => Self::IncorrectSmDataObjects,
            (0x69, 0x99) => Self::SelectionFailed,
            (0x69, 0xE1) => Self::Pol1Refused,
            (0x6A, 0x80) => Self::IncorrectData,
            (0x6A, 0x81) => Self::FunctionNotSupported,
            (0x6A, 0x82) => Self::FileNotFound,
            (0x6A, 0x84) => Self::NotEnoughMemory,
            (0x6A, 0x86) => Self::IncorrectP1P2,
            (0x6A, 0x88) => Self::ReferencedDataNotFound,
            (0x6B, 0x00) => Self::WrongP1P2,
            (0x6C, n) => Self::WrongLe(n),
            (0x6D, 0x00) => Self::InsNotSupported,
            (0x6E, 0x00) => Self::ClaNotSupported,
            (0x6F, 0x00) => Self::NoPreciseDiagnosis,
            _ => Self::Other(sw),
        }
    }

    /// The status word as one big-endian number.
    pub fn to_u16(self) -> u16 {
        match self {
            Self::Success => 0x9000,
            Self::BytesAvailable(n) => 0x6100 | u16::from(n),
            Self::GsmBytesAvailable(n) => 0x9F00 | u16::from(n),
            Self::ProactiveCommandPending(n) => 0x9100 | u16::from(n),
            Self::SelectedFileInvalidated => 0x6283,
            Self::AuthenticationFailed => 0x6300,
            Self::MoreDataAvailable => 0x6310,
            Self::VerificationFailed(n) => 0x63C0 | u16::from(n & 0x0F),
            Self::ExecutionError => 0x6400,
            Self::MemoryFailure => 0x6581,
            Self::WrongLength => 0x6700,
            Self::LogicalChannelNotSupported => 0x6881,
            Self::SecureMessagingNotSupported => 0x6882,
            Self::LastCommandOfChainExpected => 0x6883,
            Self::CommandChainingNotSupported => 0x6884,
            Self::SecurityStatusNotSatisfied => 0x6982,
            Self::AuthenticationMethodBlocked => 0x6983,
            Self::ReferenceDataNotUsable => 0x6984,
            Self::ConditionsOfUseNotSatisfied => 0x6985,
            Self::CommandNotAllowed => 0x6986,
            Self::SmDataObjectsMissing => 0x6987,
            Self::IncorrectSmDataObjects => 0x6988,
            Self::SelectionFailed => 0x6999,
            Self::Pol1Refused => 0x69E1,
            Self::IncorrectData => 0x6A80,
            Self::FunctionNotSupported => 0x6A81,
            Self::FileNotFound => 0x6A82,
            Self::NotEnoughMemory => 0x6A84,
            Self::IncorrectP1P2 => 0x6A86,
            Self::ReferencedDataNotFound => 0x6A88,
            Self::WrongP1P2 => 0x6B00,
            Self::WrongLe(n) => 0x6C00 | u16::from(n),
            Self::InsNotSupported => 0x6D00,
            Self::ClaNotSupported => 0x6E00,
            Self::NoPreciseDiagnosis => 0x6F00,
            Self::Other(sw) => sw,
        }
    }

    /// SW1 SW2 as two bytes.
    pub fn to_bytes(self) -> [u8; 2] {
        self.to_u16().to_be_bytes()
    }

    /// `9000`, or `91xx` (success with a pending proactive command).
    pub fn is_success(self) -> bool {
        matches!(self, Self::Success | Self::ProactiveCommandPending(_))
    }

    /// `62xx` or `63xx`: processing completed with a warning (GP treats these as non-errors for
    /// R-MAC purposes).
    pub fn is_warning(self) -> bool {
        matches!(self.to_bytes()[0], 0x62 | 0x63)
    }

    /// A human-readable meaning, from the ISO/IEC 7816-4, ETSI TS 102 221 and GP tables.
    pub fn meaning(self) -> String {
        let fixed = match self {
            Self::Success => "success",
            Self::BytesAvailable(n) => {
                return format!("{} bytes of response data available", len_or_256(n))
            }
            Self::GsmBytesAvailable(n) => {
                return format!(
                    "{} bytes of response data available (GSM/UICC)",
                    len_or_256(n)
                )
            }
            Self::ProactiveCommandPending(n) => {
                return format!("success, proactive command of {n} bytes pending")
            }
            Self::SelectedFileInvalidated => "selected file or application invalidated",
            Self::AuthenticationFailed => "authentication failed (cryptogram or MAC not verified)",
            Self::MoreDataAvailable => {
                "more data available (send the command again for the next part)"
            }
            Self::VerificationFailed(n) => return format!("verification failed, {n} retries left"),
            Self::ExecutionError => "execution error, non-volatile memory unchanged",
            Self::MemoryFailure => "memory failure",
            Self::WrongLength => "wrong length",
            Self::LogicalChannelNotSupported => "logical channel not supported",
            Self::SecureMessagingNotSupported => "secure messaging not supported",
            Self::LastCommandOfChainExpected => "last command of the chain expected",
            Self::CommandChainingNotSupported => "command chaining not supported",
            Self::SecurityStatusNotSatisfied => "security status not satisfied",
            Self::AuthenticationMethodBlocked => "authentication method blocked",
            Self::ReferenceDataNotUsable => "reference data not usable",
            Self::ConditionsOfUseNotSatisfied => "conditions of use not satisfied",
            Self::CommandNotAllowed => "command not allowed",
            Self::SmDataObjectsMissing => "expected secure messaging data objects missing",
            Self::IncorrectSmDataObjects => "incorrect secure messaging data objects",
            Self::SelectionFailed => "application selection failed",
            Self::Pol1Refused => "refused by the profile's policy rules (POL1)",
            Self::IncorrectData => "incorrect parameters in the data field",
            Self::FunctionNotSupported => "function not supported",
            Self::FileNotFound => "file or application not found",
            Self::NotEnoughMemory => "not enough memory space",
            Self::IncorrectP1P2 => "incorrect parameters P1-P2",
            Self::ReferencedDataNotFound => "referenced data or key not found",
            Self::WrongP1P2 => "wrong parameters P1-P2",
            Self::WrongLe(n) => return format!("wrong Le, {} bytes available", len_or_256(n)),
            Self::InsNotSupported => "instruction not supported",
            Self::ClaNotSupported => "class not supported",
            Self::NoPreciseDiagnosis => "no precise diagnosis",
            Self::Other(sw) => {
                return match sw >> 8 {
                    0x62 => "warning, non-volatile memory unchanged".to_owned(),
                    0x63 => "warning, non-volatile memory changed".to_owned(),
                    0x64 => "execution error, non-volatile memory unchanged".to_owned(),
                    0x65 => "execution error, non-volatile memory changed".to_owned(),
                    0x66 => "security-related issue".to_owned(),
                    0x68 => "functions in CLA not supported".to_owned(),
                    0x69 => "command not allowed".to_owned(),
                    0x6A => "wrong parameters".to_owned(),
                    _ => "unknown status".to_owned(),
                }
            }
        };
        fixed.to_owned()
    }
}

fn len_or_256(n: u8) -> usize {
    if n == 0 {
        256
    } else {
        usize::from(n)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.to_u16(), self.meaning())
    }
}

impl From<u16> for StatusWord {
    fn from(sw: u16) -> Self {
        Self::from_u16(sw)
    }
}

impl From<StatusWord> for u16 {
    fn from(sw: StatusWord) -> Self {
        sw.to_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for sw in 0..=u16::MAX {
            assert_eq!(StatusWord::from_u16(sw).to_u16(), sw, "{sw:04X}");
        }
    }

    #[test]
    fn named_values() {
        assert_eq!(StatusWord::from_u16(0x9000), StatusWord::Success);
        assert_eq!(
            StatusWord::from_u16(0x6982),
            StatusWord::SecurityStatusNotSatisfied
        );
        assert_eq!(StatusWord::from_u16(0x6C10), StatusWord::WrongLe(0x10));
        assert_eq!(
            StatusWord::from_u16(0x63C2),
            StatusWord::VerificationFailed(2)
        );
        assert_eq!(
            StatusWord::from_u16(0x6A86).to_string(),
            "6A86 (incorrect parameters P1-P2)"
        );
        assert!(StatusWord::from_u16(0x6310).is_warning());
        assert!(!StatusWord::from_u16(0x6A82).is_success());
    }
}
