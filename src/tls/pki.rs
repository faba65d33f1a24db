//! Making the TLS test PKI with rcgen: the CA (self-signed, P-256), the leaves it signs, and
//! their files. Certificate profile: see the [module documentation](super).
//!
//! Serial numbers are rcgen's default: the first 20 bytes of SHA-256 over the subject's public
//! key (most significant bit cleared), unique because every certificate gets a fresh key.

use super::{Role, TlsError, TlsFiles, CA_CERT_FILE, CA_KEY_FILE, ORGANIZATION};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
    PKCS_ECDSA_P256_SHA256,
};
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// The CA's subject CN, followed by the first four bytes of its public key's x coordinate in
/// hex: two test PKIs have different CA names, so a certificate from the other one is refused
/// as of an unknown issuer (not as a bad signature) and `smsr doctor` can tell them apart.
const CA_NAME: &str = "smsr test TLS CA";
/// Certificates are valid from a day before they are made (clocks differ)...
const BACKDATE: Duration = Duration::from_secs(24 * 3600);
/// ...for ten years.
const LIFETIME: Duration = Duration::from_secs(3650 * 24 * 3600);
/// The longest leaf name.
const MAX_NAME_LEN: usize = 64;

/// The files [`init_pki`] writes into `dir`, in writing order: the CA certificate and key,
/// then each role's leaf certificate and key.
pub fn pki_paths(dir: &Path) -> Vec<PathBuf> {
    let mut paths = vec![dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE)];
    for role in Role::ALL {
        let files = TlsFiles::in_dir(dir, role.as_str());
        paths.extend([files.cert, files.key]);
    }
    paths
}

/// Writes the TLS test PKI into `dir` (created if needed): `tls-ca.crt.pem` and `tls-ca.key.pem`
/// (a self-signed P-256 CA), and for each of sm-dp, sm-sr, mno, eum a leaf `NAME.tls.crt.pem`
/// and `NAME.tls.key.pem` with CN = NAME and OU = the role. Key files get mode 0600 (Unix).
/// Without `force`, fails before writing anything if any of the ten files exists. Returns the
/// paths written (as [`pki_paths`]).
pub fn init_pki(dir: &Path, force: bool) -> Result<Vec<PathBuf>, TlsError> {
    let paths = pki_paths(dir);
    fs::create_dir_all(dir).map_err(write_error(dir))?;
    if !force {
        refuse_existing(&paths)?;
    }
    let ca_key = new_key("the CA key")?;
    let ca = CertifiedIssuer::self_signed(ca_params(&ca_key), ca_key)
        .map_err(generate_error("the CA certificate"))?;
    // Everything is made before anything is written.
    let mut files = vec![(
        dir.join(CA_CERT_FILE),
        dir.join(CA_KEY_FILE),
        ca.pem(),
        Zeroizing::new(ca.key().serialize_pem()),
    )];
    for role in Role::ALL {
        let (cert, key) = leaf(&ca, role, role.as_str())?;
        let paths = TlsFiles::in_dir(dir, role.as_str());
        files.push((paths.cert, paths.key, cert, key));
    }
    for (cert_path, key_path, cert, key) in &files {
        write_new(key_path, key.as_bytes(), 0o600)?;
        write_new(cert_path, cert.as_bytes(), 0o644)?;
    }
    Ok(paths)
}

/// Issues another leaf for `role` from the CA in `dir` (`tls-ca.crt.pem` + `tls-ca.key.pem`):
/// `dir/NAME.tls.crt.pem` + `dir/NAME.tls.key.pem` (mode 0600), CN = `name`, OU = the role,
/// the same profile as [`init_pki`]'s leaves. `name` must be 1 to 64 letters, digits, '.', '_'
/// or '-', starting with a letter or digit. Refuses to replace the files unless `force`.
pub fn issue(dir: &Path, role: Role, name: &str, force: bool) -> Result<TlsFiles, TlsError> {
    check_name(name)?;
    let files = TlsFiles::in_dir(dir, name);
    if !force {
        refuse_existing(&[files.cert.clone(), files.key.clone()])?;
    }
    let issuer = read_issuer(dir)?;
    let (cert, key) = leaf(&issuer, role, name)?;
    write_new(&files.key, key.as_bytes(), 0o600)?;
    write_new(&files.cert, cert.as_bytes(), 0o644)?;
    Ok(files)
}

/// The CA of `dir`, checked to be a certificate with its own key.
fn read_issuer(dir: &Path) -> Result<Issuer<'static, KeyPair>, TlsError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let der = super::config::read_certificates(&cert_path, "the CA certificate")?
        .into_iter()
        .next()
        .ok_or_else(|| TlsError::Pem {
            path: cert_path.clone(),
            what: "the CA certificate",
            detail: "no certificate in the file".into(),
        })?;
    let key_pem = Zeroizing::new(
        smsr_proto::bounded::read_to_string(
            &key_path,
            smsr_proto::bounded::PEM_MAX,
            "a private key",
        )
        .map_err(read_error(&key_path))?,
    );
    let key = KeyPair::from_pem(&key_pem).map_err(|e| TlsError::Pem {
        path: key_path.clone(),
        what: "a PKCS#8 private key",
        detail: e.to_string(),
    })?;
    let (_, ca) = x509_parser::parse_x509_certificate(&der).map_err(|e| TlsError::Certificate {
        origin: cert_path.display().to_string(),
        detail: e.to_string(),
    })?;
    if ca.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
        return Err(TlsError::CaKeyMismatch {
            cert: cert_path,
            key: key_path,
        });
    }
    Issuer::from_ca_cert_der(&der, key).map_err(|e| TlsError::Pem {
        path: cert_path,
        what: "the CA certificate",
        detail: e.to_string(),
    })
}

/// A fresh leaf signed by `issuer`: (certificate PEM, private key PEM).
fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    role: Role,
    name: &str,
) -> Result<(String, Zeroizing<String>), TlsError> {
    let what = format!("the certificate of {name}");
    let key = new_key(&format!("the key of {name}"))?;
    let params = leaf_params(role, name).map_err(generate_error(&what))?;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(generate_error(&what))?;
    Ok((cert.pem(), Zeroizing::new(key.serialize_pem())))
}

fn leaf_params(role: Role, name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(&[
        (DnType::OrganizationName, ORGANIZATION),
        (DnType::OrganizationalUnitName, role.as_str()),
        (DnType::CommonName, name),
    ]);
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    ];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params);
    Ok(params)
}

fn ca_params(key: &KeyPair) -> CertificateParams {
    // An uncompressed point: 04 ‖ x ‖ y.
    let x = key.der_bytes().get(1..5).unwrap_or_default();
    let name = format!("{CA_NAME} {}", hex::encode_upper(x));
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(&[
        (DnType::OrganizationName, ORGANIZATION),
        (DnType::CommonName, &name),
    ]);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params);
    params
}

fn subject(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, value) in parts {
        dn.push(ty.clone(), *value);
    }
    dn
}

fn set_validity(params: &mut CertificateParams) {
    let now = SystemTime::now();
    params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
    params.not_after = now.checked_add(LIFETIME).unwrap_or(now).into();
}

fn new_key(what: &str) -> Result<KeyPair, TlsError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate_error(what))
}

/// A leaf name is a file name stem: no separators, no leading dot or dash.
fn check_name(name: &str) -> Result<(), TlsError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(TlsError::BadName {
            name: name.to_owned(),
        })
    }
}

fn refuse_existing(paths: &[PathBuf]) -> Result<(), TlsError> {
    match paths.iter().find(|p| p.exists()) {
        Some(path) => Err(TlsError::Exists { path: path.clone() }),
        None => Ok(()),
    }
}

/// Replaces `path` with `bytes`, the new file created with `mode` (Unix) so that a key is never
/// readable by others, not even for a moment.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    smsr_proto::pki::dir::replace_file(path, bytes, mode).map_err(write_error(path))
}

fn write_error(path: &Path) -> impl FnOnce(io::Error) -> TlsError + '_ {
    move |source| TlsError::Write {
        path: path.to_owned(),
        source,
    }
}

pub(super) fn read_error(path: &Path) -> impl FnOnce(io::Error) -> TlsError + '_ {
    move |source| TlsError::Read {
        path: path.to_owned(),
        source,
    }
}

fn generate_error(what: &str) -> impl FnOnce(rcgen::Error) -> TlsError + '_ {
    move |source| TlsError::Generate {
        what: what.to_owned(),
        source,
    }
}

#[cfg(test)]
mod name_tests {
    use super::check_name;

    #[test]
    fn names_are_file_name_stems() {
        for good in ["mno", "mno-2", "ACME_operator.1", "7"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", ".hidden", "-x", "a/b", "..", "a b", "é", long.as_str()] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
