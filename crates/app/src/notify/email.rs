//! E-mail through the town's SMTP server, with `lettre` on tokio.
//!
//! The server is named by a URL, as lettre reads it: `smtp://127.0.0.1:2525` (plain, for a relay
//! on the same host), `smtp://user:pass@mail.example.org:587?tls=required` (STARTTLS),
//! `smtps://user:pass@mail.example.org` (TLS from the start). Certificates are checked against
//! the system's CA store.
//!
//! An SMTP 5xx reply is a permanent refusal (no such mailbox); a 4xx reply, a refused or dropped
//! connection, a timeout or a TLS failure are transient and tried again.

use super::channel::{ChannelSender, Outgoing, SendFailure};
use async_trait::async_trait;
use bulwark_domain::notify::{Address, Channel};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use std::time::Duration;

/// Where mail goes out and whom it comes from.
#[derive(Clone)]
pub struct SmtpConfig {
    /// `smtp://host:port`, `smtp://user:pass@host:587?tls=required`, `smtps://…`.
    pub url: String,
    /// `Bulwark <bulwark@town.example.org>` or a bare address.
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        let url = match self.url.split_once('@') {
            Some((scheme_user, host)) => {
                format!("{}…@{host}", scheme_user.split_once("://").map_or("", |(s, _)| s))
            }
            None => self.url.clone(),
        };
        f.debug_struct("SmtpConfig").field("url", &url).field("from", &self.from).finish()
    }
}

/// Sends e-mail through the SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The longest one message may take, from connecting to the server's last reply.
const TIMEOUT: Duration = Duration::from_secs(20);

impl SmtpMailer {
    pub fn new(config: &SmtpConfig) -> Result<SmtpMailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|e| {
                format!("BULWARK_SMTP_URL: {e}; expected smtp://host:port, smtp://user:pass@host:587?tls=required or smtps://…")
            })?
            .timeout(Some(TIMEOUT))
            .build();
        let from = config.from.parse::<Mailbox>().map_err(|e| {
            format!("BULWARK_MAIL_FROM: {e}; expected an address such as Bulwark <bulwark@town.example.org>")
        })?;
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait]
impl ChannelSender for SmtpMailer {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    async fn send(&self, message: Outgoing<'_>) -> Result<(), SendFailure> {
        let Address::Email(to) = message.address else {
            return Err(SendFailure::permanent("not an e-mail address"));
        };
        let to: Mailbox =
            to.as_str().parse().map_err(|e| SendFailure::permanent(format!("not a deliverable address: {e}")))?;
        let subject = if message.subject.is_empty() { "Bulwark 通知" } else { message.subject };
        let domain = self.from.email.domain().to_string();
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            // The same notification sent again carries the same Message-ID: receivers and
            // mailboxes can tell a repeat from a new message.
            .message_id(Some(format!("<notification-{}@{domain}>", message.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.to_string())
            .map_err(|e| SendFailure::permanent(format!("the message cannot be built: {e}")))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendFailure::permanent(format!("smtp server refused the message: {e}"))),
            Err(e) => Err(SendFailure::transient(format!("smtp: {e}"))),
        }
    }
}
