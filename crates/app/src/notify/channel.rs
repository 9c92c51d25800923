//! What a channel is to the dispatcher: something that sends one message and says how it went.

use async_trait::async_trait;
use bulwark_domain::{
    notify::{Address, Channel, FailureKind, NotificationId},
    people::mask_numbers_in_text,
};

/// One message as a channel sends it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub id: NotificationId,
    /// The caller's deduplication key: sent along (as `Idempotency-Key`, in the Message-ID) so
    /// that a receiver can recognise a message sent again after a sender's claim expired.
    pub key: &'a str,
    pub address: &'a Address,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub kind: FailureKind,
    /// What went wrong, for the delivery board: no personal data (see [`SendFailure::sanitized`]).
    pub message: String,
}

impl SendFailure {
    pub fn transient(message: impl Into<String>) -> SendFailure {
        SendFailure { kind: FailureKind::Transient, message: message.into() }
    }

    pub fn permanent(message: impl Into<String>) -> SendFailure {
        SendFailure { kind: FailureKind::Permanent, message: message.into() }
    }

    /// The message as stored and shown: the recipient's address masked wherever a receiver
    /// echoed it, every long run of digits masked, at most 300 characters.
    pub fn sanitized(&self, address: &Address) -> String {
        let mut text = self.message.replace(['\r', '\n'], " ");
        let full = address.to_stored();
        if !full.is_empty() && !matches!(address, Address::InApp(_)) {
            text = text.replace(&full, &address.masked());
        }
        let text = mask_numbers_in_text(&text);
        let mut out: String = text.chars().take(300).collect();
        if text.chars().count() > 300 {
            out.push('…');
        }
        out
    }
}

/// A way to deliver notifications: the SMS gateway, the SMTP server, the pages of the app.
#[async_trait]
pub trait ChannelSender: Send + Sync {
    fn channel(&self) -> Channel;
    /// Sends one message. `Ok` means the receiver accepted it.
    async fn send(&self, message: Outgoing<'_>) -> Result<(), SendFailure>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_domain::{notify::Email, people::Phone};

    #[test]
    fn errors_keep_no_address() {
        let phone = Address::Sms(Phone::parse("13812345678").unwrap());
        let f = SendFailure::transient("gateway said: number 13812345678 busy\r\nretry");
        assert_eq!(f.sanitized(&phone), "gateway said: number 138****5678 busy  retry");
        let mail = Address::Email(Email::parse("chen.dawen@example.org").unwrap());
        let f = SendFailure::permanent("550 5.1.1 <chen.dawen@example.org>: mailbox unavailable");
        assert_eq!(f.sanitized(&mail), "550 5.1.1 <c***@example.org>: mailbox unavailable");
        let long = SendFailure::transient("x".repeat(400));
        assert_eq!(long.sanitized(&mail).chars().count(), 301);
    }
}
