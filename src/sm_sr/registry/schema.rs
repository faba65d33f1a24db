//! The registry's tables, as migrations from one schema version to the next, written for
//! SQLite and for PostgreSQL alike (the same tables and columns).

/// Schema migrations, in order: entry `n` takes a database from version `n` to `n + 1`. Each
/// entry is written for SQLite, then for PostgreSQL (the same tables: `BIGINT` for
/// `INTEGER`, `BYTEA` for `BLOB`, a sequence for `AUTOINCREMENT`).
pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    // 0 → 1
    (
        "CREATE TABLE eis (
         eid TEXT PRIMARY KEY,
         document TEXT NOT NULL,
         registered_at TEXT NOT NULL,
         last_audit TEXT
     );
     CREATE TABLE isdp (
         eid TEXT NOT NULL REFERENCES eis(eid) ON DELETE CASCADE,
         aid TEXT NOT NULL,
         iccid TEXT,
         state TEXT NOT NULL,
         fallback INTEGER NOT NULL DEFAULT 0,
         pol2 TEXT NOT NULL DEFAULT '[]',
         memory INTEGER,
         pending TEXT,
         updated_at TEXT NOT NULL,
         PRIMARY KEY (eid, aid)
     );
     CREATE TABLE scp80_counter (
         eid TEXT NOT NULL REFERENCES eis(eid) ON DELETE CASCADE,
         kvn INTEGER NOT NULL,
         counter INTEGER NOT NULL,
         PRIMARY KEY (eid, kvn)
     );
     CREATE TABLE history (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         eid TEXT NOT NULL,
         at TEXT NOT NULL,
         operation TEXT NOT NULL,
         outcome TEXT NOT NULL,
         detail TEXT NOT NULL DEFAULT ''
     );
     CREATE TABLE notification (
         eid TEXT NOT NULL,
         seq INTEGER NOT NULL,
         kind INTEGER NOT NULL,
         aid TEXT,
         received_at TEXT NOT NULL,
         confirmed_at TEXT,
         PRIMARY KEY (eid, seq)
     );",
        "CREATE TABLE eis (
         eid TEXT PRIMARY KEY,
         document TEXT NOT NULL,
         registered_at TEXT NOT NULL,
         last_audit TEXT
     );
     CREATE TABLE isdp (
         eid TEXT NOT NULL REFERENCES eis(eid) ON DELETE CASCADE,
         aid TEXT NOT NULL,
         iccid TEXT,
         state TEXT NOT NULL,
         fallback BIGINT NOT NULL DEFAULT 0,
         pol2 TEXT NOT NULL DEFAULT '[]',
         memory BIGINT,
         pending TEXT,
         updated_at TEXT NOT NULL,
         PRIMARY KEY (eid, aid)
     );
     CREATE TABLE scp80_counter (
         eid TEXT NOT NULL REFERENCES eis(eid) ON DELETE CASCADE,
         kvn BIGINT NOT NULL,
         counter BIGINT NOT NULL,
         PRIMARY KEY (eid, kvn)
     );
     CREATE TABLE history (
         id BIGSERIAL PRIMARY KEY,
         eid TEXT NOT NULL,
         at TEXT NOT NULL,
         operation TEXT NOT NULL,
         outcome TEXT NOT NULL,
         detail TEXT NOT NULL DEFAULT ''
     );
     CREATE TABLE notification (
         eid TEXT NOT NULL,
         seq BIGINT NOT NULL,
         kind BIGINT NOT NULL,
         aid TEXT,
         received_at TEXT NOT NULL,
         confirmed_at TEXT,
         PRIMARY KEY (eid, seq)
     );",
    ),
    // 1 → 2: the per-card lease of the SM-SR instance driving the card (`lease_until` in
    // milliseconds since the Unix epoch).
    (
        "CREATE TABLE euicc_lease (
         eid TEXT PRIMARY KEY,
         owner TEXT NOT NULL,
         lease_until INTEGER NOT NULL,
         taken_at TEXT NOT NULL
     );",
        "CREATE TABLE euicc_lease (
         eid TEXT PRIMARY KEY,
         owner TEXT NOT NULL,
         lease_until BIGINT NOT NULL,
         taken_at TEXT NOT NULL
     );",
    ),
];
