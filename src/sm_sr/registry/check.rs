//! `smsr doctor`'s look at a registry it can open: every table and column the program reads,
//! then every row read the way the program reads it (EIDs, EIS documents, ISD-P AIDs and
//! states, counters), each fault named with its row and what to do.

use super::columns::{self, IsdpRow};
use super::{Registry, RegistryError};
use crate::db::{Dialect, Sql};
use crate::sm_sr::eis::Eis;

/// The tables and columns of the current schema.
const TABLES: &[(&str, &[&str])] = &[
    ("eis", &["eid", "document", "registered_at", "last_audit"]),
    (
        "isdp",
        &[
            "eid",
            "aid",
            "iccid",
            "state",
            "fallback",
            "pol2",
            "memory",
            "pending",
            "updated_at",
        ],
    ),
    ("scp80_counter", &["eid", "kvn", "counter"]),
    (
        "history",
        &["id", "eid", "at", "operation", "outcome", "detail"],
    ),
    (
        "notification",
        &["eid", "seq", "kind", "aid", "received_at", "confirmed_at"],
    ),
    ("euicc_lease", &["eid", "owner", "lease_until", "taken_at"]),
];

/// At most this many faults are listed (the count says how many there are).
const LISTED: usize = 20;

impl Registry {
    /// The faults of a registry at the current schema version: missing tables or columns, then
    /// rows the program cannot read. Empty when it is sound.
    pub(super) fn faults(db: &impl Sql) -> Result<Vec<String>, RegistryError> {
        let mut faults = Vec::new();
        for (table, wanted) in TABLES {
            let sql = match db.dialect() {
                Dialect::Sqlite => "SELECT name FROM pragma_table_info(?1)",
                Dialect::Postgres => {
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = ?1"
                }
            };
            let have: Vec<String> = db
                .rows(sql, crate::db::vals![*table])?
                .iter()
                .map(|r| r.text(0))
                .collect::<Result<_, _>>()?;
            if have.is_empty() {
                faults.push(format!("table {table} is missing"));
                continue;
            }
            for column in *wanted {
                if !have.iter().any(|h| h == column) {
                    faults.push(format!("table {table} has no column {column}"));
                }
            }
        }
        if !faults.is_empty() {
            // Rows are read only from tables of the right shape.
            return Ok(faults);
        }
        for r in db.rows("SELECT eid, document FROM eis ORDER BY eid", &[])? {
            let text = r.text(0).unwrap_or_default();
            let eid = match columns::eid(text.clone()) {
                Ok(e) => e,
                Err(e) => {
                    faults.push(format!("eis row {text:?}: {e}"));
                    continue;
                }
            };
            match r
                .text(1)
                .map_err(|e| e.to_string())
                .and_then(|d| Eis::from_json(&d).map_err(|e| e.to_string()))
            {
                Ok(eis) if eis.eid() != eid => faults.push(format!(
                    "eis row {eid}: its document is the EIS of {}",
                    eis.eid
                )),
                Ok(_) => {}
                Err(e) => faults.push(format!("eis row {eid}: the EIS document: {e}")),
            }
        }
        let sql = format!(
            "SELECT eid, {} FROM isdp ORDER BY eid, aid",
            IsdpRow::COLUMNS
        );
        for r in db.rows(&sql, &[])? {
            let eid_text = r.text(0).unwrap_or_default();
            let shifted = r.skip(1);
            let read = columns::eid(eid_text.clone()).and_then(|eid| {
                IsdpRow::read(&shifted)
                    .map_err(RegistryError::from)
                    .and_then(|row| row.record(&eid))
            });
            if let Err(e) = read {
                faults.push(format!("isdp row of {eid_text:?}: {e}"));
            }
        }
        for r in db.rows(
            "SELECT eid, kvn, counter FROM scp80_counter ORDER BY eid, kvn",
            &[],
        )? {
            let eid = r.text(0).unwrap_or_default();
            if let Err(e) = r.int(1).and_then(|_| r.int(2)) {
                faults.push(format!("scp80_counter row of {eid:?}: not a number ({e})"));
            } else if r.int(2).is_ok_and(|c| c < 0) {
                faults.push(format!("scp80_counter row of {eid:?}: a negative counter"));
            }
        }
        if faults.len() > LISTED {
            let more = faults.len() - LISTED;
            faults.truncate(LISTED);
            faults.push(format!("… and {more} more"));
        }
        Ok(faults)
    }
}
