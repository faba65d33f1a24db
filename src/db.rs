//! One SQL connection, to a SQLite file or to a PostgreSQL server, for the SM-SR registry and
//! the SM-DP stock: `--db` (`SMSR_DB`) names a file, or a server with a URL
//! (`postgres://user@127.0.0.1:5432/db`, [`Target::of`]).
//!
//! The stores write their SQL once, in the part both databases read alike: `?1`-style
//! placeholders (written `$1` for PostgreSQL here), `RETURNING`, `ON CONFLICT`, text
//! timestamps, 64-bit integers. Values travel as [`Val`], rows come back as [`Row`]. What
//! differs (schema DDL, the schema version's home, locks) the stores choose by [`Dialect`].
//!
//! - SQLite: every write transaction is `BEGIN IMMEDIATE` (the write lock taken first, other
//!   connections waiting up to the busy timeout), after this process's write gate for the file
//!   ([`sqlite::hold_gate`]). Files are opened by [`sqlite::open_file`].
//! - PostgreSQL: transactions are `READ COMMITTED`; a write that reads to decide takes the
//!   row or advisory lock it needs ([`Tx::lock_key`]).
//!
//! Both are blocking. The PostgreSQL client (the sync `postgres` crate) drives its connection
//! on a small runtime of its own, which panics inside a Tokio runtime's worker thread: the
//! services open and use their stores in `spawn_blocking` threads (or before their runtime
//! starts), never in async code directly. Each store holds one connection; the services keep
//! stores open between uses in a [`pool::Pool`].

pub mod pool;
pub mod sqlite;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Which database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Where a store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL server (a `postgres://` or `postgresql://` URL).
    Postgres(String),
}

impl Target {
    /// The target `--db` names.
    pub fn of(path: &Path) -> Self {
        match path.to_str() {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Self::Postgres(s.to_owned())
            }
            _ => Self::File(path.to_owned()),
        }
    }
}

/// Whether `--db` names a PostgreSQL server.
pub fn is_postgres(path: &Path) -> bool {
    matches!(Target::of(path), Target::Postgres(_))
}

/// A URL with its password (if any) replaced, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A database error.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg_detail(.0))]
    Postgres(#[from] postgres::Error),
    #[error("column {index}: {detail}")]
    Column { index: usize, detail: String },
}

fn pg_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

impl DbError {
    /// The error as a sentence naming its cause and what to do, for `store` (e.g. "SM-SR
    /// registry"): the database's own wording (`no such table: eis`, `Conversion error from
    /// type Text`, `UNIQUE constraint failed: …`) is kept at the end, in parentheses.
    pub fn explained(&self, store: &str) -> String {
        let raw = self.to_string();
        let damaged = |what: &str| {
            format!(
                "{what}: the file was changed by another program or is damaged; `smsr doctor \
                 --db FILE` names what is wrong; restore a backup, or move the file away and \
                 start a new {store} ({raw})"
            )
        };
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, msg)) => {
                let msg = msg.as_deref().unwrap_or_default();
                match e.code {
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                        format!(
                            "another process kept the {store} locked for longer than {} s: \
                             wait for it (a long `smsr` command or a service on the same file), \
                             then run the command again ({raw})",
                            sqlite::BUSY_TIMEOUT.as_secs()
                        )
                    }
                    rusqlite::ErrorCode::ConstraintViolation if msg.starts_with("UNIQUE") => {
                        format!(
                            "a row with the same key is already in the {store} (another \
                             command wrote it at the same time?): look at it (`smsr eis show`, \
                             `smsr stock list`) and run the command again if needed ({raw})"
                        )
                    }
                    rusqlite::ErrorCode::ConstraintViolation => {
                        damaged("a stored row breaks the tables' rules")
                    }
                    rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt => {
                        damaged("the file is not a SQLite database, or it is damaged")
                    }
                    rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen => format!(
                        "the {store} cannot be written: check the file's and its directory's \
                         permissions and free space ({raw})"
                    ),
                    rusqlite::ErrorCode::DiskFull => {
                        format!("the disk holding the {store} is full: free space ({raw})")
                    }
                    _ if msg.starts_with("no such table") || msg.starts_with("no such column") => {
                        damaged("a table or column the program needs is missing")
                    }
                    _ => raw.clone(),
                }
            }
            Self::Sqlite(
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..),
            )
            | Self::Column { .. } => damaged("a stored value has the wrong type"),
            Self::Postgres(e) => match e.code() {
                Some(c)
                    if *c == postgres::error::SqlState::UNDEFINED_TABLE
                        || *c == postgres::error::SqlState::UNDEFINED_COLUMN =>
                {
                    format!(
                        "a table or column the program needs is missing from the {store}'s \
                         database: `smsr doctor --db URL` names it; restore a backup or use a \
                         new database ({raw})"
                    )
                }
                Some(c) if *c == postgres::error::SqlState::UNIQUE_VIOLATION => format!(
                    "a row with the same key is already in the {store} (another instance wrote \
                     it at the same time?): run the command again ({raw})"
                ),
                None => format!(
                    "the connection to the {store}'s server failed: check that it is up and \
                     reachable ({raw})"
                ),
                _ => raw.clone(),
            },
            Self::Sqlite(_) => raw.clone(),
        }
    }

    /// Whether another connection held the lock this one needed for longer than it waits
    /// (SQLite busy or locked; PostgreSQL lock not available).
    pub fn is_busy(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            Self::Postgres(e) => e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE),
            _ => false,
        }
    }

    /// Whether another transaction's conflicting write made this one fail, so that running it
    /// again may succeed (PostgreSQL unique violation or serialization failure, SQLite busy).
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::Postgres(e) => e.code().is_some_and(|c| {
                *c == postgres::error::SqlState::UNIQUE_VIOLATION
                    || *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            }),
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DatabaseBusy
            }
            _ => false,
        }
    }
}

/// A value sent or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<u64> for Val {
    fn from(v: u64) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<u8> for Val {
    fn from(v: u8) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<u16> for Val {
    fn from(v: u16) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Self {
        Self::Blob(v.to_vec())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// `[Val]` from a list of values of any type that converts.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::db::Val::from($v)),*] as &[$crate::db::Val] };
}
pub(crate) use vals;

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Null => ValueRef::Null,
            Self::Int(v) => ValueRef::Integer(*v),
            Self::Text(s) => ValueRef::Text(s.as_bytes()),
            Self::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl postgres::types::ToSql for Val {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Self::Null => Ok(postgres::types::IsNull::Yes),
            Self::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Self::Text(s) => s.to_sql(ty, out),
            Self::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A row read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row(Vec<Val>);

impl Row {
    /// The row without its first `n` columns.
    pub fn skip(&self, n: usize) -> Row {
        Row(self.0.get(n..).unwrap_or_default().to_vec())
    }

    fn get(&self, index: usize) -> Result<&Val, DbError> {
        self.0.get(index).ok_or_else(|| DbError::Column {
            index,
            detail: "no such column".into(),
        })
    }

    fn wrong(index: usize, want: &str, got: &Val) -> DbError {
        DbError::Column {
            index,
            detail: format!("{want} expected, {got:?} found"),
        }
    }

    /// A text column, NULL read as `None`.
    pub fn opt_text(&self, index: usize) -> Result<Option<String>, DbError> {
        match self.get(index)? {
            Val::Null => Ok(None),
            Val::Text(s) => Ok(Some(s.clone())),
            other => Err(Self::wrong(index, "text", other)),
        }
    }

    /// A text column that is not NULL.
    pub fn text(&self, index: usize) -> Result<String, DbError> {
        self.opt_text(index)?
            .ok_or_else(|| Self::wrong(index, "text", &Val::Null))
    }

    /// An integer column, NULL read as `None`.
    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, DbError> {
        match self.get(index)? {
            Val::Null => Ok(None),
            Val::Int(v) => Ok(Some(*v)),
            other => Err(Self::wrong(index, "integer", other)),
        }
    }

    /// An integer column that is not NULL.
    pub fn int(&self, index: usize) -> Result<i64, DbError> {
        self.opt_int(index)?
            .ok_or_else(|| Self::wrong(index, "integer", &Val::Null))
    }

    /// A blob column that is not NULL.
    pub fn blob(&self, index: usize) -> Result<Vec<u8>, DbError> {
        match self.get(index)? {
            Val::Blob(b) => Ok(b.clone()),
            other => Err(Self::wrong(index, "blob", other)),
        }
    }
}

fn sqlite_row(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    (0..n)
        .map(|i| {
            Ok(match r.get_ref(i)? {
                ValueRef::Null => Val::Null,
                ValueRef::Integer(v) => Val::Int(v),
                // Not written by these stores; read as its integer part.
                #[allow(clippy::cast_possible_truncation)]
                ValueRef::Real(v) => Val::Int(v as i64),
                ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Val::Blob(b.to_vec()),
            })
        })
        .collect::<rusqlite::Result<Vec<_>>>()
        .map(Row)
}

fn pg_row(r: &postgres::Row) -> Result<Row, DbError> {
    use postgres::types::Type;
    r.columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match *c.type_() {
                Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int),
                Type::INT4 => r
                    .try_get::<_, Option<i32>>(i)?
                    .map_or(Val::Null, |v| Val::Int(i64::from(v))),
                Type::INT2 => r
                    .try_get::<_, Option<i16>>(i)?
                    .map_or(Val::Null, |v| Val::Int(i64::from(v))),
                Type::BOOL => r
                    .try_get::<_, Option<bool>>(i)?
                    .map_or(Val::Null, |v| Val::Int(i64::from(v))),
                Type::BYTEA => r
                    .try_get::<_, Option<Vec<u8>>>(i)?
                    .map_or(Val::Null, Val::Blob),
                _ => r
                    .try_get::<_, Option<String>>(i)?
                    .map_or(Val::Null, Val::Text),
            })
        })
        .collect::<Result<Vec<_>, DbError>>()
        .map(Row)
}

/// `?1` placeholders as PostgreSQL's `$1`.
fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_params(params: &[Val]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// Statements, on a connection or in a transaction.
pub trait Sql {
    /// The database.
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns the rows changed.
    fn exec(&self, sql: &str, params: &[Val]) -> Result<u64, DbError>;
    /// Runs a query; returns its rows.
    fn rows(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError>;
    /// Runs statements with no parameters.
    fn batch(&self, sql: &str) -> Result<(), DbError>;

    /// The first row of a query, if any.
    fn row(&self, sql: &str, params: &[Val]) -> Result<Option<Row>, DbError> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }
}

fn sqlite_exec(c: &rusqlite::Connection, sql: &str, params: &[Val]) -> Result<u64, DbError> {
    let n = c
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params.iter()))?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

fn sqlite_rows(c: &rusqlite::Connection, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
    let mut st = c.prepare_cached(sql)?;
    let n = st.column_count();
    let rows = st.query_map(rusqlite::params_from_iter(params.iter()), |r| {
        sqlite_row(r, n)
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A connection.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Mutex<postgres::Client>>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(c) => write!(f, "Db::Sqlite({:?})", c.path()),
            Self::Postgres(_) => write!(f, "Db::Postgres"),
        }
    }
}

fn lock(m: &Mutex<postgres::Client>) -> MutexGuard<'_, postgres::Client> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Db {
    /// Connects to a PostgreSQL server.
    pub fn postgres(url: &str) -> Result<Self, DbError> {
        let client = postgres::Client::connect(url, postgres::NoTls)?;
        Ok(Self::Postgres(Box::new(Mutex::new(client))))
    }

    /// Whether the connection can serve again (a PostgreSQL connection the server closed
    /// cannot).
    pub fn reusable(&self) -> bool {
        match self {
            Self::Sqlite(_) => true,
            Self::Postgres(c) => !lock(c).is_closed(),
        }
    }

    /// The SQLite connection, if it is one.
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Self::Sqlite(c) => Some(c),
            Self::Postgres(_) => None,
        }
    }

    /// A write transaction: `BEGIN IMMEDIATE` on SQLite (waiting for the write lock), `BEGIN`
    /// on PostgreSQL.
    pub fn tx(&mut self) -> Result<Tx<'_>, DbError> {
        Ok(match self {
            Self::Sqlite(c) => {
                let gate = sqlite::hold_gate(c);
                Tx::Sqlite(
                    c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
                    gate,
                )
            }
            Self::Postgres(c) => Tx::Postgres(RefCell::new(
                c.get_mut()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .transaction()?,
            )),
        })
    }
}

impl Sql for Db {
    fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    fn exec(&self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        match self {
            Self::Sqlite(c) => sqlite_exec(c, sql, params),
            Self::Postgres(c) => Ok(lock(c).execute(&pg_sql(sql), &pg_params(params))?),
        }
    }

    fn rows(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        match self {
            Self::Sqlite(c) => sqlite_rows(c, sql, params),
            Self::Postgres(c) => lock(c)
                .query(&pg_sql(sql), &pg_params(params))?
                .iter()
                .map(pg_row)
                .collect(),
        }
    }

    fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Self::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Self::Postgres(c) => Ok(lock(c).batch_execute(sql)?),
        }
    }
}

/// A transaction; dropped without [`Tx::commit`], it rolls back.
pub enum Tx<'a> {
    /// The transaction, then the write gate it holds (dropped after it: fields drop in order).
    Sqlite(rusqlite::Transaction<'a>, Option<sqlite::GateHeld>),
    Postgres(RefCell<postgres::Transaction<'a>>),
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tx({:?})", self.dialect())
    }
}

impl Tx<'_> {
    /// Commits.
    pub fn commit(self) -> Result<(), DbError> {
        match self {
            Self::Sqlite(t, gate) => {
                let done = t.commit();
                drop(gate);
                Ok(done?)
            }
            Self::Postgres(t) => Ok(t.into_inner().commit()?),
        }
    }

    /// Serialises this transaction with every other one taking the same `key` until it ends
    /// (PostgreSQL: a transaction-scoped advisory lock; SQLite: the write lock `BEGIN
    /// IMMEDIATE` took already).
    pub fn lock_key(&self, key: &str) -> Result<(), DbError> {
        match self {
            Self::Sqlite(..) => Ok(()),
            // `exec`: the function returns `void`, which no row reader takes.
            Self::Postgres(_) => self
                .exec("SELECT pg_advisory_xact_lock(hashtext(?1))", vals![key])
                .map(drop),
        }
    }
}

impl Sql for Tx<'_> {
    fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(..) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    fn exec(&self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        match self {
            Self::Sqlite(t, _) => sqlite_exec(t, sql, params),
            Self::Postgres(t) => Ok(t.borrow_mut().execute(&pg_sql(sql), &pg_params(params))?),
        }
    }

    fn rows(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        match self {
            Self::Sqlite(t, _) => sqlite_rows(t, sql, params),
            Self::Postgres(t) => t
                .borrow_mut()
                .query(&pg_sql(sql), &pg_params(params))?
                .iter()
                .map(pg_row)
                .collect(),
        }
    }

    fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Self::Sqlite(t, _) => Ok(t.execute_batch(sql)?),
            Self::Postgres(t) => Ok(t.borrow_mut().batch_execute(sql)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_placeholders() {
        assert_eq!(
            Target::of(Path::new("postgres://u@127.0.0.1:5/db")),
            Target::Postgres("postgres://u@127.0.0.1:5/db".into())
        );
        assert_eq!(
            Target::of(Path::new("dir/smsr.db")),
            Target::File("dir/smsr.db".into())
        );
        assert_eq!(
            pg_sql("a = ?1 AND b = ?12 OR c = '?'"),
            "a = $1 AND b = $12 OR c = '?'"
        );
        assert_eq!(
            redacted("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }

    #[test]
    fn sqlite_values_round_trip() {
        let db = Db::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        db.batch("CREATE TABLE t (a TEXT, b INTEGER, c BLOB)")
            .unwrap();
        db.exec(
            "INSERT INTO t VALUES (?1, ?2, ?3)",
            vals!["x", 7i64, &b"\x01\x02"[..]],
        )
        .unwrap();
        db.exec(
            "INSERT INTO t VALUES (?1, ?2, ?3)",
            vals![None::<String>, None::<i64>, &b""[..]],
        )
        .unwrap();
        let rows = db
            .rows("SELECT a, b, c FROM t ORDER BY rowid", &[])
            .unwrap();
        assert_eq!(rows[0].text(0).unwrap(), "x");
        assert_eq!(rows[0].int(1).unwrap(), 7);
        assert_eq!(rows[0].blob(2).unwrap(), [1, 2]);
        assert_eq!(rows[1].opt_text(0).unwrap(), None);
        assert!(rows[1].int(1).is_err());
    }
}
