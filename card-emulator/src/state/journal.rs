//! The state journal: a card served for a while (a fleet card in a service) writes each new
//! state by appending it to `<state file>.journal` instead of replacing the state file, and
//! folds the journal back into the state file when it closes (or the journal grows past
//! [`COMPACT_AT`]). Appending to a file that exists allocates no inode and takes no lock on the
//! directory, where a replace makes a new file and renames it, which serialises every card of
//! one directory in the filesystem.
//!
//! A record is `length (4 bytes, big-endian) ‖ the first 8 bytes of SHA-256(content) ‖
//! content`, the content being the state file's JSON. The last whole record with a matching
//! digest is the card's state: an append cut short by a kill leaves a torn tail, which is
//! ignored (the card keeps the state before that command, as a card's NVM transaction does).
//! [`super::CardState::load`] reads the journal when there is one; the state file alone is the
//! state once the journal is folded in and removed.

use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The journal grows to about this before it is folded into the state file.
pub const COMPACT_AT: u64 = 256 * 1024;

/// The largest journal read (a bigger one is damaged: it is folded long before).
const READ_MAX: u64 = 64 * 1024 * 1024;

/// The journal of a state file: `<state file>.journal`.
pub fn journal_path(state_path: &Path) -> PathBuf {
    super::beside(state_path, ".journal")
}

fn digest(content: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(content);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// A journal open for appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    len: u64,
}

impl Journal {
    /// Opens (creating, mode 0600) the journal of `state_path`, after the end of what it holds.
    pub fn open(state_path: &Path) -> io::Result<Self> {
        let path = journal_path(state_path);
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        let len = file.metadata()?.len();
        Ok(Self { path, file, len })
    }

    /// Appends `content` as one record (one write); synced to disk when `synced`.
    pub fn append(&mut self, content: &[u8], synced: bool) -> io::Result<()> {
        let len = u32::try_from(content.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "state too large"))?;
        let mut record = Vec::with_capacity(12 + content.len());
        record.extend_from_slice(&len.to_be_bytes());
        record.extend_from_slice(&digest(content));
        record.extend_from_slice(content);
        self.file.write_all(&record)?;
        if synced {
            self.file.sync_data()?;
        }
        self.len += record.len() as u64;
        Ok(())
    }

    /// Bytes in the journal.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties it (after its last state was written to the state file).
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.len = 0;
        Ok(())
    }

    /// Removes its file (the state file holds the last state).
    pub fn remove(self) -> io::Result<()> {
        drop(self.file);
        fs::remove_file(&self.path)
    }
}

/// The last whole record of the journal of `state_path`, if it has a journal with one.
pub fn last_state(state_path: &Path) -> io::Result<Option<Vec<u8>>> {
    let path = journal_path(state_path);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(READ_MAX + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > READ_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: more than {READ_MAX} bytes: not a journal this emulator wrote",
                path.display()
            ),
        ));
    }
    Ok(last_record(&bytes).map(<[u8]>::to_vec))
}

/// The content of the last whole record of `bytes` (records after a torn or damaged one are
/// not trusted).
fn last_record(mut bytes: &[u8]) -> Option<&[u8]> {
    let mut last = None;
    while bytes.len() >= 12 {
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let Some(content) = bytes.get(12..12 + len) else {
            break;
        };
        if digest(content) != bytes[4..12] {
            break;
        }
        last = Some(content);
        bytes = &bytes[12 + len..];
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_whole_record_wins_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("card.json");
        assert_eq!(last_state(&state).unwrap(), None);
        let mut j = Journal::open(&state).unwrap();
        j.append(b"{\"a\":1}", false).unwrap();
        j.append(b"{\"a\":2}", true).unwrap();
        assert_eq!(last_state(&state).unwrap().unwrap(), b"{\"a\":2}");
        // A third record cut short by a kill: the second stays the state.
        let mut raw = fs::read(journal_path(&state)).unwrap();
        let whole = raw.len();
        j.append(b"{\"a\":3}", false).unwrap();
        raw = fs::read(journal_path(&state)).unwrap();
        for cut in whole + 1..raw.len() {
            assert_eq!(
                last_record(&raw[..cut]).unwrap(),
                b"{\"a\":2}",
                "cut at {cut}"
            );
        }
        assert_eq!(last_record(&raw).unwrap(), b"{\"a\":3}");
        // A damaged byte in a record: the records before it stand.
        raw[whole + 13] ^= 1;
        assert_eq!(last_record(&raw).unwrap(), b"{\"a\":2}");
        assert_eq!(j.len(), raw.len() as u64);
        j.clear().unwrap();
        assert_eq!(last_state(&state).unwrap(), None);
        j.remove().unwrap();
        assert!(!journal_path(&state).exists());
    }
}
