//! What the run does and when: the schedule of flow starts (stages of a fixed rate, an open
//! model on top of goose's closed one), the cards (one flow per card at a time) and the
//! ICCIDs of the stock (each downloaded once).
//!
//! goose users loop over a transaction as fast as they can; each loop here first claims a
//! start time from the [`Pacer`] and sleeps until it. A start that comes late because every
//! user was busy keeps its due time, so the latency counted from it includes the wait
//! (coordinated omission corrected).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Locks a mutex, taking over a poisoned one (a panicked user leaves consistent data here).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One load level: `rate` flows started per second (0: as soon as a user is free) for
/// `seconds`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageSpec {
    pub rate: f64,
    pub seconds: f64,
}

/// A flow's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub due: Instant,
    pub stage: usize,
}

#[derive(Debug)]
struct PacerState {
    stage: usize,
    stage_start: Instant,
    /// Starts given in this stage.
    given: u64,
    /// Stage boundaries actually passed: (stage, start, end).
    closed: Vec<(usize, Instant, Instant)>,
}

/// The schedule.
#[derive(Debug)]
pub struct Pacer {
    stages: Vec<StageSpec>,
    count: Option<u64>,
    issued: AtomicU64,
    stopped: AtomicBool,
    stop_reason: Mutex<Option<String>>,
    state: Mutex<Option<PacerState>>,
}

impl Pacer {
    pub fn new(stages: Vec<StageSpec>, count: Option<u64>) -> Self {
        Self {
            stages,
            count,
            issued: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            stop_reason: Mutex::new(None),
            state: Mutex::new(None),
        }
    }

    pub fn stages(&self) -> &[StageSpec] {
        &self.stages
    }

    /// Starts the clock (the first claim does it otherwise).
    pub fn start(&self, now: Instant) {
        let mut st = lock(&self.state);
        if st.is_none() {
            *st = Some(PacerState {
                stage: 0,
                stage_start: now,
                given: 0,
                closed: Vec::new(),
            });
        }
    }

    /// No more starts; the first reason given is kept.
    pub fn stop(&self, reason: &str) {
        self.stopped.store(true, Ordering::SeqCst);
        lock(&self.stop_reason).get_or_insert_with(|| reason.to_owned());
    }

    pub fn stop_reason(&self) -> Option<String> {
        lock(&self.stop_reason).clone()
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Flows given a start so far.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }

    /// The next start, or `None` when the schedule is over (stopped, count reached, last
    /// stage ended).
    pub fn claim(&self, now: Instant) -> Option<Slot> {
        if self.is_stopped() {
            return None;
        }
        if self.count.is_some_and(|c| self.issued() >= c) {
            self.stop("the count of flows was reached");
            return None;
        }
        self.start(now);
        let mut guard = lock(&self.state);
        let st = guard.as_mut()?;
        loop {
            let spec = *self.stages.get(st.stage)?;
            let end = st.stage_start + Duration::from_secs_f64(spec.seconds);
            let due = if spec.rate > 0.0 {
                #[allow(clippy::cast_precision_loss)]
                let offset = st.given as f64 / spec.rate;
                st.stage_start + Duration::from_secs_f64(offset)
            } else {
                now.max(st.stage_start)
            };
            if due < end {
                st.given += 1;
                self.issued.fetch_add(1, Ordering::SeqCst);
                return Some(Slot {
                    due,
                    stage: st.stage,
                });
            }
            st.closed.push((st.stage, st.stage_start, end));
            if st.stage + 1 >= self.stages.len() {
                drop(guard);
                self.stop("the last stage ended");
                return None;
            }
            st.stage += 1;
            st.stage_start = end;
            st.given = 0;
        }
    }

    /// Whether stage `i` has ended: the schedule passed it, or stopped.
    pub fn stage_ended(&self, i: usize) -> bool {
        self.is_stopped() || lock(&self.state).as_ref().is_some_and(|st| st.stage > i)
    }

    /// When stage `i` ran: its start and end (for the last stage run, `now` if that is sooner:
    /// when its last flow ended).
    pub fn stage_window(&self, i: usize, now: Instant) -> Option<(Instant, Instant)> {
        let guard = lock(&self.state);
        let st = guard.as_ref()?;
        if let Some(&(_, s, e)) = st.closed.iter().find(|c| c.0 == i) {
            return Some((s, e));
        }
        (st.stage == i).then(|| {
            let end = st.stage_start + Duration::from_secs_f64(self.stages[i].seconds);
            (st.stage_start, now.min(end))
        })
    }
}

/// A card of the fleet.
#[derive(Clone, Debug)]
pub struct Card {
    pub eid: String,
    /// Lifecycle: the card's base profile (enabled, fallback), once downloaded.
    pub base: Option<String>,
}

/// The cards not in use; a flow takes one and gives it back.
#[derive(Debug)]
pub struct CardPool {
    free: Mutex<VecDeque<Card>>,
    permits: std::sync::Arc<Semaphore>,
}

/// A card held by a flow.
#[derive(Debug)]
pub struct Held {
    pub card: Card,
    _permit: OwnedSemaphorePermit,
}

impl CardPool {
    pub fn new(eids: Vec<String>) -> Self {
        let n = eids.len();
        Self {
            free: Mutex::new(
                eids.into_iter()
                    .map(|eid| Card { eid, base: None })
                    .collect(),
            ),
            permits: std::sync::Arc::new(Semaphore::new(n)),
        }
    }

    /// The card free the longest; waits for one.
    pub async fn take(&self) -> Option<Held> {
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        let card = lock(&self.free).pop_front()?;
        Some(Held {
            card,
            _permit: permit,
        })
    }

    /// Gives a card back (it goes last).
    pub fn give(&self, held: Held) {
        let Held { card, _permit } = held;
        lock(&self.free).push_back(card);
        drop(_permit);
    }
}

/// The ICCIDs to download, each once.
#[derive(Debug)]
pub struct Iccids(Mutex<VecDeque<String>>);

impl Iccids {
    pub fn new(iccids: Vec<String>) -> Self {
        Self(Mutex::new(iccids.into()))
    }

    pub fn take(&self) -> Option<String> {
        lock(&self.0).pop_front()
    }

    pub fn left(&self) -> usize {
        lock(&self.0).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_follow_the_stages_and_the_count() {
        let t0 = Instant::now();
        let p = Pacer::new(
            vec![
                StageSpec {
                    rate: 2.0,
                    seconds: 1.0,
                },
                StageSpec {
                    rate: 4.0,
                    seconds: 1.0,
                },
            ],
            None,
        );
        p.start(t0);
        let slots: Vec<Slot> = std::iter::from_fn(|| p.claim(t0)).collect();
        let offsets: Vec<(u128, usize)> = slots
            .iter()
            .map(|s| ((s.due - t0).as_millis(), s.stage))
            .collect();
        assert_eq!(
            offsets,
            [(0, 0), (500, 0), (1000, 1), (1250, 1), (1500, 1), (1750, 1)]
        );
        assert_eq!(p.stop_reason().as_deref(), Some("the last stage ended"));
        assert!(p.stage_ended(0) && p.stage_ended(1));
        let w = p.stage_window(1, t0).unwrap();
        assert_eq!((w.1 - w.0).as_millis(), 1000);

        let p = Pacer::new(
            vec![StageSpec {
                rate: 0.0,
                seconds: 60.0,
            }],
            Some(3),
        );
        assert_eq!(std::iter::from_fn(|| p.claim(Instant::now())).count(), 3);
        assert!(p.is_stopped());
    }

    #[tokio::test]
    async fn a_card_is_held_by_one_flow() {
        let pool = CardPool::new(vec!["A".into(), "B".into()]);
        let a = pool.take().await.unwrap();
        let b = pool.take().await.unwrap();
        assert_eq!((a.card.eid.as_str(), b.card.eid.as_str()), ("A", "B"));
        let third = tokio::time::timeout(Duration::from_millis(50), pool.take()).await;
        assert!(third.is_err(), "no card free");
        pool.give(a);
        assert_eq!(pool.take().await.unwrap().card.eid, "A");
    }
}
