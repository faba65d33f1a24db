//! Life-cycle state coding (GPCS v2.3.1 §11.1.1, Tables 11-3 to 11-6), used by GET STATUS
//! (`9F70`) and SET STATUS (P2), plus the ISD-P states of SGP.02 (`1F` DISABLED, `3F` ENABLED,
//! as used by the njiwa SM-SR; SGP.02 ISD-Ps are Security Domains, so the GP codes apply too).

/// Executable Load File: LOADED.
pub const LOADED: u8 = 0x01;
/// Application or Security Domain: INSTALLED.
pub const INSTALLED: u8 = 0x03;
/// Application or Security Domain: SELECTABLE.
pub const SELECTABLE: u8 = 0x07;
/// Security Domain: PERSONALIZED.
pub const PERSONALIZED: u8 = 0x0F;
/// Bit b8: an Application or Security Domain is LOCKED (the low bits keep the prior state).
pub const LOCKED_BIT: u8 = 0x80;
/// Card (ISD): OP_READY.
pub const OP_READY: u8 = 0x01;
/// Card (ISD): INITIALIZED.
pub const INITIALIZED: u8 = 0x07;
/// Card (ISD): SECURED.
pub const SECURED: u8 = 0x0F;
/// Card (ISD): CARD_LOCKED.
pub const CARD_LOCKED: u8 = 0x7F;
/// Card (ISD): TERMINATED.
pub const TERMINATED: u8 = 0xFF;
/// SGP.02 ISD-P: DISABLED.
pub const ISD_P_DISABLED: u8 = 0x1F;
/// SGP.02 ISD-P: ENABLED.
pub const ISD_P_ENABLED: u8 = 0x3F;

/// What kind of registry entry a life-cycle byte belongs to; the same byte means different
/// things for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// The Issuer Security Domain, which carries the card life cycle (Table 11-6).
    IssuerSecurityDomain,
    /// An Application (Table 11-4).
    Application,
    /// A Supplementary Security Domain (Table 11-5).
    SecurityDomain,
    /// An SGP.02 ISD-P: a Security Domain with the profile states DISABLED and ENABLED.
    IsdP,
    /// An Executable Load File (Table 11-3).
    LoadFile,
}

/// The spec name of life-cycle state `state` for `kind`, or `None` for a coding the tables do
/// not define.
pub fn life_cycle_name(kind: EntityKind, state: u8) -> Option<&'static str> {
    match kind {
        EntityKind::IssuerSecurityDomain => match state {
            OP_READY => Some("OP_READY"),
            INITIALIZED => Some("INITIALIZED"),
            SECURED => Some("SECURED"),
            CARD_LOCKED => Some("CARD_LOCKED"),
            TERMINATED => Some("TERMINATED"),
            _ => None,
        },
        EntityKind::LoadFile => (state == LOADED).then_some("LOADED"),
        EntityKind::Application => match state {
            INSTALLED => Some("INSTALLED"),
            SELECTABLE => Some("SELECTABLE"),
            s if s & 0x80 != 0 && s & 0x03 == 0x03 => Some("LOCKED"),
            s if s & 0x87 == 0x07 => Some("APPLICATION_SPECIFIC"),
            _ => None,
        },
        EntityKind::SecurityDomain => sd_name(state),
        EntityKind::IsdP => match state {
            ISD_P_DISABLED => Some("DISABLED"),
            ISD_P_ENABLED => Some("ENABLED"),
            s => sd_name(s),
        },
    }
}

fn sd_name(state: u8) -> Option<&'static str> {
    match state {
        INSTALLED => Some("INSTALLED"),
        SELECTABLE => Some("SELECTABLE"),
        PERSONALIZED => Some("PERSONALIZED"),
        s if s & 0xF3 == 0x83 => Some("LOCKED"),
        _ => None,
    }
}

/// Whether `state` is LOCKED for an Application, Security Domain or ISD-P (b8 set, b2 b1 = 11);
/// for the ISD, whether the card is CARD_LOCKED.
pub fn is_locked(kind: EntityKind, state: u8) -> bool {
    match kind {
        EntityKind::IssuerSecurityDomain => state == CARD_LOCKED,
        EntityKind::LoadFile => false,
        EntityKind::Application | EntityKind::SecurityDomain | EntityKind::IsdP => {
            state & 0x83 == 0x83
        }
    }
}

/// A life-cycle byte with its name for display, e.g. `07 (SELECTABLE)` or `55 (undefined)`.
pub fn describe(kind: EntityKind, state: u8) -> String {
    format!(
        "{state:02X} ({})",
        life_cycle_name(kind, state).unwrap_or("undefined")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_11_3_to_11_6() {
        use EntityKind::*;
        let cases = [
            (LoadFile, 0x01, Some("LOADED")),
            (LoadFile, 0x03, None),
            (Application, 0x03, Some("INSTALLED")),
            (Application, 0x07, Some("SELECTABLE")),
            (Application, 0x0F, Some("APPLICATION_SPECIFIC")),
            (Application, 0x7F, Some("APPLICATION_SPECIFIC")),
            (Application, 0x83, Some("LOCKED")),
            (Application, 0x8F, Some("LOCKED")),
            (Application, 0x05, None),
            (SecurityDomain, 0x03, Some("INSTALLED")),
            (SecurityDomain, 0x07, Some("SELECTABLE")),
            (SecurityDomain, 0x0F, Some("PERSONALIZED")),
            (SecurityDomain, 0x83, Some("LOCKED")),
            (SecurityDomain, 0x87, Some("LOCKED")),
            (SecurityDomain, 0x8F, Some("LOCKED")),
            (SecurityDomain, 0x1F, None),
            (SecurityDomain, 0x93, None),
            (IssuerSecurityDomain, 0x01, Some("OP_READY")),
            (IssuerSecurityDomain, 0x07, Some("INITIALIZED")),
            (IssuerSecurityDomain, 0x0F, Some("SECURED")),
            (IssuerSecurityDomain, 0x7F, Some("CARD_LOCKED")),
            (IssuerSecurityDomain, 0xFF, Some("TERMINATED")),
            (IssuerSecurityDomain, 0x03, None),
            (IsdP, 0x07, Some("SELECTABLE")),
            (IsdP, 0x0F, Some("PERSONALIZED")),
            (IsdP, 0x1F, Some("DISABLED")),
            (IsdP, 0x3F, Some("ENABLED")),
            (IsdP, 0x8F, Some("LOCKED")),
        ];
        for (kind, state, name) in cases {
            assert_eq!(life_cycle_name(kind, state), name, "{kind:?} {state:02X}");
        }
        assert_eq!(describe(IsdP, 0x3F), "3F (ENABLED)");
        assert_eq!(describe(LoadFile, 0x55), "55 (undefined)");
        assert!(is_locked(Application, 0x87));
        assert!(!is_locked(Application, 0x07));
        assert!(is_locked(IssuerSecurityDomain, 0x7F));
        assert!(!is_locked(IssuerSecurityDomain, 0xFF));
        assert!(!is_locked(LoadFile, 0x83));
    }
}
