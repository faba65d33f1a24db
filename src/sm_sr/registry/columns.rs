//! The registry's TEXT columns read back as values: a card's EID, an ISD-P's AID and state. A
//! stored text that does not read is [`RegistryError::Corrupt`], naming the card and the
//! value; the texts written are the values' own (`Eid` and `Aid` as upper-case hex,
//! [`IsdpState::as_str`]), so the schema does not change.

use super::{IsdpRecord, RegistryError};
use crate::sm_sr::eis::parse_eid;
use crate::sm_sr::isdp::IsdpState;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;

/// An `eid` column.
pub(super) fn eid(text: String) -> Result<Eid, RegistryError> {
    parse_eid(&text).map_err(|detail| RegistryError::Corrupt {
        eid: text,
        what: "EID",
        detail,
    })
}

/// An `aid` column of the card `eid`.
pub(super) fn aid(eid: &Eid, text: &str) -> Result<Aid, RegistryError> {
    text.parse().map_err(|e| RegistryError::Corrupt {
        eid: eid.to_string(),
        what: "ISD-P AID",
        detail: format!("{text:?}: {e}"),
    })
}

/// A row of the `isdp` table as the database gives it.
#[derive(Debug)]
pub(super) struct IsdpRow {
    aid: String,
    iccid: Option<String>,
    state: String,
    fallback: bool,
    pol2: String,
    memory: Option<i64>,
    pending: Option<String>,
    updated_at: String,
}

impl IsdpRow {
    /// The columns [`IsdpRow::read`] reads, in its order.
    pub(super) const COLUMNS: &'static str =
        "aid, iccid, state, fallback, pol2, memory, pending, updated_at";

    pub(super) fn read(r: &crate::db::Row) -> Result<Self, crate::db::DbError> {
        Ok(Self {
            aid: r.text(0)?,
            iccid: r.opt_text(1)?,
            state: r.text(2)?,
            fallback: r.int(3)? != 0,
            pol2: r.text(4)?,
            memory: r.opt_int(5)?,
            pending: r.opt_text(6)?,
            updated_at: r.text(7)?,
        })
    }

    /// The record, its AID and state read (the ISD-P of the card `eid`).
    pub(super) fn record(self, eid: &Eid) -> Result<IsdpRecord, RegistryError> {
        let state = self
            .state
            .parse::<IsdpState>()
            .map_err(|e| RegistryError::Corrupt {
                eid: eid.to_string(),
                what: "ISD-P state",
                detail: format!("ISD-P {}: {e}", self.aid),
            })?;
        Ok(IsdpRecord {
            aid: aid(eid, &self.aid)?,
            iccid: self.iccid,
            state,
            fallback: self.fallback,
            pol2: self.pol2,
            memory: self.memory.map(|m| u64::try_from(m).unwrap_or(0)),
            pending: self.pending,
            updated_at: self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EID: &str = "89001999000010000000000000000022";

    fn row(aid: &str, state: &str) -> IsdpRow {
        IsdpRow {
            aid: aid.into(),
            iccid: None,
            state: state.into(),
            fallback: false,
            pol2: "[]".into(),
            memory: Some(-1),
            pending: None,
            updated_at: String::new(),
        }
    }

    #[test]
    fn good_columns_read() {
        let eid = eid(EID.into()).unwrap();
        assert_eq!(eid.to_string(), EID);
        let r = row("a0000005591010ffffffff8900001000", "enabled")
            .record(&eid)
            .unwrap();
        assert_eq!(r.aid, Aid::isd_p(0x0010).unwrap());
        assert_eq!(r.state, IsdpState::Enabled);
        assert_eq!(r.memory, Some(0));
    }

    #[test]
    fn bad_columns_are_corrupt_and_named() {
        for (text, needle) in [("8900", "\"8900\""), (&"A".repeat(32), "decimal")] {
            let err = eid(text.to_owned()).unwrap_err();
            assert!(
                matches!(&err, RegistryError::Corrupt { what: "EID", eid, .. } if eid == text),
                "{err}"
            );
            assert!(err.to_string().contains(needle), "{err}");
        }
        let card = eid(EID.into()).unwrap();
        for (aid, state, what) in [
            ("A000", "enabled", "ISD-P AID"),
            ("not hex at all!", "enabled", "ISD-P AID"),
            ("A0000005591010FFFFFFFF8900001000", "on", "ISD-P state"),
        ] {
            let err = row(aid, state).record(&card).unwrap_err();
            assert!(
                matches!(&err, RegistryError::Corrupt { what: w, eid, .. } if *w == what && eid == EID),
                "{err}"
            );
            let text = err.to_string();
            assert!(text.contains(what) && text.contains(EID), "{text}");
        }
    }
}
