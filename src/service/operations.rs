//! Long functions as operations: a function that touches a card answers `202` with an
//! `operationId` at once; `GET /operations/{operationId}` gives `{"state": "queued" | "running" |
//! "done", "result": {…the function's answer…}}`, long-polled with `?waitSeconds=N` (N ≤ 30).
//!
//! A repeated `functionCallIdentifier` from the same requester gets the first call's operation,
//! whatever state it has reached, and never a second execution (idempotency key: requester
//! and call identifier). Only the requester that started an operation can read it.
//!
//! The table lives in the service's memory: a restart forgets finished operations; what a card
//! operation changed is in the registry, which `AuditEIS` reconciles with the card.

use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Where an operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpState {
    /// Waiting for its card (one operation per EID at a time).
    Queued,
    Running,
    Done,
}

/// What `GET /operations/{id}` shows.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub operation_id: String,
    pub function: String,
    pub state: OpState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip)]
    pub requester: String,
}

#[derive(Debug)]
struct Entry {
    snapshot: Snapshot,
    changed: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<String, Entry>,
    by_call: HashMap<(String, String), String>,
    started: u64,
    done: u64,
}

/// The operations of one service.
#[derive(Debug, Default)]
pub struct Operations {
    table: Mutex<Table>,
    /// Woken whenever an operation finishes (graceful shutdown waits on it).
    finished: Notify,
}

/// First-come first-served turns per key (an EID): a fair mutex each.
#[derive(Debug, Default)]
pub struct Turns {
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Turns {
    /// Waits for `key`'s turn; the guard ends it.
    pub async fn wait(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let q = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone();
        q.lock_owned().await
    }
}

/// The outcome of [`Operations::begin`].
#[derive(Debug)]
pub enum Begun {
    /// A new operation: run it and [`Operations::finish`] it.
    New(String),
    /// This requester's call identifier has an operation already.
    Existing(Snapshot),
}

fn new_id() -> String {
    let mut b = [0u8; 12];
    // The id only has to be unique and unguessable among this service's operations; should
    // the OS refuse randomness, the time and a counter still make it unique.
    if getrandom::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b.copy_from_slice(&t.to_be_bytes()[4..]);
    }
    format!("op-{}", crate::hexfmt::upper(&b).to_lowercase())
}

impl Operations {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while the table was held leaves it consistent (every change is one insert or
        // one field update), so a poisoned lock is taken over.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts an operation for `requester`'s call `call`, or finds the one it started before.
    pub fn begin(&self, requester: &str, call: &str, function: &str) -> Begun {
        let mut t = self.lock();
        let key = (requester.to_owned(), call.to_owned());
        if let Some(id) = t.by_call.get(&key) {
            if let Some(e) = t.entries.get(id) {
                return Begun::Existing(e.snapshot.clone());
            }
        }
        let id = new_id();
        t.by_call.insert(key, id.clone());
        t.started += 1;
        t.entries.insert(
            id.clone(),
            Entry {
                snapshot: Snapshot {
                    operation_id: id.clone(),
                    function: function.to_owned(),
                    state: OpState::Queued,
                    result: None,
                    requester: requester.to_owned(),
                },
                changed: Arc::new(Notify::new()),
            },
        );
        Begun::New(id)
    }

    /// The operation got its card and runs.
    pub fn running(&self, id: &str) {
        let mut t = self.lock();
        if let Some(e) = t.entries.get_mut(id) {
            e.snapshot.state = OpState::Running;
            e.changed.notify_waiters();
        }
    }

    /// The operation is done; `result` is the function's whole answer.
    pub fn finish(&self, id: &str, result: Value) {
        let mut t = self.lock();
        if let Some(e) = t.entries.get_mut(id) {
            e.snapshot.state = OpState::Done;
            e.snapshot.result = Some(result);
            e.changed.notify_waiters();
        }
        t.done += 1;
        drop(t);
        self.finished.notify_waiters();
    }

    /// The operation `requester`'s call `call` started, if any.
    pub fn find(&self, requester: &str, call: &str) -> Option<Snapshot> {
        let t = self.lock();
        let id = t.by_call.get(&(requester.to_owned(), call.to_owned()))?;
        t.entries.get(id).map(|e| e.snapshot.clone())
    }

    /// The operation as it is now.
    pub fn get(&self, id: &str) -> Option<Snapshot> {
        self.lock().entries.get(id).map(|e| e.snapshot.clone())
    }

    /// The operation once it is done, or as it is after `wait`.
    pub async fn wait(&self, id: &str, wait: Duration) -> Option<Snapshot> {
        let deadline = Instant::now() + wait;
        loop {
            let (snapshot, changed) = {
                let t = self.lock();
                let e = t.entries.get(id)?;
                (e.snapshot.clone(), e.changed.clone())
            };
            let now = Instant::now();
            if snapshot.state == OpState::Done || now >= deadline {
                return Some(snapshot);
            }
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Re-read after registering: a change between the read and the registration is
            // not lost.
            if self.get(id).is_some_and(|s| s.state != snapshot.state) {
                continue;
            }
            let _ = tokio::time::timeout(deadline - now, notified).await;
        }
    }

    /// Operations started and not finished.
    pub fn in_flight(&self) -> u64 {
        let t = self.lock();
        t.started - t.done
    }

    /// Waits until no operation is in flight, or `limit` passed; returns the number left.
    pub async fn drain(&self, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.finished.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let left = self.in_flight();
            let now = Instant::now();
            if left == 0 || now >= deadline {
                return left;
            }
            let _ = tokio::time::timeout(deadline - now, notified).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repeated_call_identifier_finds_the_first_operation() {
        let ops = Operations::default();
        let Begun::New(id) = ops.begin("mno", "c-1", "DownloadProfile") else {
            panic!("first call must start an operation");
        };
        let Begun::Existing(s) = ops.begin("mno", "c-1", "DownloadProfile") else {
            panic!("second call must find the first");
        };
        assert_eq!(s.operation_id, id);
        // Another requester's identical call identifier is another call.
        assert!(matches!(ops.begin("mno-2", "c-1", "DownloadProfile"), Begun::New(o) if o != id));
        assert_eq!(ops.in_flight(), 2);
    }

    #[tokio::test]
    async fn waiting_returns_when_done_or_after_the_wait() {
        let ops = Arc::new(Operations::default());
        let Begun::New(id) = ops.begin("mno", "c-1", "AuditEIS") else {
            panic!()
        };
        let s = ops.wait(&id, Duration::from_millis(20)).await.unwrap();
        assert_eq!(s.state, OpState::Queued);
        let o2 = ops.clone();
        let id2 = id.clone();
        let t = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            o2.running(&id2);
            o2.finish(&id2, json!({"ok": true}));
        });
        let s = ops.wait(&id, Duration::from_secs(10)).await.unwrap();
        assert_eq!(s.state, OpState::Done);
        assert_eq!(s.result, Some(json!({"ok": true})));
        t.await.unwrap();
        assert_eq!(ops.drain(Duration::from_millis(1)).await, 0);
        assert!(ops.wait("op-none", Duration::ZERO).await.is_none());
    }
}
