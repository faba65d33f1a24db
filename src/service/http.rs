//! The HTTPS server under both services: TCP accept loop, a TLS handshake per connection in its
//! own task (a slow client never holds up another), the peer's identity from its client
//! certificate, and HTTP/1.1 by hyper. Handlers get the request with the identity and answer
//! with a status and a JSON document.
//!
//! Mutual TLS is the server configuration's ([`crate::tls::server_config`]): a client without a
//! certificate from the test CA does not get past the handshake, so every request here has a
//! [`PeerIdentity`].

use crate::service::envelope::ADMIN_PROTOCOL;
use crate::tls::{peer_identity, PeerIdentity};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// The largest request body read (a SendData script of a whole profile package is well below).
pub const MAX_BODY: usize = 8 << 20;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A request as a handler sees it.
#[derive(Debug)]
pub struct Request {
    pub method: hyper::Method,
    pub path: String,
    pub query: Option<String>,
    pub body: Bytes,
    pub peer: PeerIdentity,
}

impl Request {
    /// A query parameter's value.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then_some(v)
        })
    }
}

/// A handler's answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl Response {
    pub fn new(status: u16, body: Value) -> Self {
        Self { status, body }
    }
}

/// What serves requests.
pub type Handler =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// A running server.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Serves `handler` on `listener` with `tls`, until [`Server::stop`].
    pub fn spawn(
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        handler: Handler,
    ) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            handler,
            stopped,
        ));
        Ok(Self {
            local_addr,
            stop,
            task,
        })
    }

    /// The address it listens on (an ephemeral port resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open connections finish the request they are in, and returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handler: Handler,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, from)) => {
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(connection(
                        tcp,
                        from,
                        acceptor.clone(),
                        handler.clone(),
                        stopped.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn connection(
    tcp: tokio::net::TcpStream,
    from: SocketAddr,
    acceptor: TlsAcceptor,
    handler: Handler,
    mut stopped: watch::Receiver<bool>,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!("TLS handshake with {from} refused: {e}");
            return;
        }
        Err(_) => {
            tracing::info!("TLS handshake with {from} timed out");
            return;
        }
    };
    let peer = match tls.get_ref().1.peer_certificates().map(peer_identity) {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            tracing::info!("client certificate of {from} names no role: {e}");
            return;
        }
        None => {
            tracing::info!("{from} presented no client certificate");
            return;
        }
    };
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let handler = handler.clone();
        let peer = peer.clone();
        async move { Ok::<_, std::convert::Infallible>(serve_one(req, peer, handler).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("connection from {from}: {e}");
            }
        }
        _ = stopped.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn serve_one(
    req: hyper::Request<Incoming>,
    peer: PeerIdentity,
    handler: Handler,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return reply(Response::new(
                413,
                serde_json::json!({"error": format!("request body unreadable or over {MAX_BODY} bytes: {e}")}),
            ))
        }
    };
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        body,
        peer,
    };
    reply(handler(request).await)
}

fn reply(r: Response) -> hyper::Response<Full<Bytes>> {
    let body = serde_json::to_vec(&r.body).unwrap_or_default();
    let mut out = hyper::Response::new(Full::new(Bytes::from(body)));
    *out.status_mut() =
        hyper::StatusCode::from_u16(r.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = out.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-admin-protocol",
        hyper::header::HeaderValue::from_static(ADMIN_PROTOCOL),
    );
    out
}
