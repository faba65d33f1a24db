//! The rustls configurations of mutual TLS: a server that requires a client certificate from
//! the test CA, and a client that trusts only that CA and presents its own certificate. Both
//! use the `ring` provider explicitly and offer ALPN `http/1.1` (RFC 7301).

use super::pki::read_error;
use super::{TlsError, TlsFiles};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The ALPN protocols offered by both sides.
const ALPN: &[&[u8]] = &[b"http/1.1"];

/// Server side: our certificate and key, a client verifier trusting the CA file only (a client
/// without a certificate, or with one from another CA, fails the handshake), ALPN `http/1.1`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let roots = Arc::new(root_store(&files.ca)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|source| TlsError::Verifier {
            path: files.ca.clone(),
            source,
        })?;
    let (chain, key) = identity(files)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rustls_error(&files.cert))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(rustls_error(&files.cert))?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Client side: trust only the CA file, present our certificate and key, ALPN `http/1.1`.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = root_store(&files.ca)?;
    let (chain, key) = identity(files)?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rustls_error(&files.cert))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(rustls_error(&files.cert))?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The `ring` provider (the workspace builds rustls without aws-lc-rs). rustls 0.23.48
/// deprecates it for its lack of post-quantum key exchange; the classical groups it offers
/// (X25519, P-256, P-384) are what this test PKI needs.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file, in order; at least one.
pub(super) fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem =
        smsr_proto::bounded::read(path, smsr_proto::bounded::PEM_MAX, what).map_err(|source| {
            TlsError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(path, what))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what,
            detail: "no CERTIFICATE block in the file".into(),
        });
    }
    Ok(certs)
}

pub(super) fn root_store(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certificates(ca, "the CA certificate")? {
        roots.add(cert).map_err(rustls_error(ca))?;
    }
    Ok(roots)
}

/// Our certificate chain and private key.
fn identity(
    files: &TlsFiles,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain = read_certificates(&files.cert, "a certificate")?;
    crate::secret_file::check_private(&files.key, "TLS private key")
        .map_err(|detail| TlsError::LooseKey { detail })?;
    let pem = zeroize::Zeroizing::new(
        smsr_proto::bounded::read(&files.key, smsr_proto::bounded::PEM_MAX, "a private key")
            .map_err(|source| TlsError::Read {
                path: files.key.clone(),
                source,
            })?,
    );
    let key =
        PrivateKeyDer::from_pem_slice(&pem).map_err(pem_error(&files.key, "a private key"))?;
    Ok((chain, key))
}

fn pem_error<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(pem::Error) -> TlsError + 'a {
    move |e| match e {
        pem::Error::Io(source) => read_error(path)(source),
        pem::Error::NoItemsFound => TlsError::Pem {
            path: path.to_owned(),
            what,
            detail: "nothing of that kind in the file".into(),
        },
        other => TlsError::Pem {
            path: path.to_owned(),
            what,
            detail: other.to_string(),
        },
    }
}

fn rustls_error(path: &Path) -> impl FnOnce(rustls::Error) -> TlsError + '_ {
    move |source| TlsError::Rustls {
        path: path.to_owned(),
        source,
    }
}
