//! Real receivers on loopback ports, started by the tests: an HTTP SMS gateway (axum) and an SMTP
//! server (a small responder on tokio that speaks enough SMTP for lettre: EHLO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT). Each can fail first and recover, or fail for ever; each records what it
//! accepted.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use base64::Engine as _;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// One SMS the gateway accepted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sms {
    pub to: String,
    pub text: String,
    pub key: String,
}

#[derive(Default)]
struct GatewayState {
    /// Requests to answer 503 before the gateway recovers; `u32::MAX`: never recovers.
    failures_left: AtomicU32,
    requests: AtomicU32,
    token: String,
    accepted: Mutex<Vec<Sms>>,
}

/// An SMS gateway on `127.0.0.1:0`: `POST /send` with `{"to","text"}` and a bearer token.
pub struct SmsReceiver {
    pub url: String,
    state: Arc<GatewayState>,
    _server: tokio::task::JoinHandle<()>,
}

impl SmsReceiver {
    /// Answers 503 to the first `fail_first` requests, then accepts (`u32::MAX`: never).
    pub async fn start(fail_first: u32, token: &str) -> SmsReceiver {
        let state = Arc::new(GatewayState {
            failures_left: AtomicU32::new(fail_first),
            token: token.to_string(),
            ..Default::default()
        });
        let app = Router::new().route("/send", post(receive)).with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMS gateway");
        let url = format!("http://{}/send", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("SMS gateway");
        });
        SmsReceiver { url, state, _server: server }
    }

    pub fn accepted(&self) -> Vec<Sms> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// Every request that reached the gateway, answered 503 or accepted.
    pub fn requests(&self) -> u32 {
        self.state.requests.load(Ordering::SeqCst)
    }
}

async fn receive(
    State(state): State<Arc<GatewayState>>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if bearer != format!("Bearer {}", state.token) {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "bad token"})));
    }
    let failing = state.failures_left.load(Ordering::SeqCst);
    if failing == u32::MAX
        || state.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"error": "gateway overloaded"})));
    }
    let (Some(to), Some(text)) = (body["to"].as_str(), body["text"].as_str()) else {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "to and text are required"})));
    };
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
    state.accepted.lock().unwrap().push(Sms { to: to.into(), text: text.into(), key: key.into() });
    (StatusCode::OK, Json(serde_json::json!({"queued": true})))
}

/// One e-mail the SMTP server accepted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub message_id: String,
    /// The body, its transfer encoding undone.
    pub body: String,
}

#[derive(Default)]
struct SmtpState {
    /// Connections to close at once, before answering anything; `u32::MAX`: all of them.
    refuse_left: AtomicU32,
    connections: AtomicU32,
    accepted: Mutex<Vec<Mail>>,
}

/// An SMTP server on `127.0.0.1:0`.
pub struct SmtpReceiver {
    pub port: u16,
    state: Arc<SmtpState>,
    _server: tokio::task::JoinHandle<()>,
}

impl SmtpReceiver {
    /// Closes the first `refuse_first` connections at once (`u32::MAX`: all), then serves.
    pub async fn start(refuse_first: u32) -> SmtpReceiver {
        let state = Arc::new(SmtpState { refuse_left: AtomicU32::new(refuse_first), ..Default::default() });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMTP server");
        let port = listener.local_addr().unwrap().port();
        let shared = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let refuse = shared.refuse_left.load(Ordering::SeqCst) == u32::MAX
                    || shared
                        .refuse_left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                if refuse {
                    drop(socket);
                    continue;
                }
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = session(socket, &shared).await;
                });
            }
        });
        SmtpReceiver { port, state, _server: server }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn accepted(&self) -> Vec<Mail> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// Every connection made, refused or served.
    pub fn connections(&self) -> u32 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

/// One SMTP session (RFC 5321, the parts a client sending one message uses).
async fn session(socket: tokio::net::TcpStream, state: &SmtpState) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 receiver.test ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-receiver.test greets you\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n",
            "HELO" => b"250 receiver.test\r\n",
            "MAIL" => {
                from = angle(&command);
                to.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" => {
                to.push(angle(&command));
                b"250 2.1.5 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                }
                state.accepted.lock().unwrap().push(parse_mail(&from, &to, &data));
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not recognised\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The address between `<` and `>`.
fn angle(command: &str) -> String {
    command.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a.to_string()).unwrap_or_default()
}

/// Headers and body of a message; the body decoded from base64 or quoted-printable.
fn parse_mail(from: &str, to: &[String], data: &str) -> Mail {
    let (head, body) = data.split_once("\r\n\r\n").unwrap_or((data, ""));
    let mut headers: HashMap<String, String> = HashMap::new();
    let mut last = String::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = headers.get_mut(&last) {
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            last = k.trim().to_ascii_lowercase();
            headers.insert(last.clone(), v.trim().to_string());
        }
    }
    let encoding = headers.get("content-transfer-encoding").map(|e| e.to_ascii_lowercase()).unwrap_or_default();
    let body = match encoding.as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).expect("base64 body"))
                .expect("UTF-8 body")
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_string(),
    };
    Mail {
        from: from.to_string(),
        to: to.to_vec(),
        message_id: headers.get("message-id").cloned().unwrap_or_default(),
        body: body.trim_end().to_string(),
    }
}

fn quoted_printable(text: &str) -> String {
    let raw = text.replace("=\r\n", "");
    let raw = raw.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = (raw[i] == b'=' && i + 3 <= raw.len())
            .then(|| std::str::from_utf8(&raw[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match hex {
            Some(b) => {
                bytes.push(b);
                i += 3;
            }
            None => {
                bytes.push(raw[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(bytes).expect("UTF-8 body")
}
