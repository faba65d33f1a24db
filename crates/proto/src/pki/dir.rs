//! The PKI directory: the one on-disk form of the four issuing parties of an SGP.02 PKI (CI,
//! EUM, SM-DP, SM-SR), written by `smsr pki init` and read by `smsr` and by
//! `euicc-emulator init --pki` (which plays the EUM).
//!
//! ```text
//! DIR/ci.cert.der      CERT.CI.ECDSA     (7F21, binary)      mode 0644
//! DIR/ci.key.pem       SK.CI.ECDSA       (PKCS#8 PEM)        mode 0600
//! DIR/eum.cert.der     CERT.EUM.ECDSA    DIR/eum.key.pem     SK.EUM.ECDSA
//! DIR/sm-dp.cert.der   CERT.DP.ECDSA     DIR/sm-dp.key.pem   SK.DP.ECDSA
//! DIR/sm-sr.cert.der   CERT.SR.ECDSA     DIR/sm-sr.key.pem   SK.SR.ECDSA
//! ```
//!
//! The certificate files hold the `7F21` TLV as is (no PEM armour: GlobalPlatform certificates
//! are not X.509). Reading checks that each private key matches its certificate and that the
//! chain verifies ([`Issuers::verify`]). Writing refuses to replace any existing file unless
//! asked to; the key files are created with mode 0600 (Unix).
//!
//! This is the crate's only file I/O; everything else in `smsr-proto` is sans-IO.

use super::cert::Certificate;
use super::keys::PrivateKey;
use super::test_pki::{Issuers, Party};
use super::PkiError;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The parties of a PKI directory and their file stems, in writing order.
pub const PARTIES: [&str; 4] = ["ci", "eum", "sm-dp", "sm-sr"];

/// The certificate file of a party (`<stem>.cert.der`).
pub fn certificate_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.cert.der"))
}

/// The private key file of a party (`<stem>.key.pem`).
pub fn key_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.key.pem"))
}

/// Why a PKI directory cannot be written or read.
#[derive(Debug, Error)]
pub enum PkiDirError {
    /// A file or the directory cannot be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// Writing would replace a file.
    #[error("{path} already exists (a PKI lives there; use --force to replace it)")]
    Exists { path: PathBuf },
    /// A file's content is not a certificate or key of the expected form.
    #[error("{path}: {source}")]
    Content { path: PathBuf, source: PkiError },
    /// A private key is not the one of its certificate.
    #[error("{path}: the private key does not match the public key of the certificate")]
    KeyMismatch { path: PathBuf },
    /// The certificates do not form a valid chain from the CI.
    #[error("the certificates of {dir} do not chain to the CI: {source}")]
    Chain { dir: PathBuf, source: PkiError },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PkiDirError + '_ {
    move |source| PkiDirError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Issuers {
    fn parties(&self) -> [&Party; 4] {
        [&self.ci, &self.eum, &self.sm_dp, &self.sm_sr]
    }

    /// Writes the directory (creating it and its parents). Without `force`, fails before
    /// writing anything if any of the eight files exists.
    pub fn write_dir(&self, dir: &Path, force: bool) -> Result<(), PkiDirError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        if !force {
            for stem in PARTIES {
                for path in [certificate_path(dir, stem), key_path(dir, stem)] {
                    if path.exists() {
                        return Err(PkiDirError::Exists { path });
                    }
                }
            }
        }
        for (stem, party) in PARTIES.iter().zip(self.parties()) {
            let pem = party.key.to_pem().map_err(|source| PkiDirError::Content {
                path: key_path(dir, stem),
                source,
            })?;
            write_file(&key_path(dir, stem), pem.as_bytes(), 0o600)?;
            write_file(
                &certificate_path(dir, stem),
                &party.certificate.to_bytes(),
                0o644,
            )?;
        }
        Ok(())
    }

    /// Reads a directory written by [`Issuers::write_dir`] (or by hand in the same layout) and
    /// checks keys and chain.
    pub fn read_dir(dir: &Path) -> Result<Self, PkiDirError> {
        let issuers = Self {
            ci: read_party(dir, "ci")?,
            eum: read_party(dir, "eum")?,
            sm_dp: read_party(dir, "sm-dp")?,
            sm_sr: read_party(dir, "sm-sr")?,
        };
        issuers.verify().map_err(|source| PkiDirError::Chain {
            dir: dir.to_owned(),
            source,
        })?;
        Ok(issuers)
    }
}

/// Reads one party (`<stem>.cert.der` and `<stem>.key.pem`) and checks that the key is the
/// certificate's; the chain is not checked (see [`read_issued_party`]).
pub fn read_party(dir: &Path, stem: &str) -> Result<Party, PkiDirError> {
    let certificate = read_certificate(&certificate_path(dir, stem))?;
    let key_path = key_path(dir, stem);
    let pem = zeroize::Zeroizing::new(
        crate::bounded::read_to_string(&key_path, crate::bounded::PEM_MAX, "a private key")
            .map_err(io_error(&key_path))?,
    );
    let key = PrivateKey::from_pem(&pem).map_err(|source| PkiDirError::Content {
        path: key_path.clone(),
        source,
    })?;
    if key.public_key() != *certificate.public_key() {
        return Err(PkiDirError::KeyMismatch { path: key_path });
    }
    Ok(Party { key, certificate })
}

/// What one party of a PKI directory needs to act: its own key and certificate, checked
/// against the CI's certificate (`ci.cert.der`, whose private key is not read). Returns the
/// CI certificate and the party.
pub fn read_issued_party(dir: &Path, stem: &str) -> Result<(Certificate, Party), PkiDirError> {
    let ci = read_certificate(&certificate_path(dir, "ci"))?;
    let party = read_party(dir, stem)?;
    party
        .certificate
        .verify_for(
            ci.public_key(),
            super::cert::KeyUsage::SIGNATURE_VERIFICATION,
        )
        .map_err(|source| PkiDirError::Chain {
            dir: dir.to_owned(),
            source,
        })?;
    Ok((ci, party))
}

/// Reads one `7F21` certificate file (binary; the whole file is the certificate).
pub fn read_certificate(path: &Path) -> Result<Certificate, PkiDirError> {
    let bytes = crate::bounded::read(path, crate::bounded::CERTIFICATE_MAX, "a certificate")
        .map_err(io_error(path))?;
    Certificate::decode(&bytes).map_err(|source| PkiDirError::Content {
        path: path.to_owned(),
        source,
    })
}

/// Replaces `path` with `bytes`, the new file created with `mode` (Unix) so that a key is
/// never readable by others, not even for a moment.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiDirError> {
    replace_file(path, bytes, mode).map_err(io_error(path))
}

/// [`write_file`] as plain I/O: the old file removed, the new one created with `mode` (Unix)
/// before anything is written to it, and synced. Every key or secret file is written so.
pub fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "smsr-proto-pki-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn write_then_read_gives_the_same_pki_and_private_key_files() {
        let dir = scratch("round-trip");
        let issuers = Issuers::generate().unwrap();
        issuers.write_dir(&dir, false).unwrap();
        let back = Issuers::read_dir(&dir).unwrap();
        for (a, b) in issuers.parties().iter().zip(back.parties()) {
            assert_eq!(a.certificate, b.certificate);
            assert_eq!(a.key.to_bytes(), b.key.to_bytes());
        }
        let ci_file = fs::read(certificate_path(&dir, "ci")).unwrap();
        assert_eq!(&ci_file[..2], &[0x7F, 0x21]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for stem in PARTIES {
                let mode = fs::metadata(key_path(&dir, stem))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{stem}");
            }
        }
        // No overwrite without force, and nothing written then.
        let other = Issuers::generate().unwrap();
        assert!(matches!(
            other.write_dir(&dir, false),
            Err(PkiDirError::Exists { .. })
        ));
        assert_eq!(
            Issuers::read_dir(&dir).unwrap().ci.certificate,
            issuers.ci.certificate
        );
        other.write_dir(&dir, true).unwrap();
        assert_eq!(
            Issuers::read_dir(&dir).unwrap().ci.certificate,
            other.ci.certificate
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_refuses_a_swapped_key_a_broken_chain_and_a_bad_certificate() {
        let dir = scratch("refusals");
        let issuers = Issuers::generate().unwrap();
        issuers.write_dir(&dir, false).unwrap();
        fs::copy(key_path(&dir, "eum"), key_path(&dir, "sm-dp")).unwrap();
        assert!(matches!(
            Issuers::read_dir(&dir),
            Err(PkiDirError::KeyMismatch { .. })
        ));
        // An SM-DP certificate from another CI: keys match, the chain does not.
        let other = Issuers::generate().unwrap();
        other.write_dir(&dir, true).unwrap();
        let sm_dp = issuers.sm_dp.certificate.to_bytes();
        write_file(&certificate_path(&dir, "sm-dp"), &sm_dp, 0o644).unwrap();
        write_file(
            &key_path(&dir, "sm-dp"),
            issuers.sm_dp.key.to_pem().unwrap().as_bytes(),
            0o600,
        )
        .unwrap();
        assert!(matches!(
            Issuers::read_dir(&dir),
            Err(PkiDirError::Chain {
                source: PkiError::SignatureInvalid,
                ..
            })
        ));
        write_file(&certificate_path(&dir, "sm-dp"), &sm_dp[..40], 0o644).unwrap();
        assert!(matches!(
            Issuers::read_dir(&dir),
            Err(PkiDirError::Content { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
