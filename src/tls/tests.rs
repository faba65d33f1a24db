//! The TLS test PKI on disk: the files `init_pki` and `issue` write, the certificate profile
//! read back with x509-parser, the identities, the refusals; and OpenSSL's reading of the
//! same files (an implementation other than the one that wrote them).

use super::*;
use rustls_pki_types::CertificateDer;
use std::process::Command;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{parse_x509_certificate, X509Certificate};

fn der(path: &Path) -> Vec<u8> {
    config::read_certificates(path, "a certificate")
        .unwrap()
        .remove(0)
        .to_vec()
}

fn check_leaf_profile(cert: &X509Certificate<'_>, role: Role, name: &str) {
    let subject = cert.subject();
    let ou: Vec<_> = subject
        .iter_organizational_unit()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(ou, [role.as_str()]);
    let cn: Vec<_> = subject
        .iter_common_name()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(cn, [name]);
    let o = subject
        .iter_organization()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(o, ORGANIZATION);
    let san = cert.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        [
            GeneralName::DNSName("localhost"),
            GeneralName::IPAddress(&[127, 0, 0, 1])
        ]
    );
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth, "{eku:?}");
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_cert_sign(), "{ku:?}");
    assert!(!cert.is_ca());
    assert!(cert.validity().is_valid());
}

#[test]
fn init_writes_the_ca_and_one_leaf_per_role_with_private_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let written = init_pki(&dir, false).unwrap();
    assert_eq!(written, pki_paths(&dir));
    assert_eq!(written.len(), 10);
    let names: Vec<_> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "tls-ca.crt.pem",
            "tls-ca.key.pem",
            "sm-dp.tls.crt.pem",
            "sm-dp.tls.key.pem",
            "sm-sr.tls.crt.pem",
            "sm-sr.tls.key.pem",
            "mno.tls.crt.pem",
            "mno.tls.key.pem",
            "eum.tls.crt.pem",
            "eum.tls.key.pem",
        ]
    );
    for path in &written {
        assert!(path.is_file(), "{}", path.display());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            let is_key = path.to_str().unwrap().ends_with(".key.pem");
            assert_eq!(mode, if is_key { 0o600 } else { 0o644 }, "{path:?}");
        }
    }

    let ca_der = der(&dir.join(CA_CERT_FILE));
    let (_, ca) = parse_x509_certificate(&ca_der).unwrap();
    assert!(ca.is_ca());
    assert_eq!(ca.subject(), ca.issuer());
    assert!(ca.key_usage().unwrap().unwrap().value.key_cert_sign());
    for role in Role::ALL {
        let files = TlsFiles::in_dir(&dir, role.as_str());
        let leaf_der = der(&files.cert);
        let (_, leaf) = parse_x509_certificate(&leaf_der).unwrap();
        check_leaf_profile(&leaf, role, role.as_str());
        assert_eq!(leaf.issuer(), ca.subject());
        leaf.verify_signature(Some(ca.public_key())).unwrap();
        let key = std::fs::read_to_string(&files.key).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    }

    let summary = describe_certificate(&dir.join("mno.tls.crt.pem")).unwrap();
    assert_eq!(summary.role, Some(Role::Mno));
    assert_eq!(summary.name, "mno");
    assert!(
        summary.issuer.starts_with("smsr test TLS CA "),
        "{summary:?}"
    );
    assert_eq!(summary.issuer.len(), "smsr test TLS CA ".len() + 8);
    assert!(summary.not_after.ends_with('Z'), "{}", summary.not_after);
    let ca_summary = describe_certificate(&dir.join(CA_CERT_FILE)).unwrap();
    assert_eq!(ca_summary.role, None);
    assert_eq!(ca_summary.name, ca_summary.issuer);
}

#[test]
fn init_refuses_to_replace_a_pki_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_pki(dir, false).unwrap();
    let ca = dir.join(CA_CERT_FILE);
    let before = std::fs::read(&ca).unwrap();
    let err = init_pki(dir, false).unwrap_err();
    assert!(
        matches!(&err, TlsError::Exists { path } if path == &ca),
        "{err}"
    );
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(std::fs::read(&ca).unwrap(), before);
    // One file of the ten is enough to refuse, and nothing is written then.
    let mno_key = dir.join("mno.tls.key.pem");
    for path in pki_paths(dir).iter().filter(|p| **p != mno_key) {
        std::fs::remove_file(path).unwrap();
    }
    let err = init_pki(dir, false).unwrap_err();
    assert!(
        matches!(&err, TlsError::Exists { path } if path == &mno_key),
        "{err}"
    );
    assert!(!ca.exists());
    init_pki(dir, true).unwrap();
    assert_ne!(std::fs::read(&ca).unwrap(), before);
}

#[test]
fn issue_adds_a_leaf_whose_identity_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_pki(dir, false).unwrap();
    let files = issue(dir, Role::Mno, "acme-operator", false).unwrap();
    assert_eq!(files, TlsFiles::in_dir(dir, "acme-operator"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let cert = CertificateDer::from(der(&files.cert));
    let (_, parsed) = parse_x509_certificate(&cert).unwrap();
    check_leaf_profile(&parsed, Role::Mno, "acme-operator");
    let ca_der = der(&files.ca);
    let (_, ca) = parse_x509_certificate(&ca_der).unwrap();
    parsed.verify_signature(Some(ca.public_key())).unwrap();
    assert_eq!(parsed.issuer(), ca.subject());

    let peer = peer_identity(std::slice::from_ref(&cert)).unwrap();
    assert_eq!(peer.role, Role::Mno);
    assert_eq!(peer.name, "acme-operator");
    assert_eq!(
        peer.serial,
        describe_certificate(&files.cert).unwrap().serial
    );
    assert!(peer
        .serial
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    let init_mno = describe_certificate(&dir.join("mno.tls.crt.pem")).unwrap();
    assert_ne!(peer.serial, init_mno.serial);

    let again = issue(dir, Role::Mno, "acme-operator", false).unwrap_err();
    assert!(matches!(again, TlsError::Exists { .. }), "{again}");
    let before = std::fs::read(&files.cert).unwrap();
    issue(dir, Role::Eum, "acme-operator", true).unwrap();
    assert_ne!(std::fs::read(&files.cert).unwrap(), before);
    let summary = describe_certificate(&files.cert).unwrap();
    assert_eq!(summary.role, Some(Role::Eum));
}

#[test]
fn issue_refuses_a_bad_name_a_missing_ca_and_a_foreign_ca_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let err = issue(&dir, Role::Mno, "../mno", false).unwrap_err();
    assert!(matches!(err, TlsError::BadName { .. }), "{err}");
    std::fs::create_dir(&dir).unwrap();
    let err = issue(&dir, Role::Mno, "x", false).unwrap_err();
    assert!(
        matches!(&err, TlsError::Read { path, .. } if path.ends_with(CA_KEY_FILE) || path.ends_with(CA_CERT_FILE)),
        "{err}"
    );
    assert!(err.to_string().contains("smsr pki init"), "{err}");

    init_pki(&dir, false).unwrap();
    let other = tmp.path().join("b");
    init_pki(&other, false).unwrap();
    std::fs::copy(other.join(CA_KEY_FILE), dir.join(CA_KEY_FILE)).unwrap();
    let err = issue(&dir, Role::Mno, "x", false).unwrap_err();
    assert!(matches!(err, TlsError::CaKeyMismatch { .. }), "{err}");
    assert!(!dir.join("x.tls.crt.pem").exists());
}

#[test]
fn peer_identity_needs_a_certificate_with_a_role() {
    let tmp = tempfile::tempdir().unwrap();
    init_pki(tmp.path(), false).unwrap();
    assert!(matches!(
        peer_identity(&[]),
        Err(TlsError::NoPeerCertificate)
    ));
    // The CA has no OU.
    let ca = CertificateDer::from(der(&tmp.path().join(CA_CERT_FILE)));
    let err = peer_identity(&[ca]).unwrap_err();
    assert!(matches!(err, TlsError::NoRole { .. }), "{err}");
    // Trailing bytes after the certificate.
    let mut bytes = der(&tmp.path().join("eum.tls.crt.pem"));
    bytes.push(0);
    let err = peer_identity(&[CertificateDer::from(bytes)]).unwrap_err();
    assert!(
        err.to_string().contains("1 bytes after the certificate"),
        "{err}"
    );
    let err = peer_identity(&[CertificateDer::from(vec![0x30, 0x03, 0x02])]).unwrap_err();
    assert!(matches!(err, TlsError::Certificate { .. }), "{err}");
}

#[test]
fn roles_read_and_print_as_their_names() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        assert_eq!(role.to_string(), role.as_str());
        assert_eq!(
            serde_json::to_value(role).unwrap(),
            serde_json::Value::from(role.as_str())
        );
    }
    assert!("SM-DP".parse::<Role>().is_err());
    assert!("ci"
        .parse::<Role>()
        .unwrap_err()
        .contains("sm-dp, sm-sr, mno or eum"));
}

#[test]
fn tls_files_name_the_ca_beside_the_certificate() {
    let files = TlsFiles::in_dir(Path::new("pki"), "mno");
    assert_eq!(files.ca, Path::new("pki/tls-ca.crt.pem"));
    assert_eq!(files.cert, Path::new("pki/mno.tls.crt.pem"));
    assert_eq!(files.key, Path::new("pki/mno.tls.key.pem"));
    let beside = TlsFiles::beside(Path::new("a/c.pem"), Path::new("b/k.pem"), None);
    assert_eq!(beside.ca, Path::new("a/tls-ca.crt.pem"));
    let bare = TlsFiles::beside(Path::new("c.pem"), Path::new("k.pem"), None);
    assert_eq!(bare.ca, Path::new("tls-ca.crt.pem"));
    let given = TlsFiles::beside(
        Path::new("c.pem"),
        Path::new("k.pem"),
        Some(Path::new("ca.pem")),
    );
    assert_eq!(given.ca, Path::new("ca.pem"));
}

#[test]
fn configs_name_the_file_that_is_missing_or_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    init_pki(tmp.path(), false).unwrap();
    let mut files = TlsFiles::in_dir(tmp.path(), "sm-sr");
    files.key = tmp.path().join("nothing.pem");
    let err = server_config(&files).unwrap_err();
    assert!(
        matches!(&err, TlsError::Read { path, .. } if path == &files.key),
        "{err}"
    );
    assert!(err.to_string().contains("nothing.pem"));
    // A key where the certificate should be.
    let mut files = TlsFiles::in_dir(tmp.path(), "sm-sr");
    files.cert = files.key.clone();
    let err = client_config(&files).unwrap_err();
    assert!(
        matches!(&err, TlsError::Pem { path, .. } if path == &files.cert),
        "{err}"
    );
    // Another leaf's key.
    let mut files = TlsFiles::in_dir(tmp.path(), "sm-sr");
    files.key = tmp.path().join("mno.tls.key.pem");
    let err = server_config(&files).unwrap_err();
    assert!(matches!(err, TlsError::Rustls { .. }), "{err}");
}

/// OpenSSL reads our PKI as we meant it: the chain verifies, the subject carries the role.
#[test]
fn openssl_verifies_the_chain_and_reads_the_role() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: openssl is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_pki(dir, false).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let verify = run(&[
        "verify",
        "-CAfile",
        "tls-ca.crt.pem",
        "-purpose",
        "sslclient",
        "mno.tls.crt.pem",
    ]);
    assert_eq!(verify.trim(), "mno.tls.crt.pem: OK");
    let verify = run(&[
        "verify",
        "-CAfile",
        "tls-ca.crt.pem",
        "-purpose",
        "sslserver",
        "sm-sr.tls.crt.pem",
    ]);
    assert_eq!(verify.trim(), "sm-sr.tls.crt.pem: OK");
    let subject = run(&["x509", "-noout", "-subject", "-in", "mno.tls.crt.pem"]).replace(' ', "");
    assert!(subject.contains("OU=mno"), "{subject}");
    assert!(subject.contains("CN=mno"), "{subject}");
    // The key file is one OpenSSL reads, and it is the certificate's.
    let key_pub = run(&["pkey", "-in", "mno.tls.key.pem", "-pubout"]);
    let cert_pub = run(&["x509", "-noout", "-pubkey", "-in", "mno.tls.crt.pem"]);
    assert_eq!(key_pub, cert_pub);
}
