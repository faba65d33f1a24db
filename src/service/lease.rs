//! The card leases of an SM-SR instance (SGP.02 has one ISD-R conversation per card at a
//! time; several instances sharing one registry and one fleet take turns by the card's lease in
//! the registry, [`Registry::claim_lease`]): taking one, waiting with backoff while another
//! instance holds it, and renewing it while an operation runs.

use super::binding::registry_error;
use super::envelope::{reason, subject, FunctionError};
use crate::sm_sr::registry::Registry;
use smsr_proto::gp::get_data::Eid;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a card's lease lasts unless renewed; an operation renews it every third of that.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// How long an operation with no validity period waits for another instance's lease.
pub(super) const LEASE_WAIT: Duration = Duration::from_secs(300);

/// Takes the card's lease, polling with backoff while another instance holds it, until
/// `deadline`.
pub(super) fn take(
    registry: &mut Registry,
    eid: &Eid,
    owner: &str,
    deadline: Instant,
) -> Result<(), FunctionError> {
    let mut pause = Duration::from_millis(10);
    loop {
        if registry
            .claim_lease(eid, owner, LEASE_TTL)
            .map_err(|e| registry_error(&e))?
        {
            return Ok(());
        }
        if Instant::now() + pause > deadline {
            let holder = registry
                .lease(eid)
                .ok()
                .flatten()
                .map(|l| l.owner)
                .unwrap_or_default();
            return Err(FunctionError::new(
                subject::EID,
                reason::UNAVAILABLE,
                format!(
                    "the eUICC {eid} is driven by SM-SR instance {holder}, whose lease on it \
                     did not end within the operation's validity period; nothing was sent"
                ),
            )
            .about(eid.to_string()));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The cards whose operations run now in this instance: their leases are renewed by the
/// instance's lease keeper (one thread for all, every third of [`LEASE_TTL`]) as long as
/// their [`Running`] guard lives.
#[derive(Debug, Default)]
pub(super) struct RunningSet(Mutex<HashMap<Eid, usize>>);

impl RunningSet {
    /// Marks an operation on `eid` running until the guard is dropped.
    pub(super) fn enter(self: &Arc<Self>, eid: Eid) -> Running {
        *lock(&self.0).entry(eid).or_default() += 1;
        Running {
            set: Arc::clone(self),
            eid,
        }
    }

    /// The cards with a running operation.
    pub(super) fn eids(&self) -> Vec<Eid> {
        lock(&self.0).keys().copied().collect()
    }
}

/// An operation running on a card ([`RunningSet::enter`]).
#[derive(Debug)]
pub(super) struct Running {
    set: Arc<RunningSet>,
    eid: Eid,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut map = lock(&self.set.0);
        if let Some(n) = map.get_mut(&self.eid) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.eid);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_set_counts_operations_per_card() {
        let set = Arc::new(RunningSet::default());
        let eid: Eid = "89001999000010000000000000000022".parse().unwrap();
        let a = set.enter(eid);
        let b = set.enter(eid);
        assert_eq!(set.eids(), [eid]);
        drop(a);
        assert_eq!(set.eids(), [eid]);
        drop(b);
        assert!(set.eids().is_empty());
    }
}
