//! The card leases of an SM-SR instance (SGP.02 has one ISD-R conversation per card at a
//! time; several instances sharing one registry and one fleet take turns by the card's lease in
//! the registry, [`Registry::claim_lease`]): taking one, waiting with backoff while another
//! instance holds it, and renewing it while an operation runs.

use super::binding::registry_error;
use super::envelope::{reason, subject, FunctionError};
use crate::sm_sr::registry::Registry;
use smsr_proto::gp::get_data::Eid;
use std::path::PathBuf;
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

/// Renews a card's lease every third of [`LEASE_TTL`] while an operation runs (its own
/// registry connection, opened at the first renewal); stops when dropped.
pub(super) struct Renewal {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Renewal {
    pub(super) fn start(db: PathBuf, eid: Eid, owner: String) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut registry = None;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(LEASE_TTL / 3)
            {
                if registry.is_none() {
                    registry = Registry::open(&db)
                        .map_err(|e| tracing::warn!("lease on {eid} not renewed: {e}"))
                        .ok();
                }
                if let Some(r) = registry.as_mut() {
                    match r.renew_lease(&eid, &owner, LEASE_TTL) {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("lease on {eid} lost: it expired"),
                        Err(e) => tracing::warn!("lease on {eid} not renewed: {e}"),
                    }
                }
            }
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renewal")
    }
}
