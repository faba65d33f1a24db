//! The HTTPS client of the services and of `smsr mno`/`smsr eum`/`smsr doctor`: mutual TLS with
//! a certificate of the test PKI, HTTP/1.1 connections kept open and reused (the SM-DP makes
//! several ES3 calls per download; a TLS handshake each would cost more than the call), JSON in
//! and out, and the wait for a long function's operation (`202` → `GET
//! /operations/{id}?waitSeconds=N`).
//!
//! A kept connection the server closed meanwhile is noticed before anything is written on it
//! (hyper gives the request back), and the request goes on a new connection; a request written
//! on a connection that then fails is not sent again.

use crate::service::envelope::RequestHeader;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long a connection may take to open (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest poll of an operation (the server caps it at 30 s).
const POLL_SECONDS: u64 = 25;

/// Why a call to a service failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0} is not a service URL: give https://HOST:PORT (e.g. https://127.0.0.1:8443)")]
    Url(String),
    #[error("cannot reach {url}: {detail}; is the service running (`smsr serve …`) and is the URL right?")]
    Connect { url: String, detail: String },
    #[error(
        "TLS with {url} failed: {detail}; the client certificate and the CA must come from the \
         same test PKI as the service's (`smsr pki init`, `smsr pki issue`)"
    )]
    Tls { url: String, detail: String },
    #[error("{url}{path}: HTTP {status}: {detail}")]
    Http {
        url: String,
        path: String,
        status: u16,
        detail: String,
        body: Value,
    },
    #[error("{url}{path}: the answer is not JSON: {detail}")]
    BadAnswer {
        url: String,
        path: String,
        detail: String,
    },
    #[error("{url}: operation {operation} not done after {seconds} s")]
    Timeout {
        url: String,
        operation: String,
        seconds: u64,
    },
}

impl ClientError {
    /// The service could not be reached at all (down, wrong address, TLS refused).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::Tls { .. })
    }
}

/// Idle connections kept per service.
const IDLE_CONNECTIONS: usize = 32;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One service, as a client sees it. Clones share the kept connections.
#[derive(Clone, Debug)]
pub struct Client {
    url: String,
    host: String,
    port: u16,
    prefix: String,
    tls: Arc<rustls::ClientConfig>,
    idle: Arc<Mutex<Vec<Sender>>>,
}

/// An answer, with how long its parts took.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// TCP connect and TLS handshake (zero on a kept connection).
    pub connect: Duration,
    /// The whole request.
    pub total: Duration,
}

impl Client {
    /// A client of the service at `url` (`https://HOST:PORT[/PREFIX]`).
    pub fn new(url: &str, tls: Arc<rustls::ClientConfig>) -> Result<Self, ClientError> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| ClientError::Url(url.to_owned()))?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6
                .split_once("]:")
                .ok_or_else(|| ClientError::Url(url.to_owned()))?;
            (h.to_owned(), p)
        } else {
            let (h, p) = authority
                .rsplit_once(':')
                .ok_or_else(|| ClientError::Url(url.to_owned()))?;
            (h.to_owned(), p)
        };
        let port: u16 = port.parse().map_err(|_| ClientError::Url(url.to_owned()))?;
        if host.is_empty() {
            return Err(ClientError::Url(url.to_owned()));
        }
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            host,
            port,
            prefix: prefix.to_owned(),
            tls,
            idle: Arc::default(),
        })
    }

    /// The service's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens a new connection: TCP, TLS, HTTP/1.1.
    async fn connect(&self) -> Result<Sender, ClientError> {
        let connect_err = |detail: String| ClientError::Connect {
            url: self.url.clone(),
            detail,
        };
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| connect_err("connection timed out".into()))?
        .map_err(|e| connect_err(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(self.host.clone()).map_err(|e| ClientError::Tls {
            url: self.url.clone(),
            detail: format!("server name {}: {e}", self.host),
        })?;
        let tls = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TlsConnector::from(self.tls.clone()).connect(name, tcp),
        )
        .await
        .map_err(|_| self.tls_err("handshake timed out".into()))?
        .map_err(|e| self.tls_err(e.to_string()))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.tls_err(e.to_string()))?;
        // The connection runs until both sides are done with it.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn tls_err(&self, detail: String) -> ClientError {
        ClientError::Tls {
            url: self.url.clone(),
            detail,
        }
    }

    /// A kept connection ready for a request, if there is one.
    fn kept(&self) -> Option<Sender> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(s) = idle.pop() {
            if s.is_ready() && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn keep(&self, sender: Sender) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(sender);
        }
    }

    /// One request: `body` is sent as JSON (POST), or none (GET).
    pub async fn request(&self, path: &str, body: Option<&Value>) -> Result<Answer, ClientError> {
        let start = Instant::now();
        let full_path = format!("{}{path}", self.prefix);
        let builder = hyper::Request::builder()
            .uri(&full_path)
            .header(hyper::header::HOST, format!("{}:{}", self.host, self.port))
            .header(hyper::header::ACCEPT, "application/json");
        let mut request = Some(
            match body {
                Some(b) => builder
                    .method(hyper::Method::POST)
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(
                        serde_json::to_vec(b).unwrap_or_default(),
                    ))),
                None => builder
                    .method(hyper::Method::GET)
                    .body(Full::new(Bytes::new())),
            }
            .map_err(|e| ClientError::Url(format!("{}{full_path}: {e}", self.url)))?,
        );
        let mut connect = Duration::ZERO;
        let (response, sender) = loop {
            let Some(req) = request.take() else {
                return Err(self.tls_err("the request could not be sent".into()));
            };
            let (mut sender, fresh) = match self.kept() {
                Some(s) => (s, false),
                None => {
                    let t = Instant::now();
                    let s = self.connect().await?;
                    connect = t.elapsed();
                    (s, true)
                }
            };
            match sender.try_send_request(req).await {
                Ok(r) => break (r, sender),
                // A kept connection the server closed: the request was not written; it goes
                // on a new connection.
                Err(mut e) => match e.take_message() {
                    Some(req) if !fresh => request = Some(req),
                    // In TLS 1.3 a server that refuses the client's certificate says so after
                    // the handshake: the refusal shows here, as the request fails.
                    _ => return Err(self.tls_err(describe_hyper(e.error()))),
                },
            }
        };
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.tls_err(describe_hyper(&e)))?
            .to_bytes();
        self.keep(sender);
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| ClientError::BadAnswer {
                url: self.url.clone(),
                path: path.to_owned(),
                detail: e.to_string(),
            })?
        };
        Ok(Answer {
            status,
            body,
            connect,
            total: start.elapsed(),
        })
    }

    /// Calls `function` (a path such as `/es2/DownloadProfile`) with `header` and `fields`.
    /// A `202` is followed until its operation is done (unless `wait` is false, when the
    /// `202` document is returned) and the function's answer returned; an HTTP error is an
    /// error, a function's `Failed` status is not (the answer says it).
    pub async fn call(
        &self,
        function: &str,
        header: &RequestHeader,
        fields: Value,
        wait: bool,
    ) -> Result<Value, ClientError> {
        let mut body = match fields {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        body.insert("header".into(), json!(header));
        let answer = self.request(function, Some(&Value::Object(body))).await?;
        match answer.status {
            200 => Ok(answer.body),
            202 if !wait => Ok(answer.body),
            202 => {
                let id = answer.body["operationId"]
                    .as_str()
                    .ok_or_else(|| ClientError::BadAnswer {
                        url: self.url.clone(),
                        path: function.to_owned(),
                        detail: "202 without operationId".into(),
                    })?
                    .to_owned();
                let limit = header.validity_period.unwrap_or(3600);
                self.wait_operation(&id, limit).await
            }
            status => Err(self.http_error(function, status, answer.body)),
        }
    }

    /// Waits for operation `id` and returns its result.
    pub async fn wait_operation(&self, id: &str, limit_seconds: u64) -> Result<Value, ClientError> {
        let start = Instant::now();
        loop {
            let path = format!("/operations/{id}?waitSeconds={POLL_SECONDS}");
            let answer = self.request(&path, None).await?;
            if answer.status != 200 {
                return Err(self.http_error(&path, answer.status, answer.body));
            }
            if answer.body["state"] == "done" {
                return Ok(answer.body["result"].clone());
            }
            if start.elapsed().as_secs() >= limit_seconds {
                return Err(ClientError::Timeout {
                    url: self.url.clone(),
                    operation: id.to_owned(),
                    seconds: limit_seconds,
                });
            }
        }
    }

    fn http_error(&self, path: &str, status: u16, body: Value) -> ClientError {
        let detail = body
            .pointer("/header/functionExecutionStatus/statusCodeData/message")
            .or_else(|| body.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("no details")
            .to_owned();
        ClientError::Http {
            url: self.url.clone(),
            path: path.to_owned(),
            status,
            detail,
            body,
        }
    }
}

fn describe_hyper(e: &hyper::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config() -> Arc<rustls::ClientConfig> {
        Arc::new(
            rustls::ClientConfig::builder_with_provider(crate::tls::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        )
    }

    #[test]
    fn urls_are_read() {
        let c = Client::new("https://127.0.0.1:8443", config()).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.prefix.as_str()),
            ("127.0.0.1", 8443, "")
        );
        let c = Client::new("https://localhost:9/smsr/", config()).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.prefix.as_str()),
            ("localhost", 9, "/smsr")
        );
        let c = Client::new("https://[::1]:443", config()).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 443));
        for bad in ["http://x:1", "https://x", "https://:1", "https://x:port"] {
            assert!(
                matches!(Client::new(bad, config()), Err(ClientError::Url(_))),
                "{bad}"
            );
        }
    }
}
