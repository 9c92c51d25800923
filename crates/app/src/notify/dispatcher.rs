//! The background dispatcher: claims due notifications in batches, sends them concurrently with a
//! bounded fan-out, and marks each sent or failed (with its next attempt, or given up).
//!
//! It wakes at once when something is enqueued ([`Hub::wake`]) and otherwise on a tick (or at the
//! next retry, when that comes sooner). Claims are leased: a dispatcher that dies mid-send leaves
//! its notifications to be claimed again when the lease ends, by itself after a restart or by
//! another server's. A message can thus be sent twice after a crash, never lost.

use super::{
    Hub, Now,
    channel::{ChannelSender, Outgoing, SendFailure},
    email::{SmtpConfig, SmtpMailer},
    in_app::InApp,
    sms::{SmsConfig, SmsGateway},
};
use bulwark_domain::{
    Millis,
    notify::{Channel, FailureKind, Retry, RetryPolicy},
};
use bulwark_store::{Store, StoreResult, notify::DeliveryFailure, notify::Notification};
use std::{sync::Arc, time::Duration};

/// How notifications go out.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// The SMS gateway; without it SMS notifications end `failed` ("sms gateway not configured").
    pub sms: Option<SmsConfig>,
    /// The SMTP server; without it e-mail notifications end `failed`.
    pub smtp: Option<SmtpConfig>,
    pub policy: RetryPolicy,
    /// Notifications claimed at a time.
    pub batch: u32,
    /// Messages in flight at once.
    pub fan_out: usize,
    /// How long a claim holds: longer than any channel's timeout, so that a slow send is not
    /// claimed again while it is still under way.
    pub lease: Millis,
    /// Look for due notifications at least this often.
    pub tick: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            sms: None,
            smtp: None,
            policy: RetryPolicy::default(),
            batch: 200,
            fan_out: 32,
            lease: 120_000,
            tick: Duration::from_secs(1),
        }
    }
}

/// The longest a send may take before it counts as a (transient) failure; well inside the lease.
fn send_deadline(lease: Millis) -> Duration {
    Duration::from_millis(u64::try_from(lease / 2).unwrap_or(1).max(1))
}

/// Sends what the outbox holds. See the module documentation.
#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    now: Now,
    sms: Option<Arc<dyn ChannelSender>>,
    email: Option<Arc<dyn ChannelSender>>,
    in_app: Arc<dyn ChannelSender>,
    config: NotifyConfig,
}

impl Dispatcher {
    /// Builds the channels; a malformed gateway URL, SMTP URL or sender address is an error that
    /// names the setting.
    pub fn new(store: Arc<dyn Store>, hub: Arc<Hub>, config: NotifyConfig, now: Now) -> Result<Dispatcher, String> {
        let sms = match &config.sms {
            Some(c) => Some(Arc::new(SmsGateway::new(c)?) as Arc<dyn ChannelSender>),
            None => None,
        };
        let email = match &config.smtp {
            Some(c) => Some(Arc::new(SmtpMailer::new(c)?) as Arc<dyn ChannelSender>),
            None => None,
        };
        let in_app = Arc::new(InApp::new(hub.clone(), now.clone()));
        Ok(Dispatcher { store, hub, now, sms, email, in_app, config })
    }

    /// Runs until `shutdown` resolves. Storage errors are logged and the loop goes on: claims
    /// that were made are leased, so nothing is lost while the database is away.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let handled = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "notification dispatcher: storage failed; trying again");
                    0
                }
            };
            if handled > 0 {
                continue;
            }
            let pause = self.pause().await;
            tokio::select! {
                _ = self.hub.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = &mut shutdown => return,
            }
        }
    }

    /// Starts [`Dispatcher::run`] on the runtime; the task ends when the handle is dropped.
    pub fn spawn(self) -> DispatcherHandle {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async {
            let _ = stopped.await;
        }));
        DispatcherHandle { _stop: stop, task }
    }

    /// How long to wait for work: the tick, or less when a retry is due sooner.
    async fn pause(&self) -> Duration {
        match self.store.next_due().await {
            Ok(Some(due)) => {
                let wait = due.saturating_sub((self.now)()).max(10);
                self.config.tick.min(Duration::from_millis(u64::try_from(wait).unwrap_or(10)))
            }
            _ => self.config.tick,
        }
    }

    /// Claims one batch of due notifications and sends them; returns how many were claimed.
    pub async fn run_once(&self) -> StoreResult<usize> {
        let now = (self.now)();
        let claim = uuid::Uuid::new_v4().to_string();
        let batch =
            self.store.claim_notifications(&claim, now, now + self.config.lease, self.config.batch.max(1)).await?;
        let claimed = batch.len();
        let mut in_flight = tokio::task::JoinSet::new();
        for notification in batch {
            while in_flight.len() >= self.config.fan_out.max(1) {
                in_flight.join_next().await;
            }
            let this = self.clone();
            let claim = claim.clone();
            in_flight.spawn(async move { this.deliver(notification, &claim).await });
        }
        while in_flight.join_next().await.is_some() {}
        Ok(claimed)
    }

    fn sender(&self, channel: Channel) -> Result<&Arc<dyn ChannelSender>, SendFailure> {
        match channel {
            Channel::InApp => Ok(&self.in_app),
            Channel::Sms => {
                self.sms.as_ref().ok_or_else(|| SendFailure::permanent("sms gateway not configured (BULWARK_SMS_URL)"))
            }
            Channel::Email => self
                .email
                .as_ref()
                .ok_or_else(|| SendFailure::permanent("smtp server not configured (BULWARK_SMTP_URL)")),
        }
    }

    /// Sends one claimed notification and records the outcome under the claim.
    async fn deliver(&self, n: Notification, claim: &str) {
        let outcome = match self.sender(n.channel()) {
            Ok(sender) => {
                let message =
                    Outgoing { id: n.id, key: &n.key, address: &n.address, subject: &n.subject, body: &n.body };
                match tokio::time::timeout(send_deadline(self.config.lease), sender.send(message)).await {
                    Ok(result) => result,
                    Err(_) => Err(SendFailure::transient("no answer in time")),
                }
            }
            Err(not_configured) => Err(not_configured),
        };
        let at = (self.now)();
        let recorded = match outcome {
            Ok(()) => self.store.mark_sent(n.id, claim, at).await,
            Err(failure) => {
                let error = failure.sanitized(&n.address);
                let retry = self.config.policy.after_failure(
                    failure.kind,
                    n.attempts,
                    n.created_at,
                    at,
                    u64::try_from(n.id).unwrap_or(0),
                );
                let retry_at = match retry {
                    Retry::At(t) => Some(t),
                    Retry::GiveUp => {
                        tracing::warn!(
                            notification.id = n.id,
                            channel = n.channel().as_str(),
                            attempts = n.attempts,
                            permanent = failure.kind == FailureKind::Permanent,
                            "notification failed for good: {error}"
                        );
                        None
                    }
                };
                self.store.mark_failed(n.id, claim, DeliveryFailure { at, error, retry_at }).await
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(notification.id = n.id, "notification claim was taken over before it was marked")
            }
            // The lease runs out and the notification is claimed again: sent twice at worst.
            Err(e) => tracing::warn!(notification.id = n.id, error = %e, "notification outcome not recorded"),
        }
    }
}

/// A running dispatcher; dropping it stops the loop (between batches).
pub struct DispatcherHandle {
    _stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl DispatcherHandle {
    /// Stops the loop and waits for the batch under way to be marked.
    pub async fn stop(self) {
        let DispatcherHandle { _stop, task } = self;
        drop(_stop);
        let _ = task.await;
    }
}
