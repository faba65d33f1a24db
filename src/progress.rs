//! A progress line for long card work (a download over SMS to a real card takes minutes): the
//! current step, the APDUs and bytes it exchanged so far and the seconds it has run, redrawn on
//! stderr at most ten times a second, erased when the step ends. Shown only when a command
//! turns it on ([`enable`]): `smsr provision` does when its stdout is a terminal and `--json`
//! is not given. Per thread, like the exchange counts it shows.

use std::cell::RefCell;
use std::io::Write;
use std::time::{Duration, Instant};

struct Line {
    step: String,
    started: Instant,
    drawn: Option<Instant>,
    exchanges: u64,
    bytes: u64,
}

thread_local! {
    static ON: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LINE: RefCell<Option<Line>> = const { RefCell::new(None) };
}

/// How often the line is redrawn at most.
const EVERY: Duration = Duration::from_millis(100);

/// Shows the line on this thread from now on.
pub fn enable() {
    ON.set(true);
}

/// A step begins (the previous line, if any, is erased).
pub fn step(name: &str) {
    if !ON.get() {
        return;
    }
    end();
    LINE.with_borrow_mut(|l| {
        *l = Some(Line {
            step: name.to_owned(),
            started: Instant::now(),
            drawn: None,
            exchanges: 0,
            bytes: 0,
        });
    });
}

/// An exchange of `bytes` bytes with the card.
pub fn exchange(bytes: u64) {
    if !ON.get() {
        return;
    }
    LINE.with_borrow_mut(|l| {
        let Some(line) = l.as_mut() else {
            return;
        };
        line.exchanges += 1;
        line.bytes += bytes;
        if line.drawn.is_some_and(|t| t.elapsed() < EVERY) {
            return;
        }
        line.drawn = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        // \r and "erase to the end of the line": the line is redrawn in place.
        let _ = write!(
            err,
            "\r\x1b[K{}: {} APDUs, {} bytes, {:.1} s",
            line.step,
            line.exchanges,
            line.bytes,
            line.started.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    });
}

/// The step ended: its line is erased.
pub fn end() {
    if !ON.get() {
        return;
    }
    LINE.with_borrow_mut(|l| {
        if l.take().is_some_and(|line| line.drawn.is_some()) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_unless_enabled_and_counts_per_step() {
        // Off: nothing is kept.
        step("x");
        exchange(10);
        assert!(LINE.with_borrow(Option::is_none));
        std::thread::spawn(|| {
            enable();
            step("download");
            exchange(10);
            exchange(5);
            LINE.with_borrow(|l| {
                let l = l.as_ref().unwrap();
                assert_eq!((l.step.as_str(), l.exchanges, l.bytes), ("download", 2, 15));
            });
            end();
            assert!(LINE.with_borrow(Option::is_none));
        })
        .join()
        .unwrap();
    }
}
