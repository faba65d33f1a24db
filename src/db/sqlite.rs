//! How the stores open a SQLite file, in one place: created mode 0600, WAL, the durability
//! setting ([`Durability`], `--db-sync`), a busy handler that polls briefly instead of
//! SQLite's default back-off (which sleeps up to 100 ms at a time), a statement cache, and the
//! in-process write gate ([`hold_gate`]) that lines up this process's writers without polling.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// How long a connection waits for another one's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a committed SQLite transaction survives (README "Durability").
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// `synchronous = FULL`: the write-ahead log is synced at every commit; a commit survives
    /// a crash of the process and of the machine (power loss).
    Full,
    /// `synchronous = NORMAL`: the log is synced only at checkpoints; a commit survives a
    /// crash of the process (`kill -9`); a crash of the machine may undo the last ones (the
    /// file stays consistent).
    Normal,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "PRAGMA synchronous = FULL;",
            Self::Normal => "PRAGMA synchronous = NORMAL;",
        }
    }
}

static DURABILITY: OnceLock<Durability> = OnceLock::new();

/// Sets the durability of the SQLite files this process opens (once, at start; later calls
/// are ignored). Without it: [`Durability::Full`].
pub fn set_durability(d: Durability) {
    let _ = DURABILITY.set(d);
}

/// The durability files are opened with.
pub fn durability() -> Durability {
    *DURABILITY.get().unwrap_or(&Durability::Full)
}

/// Opens (creating its directory, and the file with mode 0600) a SQLite file with the shared
/// settings, in WAL mode with the process's [`durability`].
pub fn open_file(path: &Path) -> Result<rusqlite::Connection, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let existed = path.exists();
    let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    if !existed {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
    }
    configure(&conn).map_err(|e| e.to_string())?;
    wal(&conn).map_err(|e| e.to_string())?;
    conn.execute_batch(durability().pragma())
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// The busy handler and the statement cache (for any connection, also in memory or read-only).
pub fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(busy))?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

/// The milliseconds [`busy`] has waited before its attempt `n`: 0.1 ms doubling to 1.6 ms for
/// the first five, 2 ms each after.
fn busy_waited_ms(n: u64) -> u64 {
    if n <= 5 {
        0
    } else {
        3 + 2 * (n - 5)
    }
}

/// SQLite's busy handler: waits briefly and asks to try again, until [`BUSY_TIMEOUT`] is spent.
fn busy(attempt: i32) -> bool {
    let n = u64::try_from(attempt).unwrap_or(0);
    if busy_waited_ms(n) >= u64::try_from(BUSY_TIMEOUT.as_millis()).unwrap_or(u64::MAX) {
        return false;
    }
    std::thread::sleep(Duration::from_micros((100u64 << n.min(5)).min(2_000)));
    true
}

/// Puts the file in WAL mode (readers and one writer at once), waiting up to [`BUSY_TIMEOUT`]
/// for other connections: the change takes an exclusive lock, and SQLite answers "database is
/// locked" at once, without its busy handler, when a new file is opened by several at a time.
fn wal(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    loop {
        let mode = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0));
        match mode {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other.map(drop),
        }
    }
}

/// One per file in this process: a write transaction holds it from `BEGIN IMMEDIATE` to its
/// end, so this process's writers queue here and are woken when the previous one ends,
/// instead of polling SQLite's lock (writers in other processes still meet at that lock).
#[derive(Debug, Default)]
struct WriteGate {
    busy: Mutex<bool>,
    free: Condvar,
}

/// A held write gate, opened again when dropped.
#[derive(Debug)]
pub struct GateHeld(Arc<WriteGate>);

impl Drop for GateHeld {
    fn drop(&mut self) {
        *self
            .0
            .busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = false;
        self.0.free.notify_one();
    }
}

/// Waits for and holds the write gate of the file `conn` is open on (`None` in memory).
pub fn hold_gate(conn: &rusqlite::Connection) -> Option<GateHeld> {
    static GATES: OnceLock<Mutex<HashMap<String, Arc<WriteGate>>>> = OnceLock::new();
    let file = conn.path().filter(|p| !p.is_empty())?.to_owned();
    let gate = Arc::clone(
        GATES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(file)
            .or_default(),
    );
    let mut busy = gate
        .busy
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while *busy {
        busy = gate
            .free
            .wait(busy)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    *busy = true;
    drop(busy);
    Some(GateHeld(gate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_handler_gives_up_after_the_timeout() {
        let last = (0..100_000u64).find(|&n| busy_waited_ms(n) >= 30_000);
        assert_eq!(last, Some(15_004));
        assert!(!busy(15_004));
        // The first waits are short.
        let t = std::time::Instant::now();
        assert!(busy(0));
        assert!(t.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn writers_of_one_file_take_turns_at_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let first = open_file(&path).unwrap();
        first.execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let c = open_file(&path).unwrap();
                    for _ in 0..25 {
                        let held = hold_gate(&c);
                        assert!(held.is_some());
                        c.execute_batch(
                            "BEGIN IMMEDIATE; INSERT INTO t SELECT COUNT(*) FROM t; COMMIT;",
                        )
                        .unwrap();
                    }
                });
            }
        });
        let n: i64 = first
            .query_row("SELECT COUNT(DISTINCT n) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 100);
        let mem = rusqlite::Connection::open_in_memory().unwrap();
        assert!(hold_gate(&mem).is_none());
    }
}
