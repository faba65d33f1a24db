//! The SM-DP's profile stock: profile packages ready for download, by ICCID, in one SQLite
//! file (`--db`, default `$XDG_DATA_HOME/smsr/sm-dp.db`) or one PostgreSQL database (`--db
//! postgres://…`, which several SM-DP instances may share).
//!
//! A profile is downloaded at most once: ES2.DownloadProfile reserves it (`available` →
//! `reserved`, one atomic update, so two orders for one ICCID cannot both get it),
//! the download ends it `downloaded` with the EID, or gives it back `available` when it did not
//! reach the card.

use crate::db::{self, vals, Db, DbError, Dialect, Sql, Target};
use rusqlite::Connection;
use serde::Serialize;
use smsr_proto::saip::Package;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::db::sqlite::BUSY_TIMEOUT;

/// Stocks kept open between uses ([`Stock::pool`]).
pub type StockPool = db::pool::Pool<Stock, StockError>;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS stock (
    iccid TEXT PRIMARY KEY,
    package BLOB NOT NULL,
    state TEXT NOT NULL,
    eid TEXT,
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)";

/// The same table on PostgreSQL.
const PG_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS stock (
    iccid TEXT PRIMARY KEY,
    package BYTEA NOT NULL,
    state TEXT NOT NULL,
    eid TEXT,
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)";

/// Why the stock cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error("SM-DP stock {}: {detail}; check --db (or SMSR_DB), its permissions, and that the server is up", path.display())]
    Open { path: PathBuf, detail: String },
    #[error("SM-DP stock: {}", .0.explained("SM-DP stock"))]
    Sql(#[from] DbError),
    #[error("{file}: not a profile package: {detail}")]
    NotAPackage { file: String, detail: String },
    #[error("{file}: the package header names no valid ICCID")]
    NoIccid { file: String },
    #[error("ICCID {0} is in stock already (`smsr stock list`)")]
    AlreadyInStock(String),
    #[error(
        "ICCID {0} is not in the SM-DP's stock: add its package with `smsr stock add FILE.der`"
    )]
    Unknown(String),
    #[error("ICCID {iccid} is not available: {state}{}", eid.as_ref().map(|e| format!(" for EID {e}")).unwrap_or_default())]
    NotAvailable {
        iccid: String,
        state: String,
        eid: Option<String>,
    },
}

impl From<rusqlite::Error> for StockError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e.into())
    }
}

/// One profile in stock.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StockItem {
    pub iccid: String,
    pub bytes: usize,
    /// `available`, `reserved` (a download under way) or `downloaded`.
    pub state: String,
    pub eid: Option<String>,
    pub added_at: String,
}

/// The stock.
#[derive(Debug)]
pub struct Stock {
    db: Db,
}

/// The default stock file.
pub fn default_path() -> Option<PathBuf> {
    crate::sm_sr::registry::default_path().map(|p| p.with_file_name("sm-dp.db"))
}

fn now() -> String {
    crate::trace::now_rfc3339()
}

impl Stock {
    /// Stocks kept open between uses (the SM-DP service), at `path`.
    /// At most `max_open` at once.
    pub fn pool(path: &Path, max_open: usize) -> Arc<StockPool> {
        let (open_path, full_path) = (path.to_owned(), path.to_owned());
        db::pool::Pool::new(
            max_open,
            BUSY_TIMEOUT,
            |s: &Stock| s.db.reusable(),
            move || Stock::open(&open_path),
            move |wait| StockError::Open {
                path: PathBuf::from(db::redacted(&full_path.to_string_lossy())),
                detail: format!(
                    "all {max_open} connections of this process stayed busy for {wait:?}: \
                     the stock is too slow for the load"
                ),
            },
        )
    }

    /// Opens (creating, mode 0600) the stock at `path`: a SQLite file, or a PostgreSQL
    /// database when `path` is a `postgres://` URL (several SM-DP instances may share it).
    pub fn open(path: &Path) -> Result<Self, StockError> {
        let file = match Target::of(path) {
            Target::File(file) => file,
            Target::Postgres(url) => {
                let open_err = |e: DbError| StockError::Open {
                    path: PathBuf::from(db::redacted(&url)),
                    detail: e.to_string(),
                };
                let mut db = Db::postgres(&url).map_err(open_err)?;
                let tx = db.tx().map_err(open_err)?;
                // Instances starting together create the table one after the other.
                tx.lock_key("smsr stock schema").map_err(open_err)?;
                tx.batch(PG_SCHEMA).map_err(open_err)?;
                tx.commit().map_err(open_err)?;
                return Ok(Self { db });
            }
        };
        let path = file.as_path();
        let open_err = |detail: String| StockError::Open {
            path: path.to_owned(),
            detail,
        };
        let conn = db::sqlite::open_file(path).map_err(open_err)?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| open_err(e.to_string()))?;
        Ok(Self {
            db: Db::Sqlite(conn),
        })
    }

    /// An in-memory stock (tests).
    pub fn in_memory() -> Result<Self, StockError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            db: Db::Sqlite(conn),
        })
    }

    /// Which database holds it.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Adds a package (`file` names it in messages); returns its ICCID.
    pub fn add(&mut self, file: &str, der: &[u8]) -> Result<String, StockError> {
        let package = Package::parse(der).map_err(|e| StockError::NotAPackage {
            file: file.to_owned(),
            detail: e.to_string(),
        })?;
        let iccid =
            super::provision::package_iccid(&package).ok_or_else(|| StockError::NoIccid {
                file: file.to_owned(),
            })?;
        let n = self.db.exec(
            "INSERT INTO stock (iccid, package, state, added_at, updated_at)
             VALUES (?1, ?2, 'available', ?3, ?3) ON CONFLICT (iccid) DO NOTHING",
            vals![&iccid, der, now()],
        )?;
        if n == 0 {
            return Err(StockError::AlreadyInStock(iccid));
        }
        Ok(iccid)
    }

    /// Every profile, by ICCID.
    pub fn list(&self) -> Result<Vec<StockItem>, StockError> {
        let rows = self.db.rows(
            "SELECT iccid, length(package), state, eid, added_at FROM stock ORDER BY iccid",
            &[],
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(StockItem {
                    iccid: r.text(0)?,
                    bytes: usize::try_from(r.int(1)?).unwrap_or(0),
                    state: r.text(2)?,
                    eid: r.opt_text(3)?,
                    added_at: r.text(4)?,
                })
            })
            .collect()
    }

    /// Reserves `iccid` for a download into `eid`; returns the package. One statement
    /// (`UPDATE … WHERE state = 'available' RETURNING`): of two orders for one ICCID, on one
    /// SM-DP or two sharing a database, only one gets it.
    pub fn reserve(&mut self, iccid: &str, eid: &str) -> Result<Vec<u8>, StockError> {
        let tx = self.db.tx()?;
        let taken = tx.row(
            "UPDATE stock SET state = 'reserved', eid = ?2, updated_at = ?3
             WHERE iccid = ?1 AND state = 'available' RETURNING package",
            vals![iccid, eid, now()],
        )?;
        if let Some(r) = taken {
            let package = r.blob(0)?;
            tx.commit()?;
            return Ok(package);
        }
        let Some(r) = tx.row(
            "SELECT state, eid FROM stock WHERE iccid = ?1",
            vals![iccid],
        )?
        else {
            return Err(StockError::Unknown(iccid.to_owned()));
        };
        Err(StockError::NotAvailable {
            iccid: iccid.to_owned(),
            state: r.text(0)?,
            eid: r.opt_text(1)?,
        })
    }

    /// The download of `iccid` reached the card.
    pub fn downloaded(&mut self, iccid: &str) -> Result<(), StockError> {
        self.db.exec(
            "UPDATE stock SET state = 'downloaded', updated_at = ?2 WHERE iccid = ?1",
            vals![iccid, now()],
        )?;
        Ok(())
    }

    /// The download of `iccid` did not reach the card: the profile is available again.
    pub fn release(&mut self, iccid: &str) -> Result<(), StockError> {
        self.db.exec(
            "UPDATE stock SET state = 'available', eid = NULL, updated_at = ?2
             WHERE iccid = ?1 AND state = 'reserved'",
            vals![iccid, now()],
        )?;
        Ok(())
    }

    /// Profiles left reserved by a download that did not end (the SM-DP stopped during it):
    /// available again, returned by ICCID. The SM-SR settles the card's side when the profile is
    /// ordered again (a half-done ISD-P deleted; a profile already on the card refused).
    ///
    /// With several SM-DP instances on one PostgreSQL stock, this also takes back the other
    /// instances' downloads under way: run it only when no other instance is downloading.
    pub fn release_interrupted(&mut self) -> Result<Vec<String>, StockError> {
        let rows = self.db.rows(
            "UPDATE stock SET state = 'available', eid = NULL, updated_at = ?1
             WHERE state = 'reserved' RETURNING iccid",
            vals![now()],
        )?;
        rows.into_iter()
            .map(|r| Ok(r.text(0)?))
            .collect::<Result<Vec<String>, StockError>>()
    }

    /// The package of `iccid`, whatever its state.
    pub fn package(&self, iccid: &str) -> Result<Vec<u8>, StockError> {
        self.db
            .row("SELECT package FROM stock WHERE iccid = ?1", vals![iccid])?
            .map(|r| r.blob(0))
            .transpose()?
            .ok_or_else(|| StockError::Unknown(iccid.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use smsr_proto::saip::minimal::MinimalProfile;

    fn package(iccid: &str) -> Vec<u8> {
        MinimalProfile::milenage(iccid, "001010000000011", [1; 16], [2; 16])
            .build()
            .unwrap()
            .to_der()
    }

    #[test]
    fn a_profile_is_reserved_once_and_downloaded_once() {
        let mut s = Stock::in_memory().unwrap();
        let der = package("89882800000000000011");
        assert_eq!(s.add("p.der", &der).unwrap(), "89882800000000000011");
        assert!(matches!(
            s.add("p.der", &der),
            Err(StockError::AlreadyInStock(_))
        ));
        assert_eq!(s.reserve("89882800000000000011", "E1").unwrap(), der);
        assert!(matches!(
            s.reserve("89882800000000000011", "E2"),
            Err(StockError::NotAvailable { state, eid: Some(e), .. }) if state == "reserved" && e == "E1"
        ));
        s.release("89882800000000000011").unwrap();
        s.reserve("89882800000000000011", "E2").unwrap();
        s.downloaded("89882800000000000011").unwrap();
        s.release("89882800000000000011").unwrap();
        assert!(s.release_interrupted().unwrap().is_empty());
        let items = s.list().unwrap();
        assert_eq!(
            (items[0].state.as_str(), items[0].eid.as_deref()),
            ("downloaded", Some("E2"))
        );
        assert!(matches!(
            s.reserve("8988", "E"),
            Err(StockError::Unknown(_))
        ));
        assert!(matches!(
            s.add("x", b"not a package"),
            Err(StockError::NotAPackage { .. })
        ));
    }
}
