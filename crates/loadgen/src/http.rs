//! One HTTP/1.1 keep-alive connection per client task, on hyper's connection API: a task owns
//! its [`Conn`], sends one request at a time on it, and opens a new TCP connection only when the
//! previous one broke. So `--connections 64` means exactly 64 TCP connections (plus reconnects,
//! which are counted).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::{net::SocketAddr, time::Duration};

/// A server address and path prefix parsed from `http://host:port[/prefix]`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// The `Host` header.
    pub host: String,
    /// Prepended to every request path; empty or starting with `/`, without a trailing `/`.
    pub prefix: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> anyhow::Result<Endpoint> {
        use std::net::ToSocketAddrs;
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("only http:// URLs are supported, got {url:?}"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{authority:?} resolves to no address"))?;
        Ok(Endpoint { addr, host: authority.to_string(), prefix: path.trim_end_matches('/').to_string() })
    }

    pub fn local(addr: SocketAddr) -> Endpoint {
        Endpoint { addr, host: addr.to_string(), prefix: String::new() }
    }
}

/// Why a request has no answer. Every one of these leaves the outcome unknown: the request may
/// or may not have been applied.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("handshake: {0}")]
    Handshake(hyper::Error),
    #[error("request: {0}")]
    Request(hyper::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl Response {
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            anyhow::anyhow!("status {}: body is not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }
}

/// One client connection, reopened when it breaks.
pub struct Conn {
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// TCP connections opened by this `Conn` so far.
    pub opened: u64,
    pub timeout: Duration,
}

impl Conn {
    pub fn new(endpoint: Endpoint) -> Conn {
        Conn { endpoint, sender: None, opened: 0, timeout: Duration::from_secs(30) }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Conn {
        self.timeout = timeout;
        self
    }

    /// Drops the connection (after a timeout its state is unknown).
    pub fn reset(&mut self) {
        self.sender = None;
    }

    async fn connect(&mut self) -> Result<SendRequest<Full<Bytes>>, HttpError> {
        let stream = tokio::net::TcpStream::connect(self.endpoint.addr).await.map_err(HttpError::Connect)?;
        stream.set_nodelay(true).map_err(HttpError::Connect)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(HttpError::Handshake)?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the sender is dropped.
            let _ = connection.await;
        });
        self.opened += 1;
        Ok(sender)
    }

    /// Sends one request and reads the whole answer, within the connection's timeout.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, HttpError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.send_inner(method, path, headers, body)).await {
            Ok(result) => {
                if result.is_err() {
                    self.sender = None;
                }
                result
            }
            Err(_) => {
                self.sender = None;
                Err(HttpError::Timeout(timeout))
            }
        }
    }

    async fn send_inner(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, HttpError> {
        let mut sender = match self.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.connect().await?,
        };
        if sender.ready().await.is_err() {
            // The server closed the idle connection (e.g. it restarted): open a new one once.
            sender = self.connect().await?;
            sender.ready().await.map_err(HttpError::Request)?;
        }
        let uri = format!("{}{}", self.endpoint.prefix, path);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, &self.endpoint.host)
            .header(hyper::header::ACCEPT, "application/json");
        if !body.is_empty() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body)).expect("a request built from valid parts");
        let response = sender.send_request(request).await.map_err(HttpError::Request)?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(HttpError::Request)?.to_bytes();
        self.sender = Some(sender);
        Ok(Response { status, body })
    }

    pub async fn get(&mut self, path: &str, token: Option<&str>) -> Result<Response, HttpError> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        self.send("GET", path, &headers, Bytes::new()).await
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<Response, HttpError> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        self.send("POST", path, &headers, Bytes::from(serde_json::to_vec(body).expect("JSON"))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(e.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(e.host, "127.0.0.1:8080");
        assert_eq!(e.prefix, "");
        let e = Endpoint::parse("http://127.0.0.1:9/base/").unwrap();
        assert_eq!(e.prefix, "/base");
        assert!(Endpoint::parse("https://127.0.0.1:8080").is_err());
    }

    /// A tiny server that answers every request on a connection with 201, counting connections.
    #[tokio::test]
    async fn keeps_one_connection_alive_and_reconnects_after_a_close() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // First connection: two requests, then close. Second connection: serve forever.
            for round in 0.. {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut served = 0;
                    let mut buf = vec![0u8; 4096];
                    let mut pending = Vec::new();
                    loop {
                        let n = socket.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        pending.extend_from_slice(&buf[..n]);
                        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&pending[..end]).to_lowercase();
                            let length: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map(|v| v.trim().parse().unwrap())
                                .unwrap_or(0);
                            if pending.len() < end + 4 + length {
                                break;
                            }
                            pending.drain(..end + 4 + length);
                            let body = r#"{"ok":true}"#;
                            let answer = format!(
                                "HTTP/1.1 201 Created\r\ncontent-length: {}\r\ncontent-type: application/json\r\n\r\n{body}",
                                body.len()
                            );
                            socket.write_all(answer.as_bytes()).await.unwrap();
                            served += 1;
                            if round == 0 && served == 2 {
                                return;
                            }
                        }
                    }
                });
            }
        });
        let mut conn = Conn::new(Endpoint::local(addr));
        for _ in 0..2 {
            let r = conn.send("POST", "/x", &[("idempotency-key", "k")], Bytes::from_static(b"{}")).await.unwrap();
            assert_eq!(r.status, 201);
            assert_eq!(&r.body[..], br#"{"ok":true}"#);
        }
        assert_eq!(conn.opened, 1);
        // The server closed the first connection: the next request goes out on a new one.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..3 {
            let r = conn.send("POST", "/x", &[], Bytes::from_static(b"{}")).await.unwrap();
            assert_eq!(r.status, 201);
        }
        assert_eq!(conn.opened, 2);
    }
}
