//! Mutual TLS over loopback TCP with the configurations of this module: a client certificate
//! from our CA is accepted and identified; no client certificate, a client certificate from
//! another CA, and a server certificate from another CA are each refused.
//!
//! In TLS 1.3 the client sends its certificate in its last flight and considers the handshake
//! done before the server has judged it (RFC 8446 §4.4.2.4), so a refused client may only learn
//! of it when it reads: the refusal tests look at the server's accept and at the client's whole
//! exchange, not at the client's connect alone.

use super::config::{provider, root_store};
use super::*;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};

const PING: &[u8; 5] = b"ES2+?";
/// Every exchange ends well before this; a hang is a failure, not a stuck test run.
const LIMIT: Duration = Duration::from_secs(20);

/// What the server saw of one connection.
#[derive(Debug)]
struct Served {
    peer: PeerIdentity,
    alpn: Option<Vec<u8>>,
}

/// Accepts one connection, echoes [`PING`]'s length of bytes back, tells who the client was.
async fn serve_once(config: Arc<ServerConfig>) -> (SocketAddr, JoinHandle<Result<Served, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor
            .accept(tcp)
            .await
            .map_err(|e| format!("accept: {e}"))?;
        let (_, conn) = tls.get_ref();
        let peer = peer_identity(conn.peer_certificates().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let mut buf = [0u8; PING.len()];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(&buf).await.map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok(Served { peer, alpn })
    });
    (addr, task)
}

/// Connects as `localhost`, sends [`PING`], reads the echo; returns the server's identity.
async fn exchange(config: Arc<ClientConfig>, addr: SocketAddr) -> Result<PeerIdentity, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let server = peer_identity(tls.get_ref().1.peer_certificates().unwrap_or_default())
        .map_err(|e| e.to_string())?;
    tls.write_all(PING)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut echo = [0u8; PING.len()];
    tls.read_exact(&mut echo)
        .await
        .map_err(|e| format!("read: {e}"))?;
    assert_eq!(&echo, PING);
    Ok(server)
}

/// Runs one connection; the server's and the client's outcome.
async fn run(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> (Result<Served, String>, Result<PeerIdentity, String>) {
    tokio::time::timeout(LIMIT, async {
        let (addr, task) = serve_once(server).await;
        let client = exchange(client, addr).await;
        let served = task.await.unwrap();
        (served, client)
    })
    .await
    .expect("the exchange hung")
}

fn pki() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    init_pki(tmp.path(), false).unwrap();
    tmp
}

#[tokio::test]
async fn a_client_certificate_from_our_ca_is_accepted_and_identified() {
    let tmp = pki();
    let server = server_config(&TlsFiles::in_dir(tmp.path(), "sm-sr")).unwrap();
    let client_files = TlsFiles::in_dir(tmp.path(), "mno");
    let client = client_config(&client_files).unwrap();
    let (served, seen_by_client) = run(server, client).await;
    let served = served.unwrap();
    assert_eq!(served.peer.role, Role::Mno);
    assert_eq!(served.peer.name, "mno");
    assert_eq!(
        served.peer.serial,
        describe_certificate(&client_files.cert).unwrap().serial
    );
    assert_eq!(served.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let server_id = seen_by_client.unwrap();
    assert_eq!(
        (server_id.role, server_id.name.as_str()),
        (Role::SmSr, "sm-sr")
    );
}

#[tokio::test]
async fn an_issued_client_certificate_is_identified_by_its_own_name() {
    let tmp = pki();
    let files = issue(tmp.path(), Role::Eum, "eum-2", false).unwrap();
    let server = server_config(&TlsFiles::in_dir(tmp.path(), "sm-dp")).unwrap();
    let (served, client) = run(server, client_config(&files).unwrap()).await;
    let peer = served.unwrap().peer;
    assert_eq!((peer.role, peer.name.as_str()), (Role::Eum, "eum-2"));
    client.unwrap();
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let tmp = pki();
    let server = server_config(&TlsFiles::in_dir(tmp.path(), "sm-sr")).unwrap();
    let roots = root_store(&tmp.path().join(CA_CERT_FILE)).unwrap();
    let mut anonymous = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    anonymous.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (served, client) = run(server, Arc::new(anonymous)).await;
    let server_error = served.unwrap_err();
    assert!(server_error.starts_with("accept:"), "{server_error}");
    assert!(
        server_error.contains("no certificate"),
        "server: {server_error}"
    );
    let client_error = client.unwrap_err();
    assert!(
        client_error.contains("CertificateRequired"),
        "client: {client_error}"
    );
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let ours = pki();
    let theirs = pki();
    let server = server_config(&TlsFiles::in_dir(ours.path(), "sm-sr")).unwrap();
    // The client trusts our CA (so it accepts the server) but holds a certificate of theirs.
    let mut files = TlsFiles::in_dir(theirs.path(), "mno");
    files.ca = ours.path().join(CA_CERT_FILE);
    let (served, client) = run(server, client_config(&files).unwrap()).await;
    let server_error = served.unwrap_err();
    assert!(server_error.starts_with("accept:"), "{server_error}");
    assert!(
        server_error.contains("UnknownIssuer"),
        "server: {server_error}"
    );
    let client_error = client.unwrap_err();
    assert!(
        client_error.contains("BadCertificate") || client_error.contains("UnknownCA"),
        "client: {client_error}"
    );
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let ours = pki();
    let theirs = pki();
    // The server trusts our CA (so it would accept our client) but holds a certificate of theirs.
    let mut files = TlsFiles::in_dir(theirs.path(), "sm-sr");
    files.ca = ours.path().join(CA_CERT_FILE);
    let server = server_config(&files).unwrap();
    let client = client_config(&TlsFiles::in_dir(ours.path(), "mno")).unwrap();
    let (served, client) = run(server, client).await;
    let client_error = client.unwrap_err();
    assert!(client_error.starts_with("connect:"), "{client_error}");
    assert!(
        client_error.contains("UnknownIssuer"),
        "client: {client_error}"
    );
    served.unwrap_err();
}
