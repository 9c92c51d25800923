//! `bulwark serve` settings of the notification channels.

use bulwark_app::notify::{NotifyConfig, SmsConfig, SmtpConfig};
use clap::Args;

/// Where notifications go out. A channel left unset does not send: its notifications end
/// `failed` ("… not configured") on the delivery board, never silently dropped.
#[derive(Args, Clone)]
pub(crate) struct NotifyArgs {
    /// SMS gateway URL: each message is POSTed as JSON `{"to", "text"}`.
    #[arg(long, env = "BULWARK_SMS_URL")]
    sms_url: Option<String>,
    /// Bearer token sent to the SMS gateway.
    #[arg(long, env = "BULWARK_SMS_TOKEN", hide_env_values = true)]
    sms_token: Option<String>,
    /// SMTP server: `smtp://host:port`, `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host` (TLS).
    #[arg(long, env = "BULWARK_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of e-mail notifications.
    #[arg(long, env = "BULWARK_MAIL_FROM", default_value = "Bulwark <bulwark@localhost>")]
    mail_from: String,
}

impl NotifyArgs {
    pub(crate) fn config(&self) -> NotifyConfig {
        let set = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        NotifyConfig {
            sms: set(&self.sms_url).map(|url| SmsConfig { url, token: set(&self.sms_token) }),
            smtp: set(&self.smtp_url).map(|url| SmtpConfig { url, from: self.mail_from.clone() }),
            ..NotifyConfig::default()
        }
    }
}
