//! SMS through the town's HTTP gateway: one `POST` per message to a configured URL, the JSON
//! body `{"to": "13812345678", "text": "…"}`, an optional bearer token, and the notification's
//! deduplication key as `Idempotency-Key` (a gateway that honours it drops a message sent again
//! after a sender's claim expired).
//!
//! A 2xx answer is sent. 408, 429 and 5xx answers, timeouts and refused connections are
//! transient (tried again); any other answer is the gateway refusing this message for good (an
//! invalid number): permanent.

use super::channel::{ChannelSender, Outgoing, SendFailure};
use async_trait::async_trait;
use bulwark_domain::notify::{Address, Channel};
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

/// Sends SMS through the gateway.
pub struct SmsGateway {
    url: reqwest::Url,
    token: Option<String>,
    http: reqwest::Client,
}

/// The longest a gateway may take to answer one message.
const TIMEOUT: Duration = Duration::from_secs(15);

impl SmsGateway {
    /// Checks the URL and builds the HTTP client.
    pub fn new(config: &SmsConfig) -> Result<SmsGateway, String> {
        let url = reqwest::Url::parse(&config.url)
            .map_err(|e| format!("BULWARK_SMS_URL: {e}; expected a URL such as https://sms.example.org/send"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("BULWARK_SMS_URL: the scheme is {}; expected http or https", url.scheme()));
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("SMS gateway client: {e}"))?;
        Ok(SmsGateway { url, token: config.token.clone().filter(|t| !t.is_empty()), http })
    }
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
        let mut request = self
            .http
            .post(self.url.clone())
            .header("Idempotency-Key", message.key)
            .json(&serde_json::json!({"to": phone.as_str(), "text": text}));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = match request.send().await {
            Ok(r) => r,
            // Without the URL: it may carry a key in its query.
            Err(e) => return Err(SendFailure::transient(format!("sms gateway unreachable: {}", e.without_url()))),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let said: String = body.chars().take(200).collect();
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
