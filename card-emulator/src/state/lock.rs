//! One card, one server: while a process serves the card of a state file (or changes it, as the
//! test installer does), it holds an exclusive advisory lock on the sidecar file
//! `<state file>.lock` ([`lock_path`]), so that a second process cannot load the same card and
//! overwrite the first one's changes with its own (a lost update: two cards that were one).
//!
//! The state file itself cannot carry the lock: it is replaced by a rename on every write, and a
//! lock on the old file would not cover the new one. The lock file stays in place when its
//! holder ends (removing it would let a latecomer lock a file nobody else looks at); it holds
//! the holder's process id, written over the previous one just after locking, for the message
//! a second opener gets. The
//! lock is taken with `try_lock`: a second opener fails at once
//! ([`EmulatorError::InUse`]) instead of waiting for a process that may serve the card for days.
//! It is released when the [`StateLock`] is dropped: unlocked explicitly, then closed. Closing
//! alone would not do in a process that starts others: a child started by another thread
//! holds a copy of the descriptor until it executes its program, and the lock lasts as long as
//! any copy. The operating system releases the lock when the process dies.

use crate::EmulatorError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file of a state file: `<state file>.lock` beside it.
pub fn lock_path(state_path: &Path) -> PathBuf {
    super::beside(state_path, ".lock")
}

/// The exclusive lock on a state file's [`lock_path`], held until dropped.
#[derive(Debug)]
pub struct StateLock {
    /// Open, and locked, for as long as the lock is held.
    file: File,
    path: PathBuf,
    /// `false` on a file system without locks.
    locked: bool,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if !self.locked {
            return;
        }
        if let Err(e) = self.file.unlock() {
            tracing::warn!("{}: cannot unlock: {e}", self.path.display());
        }
    }
}

impl StateLock {
    /// Takes the lock of the card in `state_path`, without waiting: a card another process
    /// (or another [`StateLock`] of this one) holds is an [`EmulatorError::InUse`] naming the
    /// holder's process id when it wrote one.
    ///
    /// On a file system without advisory locks the card is served unlocked, with a warning.
    pub fn acquire(state_path: &Path) -> Result<Self, EmulatorError> {
        let path = lock_path(state_path);
        let io_err = |source| EmulatorError::Io {
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        // Not truncated on open: until the lock is ours, the content is the holder's pid.
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io_err)?;
        let locked = match file.try_lock() {
            Ok(()) => true,
            Err(TryLockError::WouldBlock) => {
                return Err(EmulatorError::InUse {
                    path: state_path.to_path_buf(),
                    pid: read_pid(&mut file),
                });
            }
            Err(TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                tracing::warn!(
                    "{}: the file system has no file locks; nothing stops another process from \
                     serving the same card",
                    path.display()
                );
                false
            }
            Err(TryLockError::Error(e)) => return Err(io_err(e)),
        };
        write_pid(&mut file).map_err(io_err)?;
        Ok(Self { file, path, locked })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The process id the holder wrote. It writes it just after taking the lock: a file without
/// one yet (a new file) is read again for a moment, for the message only (the lock itself is
/// not waited for).
fn read_pid(file: &mut File) -> Option<u32> {
    for _ in 0..PID_READS {
        let mut text = String::new();
        if file.rewind().is_ok() && file.read_to_string(&mut text).is_ok() {
            if let Ok(pid) = text.trim().parse() {
                return Some(pid);
            }
        }
        std::thread::sleep(PID_READ_PAUSE);
    }
    None
}

/// How many times, and how often, a locked file without a pid yet is read again.
const PID_READS: u32 = 50;
const PID_READ_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

/// Writes this process's id over the previous holder's in one write (padded to the longest
/// pid, so a reader never finds the file empty or half old), then cuts anything after it.
fn write_pid(file: &mut File) -> io::Result<()> {
    let line = format!("{:<10}\n", std::process::id());
    file.rewind()?;
    file.write_all(line.as_bytes())?;
    file.set_len(u64::try_from(line.len()).unwrap_or(u64::MAX))?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_is_beside_the_state_file() {
        assert_eq!(
            lock_path(Path::new("/x/card.json")),
            Path::new("/x/card.json.lock")
        );
        assert_eq!(lock_path(Path::new("card")), Path::new("card.lock"));
    }

    #[test]
    fn second_lock_fails_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("card.json");
        let first = StateLock::acquire(&state).unwrap();
        assert_eq!(first.path(), dir.path().join("card.json.lock"));
        let pid_in = |path: &Path| std::fs::read_to_string(path).unwrap().trim().to_owned();
        assert_eq!(pid_in(first.path()), std::process::id().to_string());
        let err = StateLock::acquire(&state).unwrap_err();
        assert!(
            matches!(&err, EmulatorError::InUse { path, pid: Some(p) }
                if path == &state && *p == std::process::id()),
            "{err}"
        );
        drop(first);
        let again = StateLock::acquire(&state).unwrap();
        drop(again);
        // A stale pid left by an earlier holder is replaced, not appended to.
        std::fs::write(lock_path(&state), "4294967295\nmore").unwrap();
        let held = StateLock::acquire(&state).unwrap();
        assert_eq!(pid_in(held.path()), std::process::id().to_string());
        assert_eq!(std::fs::read_to_string(held.path()).unwrap().len(), 11);
    }

    #[test]
    fn a_missing_directory_is_an_io_error_on_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = StateLock::acquire(&dir.path().join("none/card.json")).unwrap_err();
        assert!(matches!(err, EmulatorError::Io { .. }), "{err}");
        assert!(err.to_string().contains("card.json.lock"), "{err}");
    }
}
