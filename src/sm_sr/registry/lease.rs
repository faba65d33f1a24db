//! Per-card leases: several SM-SR instances on one registry, one fleet of cards. Before an
//! instance drives a card it takes the card's lease (owner: the instance, until: now + a
//! time to live), renews it while it works, and gives it back after. Another instance finds
//! the lease held and waits; a lease whose owner died expires, and the next instance takes
//! it over (the dead one's pending marks are then settled by `AuditEIS`).
//!
//! One statement claims a lease, atomic on both databases: an upsert that inserts the row, or
//! updates it only when it is expired or is the claimer's own (`ON CONFLICT … DO UPDATE …
//! WHERE`); PostgreSQL makes a second claimer of the same row wait for the first one's commit
//! and then evaluate the condition against the committed row. Times are the instances'
//! clocks, in milliseconds since the Unix epoch: instances sharing a registry need clocks in
//! step to well within the time to live.

use super::{Registry, RegistryError};
use crate::db::{vals, Sql};
use serde::Serialize;
use smsr_proto::gp::get_data::Eid;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A card's lease as the registry holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub owner: String,
    /// Milliseconds since the Unix epoch.
    pub until_ms: i64,
    pub taken_at: String,
}

impl Lease {
    /// Whether it has run out.
    pub fn expired(&self) -> bool {
        self.until_ms < now_ms()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn until(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

impl Registry {
    /// Takes the lease on the card `eid` for `owner`, for `ttl`: `true` when it is now
    /// `owner`'s (it was free, expired, or `owner`'s already: renewed), `false` when another
    /// owner holds it unexpired.
    pub fn claim_lease(
        &mut self,
        eid: &Eid,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, RegistryError> {
        let n = self.db.exec(
            "INSERT INTO euicc_lease (eid, owner, lease_until, taken_at) VALUES (?1, ?2, ?3, ?5)
             ON CONFLICT (eid) DO UPDATE SET owner = excluded.owner,
                 lease_until = excluded.lease_until, taken_at = excluded.taken_at
             WHERE euicc_lease.owner = excluded.owner OR euicc_lease.lease_until < ?4",
            vals![eid.to_string(), owner, until(ttl), now_ms(), super::now()],
        )?;
        Ok(n == 1)
    }

    /// Extends `owner`'s lease on `eid` to `ttl` from now; `false` when it is not `owner`'s
    /// any more (expired and taken by another).
    pub fn renew_lease(
        &mut self,
        eid: &Eid,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, RegistryError> {
        let n = self.db.exec(
            "UPDATE euicc_lease SET lease_until = ?3 WHERE eid = ?1 AND owner = ?2",
            vals![eid.to_string(), owner, until(ttl)],
        )?;
        Ok(n == 1)
    }

    /// Gives back `owner`'s lease on `eid`; `false` when it was not `owner`'s.
    pub fn release_lease(&mut self, eid: &Eid, owner: &str) -> Result<bool, RegistryError> {
        let n = self.db.exec(
            "DELETE FROM euicc_lease WHERE eid = ?1 AND owner = ?2",
            vals![eid.to_string(), owner],
        )?;
        Ok(n == 1)
    }

    /// The lease on `eid`, if any (expired or not).
    pub fn lease(&self, eid: &Eid) -> Result<Option<Lease>, RegistryError> {
        self.db
            .row(
                "SELECT owner, lease_until, taken_at FROM euicc_lease WHERE eid = ?1",
                vals![eid.to_string()],
            )?
            .map(|r| {
                Ok(Lease {
                    owner: r.text(0)?,
                    until_ms: r.int(1)?,
                    taken_at: r.text(2)?,
                })
            })
            .transpose()
    }
}
