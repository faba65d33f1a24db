//! SET STATUS (GPCS v2.3.1 §11.10): life-cycle transitions of the card, an application or a
//! Security Domain.
//!
//! `80 F0 P1 P2 [Lc AID]`, no Le, no response data. P1: `80` the ISD (card life cycle; data
//! ignored), `40` an application or Supplementary Security Domain, `60` a Security Domain and
//! its associated applications. P2 is the target state coded as in §11.1.1; for another
//! entity only b8 counts (1 = lock, 0 = back to the state before locking).

use super::codec::expect_ins;
use super::{Aid, GpError, CLA_GP};
use crate::apdu::CommandApdu;

/// INS of SET STATUS.
pub const INS_SET_STATUS: u8 = 0xF0;

/// Whose life cycle changes (P1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusType {
    /// `80`: the Issuer Security Domain, i.e. the card.
    IssuerSecurityDomain,
    /// `40`: an application or Supplementary Security Domain.
    Application,
    /// `60`: a Security Domain and its associated applications.
    SecurityDomainAndApplications,
}

impl StatusType {
    pub fn p1(self) -> u8 {
        match self {
            Self::IssuerSecurityDomain => 0x80,
            Self::Application => 0x40,
            Self::SecurityDomainAndApplications => 0x60,
        }
    }

    /// Decodes P1 (b5..b1 are RFU and ignored).
    pub fn from_p1(p1: u8) -> Option<Self> {
        match p1 & 0xE0 {
            0x80 => Some(Self::IssuerSecurityDomain),
            0x40 => Some(Self::Application),
            0x60 => Some(Self::SecurityDomainAndApplications),
            _ => None,
        }
    }
}

/// A SET STATUS command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetStatus {
    pub status_type: StatusType,
    /// P2: the new life-cycle state.
    pub state: u8,
    /// The target; `None` only for the ISD (whose data field the card ignores).
    pub aid: Option<Aid>,
}

impl SetStatus {
    /// Moves the card to `state` (e.g. [`super::life_cycle::SECURED`]).
    pub fn card(state: u8) -> Self {
        Self {
            status_type: StatusType::IssuerSecurityDomain,
            state,
            aid: None,
        }
    }

    /// Sets the life cycle of the application or Security Domain `aid`.
    pub fn application(aid: Aid, state: u8) -> Self {
        Self {
            status_type: StatusType::Application,
            state,
            aid: Some(aid),
        }
    }

    /// Locks `aid` (P2 b8 = 1).
    pub fn lock(aid: Aid) -> Self {
        Self::application(aid, 0x80)
    }

    /// Unlocks `aid` back to its previous state (P2 b8 = 0).
    pub fn unlock(aid: Aid) -> Self {
        Self::application(aid, 0x00)
    }

    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        let mut apdu = CommandApdu::new(CLA_GP, INS_SET_STATUS, self.status_type.p1(), self.state);
        match (&self.aid, self.status_type) {
            (Some(aid), _) => apdu = apdu.with_data(aid.as_bytes()),
            (None, StatusType::IssuerSecurityDomain) => {}
            (None, _) => return Err(GpError::invalid(0, None, "SET STATUS needs the target AID")),
        }
        Ok(apdu)
    }

    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_SET_STATUS)?;
        let status_type = StatusType::from_p1(apdu.p1).ok_or(GpError::params(
            "SET STATUS",
            apdu,
            "P1 is not 80, 40 or 60",
        ))?;
        let aid = match status_type {
            // The card ignores the data for the ISD: keep it only if it is an AID.
            StatusType::IssuerSecurityDomain => Aid::new(&apdu.data).ok(),
            _ => Some(Aid::new(&apdu.data)?),
        };
        Ok(Self {
            status_type,
            state: apdu.p2,
            aid,
        })
    }

    /// Whether this asks to lock (P2 b8), for another entity than the one receiving it.
    pub fn is_lock(&self) -> bool {
        self.state & 0x80 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::life_cycle;
    use crate::gp::testdata::h;

    #[test]
    fn round_trips() {
        let isd_p = Aid::isd_p(0x11).unwrap();
        let cases = [
            (SetStatus::card(life_cycle::SECURED), "80F0800F"),
            (SetStatus::card(life_cycle::CARD_LOCKED), "80F0807F"),
            (
                SetStatus::lock(isd_p.clone()),
                "80F0408010A0000005591010FFFFFFFF8900001100",
            ),
            (
                SetStatus::unlock(isd_p.clone()),
                "80F0400010A0000005591010FFFFFFFF8900001100",
            ),
            (
                SetStatus {
                    status_type: StatusType::SecurityDomainAndApplications,
                    state: 0x80,
                    aid: Some(Aid::isd_r()),
                },
                "80F0608010A0000005591010FFFFFFFF8900000100",
            ),
            (
                SetStatus::application(Aid::gp_isd(), life_cycle::PERSONALIZED),
                "80F0400F08A000000151000000",
            ),
        ];
        for (cmd, bytes) in cases {
            let apdu = cmd.to_apdu().unwrap();
            assert_eq!(apdu.to_bytes().unwrap(), h(bytes));
            assert_eq!(SetStatus::from_apdu(&apdu).unwrap(), cmd);
        }
        assert!(SetStatus::lock(isd_p).is_lock());
        // ISD: whatever data comes is ignored unless it is an AID.
        let junk = CommandApdu::parse(&h("80F0800F0101")).unwrap();
        assert_eq!(SetStatus::from_apdu(&junk).unwrap(), SetStatus::card(0x0F));
    }

    #[test]
    fn strictness() {
        let no_aid = SetStatus {
            aid: None,
            ..SetStatus::lock(Aid::gp_isd())
        };
        assert!(no_aid.to_apdu().is_err());
        assert!(SetStatus::from_apdu(&CommandApdu::parse(&h("80F04080")).unwrap()).is_err());
        assert!(
            SetStatus::from_apdu(&CommandApdu::parse(&h("80F0208005A000000151")).unwrap()).is_err()
        );
        assert_eq!(
            SetStatus::from_apdu(&CommandApdu::parse(&h("80F0408003A00000")).unwrap()),
            Err(GpError::AidLength(3))
        );
    }
}
