//! The SM-SR registry: one SQLite file (default `$XDG_DATA_HOME/smsr/smsr.db`, `--db` /
//! `SMSR_DB` to choose) or one PostgreSQL database (`--db postgres://user@host:port/db`),
//! holding the registered EIS records, the ISD-Ps and profiles on each card, the SCP80
//! counters, the history of operations, the notifications received and the per-card leases
//! of SM-SR instances sharing the database (`registry/lease.rs`).
//!
//! Crash safety: every change commits in its own transaction, in an order that lets
//! `smsr audit` reconcile the registry with the card after a crash at any point:
//! - an operation on the card is first recorded as *pending* on its ISD-P row (intent), then
//!   sent, then the row is updated and the pending mark cleared. A crash in between leaves the
//!   pending mark, and the audit settles it from what the card reports (GET STATUS);
//! - an SCP80 counter is incremented and committed *before* the packet using it is sent
//!   (`UPDATE … RETURNING`, atomic on both databases): a crash wastes a value, never reuses
//!   one (the card refuses a counter that is not higher), and two processes never get the
//!   same value.
//!
//! Schema versions are kept in `PRAGMA user_version` (SQLite) or the `registry_schema` table
//! (PostgreSQL); [`MIGRATIONS`] brings any older database up to date, the first version
//! included. Both databases get the same tables and columns (64-bit integers, text
//! timestamps).
//!
//! Several processes may write at once: on SQLite connections wait for each other's locks and
//! write transactions take the write lock first (`registry/write.rs`); on PostgreSQL a write
//! that reads to decide takes a transaction lock on the card's EID first.

use crate::db::{self, vals, Db, DbError, Dialect, Sql, Target};
use crate::sm_sr::eis::{parse_eid, Eis};
use crate::sm_sr::isdp::IsdpState;
use rusqlite::Connection;
use serde::Serialize;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;
use std::path::{Path, PathBuf};
use thiserror::Error;

mod check;
mod columns;
mod lease;
mod schema;
mod write;

use schema::MIGRATIONS;

pub use crate::db::sqlite::BUSY_TIMEOUT;
pub use lease::Lease;

/// Why the registry cannot do what was asked.
#[derive(Debug, Error)]
pub enum RegistryError {
    #[error(
        "SM-SR registry {}: {detail}; check the path or URL given with --db (or SMSR_DB), its \
         permissions, and that the server is up",
        path.display()
    )]
    Open { path: PathBuf, detail: String },
    #[error(
        "SM-SR registry {} has schema version {found}, newer than this smsr knows ({known}): \
         use a newer smsr",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("SM-SR registry: {}", .0.explained("SM-SR registry"))]
    Sql(#[from] DbError),
    #[error("no eUICC with EID {0} is registered: register its EIS with `smsr eis register FILE`")]
    UnknownEid(Eid),
    #[error(
        "an eUICC with EID {0} is registered already: `smsr eis register --replace FILE` \
         replaces its EIS (keys and counters included)"
    )]
    AlreadyRegistered(String),
    #[error("EID {eid} has no ISD-P {aid} in the registry (`smsr eis show {eid}` lists them)")]
    UnknownIsdp { eid: Eid, aid: Aid },
    #[error("EID {eid} has no profile with ICCID {iccid} in the registry")]
    UnknownIccid { eid: Eid, iccid: String },
    /// A stored value that does not read back (`what`: the EIS, an ISD-P's AID or state...).
    #[error("the {what} stored for {eid} is unreadable: {detail}")]
    Corrupt {
        eid: String,
        what: &'static str,
        detail: String,
    },
    #[error("all ISD-P AIDs of EID {0} are in use (…1000 to …FFFF00)")]
    NoFreeAid(Eid),
}

impl From<rusqlite::Error> for RegistryError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e.into())
    }
}

/// An ISD-P as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IsdpRecord {
    /// Serialized as its upper-case hex digits.
    pub aid: Aid,
    pub iccid: Option<String>,
    /// The SGP.02 life cycle, or `creating` before the card confirmed the CreateISDP.
    pub state: IsdpState,
    pub fallback: bool,
    /// POL2 rules (JSON array).
    pub pol2: String,
    pub memory: Option<u64>,
    /// An operation sent to the card whose outcome is not yet recorded.
    pub pending: Option<String>,
    pub updated_at: String,
}

/// One line of the operation history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub operation: String,
    pub outcome: String,
    pub detail: String,
}

/// A registered card, for listings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EisSummary {
    pub eid: Eid,
    pub registered_at: String,
    pub last_audit: Option<String>,
    pub isdps: u64,
}

/// The registry.
#[derive(Debug)]
pub struct Registry {
    db: Db,
    path: PathBuf,
}

/// What [`Registry::inspect`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryHealth {
    /// The file's schema version.
    pub schema: i64,
    /// The schema version this program writes.
    pub known: usize,
    /// Registered cards.
    pub cards: Option<usize>,
    /// What is wrong with its tables or rows (at the current schema version; empty when
    /// sound).
    pub faults: Vec<String>,
}

/// `$XDG_DATA_HOME/smsr/smsr.db`, else `~/.local/share/smsr/smsr.db`.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("smsr/smsr.db"))
}

fn now() -> String {
    crate::trace::now_rfc3339()
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Registries kept open between uses ([`Registry::pool`]).
pub type RegistryPool = db::pool::Pool<Registry, RegistryError>;
/// A registry taken from a [`RegistryPool`], given back when dropped.
pub type PooledRegistry = db::pool::Pooled<Registry, RegistryError>;

impl Registry {
    /// Registries at `path` kept open between uses (the SM-SR service), at most `max_open`
    /// at once: opened and migrated once per connection, not per request.
    pub fn pool(path: &Path, max_open: usize) -> std::sync::Arc<RegistryPool> {
        let (open_path, full_path) = (path.to_owned(), path.to_owned());
        db::pool::Pool::new(
            max_open,
            BUSY_TIMEOUT,
            |r: &Registry| r.db.reusable(),
            move || Registry::open(&open_path),
            move |wait| RegistryError::Open {
                path: PathBuf::from(db::redacted(&full_path.to_string_lossy())),
                detail: format!(
                    "all {max_open} connections of this process stayed busy for {wait:?}: \
                     the registry is too slow for the load"
                ),
            },
        )
    }

    /// Opens (creating when absent, mode 0600) and migrates the registry at `path`: a SQLite
    /// file, or a PostgreSQL database when `path` is a `postgres://` URL.
    pub fn open(path: &Path) -> Result<Self, RegistryError> {
        let db = match Target::of(path) {
            Target::File(file) => Db::Sqlite(open_sqlite(&file)?),
            Target::Postgres(url) => Db::postgres(&url).map_err(|e| RegistryError::Open {
                path: PathBuf::from(db::redacted(&url)),
                detail: e.to_string(),
            })?,
        };
        let mut registry = Self {
            db,
            path: path.to_owned(),
        };
        registry.migrate()?;
        Ok(registry)
    }

    /// Looks at a registry without changing it (no migration): its schema version, the
    /// version this program writes, and the number of registered cards (`None` when the
    /// schema is older than the table of cards).
    pub fn inspect(path: &Path) -> Result<RegistryHealth, RegistryError> {
        let db = match Target::of(path) {
            Target::File(file) => {
                let conn =
                    Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                db::sqlite::configure(&conn)?;
                let verdict =
                    conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))?;
                if verdict != "ok" {
                    return Err(RegistryError::Open {
                        path: file.clone(),
                        detail: format!(
                            "SQLite's integrity check failed ({verdict}): the file is damaged; \
                             restore a backup, or move it away and register the cards again"
                        ),
                    });
                }
                Db::Sqlite(conn)
            }
            Target::Postgres(url) => Db::postgres(&url)?,
        };
        let schema = version(&db)?;
        // A dropped table is one of the faults below, not an error here.
        let cards = if schema >= 1 {
            db.row("SELECT COUNT(*) FROM eis", &[])
                .ok()
                .flatten()
                .and_then(|r| r.int(0).ok())
                .and_then(|n| usize::try_from(n).ok())
        } else {
            None
        };
        let faults = if usize::try_from(schema).ok() == Some(MIGRATIONS.len()) {
            Self::faults(&db)?
        } else {
            Vec::new()
        };
        Ok(RegistryHealth {
            schema,
            known: MIGRATIONS.len(),
            cards,
            faults,
        })
    }

    /// An in-memory registry (tests).
    pub fn in_memory() -> Result<Self, RegistryError> {
        let conn = Connection::open_in_memory()?;
        db::sqlite::configure(&conn)?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        let mut registry = Self {
            db: Db::Sqlite(conn),
            path: PathBuf::from(":memory:"),
        };
        registry.migrate()?;
        Ok(registry)
    }

    /// The file, or the URL.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which database holds it.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    fn migrate(&mut self) -> Result<(), RegistryError> {
        let known = MIGRATIONS.len();
        let too_new = |found: i64, path: &Path| RegistryError::TooNew {
            path: path.to_owned(),
            found,
            known,
        };
        if self.db.dialect() == Dialect::Postgres {
            // Up to date (every open but the first): no transaction, no lock.
            let current = version(&self.db)?;
            if usize::try_from(current).unwrap_or(usize::MAX) > known {
                return Err(too_new(current, &self.path));
            }
            if usize::try_from(current).ok() == Some(known) {
                return Ok(());
            }
            let tx = self.db.tx()?;
            // Instances starting together migrate one after the other.
            tx.lock_key("smsr registry schema")?;
            tx.batch("CREATE TABLE IF NOT EXISTS registry_schema (version BIGINT NOT NULL)")?;
            let current = match tx.row("SELECT version FROM registry_schema", &[])? {
                Some(r) => r.int(0)?,
                None => {
                    tx.exec("INSERT INTO registry_schema (version) VALUES (0)", &[])?;
                    0
                }
            };
            let from = usize::try_from(current).unwrap_or(usize::MAX);
            if from > known {
                return Err(too_new(current, &self.path));
            }
            for (_, sql) in MIGRATIONS.iter().skip(from) {
                tx.batch(sql)?;
            }
            tx.exec(
                "UPDATE registry_schema SET version = ?1",
                vals![i64::try_from(known).unwrap_or(i64::MAX)],
            )?;
            tx.commit()?;
            return Ok(());
        }
        let version = version(&self.db)?;
        let from = usize::try_from(version).unwrap_or(usize::MAX);
        if from > known {
            return Err(too_new(version, &self.path));
        }
        for (i, (sql, _)) in MIGRATIONS.iter().enumerate().skip(from) {
            let tx = self.db.tx()?;
            // Another process may have taken the file past this step since it was read.
            let current = tx
                .row("PRAGMA user_version", &[])?
                .map(|r| r.int(0))
                .transpose()?
                .unwrap_or(0);
            if usize::try_from(current).unwrap_or(usize::MAX) > i {
                continue;
            }
            tx.batch(sql)?;
            tx.batch(&format!("PRAGMA user_version = {}", i + 1))?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, RegistryError> {
        version(&self.db)
    }

    /// Registers an EIS (ES1.RegisterEIS). With `replace`, an existing record of the same EID
    /// is replaced (its ISD-Ps and history kept; SCP80 counters raised to the EIS's when
    /// higher).
    pub fn register(&mut self, eis: &Eis, replace: bool) -> Result<(), RegistryError> {
        // The 32 digits as every lookup writes them (an EIS from `Eis::from_json` has them).
        let eid = parse_eid(&eis.eid).map_or_else(|_| eis.eid.clone(), |e| e.to_string());
        let tx = self.db.tx()?;
        tx.lock_key(&eid)?;
        let exists = eis_exists(&tx, &eid)?;
        if exists && !replace {
            return Err(RegistryError::AlreadyRegistered(eid));
        }
        let document = eis.to_json();
        if exists {
            tx.exec(
                "UPDATE eis SET document = ?2 WHERE eid = ?1",
                vals![&eid, document],
            )?;
        } else {
            tx.exec(
                "INSERT INTO eis (eid, document, registered_at) VALUES (?1, ?2, ?3)",
                vals![&eid, document, now()],
            )?;
        }
        let higher = match tx.dialect() {
            Dialect::Sqlite => "MAX(scp80_counter.counter, excluded.counter)",
            Dialect::Postgres => "GREATEST(scp80_counter.counter, excluded.counter)",
        };
        for k in &eis.isd_r.scp80 {
            tx.exec(
                &format!(
                    "INSERT INTO scp80_counter (eid, kvn, counter) VALUES (?1, ?2, ?3)
                     ON CONFLICT (eid, kvn) DO UPDATE SET counter = {higher}"
                ),
                vals![&eid, k.kvn, k.counter],
            )?;
        }
        // The profiles the card left the factory with (a bootstrap profile): known from now
        // on, as AuditEIS would find them.
        for p in &eis.profiles {
            let state = if p.state == "enabled" {
                IsdpState::Enabled
            } else {
                IsdpState::Disabled
            };
            let aid: Aid = p.isd_p_aid.parse().map_err(|e| RegistryError::Corrupt {
                eid: eid.clone(),
                what: "EIS profile AID",
                detail: format!("{e}"),
            })?;
            tx.exec(
                "INSERT INTO isdp (eid, aid, iccid, state, fallback, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (eid, aid) DO NOTHING",
                vals![
                    &eid,
                    aid.to_string(),
                    p.iccid.trim(),
                    state.as_str(),
                    i64::from(p.fallback),
                    now()
                ],
            )?;
        }
        log(
            &tx,
            &eid,
            if exists {
                "eis replace"
            } else {
                "eis register"
            },
            "ok",
            "",
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The EIS of a card.
    pub fn eis(&self, eid: &Eid) -> Result<Eis, RegistryError> {
        let document = self
            .db
            .row(
                "SELECT document FROM eis WHERE eid = ?1",
                vals![eid.to_string()],
            )?
            .map(|r| r.text(0))
            .transpose()?;
        let document = document.ok_or(RegistryError::UnknownEid(*eid))?;
        let mut eis = Eis::from_json(&document).map_err(|e| RegistryError::Corrupt {
            eid: eid.to_string(),
            what: "EIS",
            detail: e.to_string(),
        })?;
        // The counters live in their own table, the EIS copy is only their starting point.
        for k in &mut eis.isd_r.scp80 {
            k.counter = self.counter(eid, k.kvn)?;
        }
        Ok(eis)
    }

    /// Every registered card.
    pub fn list(&self) -> Result<Vec<EisSummary>, RegistryError> {
        let rows = self.db.rows(
            "SELECT e.eid, e.registered_at, e.last_audit,
                    (SELECT COUNT(*) FROM isdp i WHERE i.eid = e.eid)
             FROM eis e ORDER BY e.eid",
            &[],
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(EisSummary {
                    eid: columns::eid(r.text(0)?)?,
                    registered_at: r.text(1)?,
                    last_audit: r.opt_text(2)?,
                    isdps: u64::try_from(r.int(3)?).unwrap_or(0),
                })
            })
            .collect()
    }

    fn require(&self, eid: &Eid) -> Result<(), RegistryError> {
        if eis_exists(&self.db, &eid.to_string())? {
            Ok(())
        } else {
            Err(RegistryError::UnknownEid(*eid))
        }
    }

    /// The ISD-Ps of a card, by AID.
    pub fn isdps(&self, eid: &Eid) -> Result<Vec<IsdpRecord>, RegistryError> {
        self.require(eid)?;
        let rows = self.db.rows(
            &format!(
                "SELECT {} FROM isdp WHERE eid = ?1 ORDER BY aid",
                columns::IsdpRow::COLUMNS
            ),
            vals![eid.to_string()],
        )?;
        rows.iter()
            .map(|r| columns::IsdpRow::read(r)?.record(eid))
            .collect()
    }

    /// One ISD-P by AID.
    pub fn isdp(&self, eid: &Eid, aid: &Aid) -> Result<IsdpRecord, RegistryError> {
        self.isdps(eid)?
            .into_iter()
            .find(|r| r.aid == *aid)
            .ok_or_else(|| RegistryError::UnknownIsdp {
                eid: *eid,
                aid: aid.clone(),
            })
    }

    /// The ISD-P holding a profile.
    pub fn isdp_by_iccid(&self, eid: &Eid, iccid: &str) -> Result<IsdpRecord, RegistryError> {
        self.isdps(eid)?
            .into_iter()
            .find(|r| r.iccid.as_deref() == Some(iccid))
            .ok_or_else(|| RegistryError::UnknownIccid {
                eid: *eid,
                iccid: iccid.to_owned(),
            })
    }

    /// The first free ISD-P AID (SGP.02 Annex H layout `A0000005591010FFFFFFFF89 00 nnnn 00`,
    /// from `nnnn` = `0010`), skipping the AIDs in the registry and in `on_card`. Another
    /// process may take it before it is recorded: [`Registry::begin_create_next`] allocates
    /// and records in one transaction.
    pub fn next_isdp_aid(&self, eid: &Eid, on_card: &[Aid]) -> Result<Aid, RegistryError> {
        let mut taken: Vec<Aid> = self.isdps(eid)?.into_iter().map(|r| r.aid).collect();
        taken.extend_from_slice(on_card);
        write::first_free_aid(eid, &taken)
    }

    /// Records the intent to create an ISD-P (state `creating`, pending `create`), before the
    /// INSTALL is sent.
    pub fn begin_create(
        &mut self,
        eid: &Eid,
        aid: &Aid,
        iccid: Option<&str>,
        memory: Option<u64>,
    ) -> Result<(), RegistryError> {
        self.require(eid)?;
        let (eid, aid) = (eid.to_string(), aid.to_string());
        let tx = self.db.tx()?;
        tx.exec(
            "INSERT INTO isdp (eid, aid, iccid, state, memory, pending, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'create', ?6)",
            vals![
                &eid,
                &aid,
                iccid,
                IsdpState::Creating.as_str(),
                memory,
                now()
            ],
        )?;
        log(&tx, &eid, "isdp create", "pending", &aid)?;
        tx.commit()?;
        Ok(())
    }

    /// Marks an operation as sent to the card (`enable`, `disable`, `delete`, …).
    pub fn begin(&mut self, eid: &Eid, aid: &Aid, operation: &str) -> Result<(), RegistryError> {
        self.isdp(eid, aid)?;
        let (eid, aid) = (eid.to_string(), aid.to_string());
        let tx = self.db.tx()?;
        tx.exec(
            "UPDATE isdp SET pending = ?3, updated_at = ?4 WHERE eid = ?1 AND aid = ?2",
            vals![&eid, &aid, operation, now()],
        )?;
        log(&tx, &eid, operation, "pending", &aid)?;
        tx.commit()?;
        Ok(())
    }

    /// Records an ISD-P's state as the card reported it, clearing its pending mark; `None`
    /// removes the ISD-P (deleted, or a create the card never did).
    pub fn settle(
        &mut self,
        eid: &Eid,
        aid: &Aid,
        state: Option<IsdpState>,
        outcome: &str,
    ) -> Result<(), RegistryError> {
        let (eid, aid) = (eid.to_string(), aid.to_string());
        let tx = self.db.tx()?;
        tx.lock_key(&eid)?;
        let operation = match tx.row(
            "SELECT pending FROM isdp WHERE eid = ?1 AND aid = ?2",
            vals![&eid, &aid],
        )? {
            Some(r) => r.opt_text(0)?,
            None => None,
        };
        let operation = operation.unwrap_or_else(|| "update".into());
        match state {
            Some(s) => {
                let n = tx.exec(
                    "UPDATE isdp SET state = ?3, pending = NULL, updated_at = ?4
                     WHERE eid = ?1 AND aid = ?2",
                    vals![&eid, &aid, s.as_str(), now()],
                )?;
                if n == 0 {
                    tx.exec(
                        "INSERT INTO isdp (eid, aid, state, updated_at) VALUES (?1, ?2, ?3, ?4)",
                        vals![&eid, &aid, s.as_str(), now()],
                    )?;
                }
            }
            None => {
                tx.exec(
                    "DELETE FROM isdp WHERE eid = ?1 AND aid = ?2",
                    vals![&eid, &aid],
                )?;
            }
        }
        log(&tx, &eid, &operation, outcome, &aid)?;
        tx.commit()?;
        Ok(())
    }

    /// Clears a pending mark without a state change (the card refused the operation).
    pub fn abandon(&mut self, eid: &Eid, aid: &Aid, outcome: &str) -> Result<(), RegistryError> {
        self.isdp(eid, aid)?;
        let (eid, aid) = (eid.to_string(), aid.to_string());
        // The pending mark is read again where it is cleared, in one transaction.
        let tx = self.db.tx()?;
        tx.lock_key(&eid)?;
        let pending = match tx.row(
            "SELECT pending FROM isdp WHERE eid = ?1 AND aid = ?2",
            vals![&eid, &aid],
        )? {
            Some(r) => r.opt_text(0)?,
            None => None,
        };
        if pending.as_deref() == Some("create") {
            // A create the card never did: the ISD-P goes, as `settle` with no state.
            tx.exec(
                "DELETE FROM isdp WHERE eid = ?1 AND aid = ?2",
                vals![&eid, &aid],
            )?;
        } else {
            tx.exec(
                "UPDATE isdp SET pending = NULL, updated_at = ?3 WHERE eid = ?1 AND aid = ?2",
                vals![&eid, &aid, now()],
            )?;
        }
        log(
            &tx,
            &eid,
            pending.as_deref().unwrap_or("update"),
            outcome,
            &aid,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Sets the profile attributes of an ISD-P.
    pub fn set_profile(
        &mut self,
        eid: &Eid,
        aid: &Aid,
        iccid: Option<&str>,
        fallback: Option<bool>,
        pol2: Option<&str>,
    ) -> Result<(), RegistryError> {
        self.isdp(eid, aid)?;
        let (eid, aid) = (eid.to_string(), aid.to_string());
        let tx = self.db.tx()?;
        tx.lock_key(&eid)?;
        if let Some(i) = iccid {
            tx.exec(
                "UPDATE isdp SET iccid = ?3 WHERE eid = ?1 AND aid = ?2",
                vals![&eid, &aid, i],
            )?;
        }
        if let Some(f) = fallback {
            if f {
                tx.exec("UPDATE isdp SET fallback = 0 WHERE eid = ?1", vals![&eid])?;
            }
            tx.exec(
                "UPDATE isdp SET fallback = ?3 WHERE eid = ?1 AND aid = ?2",
                vals![&eid, &aid, f],
            )?;
        }
        if let Some(p) = pol2 {
            tx.exec(
                "UPDATE isdp SET pol2 = ?3 WHERE eid = ?1 AND aid = ?2",
                vals![&eid, &aid, p],
            )?;
        }
        tx.exec(
            "UPDATE isdp SET updated_at = ?3 WHERE eid = ?1 AND aid = ?2",
            vals![&eid, &aid, now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The highest SCP80 counter value taken for a key set (used, or reserved by a link that
    /// has not given it back).
    pub fn counter(&self, eid: &Eid, kvn: u8) -> Result<u64, RegistryError> {
        let c = self
            .db
            .row(
                "SELECT counter FROM scp80_counter WHERE eid = ?1 AND kvn = ?2",
                vals![eid.to_string(), kvn],
            )?
            .map(|r| r.int(0))
            .transpose()?;
        Ok(c.map_or(0, |c| u64::try_from(c).unwrap_or(0)))
    }

    /// Takes the next SCP80 counter value of a key set and commits it before returning, so no
    /// value is ever used twice, whatever happens after.
    pub fn next_counter(&mut self, eid: &Eid, kvn: u8) -> Result<u64, RegistryError> {
        self.reserve_counters(eid, kvn, 1)
    }

    /// Takes the next `count` (at least 1) SCP80 counter values of a key set in one committed
    /// statement (`UPDATE … RETURNING`, so two processes never get overlapping ranges) and
    /// returns the first; the last is `first + count - 1`. Values not used may be given back
    /// with [`Registry::release_counters`]; if they are not (a crash), they are skipped, which
    /// the card accepts (SPI "counter higher than the card's").
    pub fn reserve_counters(
        &mut self,
        eid: &Eid,
        kvn: u8,
        count: u64,
    ) -> Result<u64, RegistryError> {
        self.require(eid)?;
        let eid = eid.to_string();
        let count = as_i64(count.max(1));
        let tx = self.db.tx()?;
        let c = tx
            .row(
                "INSERT INTO scp80_counter (eid, kvn, counter) VALUES (?1, ?2, ?3)
                 ON CONFLICT (eid, kvn) DO UPDATE SET counter = scp80_counter.counter + ?3
                 RETURNING counter",
                vals![&eid, kvn, count],
            )?
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(count);
        tx.commit()?;
        Ok(u64::try_from(c - count + 1).unwrap_or(0))
    }

    /// Gives back the values after `last_used` of a reservation that ended at `reserved_to`,
    /// if nobody reserved after it (the registry's counter is still `reserved_to`). Returns
    /// whether they were given back.
    pub fn release_counters(
        &mut self,
        eid: &Eid,
        kvn: u8,
        last_used: u64,
        reserved_to: u64,
    ) -> Result<bool, RegistryError> {
        let n = self.db.exec(
            "UPDATE scp80_counter SET counter = ?3 WHERE eid = ?1 AND kvn = ?2 AND counter = ?4",
            vals![eid.to_string(), kvn, last_used, reserved_to],
        )?;
        Ok(n == 1)
    }

    /// Notes an audit of the card.
    pub fn audited(&mut self, eid: &Eid, detail: &str) -> Result<(), RegistryError> {
        let eid = eid.to_string();
        let tx = self.db.tx()?;
        tx.exec(
            "UPDATE eis SET last_audit = ?2 WHERE eid = ?1",
            vals![&eid, now()],
        )?;
        log(&tx, &eid, "audit", "ok", detail)?;
        tx.commit()?;
        Ok(())
    }

    /// Appends to the history.
    pub fn log(
        &mut self,
        eid: &Eid,
        operation: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), RegistryError> {
        log(&self.db, &eid.to_string(), operation, outcome, detail)
    }

    /// The history of a card, oldest first.
    pub fn history(&self, eid: &Eid) -> Result<Vec<HistoryEntry>, RegistryError> {
        let rows = self.db.rows(
            "SELECT at, operation, outcome, detail FROM history WHERE eid = ?1 ORDER BY id",
            vals![eid.to_string()],
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(HistoryEntry {
                    at: r.text(0)?,
                    operation: r.text(1)?,
                    outcome: r.text(2)?,
                    detail: r.text(3)?,
                })
            })
            .collect()
    }

    /// Records a notification received from the card; `false` when it was known already.
    pub fn record_notification(
        &mut self,
        eid: &Eid,
        seq: u16,
        kind: u8,
        aid: Option<&Aid>,
    ) -> Result<bool, RegistryError> {
        let n = self.db.exec(
            "INSERT INTO notification (eid, seq, kind, aid, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (eid, seq) DO NOTHING",
            vals![eid.to_string(), seq, kind, aid.map(Aid::to_string), now()],
        )?;
        Ok(n == 1)
    }

    /// Marks a notification confirmed to the card.
    pub fn confirm_notification(&mut self, eid: &Eid, seq: u16) -> Result<(), RegistryError> {
        self.db.exec(
            "UPDATE notification SET confirmed_at = ?3 WHERE eid = ?1 AND seq = ?2",
            vals![eid.to_string(), seq, now()],
        )?;
        Ok(())
    }
}

/// Opens a SQLite registry file ([`db::sqlite::open_file`]) with foreign keys on.
fn open_sqlite(path: &Path) -> Result<Connection, RegistryError> {
    let open_err = |detail: String| RegistryError::Open {
        path: path.to_owned(),
        detail,
    };
    let conn = db::sqlite::open_file(path).map_err(open_err)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")
        .map_err(|e| open_err(e.to_string()))?;
    Ok(conn)
}

/// The schema version of a registry database (0 when it has none yet).
fn version(db: &Db) -> Result<i64, RegistryError> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "PRAGMA user_version",
        Dialect::Postgres => {
            let exists = db
                .row("SELECT to_regclass('registry_schema')::text", &[])?
                .map(|r| r.opt_text(0))
                .transpose()?
                .flatten()
                .is_some();
            if !exists {
                return Ok(0);
            }
            "SELECT version FROM registry_schema"
        }
    };
    Ok(db
        .row(sql, &[])?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0))
}

fn eis_exists(db: &impl Sql, eid: &str) -> Result<bool, RegistryError> {
    Ok(db
        .row("SELECT 1 FROM eis WHERE eid = ?1", vals![eid])?
        .is_some())
}

fn log(
    db: &impl Sql,
    eid: &str,
    operation: &str,
    outcome: &str,
    detail: &str,
) -> Result<(), RegistryError> {
    db.exec(
        "INSERT INTO history (eid, at, operation, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        vals![eid, now(), operation, outcome, detail],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EID: &str = "89001999000010000000000000000022";

    fn eid() -> Eid {
        EID.parse().unwrap()
    }

    fn aid(text: &str) -> Aid {
        text.parse().unwrap()
    }

    fn eis() -> Eis {
        Eis::from_json(&format!(
            r#"{{"version":1,"eid":"{EID}","isd_r":{{"aid":"A0000005591010FFFFFFFF8900000100",
            "scp80":[{{"kvn":1,"kic":"000102030405060708090A0B0C0D0E0F","kid":"000102030405060708090A0B0C0D0E0F","counter":7}}]}}}}"#
        ))
        .unwrap()
    }

    /// A registry file with one card and one ISD-P, damaged by `damage` (SQL run on it by
    /// another program); what `inspect` then finds.
    fn damaged(damage: &str) -> Result<RegistryHealth, RegistryError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let mut r = Registry::open(&path).unwrap();
        r.register(&eis(), false).unwrap();
        r.begin_create(
            &eid(),
            &aid("A0000005591010FFFFFFFF8900001000"),
            Some("8949000000000000018"),
            None,
        )
        .unwrap();
        drop(r);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(damage)
            .unwrap();
        Registry::inspect(&path)
    }

    #[test]
    fn inspect_names_each_fault_of_a_damaged_registry() {
        assert_eq!(damaged("").unwrap().faults, Vec::<String>::new());
        for (damage, fault) in [
            ("DROP TABLE scp80_counter", "table scp80_counter is missing"),
            ("DROP TABLE eis", "table eis is missing"),
            (
                "ALTER TABLE isdp DROP COLUMN pol2",
                "table isdp has no column pol2",
            ),
            (
                "UPDATE eis SET document = '{\"version\": 1'",
                "eis row 89001999000010000000000000000022: the EIS document",
            ),
            (
                "UPDATE scp80_counter SET counter = 'many'",
                "scp80_counter row of \"89001999000010000000000000000022\": not a number",
            ),
            ("UPDATE isdp SET state = 'lost'", "isdp row of"),
            ("UPDATE isdp SET aid = 'ZZ'", "ISD-P AID"),
        ] {
            let health = damaged(damage).unwrap();
            assert!(
                health.faults.iter().any(|f| f.contains(fault)),
                "{damage}: {:?}",
                health.faults
            );
        }
    }

    #[test]
    fn sql_failures_name_their_cause_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let mut r = Registry::open(&path).unwrap();
        r.register(&eis(), false).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("UPDATE scp80_counter SET counter = 'many'")
            .unwrap();
        let err = r.counter(&eid(), 1).unwrap_err().to_string();
        assert!(
            err.contains("a stored value has the wrong type") && err.contains("smsr doctor"),
            "{err}"
        );
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("DROP TABLE isdp")
            .unwrap();
        let err = r.isdps(&eid()).unwrap_err().to_string();
        assert!(
            err.contains("a table or column the program needs is missing")
                && err.contains("no such table: isdp"),
            "{err}"
        );
        let unique = DbError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY),
            Some("UNIQUE constraint failed: isdp.eid, isdp.aid".into()),
        ));
        let text = RegistryError::Sql(unique).to_string();
        assert!(text.contains("same key is already"), "{text}");
    }

    #[test]
    fn register_show_list_and_refuse_twice() {
        let mut r = Registry::in_memory().unwrap();
        assert_eq!(r.schema_version().unwrap(), 2);
        r.register(&eis(), false).unwrap();
        let err = r.register(&eis(), false).unwrap_err();
        assert!(err.to_string().contains("--replace"), "{err}");
        r.register(&eis(), true).unwrap();
        assert_eq!(r.eis(&eid()).unwrap().eid, EID);
        assert_eq!(r.list().unwrap().len(), 1);
        let err = r
            .eis(&"89001999000010000000000000000119".parse().unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("smsr eis register"), "{err}");
    }

    #[test]
    fn counters_only_go_up_and_commit_first() {
        let mut r = Registry::in_memory().unwrap();
        r.register(&eis(), false).unwrap();
        assert_eq!(r.counter(&eid(), 1).unwrap(), 7);
        assert_eq!(r.next_counter(&eid(), 1).unwrap(), 8);
        assert_eq!(r.next_counter(&eid(), 1).unwrap(), 9);
        // Re-registering an EIS with an older counter does not lower it.
        r.register(&eis(), true).unwrap();
        assert_eq!(r.counter(&eid(), 1).unwrap(), 9);
        assert_eq!(r.eis(&eid()).unwrap().isd_r.scp80[0].counter, 9);
    }

    #[test]
    fn isdp_create_intent_then_settle_or_abandon() {
        let mut r = Registry::in_memory().unwrap();
        r.register(&eis(), false).unwrap();
        let first = r.next_isdp_aid(&eid(), &[]).unwrap();
        assert_eq!(first.to_string(), "A0000005591010FFFFFFFF8900001000");
        r.begin_create(&eid(), &first, Some("8988"), Some(4096))
            .unwrap();
        let rec = r.isdp(&eid(), &first).unwrap();
        assert_eq!(
            (rec.state, rec.pending.as_deref()),
            (IsdpState::Creating, Some("create"))
        );
        let next = r
            .next_isdp_aid(&eid(), &[aid("A0000005591010FFFFFFFF8900001100")])
            .unwrap();
        assert_eq!(next, aid("A0000005591010FFFFFFFF8900001200"));
        r.settle(&eid(), &first, Some(IsdpState::Created), "ok")
            .unwrap();
        let rec = r.isdp(&eid(), &first).unwrap();
        assert_eq!((rec.state, rec.pending), (IsdpState::Created, None));

        r.begin_create(&eid(), &next, None, None).unwrap();
        r.abandon(&eid(), &next, "refused 6A80").unwrap();
        assert!(r.isdp(&eid(), &next).is_err());

        r.begin(&eid(), &first, "delete").unwrap();
        r.settle(&eid(), &first, None, "ok").unwrap();
        assert!(r.isdps(&eid()).unwrap().is_empty());
        let ops: Vec<String> = r
            .history(&eid())
            .unwrap()
            .into_iter()
            .map(|h| format!("{} {}", h.operation, h.outcome))
            .collect();
        assert!(ops.contains(&"create ok".to_owned()), "{ops:?}");
        assert!(ops.contains(&"delete ok".to_owned()), "{ops:?}");
    }

    #[test]
    fn fallback_is_unique_per_card() {
        let mut r = Registry::in_memory().unwrap();
        r.register(&eis(), false).unwrap();
        for a in [
            "A0000005591010FFFFFFFF8900001000",
            "A0000005591010FFFFFFFF8900001100",
        ] {
            r.settle(&eid(), &aid(a), Some(IsdpState::Disabled), "ok")
                .unwrap();
        }
        r.set_profile(
            &eid(),
            &aid("A0000005591010FFFFFFFF8900001000"),
            Some("1"),
            Some(true),
            None,
        )
        .unwrap();
        r.set_profile(
            &eid(),
            &aid("A0000005591010FFFFFFFF8900001100"),
            Some("2"),
            Some(true),
            None,
        )
        .unwrap();
        let fallbacks: Vec<Aid> = r
            .isdps(&eid())
            .unwrap()
            .into_iter()
            .filter(|i| i.fallback)
            .map(|i| i.aid)
            .collect();
        assert_eq!(fallbacks, [aid("A0000005591010FFFFFFFF8900001100")]);
        assert_eq!(r.isdp_by_iccid(&eid(), "2").unwrap().aid, fallbacks[0]);
    }

    #[test]
    fn file_is_private_migrated_and_refused_when_newer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/smsr.db");
        {
            let mut r = Registry::open(&path).unwrap();
            r.register(&eis(), false).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        let r = Registry::open(&path).unwrap();
        assert_eq!(r.eis(&eid()).unwrap().eid, EID);
        let health = Registry::inspect(&path).unwrap();
        assert_eq!(
            health,
            RegistryHealth {
                schema: i64::try_from(MIGRATIONS.len()).unwrap(),
                known: MIGRATIONS.len(),
                cards: Some(1),
                faults: Vec::new(),
            }
        );
        r.db.batch("PRAGMA user_version = 99").unwrap();
        drop(r);
        let err = Registry::open(&path).unwrap_err();
        assert!(
            matches!(err, RegistryError::TooNew { found: 99, .. }),
            "{err}"
        );
        // Inspecting changes nothing and reports the version found.
        assert_eq!(Registry::inspect(&path).unwrap().schema, 99);
        assert_eq!(Registry::inspect(&path).unwrap().schema, 99);
        let garbage = path.with_extension("bad");
        std::fs::write(&garbage, b"not a database at all, not even close....").unwrap();
        assert!(Registry::inspect(&garbage).is_err());
    }

    #[test]
    fn a_state_the_registry_cannot_read_is_corrupt() {
        let mut r = Registry::in_memory().unwrap();
        r.register(&eis(), false).unwrap();
        r.db.exec(
            "INSERT INTO isdp (eid, aid, state, updated_at)
                 VALUES (?1, 'A0000005591010FFFFFFFF8900001000', 'Enabled', '')",
            vals![EID],
        )
        .unwrap();
        let err = r.isdps(&eid()).unwrap_err();
        assert!(
            matches!(
                &err,
                RegistryError::Corrupt {
                    what: "ISD-P state",
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(EID) && text.contains("\"Enabled\"") && text.contains("8900001000"),
            "{text}"
        );
    }

    #[test]
    fn notifications_are_recorded_once() {
        let mut r = Registry::in_memory().unwrap();
        r.register(&eis(), false).unwrap();
        assert!(r.record_notification(&eid(), 1, 1, None).unwrap());
        assert!(!r.record_notification(&eid(), 1, 1, None).unwrap());
        r.confirm_notification(&eid(), 1).unwrap();
    }
}
