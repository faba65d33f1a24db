//! Connections kept open between uses: a service takes one per request or card operation
//! instead of opening (and checking the schema of) a new one each time.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

type Opener<T, E> = Box<dyn Fn() -> Result<T, E> + Send + Sync>;
type Exhausted<E> = Box<dyn Fn(Duration) -> E + Send + Sync>;

/// Connections (or stores holding one) of one kind, opened on demand by `open`, at most
/// `max_open` at a time (a PostgreSQL server serves a limited number of clients): a caller
/// waits for one to be given back, up to a limit.
pub struct Pool<T, E> {
    open: Opener<T, E>,
    exhausted: Exhausted<E>,
    reusable: fn(&T) -> bool,
    state: Mutex<State<T>>,
    returned: Condvar,
    max_open: usize,
    wait: Duration,
}

struct State<T> {
    idle: Vec<T>,
    /// Items out of the pool or idle in it.
    open: usize,
}

impl<T, E> std::fmt::Debug for Pool<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool(max_open {})", self.max_open)
    }
}

impl<T, E> Pool<T, E> {
    /// A pool of at most `max_open` items; a caller waits up to `wait` for one, then gets
    /// `exhausted(wait)`. `reusable` says whether an item given back may serve again (a closed
    /// PostgreSQL connection may not).
    pub fn new(
        max_open: usize,
        wait: Duration,
        reusable: fn(&T) -> bool,
        open: impl Fn() -> Result<T, E> + Send + Sync + 'static,
        exhausted: impl Fn(Duration) -> E + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            open: Box::new(open),
            exhausted: Box::new(exhausted),
            reusable,
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            max_open: max_open.max(1),
            wait,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle item, or a new one while fewer than `max_open` are open, or the next one given
    /// back.
    pub fn get(self: &Arc<Self>) -> Result<Pooled<T, E>, E> {
        let deadline = Instant::now() + self.wait;
        let mut state = self.lock();
        loop {
            if let Some(item) = state.idle.pop() {
                return Ok(self.pooled(item));
            }
            if state.open < self.max_open {
                state.open += 1;
                drop(state);
                return match (self.open)() {
                    Ok(item) => Ok(self.pooled(item)),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err((self.exhausted)(self.wait));
            }
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn pooled(self: &Arc<Self>, item: T) -> Pooled<T, E> {
        Pooled {
            item: Some(item),
            pool: Arc::clone(self),
        }
    }

    /// Idle items now.
    pub fn idle(&self) -> usize {
        self.lock().idle.len()
    }

    /// Items open now (out of the pool or idle in it).
    pub fn open(&self) -> usize {
        self.lock().open
    }
}

/// An item taken from a [`Pool`], given back when dropped.
pub struct Pooled<T, E> {
    item: Option<T>,
    pool: Arc<Pool<T, E>>,
}

impl<T: std::fmt::Debug, E> std::fmt::Debug for Pooled<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pooled({:?})", self.item)
    }
}

impl<T, E> Deref for Pooled<T, E> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.item {
            Some(item) => item,
            None => unreachable!("taken only when dropped"),
        }
    }
}

impl<T, E> DerefMut for Pooled<T, E> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.item {
            Some(item) => item,
            None => unreachable!("taken only when dropped"),
        }
    }
}

impl<T, E> Drop for Pooled<T, E> {
    fn drop(&mut self) {
        let Some(item) = self.item.take() else {
            return;
        };
        let reusable = (self.pool.reusable)(&item);
        let mut state = self.pool.lock();
        if reusable {
            state.idle.push(item);
        } else {
            state.open -= 1;
            drop(state);
            drop(item);
        }
        self.pool.returned.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn items_are_reused_and_bounded() {
        static OPENED: AtomicUsize = AtomicUsize::new(0);
        let pool: Arc<Pool<usize, String>> = Pool::new(
            2,
            Duration::from_millis(50),
            |n| *n != 99,
            || Ok(OPENED.fetch_add(1, Ordering::SeqCst)),
            |w| format!("none free within {w:?}"),
        );
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        assert_eq!((*a, *b), (0, 1));
        assert_eq!(pool.get().unwrap_err(), "none free within 50ms");
        drop(a);
        assert_eq!(pool.idle(), 1);
        let c = pool.get().unwrap();
        assert_eq!(*c, 0, "the idle one serves again");
        assert_eq!(OPENED.load(Ordering::SeqCst), 2);
        // One given back while another waits: the waiter gets it.
        std::thread::scope(|s| {
            let waiter = s.spawn(|| *pool.get().unwrap());
            std::thread::sleep(Duration::from_millis(10));
            drop(c);
            assert_eq!(waiter.join().unwrap(), 0);
        });
        let mut d = pool.get().unwrap();
        *d = 99;
        drop(d);
        assert_eq!((pool.idle(), pool.open()), (0, 1), "not reusable: closed");
        let e = pool.get().unwrap();
        assert_eq!(*e, 2, "a new one in its place");
    }
}
