//! Who a certificate of the TLS test PKI names: role from the subject OU, name from the CN
//! (RFC 5280 §4.1.2.6), serial number (§4.1.2.2) as uppercase hex.

use super::config::read_certificates;
use super::{PeerIdentity, Role, TlsError};
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use std::path::Path;
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::X509Name;

/// What `smsr doctor` tells about a certificate file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateSummary {
    /// From the subject OU; `None` when there is none or it names no role (the CA).
    pub role: Option<Role>,
    /// The subject CN (the whole subject when it has no CN).
    pub name: String,
    /// The serial number, uppercase hex.
    pub serial: String,
    /// The end of the validity period, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_after: String,
    /// The issuer's CN (the whole issuer name when it has no CN).
    pub issuer: String,
}

/// The identity of the peer's end-entity certificate (the first of `certs`): role from the
/// subject OU (an error when absent or not a role), name from the CN, serial as uppercase hex.
/// The chain itself is the verifier's business: call this on a finished handshake's
/// certificates.
pub fn peer_identity(certs: &[CertificateDer<'_>]) -> Result<PeerIdentity, TlsError> {
    let origin = "the peer's certificate";
    let der = certs.first().ok_or(TlsError::NoPeerCertificate)?;
    let cert = parse(der, origin)?;
    let subject = cert.subject();
    let role = match first_ou(subject) {
        None => {
            return Err(TlsError::NoRole {
                origin: origin.into(),
            })
        }
        Some(ou) => ou.parse::<Role>().map_err(|_| TlsError::UnknownRole {
            origin: origin.into(),
            ou,
        })?,
    };
    let name = first_cn(subject).ok_or_else(|| TlsError::NoName {
        origin: origin.into(),
    })?;
    Ok(PeerIdentity {
        role,
        name,
        serial: serial_hex(&cert),
    })
}

/// Reads a certificate PEM file (its first certificate) and tells its identity, the end of its
/// validity and its issuer.
pub fn describe_certificate(path: &Path) -> Result<CertificateSummary, TlsError> {
    let certs = read_certificates(path, "a certificate")?;
    let origin = path.display().to_string();
    let der = certs.first().ok_or_else(|| TlsError::Certificate {
        origin: origin.clone(),
        detail: "no certificate".into(),
    })?;
    let cert = parse(der, &origin)?;
    let not_after = cert.validity().not_after.to_datetime();
    Ok(CertificateSummary {
        role: first_ou(cert.subject()).and_then(|ou| ou.parse().ok()),
        name: first_cn(cert.subject()).unwrap_or_else(|| cert.subject().to_string()),
        serial: serial_hex(&cert),
        not_after: format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            not_after.year(),
            u8::from(not_after.month()),
            not_after.day(),
            not_after.hour(),
            not_after.minute(),
            not_after.second()
        ),
        issuer: first_cn(cert.issuer()).unwrap_or_else(|| cert.issuer().to_string()),
    })
}

/// One DER certificate and nothing after it.
fn parse<'a>(der: &'a [u8], origin: &str) -> Result<X509Certificate<'a>, TlsError> {
    let error = |detail: String| TlsError::Certificate {
        origin: origin.to_owned(),
        detail,
    };
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(error(format!(
            "{} bytes after the certificate at offset {}",
            rest.len(),
            der.len() - rest.len()
        ))),
        Err(e) => Err(error(e.to_string())),
    }
}

fn first_ou(name: &X509Name<'_>) -> Option<String> {
    name.iter_organizational_unit()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned)
}

fn first_cn(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned)
}

/// The serial number's DER content bytes without the sign-padding zero, as uppercase hex.
fn serial_hex(cert: &X509Certificate<'_>) -> String {
    let raw = cert.raw_serial();
    let start = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode_upper(&raw[start..])
}
