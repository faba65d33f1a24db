//! Reading files no larger than what they can legitimately hold: a key, a certificate, an EIS,
//! a profile package, a card's state. A path that names `/dev/zero`, a FIFO or a runaway file
//! gets an error once the limit is passed, never a process that grows without bound.

use std::io::{self, Read};
use std::path::Path;

/// A PEM private key or certificate file.
pub const PEM_MAX: u64 = 64 * 1024;
/// A DER certificate (SGP.02 `7F21` or X.509).
pub const CERTIFICATE_MAX: u64 = 64 * 1024;
/// A JSON document: an EIS, a keystore, an order list.
pub const DOCUMENT_MAX: u64 = 4 * 1024 * 1024;
/// A SAIP profile package (TS.48 packages are 10–20 KB; SAIP allows far more, but not this).
pub const PACKAGE_MAX: u64 = 16 * 1024 * 1024;
/// An emulator card's state file (installed packages are kept beside it).
pub const STATE_MAX: u64 = 64 * 1024 * 1024;
/// One line of a JSON Lines trace (an extended APDU pair in hex is about 260 KB).
pub const TRACE_LINE_MAX: u64 = 1024 * 1024;

/// Reads `path`, refusing more than `max` bytes; `what` names the file in the error.
pub fn read(path: &Path, max: u64, what: &str) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    if let Ok(m) = file.metadata() {
        if m.is_file() && m.len() > max {
            return Err(too_large(path, max, what));
        }
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max {
        return Err(too_large(path, max, what));
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path, max: u64, what: &str) -> io::Result<String> {
    String::from_utf8(read(path, max, what)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} {} is not UTF-8 text: {e}", path.display()),
        )
    })
}

fn too_large(path: &Path, max: u64, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is larger than {max} bytes, more than {what} can be: is it the right file?",
            path.display()
        ),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn files_within_the_limit_read_and_larger_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read(&p, 5, "a test file").unwrap(), b"12345");
        let e = read(&p, 4, "a test file").unwrap_err();
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
        assert_eq!(read_to_string(&p, 5, "x").unwrap(), "12345");
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_device_stops_at_the_limit() {
        let e = read(Path::new("/dev/zero"), 1024, "a key").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
