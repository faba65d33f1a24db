//! Several writers on one registry file: processes (`smsr` commands run side by side, the
//! services) and threads, each with its own connection.
//!
//! - Every connection waits up to [`super::BUSY_TIMEOUT`] for a lock another one holds, instead of
//!   failing at once with "database is locked".
//! - Every write transaction is `BEGIN IMMEDIATE` ([`crate::db::Db::tx`]): it takes the write lock
//!   before its first read. A deferred transaction that reads and then writes fails with
//!   `SQLITE_BUSY` whatever the timeout, when another connection committed after its read (in
//!   WAL mode its snapshot is then stale, and SQLite does not wait for that).
//! - A value read to decide a write is read in the same transaction as the write: the next
//!   free ISD-P AID is allocated and its intent recorded at once
//!   ([`Registry::begin_create_next`]), so two processes never hand out the same AID.

use super::{columns, log, now, Registry, RegistryError};
use crate::db::{vals, Sql};
use crate::sm_sr::isdp::IsdpState;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;

/// The first ISD-P AID (SGP.02 Annex H layout `A0000005591010FFFFFFFF89 00 nnnn 00`, from
/// `nnnn` = `0010`) that is not in `taken`.
pub(super) fn first_free_aid(eid: &Eid, taken: &[Aid]) -> Result<Aid, RegistryError> {
    let taken: std::collections::HashSet<&Aid> = taken.iter().collect();
    (smsr_proto::gp::aid::FIRST_ISD_P_NUMBER..=0xFFFF)
        .filter_map(|n| Aid::isd_p(n).ok())
        .find(|aid| !taken.contains(aid))
        .ok_or(RegistryError::NoFreeAid(*eid))
}

impl Registry {
    /// [`Registry::next_isdp_aid`] and [`Registry::begin_create`] in one immediate
    /// transaction: allocates the first free ISD-P AID (skipping the registry's and `on_card`)
    /// and records the intent to create it; returns the AID. Another process allocating at the
    /// same time waits, and then gets the next AID.
    pub fn begin_create_next(
        &mut self,
        eid: &Eid,
        on_card: &[Aid],
        iccid: Option<&str>,
        memory: Option<u64>,
    ) -> Result<Aid, RegistryError> {
        let key = eid.to_string();
        let tx = self.db.tx()?;
        // PostgreSQL: another instance allocating for this card waits here.
        tx.lock_key(&key)?;
        if !super::eis_exists(&tx, &key)? {
            return Err(RegistryError::UnknownEid(*eid));
        }
        let mut taken: Vec<Aid> = tx
            .rows("SELECT aid FROM isdp WHERE eid = ?1", vals![&key])?
            .iter()
            .map(|r| columns::aid(eid, &r.text(0)?))
            .collect::<Result<_, _>>()?;
        taken.extend_from_slice(on_card);
        let aid = first_free_aid(eid, &taken)?;
        let aid_text = aid.to_string();
        tx.exec(
            "INSERT INTO isdp (eid, aid, iccid, state, memory, pending, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'create', ?6)",
            vals![
                &key,
                &aid_text,
                iccid,
                IsdpState::Creating.as_str(),
                memory,
                now()
            ],
        )?;
        log(&tx, &key, "isdp create", "pending", &aid_text)?;
        tx.commit()?;
        Ok(aid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sm_sr::eis::Eis;
    use std::time::Duration;

    const EID: &str = "89001999000010000000000000000022";

    fn eid() -> Eid {
        EID.parse().unwrap()
    }

    fn aid(text: &str) -> Aid {
        text.parse().unwrap()
    }

    fn registry() -> Registry {
        let mut r = Registry::in_memory().unwrap();
        let eis = Eis::from_json(&format!(
            r#"{{"version":1,"eid":"{EID}","isd_r":{{"aid":"A0000005591010FFFFFFFF8900000100"}}}}"#
        ))
        .unwrap();
        r.register(&eis, false).unwrap();
        r
    }

    #[test]
    fn begin_create_next_allocates_and_records_at_once() {
        let mut r = registry();
        let first = r
            .begin_create_next(&eid(), &[], Some("8988"), Some(4096))
            .unwrap();
        assert_eq!(first, aid("A0000005591010FFFFFFFF8900001000"));
        let rec = r.isdp(&eid(), &first).unwrap();
        assert_eq!(
            (rec.state, rec.pending.as_deref(), rec.memory),
            (IsdpState::Creating, Some("create"), Some(4096))
        );
        assert_eq!(rec.iccid.as_deref(), Some("8988"));
        // The next one skips the registry's and the card's.
        let on_card = [aid("a0000005591010ffffffff8900001100")];
        let second = r.begin_create_next(&eid(), &on_card, None, None).unwrap();
        assert_eq!(second, aid("A0000005591010FFFFFFFF8900001200"));
        assert_eq!(
            r.next_isdp_aid(&eid(), &on_card).unwrap(),
            aid("A0000005591010FFFFFFFF8900001300")
        );
        let history = r.history(&eid()).unwrap();
        assert_eq!(
            history
                .iter()
                .filter(|h| h.operation == "isdp create" && h.outcome == "pending")
                .count(),
            2
        );
        assert!(matches!(
            r.begin_create_next(
                &"89001999000010000000000000000119".parse().unwrap(),
                &[],
                None,
                None
            ),
            Err(RegistryError::UnknownEid(_))
        ));
    }

    #[test]
    fn no_free_aid_is_an_error() {
        let taken: Vec<Aid> = (0x0010u16..=0xFFFF)
            .map(|n| aid(&format!("A0000005591010FFFFFFFF8900{n:04X}00")))
            .collect();
        assert!(matches!(
            first_free_aid(&eid(), &taken),
            Err(RegistryError::NoFreeAid(_))
        ));
        assert_eq!(
            first_free_aid(&eid(), &taken[1..]).unwrap(),
            aid("A0000005591010FFFFFFFF8900001000")
        );
    }

    #[test]
    fn a_second_writer_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smsr.db");
        let mut first = Registry::open(&path).unwrap();
        let tx = first.db.tx().unwrap();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                let mut second = Registry::open(&path).unwrap();
                let tx = second.db.tx().unwrap();
                tx.commit().unwrap();
                started.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        tx.commit().unwrap();
        let waited = waiter.join().unwrap();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
    }
}
