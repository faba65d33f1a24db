//! Files that hold secrets: private keys (PEM) are used only when no one but their owner can
//! read them, as OpenSSH treats its keys; files this program writes with secrets in them
//! (a profile package with K and OPc) are created mode 0600.

use std::path::Path;

/// The permission bits when group or others have any access (unix), else `None`.
#[cfg(unix)]
pub fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
pub fn loose_mode(_path: &Path) -> Option<u32> {
    None
}

/// Refuses a private key file that group or others can read; the message names the fix.
pub fn check_private(path: &Path, what: &str) -> Result<(), String> {
    match loose_mode(path) {
        Some(mode) => Err(format!(
            "{what} {} has mode {:04o}: group or others can read it, and a private key must \
             be the owner's alone; make it so with `chmod 600 {}`",
            path.display(),
            mode & 0o7777,
            path.display()
        )),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` readable by its owner only (mode 0600, also when it existed with
/// another mode).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    smsr_proto::pki::dir::replace_file(path, bytes, 0o600)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn secrets_are_written_0600_and_loose_keys_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.der");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"secret").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"secret");
        assert!(check_private(&p, "key").is_ok());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = check_private(&p, "SM-DP key").unwrap_err();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
    }
}
