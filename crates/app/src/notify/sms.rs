//! SMS through the town's HTTP gateway: one `POST` per message to a configured URL, the JSON
//! body `{"to": "13812345678", "text": "…"}`, an optional bearer token, and the notification's
//! deduplication key as `Idempotency-Key` (a gateway that honours it drops a message sent again
//! after a sender's claim expired).
//!
//! A 2xx answer is sent. 408, 429 and 5xx answers, timeouts and refused connections are
//! transient (tried again); any other answer is the gateway refusing this message for good (an
//! invalid number): permanent.
//!
//! HTTPS uses rustls with the aws-lc-rs provider named here and the system's CA certificates.

use super::channel::{ChannelSender, Outgoing, SendFailure};
use async_trait::async_trait;
use bulwark_domain::notify::{Address, Channel};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri, header};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use std::time::Duration;

/// Where the gateway is.
#[derive(Clone)]
pub struct SmsConfig {
    /// `https://sms.example.org/send` (or `http://` on loopback).
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig").field("url", &self.url).field("token", &self.token.as_ref().map(|_| "…")).finish()
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends SMS through the gateway.
pub struct SmsGateway {
    url: Uri,
    token: Option<String>,
    http: HttpClient,
}

/// The longest a gateway may take to answer one message.
const TIMEOUT: Duration = Duration::from_secs(15);

impl SmsGateway {
    /// Checks the URL and builds the HTTP client.
    pub fn new(config: &SmsConfig) -> Result<SmsGateway, String> {
        let url: Uri = config
            .url
            .parse()
            .map_err(|e| format!("BULWARK_SMS_URL: {e}; expected a URL such as https://sms.example.org/send"))?;
        match url.scheme_str() {
            Some("http" | "https") if url.host().is_some() => {}
            _ => return Err("BULWARK_SMS_URL: expected an http:// or https:// URL with a host".into()),
        }
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(SmsGateway { url, token: config.token.clone().filter(|t| !t.is_empty()), http })
    }
}

/// TLS with the aws-lc-rs provider named here (not a process-wide default) and the system's CA
/// certificates.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable certificates are skipped: the gateway's chain is checked against the rest.
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no CA certificates found on this system: HTTPS SMS gateways will be refused");
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS for the SMS gateway: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An error and its causes on one line ("client error (Connect): tcp connect error: Connection
/// refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl ChannelSender for SmsGateway {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    async fn send(&self, message: Outgoing<'_>) -> Result<(), SendFailure> {
        let Address::Sms(phone) = message.address else {
            return Err(SendFailure::permanent("not a phone number"));
        };
        let text = if message.subject.is_empty() {
            message.body.to_string()
        } else {
            format!("【{}】{}", message.subject, message.body)
        };
        let body = serde_json::to_vec(&serde_json::json!({"to": phone.as_str(), "text": text}))
            .map_err(|e| SendFailure::permanent(format!("the message cannot be encoded: {e}")))?;
        let mut request = Request::post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", message.key);
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendFailure::permanent(format!("the request cannot be built: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| SendFailure::transient(format!("sms gateway unreachable: {}", chain(&e))))?;
            let status = response.status();
            let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Ok::<_, SendFailure>((status, body))
        };
        let (status, body) = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| SendFailure::transient(format!("sms gateway gave no answer in {} s", TIMEOUT.as_secs())))??;
        if status.is_success() {
            return Ok(());
        }
        let said: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        let said = said.trim();
        let message = format!(
            "sms gateway answered {status}{}",
            if said.is_empty() { String::new() } else { format!(": {said}") }
        );
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(SendFailure::transient(message))
        } else {
            Err(SendFailure::permanent(message))
        }
    }
}
