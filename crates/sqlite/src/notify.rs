//! [`NotificationStore`] on SQLite. Every write goes through the one writer thread, so a claim
//! (select the due rows, then mark them) cannot interleave with another claim: two claimers never
//! get the same row. Reads use the read pool.

use crate::{SqliteStore, areas::conversion, error, error::corrupt};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    command::IncidentId,
    notify::{Address, Channel, DeliveryState, NewNotification, NotificationId, Recipient},
};
use bulwark_store::{
    StoreError, StoreResult,
    notify::{DeliveryFailure, Enqueued, Notification, NotificationQuery, NotificationStore, StateCount},
};
use rusqlite::{OptionalExtension, Row, params};
use std::collections::HashMap;

/// The most rows one list answers, whatever limit is asked for.
const MAX_LIST: u32 = 1000;

const COLUMNS: &str = "n.id, n.dedup_key, n.person_id, n.account_id, COALESCE(p.name, a.display_name, ''), n.channel, \
    n.address, n.incident_id, n.area_path, n.subject, n.body, n.state, n.attempts, n.last_error, n.due_at, \
    n.created_at, n.updated_at, n.sent_at, n.read_at";
const FROM: &str =
    "notifications n LEFT JOIN persons p ON p.id = n.person_id LEFT JOIN accounts a ON a.id = n.account_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Notification> {
    let person: Option<i64> = row.get(2)?;
    let account: Option<i64> = row.get(3)?;
    let recipient = match (person, account) {
        (Some(p), _) => Recipient::Person(p),
        (None, Some(a)) => Recipient::Account(a),
        (None, None) => return Err(conversion(corrupt("recipient", "none"))),
    };
    let channel: String = row.get(5)?;
    let channel = Channel::parse(&channel).ok_or_else(|| conversion(corrupt("channel", &channel)))?;
    let address: String = row.get(6)?;
    let address =
        Address::from_stored(channel, &address).ok_or_else(|| conversion(corrupt("address", channel.as_str())))?;
    let state: String = row.get(11)?;
    Ok(Notification {
        id: row.get(0)?,
        key: row.get(1)?,
        recipient,
        recipient_name: row.get(4)?,
        address,
        incident: row.get(7)?,
        area_path: row.get(8)?,
        subject: row.get(9)?,
        body: row.get(10)?,
        state: DeliveryState::parse(&state).ok_or_else(|| conversion(corrupt("delivery state", &state)))?,
        attempts: row.get(12)?,
        last_error: row.get(13)?,
        due_at: row.get(14)?,
        created_at: row.get(15)?,
        updated_at: row.get(16)?,
        sent_at: row.get(17)?,
        read_at: row.get(18)?,
    })
}

/// `CASE state …`: the delivery board's order, failing ones first.
fn board_order() -> String {
    let ranks: Vec<String> =
        DeliveryState::ALL.iter().map(|s| format!("WHEN '{}' THEN {}", s.as_str(), s.board_rank())).collect();
    format!("CASE n.state {} END", ranks.join(" "))
}

#[async_trait]
impl NotificationStore for SqliteStore {
    async fn enqueue_notifications(&self, batch: Vec<NewNotification>, now: Millis) -> StoreResult<Enqueued> {
        if batch.is_empty() {
            return Ok(Enqueued::default());
        }
        self.write(move |c| {
            let mut paths: HashMap<i64, String> = HashMap::new();
            let mut path_of = c.prepare_cached("SELECT path FROM areas WHERE id = ?1").map_err(error::map)?;
            let mut insert = c
                .prepare_cached(
                    "INSERT INTO notifications (dedup_key, person_id, account_id, channel, address, incident_id,
                        area_path, subject, body, state, due_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?11, ?11)
                     ON CONFLICT (dedup_key) DO NOTHING",
                )
                .map_err(error::map)?;
            let mut done = Enqueued::default();
            for n in &batch {
                let path = match paths.get(&n.area) {
                    Some(p) => p.clone(),
                    None => {
                        let p: String = path_of
                            .query_row([n.area], |r| r.get(0))
                            .optional()
                            .map_err(error::map)?
                            .ok_or_else(|| StoreError::Invalid(format!("area {} does not exist", n.area)))?;
                        paths.insert(n.area, p.clone());
                        p
                    }
                };
                let (person, account) = match n.recipient {
                    Recipient::Person(p) => (Some(p), None),
                    Recipient::Account(a) => (None, Some(a)),
                };
                let stored = insert
                    .execute(params![
                        n.key.as_str(),
                        person,
                        account,
                        n.channel().as_str(),
                        n.address.to_stored(),
                        n.incident,
                        path,
                        n.subject,
                        n.body,
                        n.not_before.unwrap_or(now),
                        now,
                    ])
                    .map_err(|e| match error::map(e) {
                        StoreError::Invalid(_) => StoreError::Invalid(format!(
                            "notification {}: its recipient is not a registered person or account",
                            n.key.as_str()
                        )),
                        other => other,
                    })?;
                if stored == 1 {
                    done.created += 1;
                } else {
                    done.duplicates += 1;
                }
            }
            Ok(done)
        })
        .await
    }

    async fn claim_notifications(
        &self,
        claim: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        let claim = claim.to_string();
        self.write(move |c| {
            let claimed = c
                .prepare_cached(
                    "UPDATE notifications SET state = 'sending', claim = ?1, due_at = ?2, attempts = attempts + 1,
                        updated_at = ?3
                     WHERE id IN (SELECT id FROM notifications WHERE due_at <= ?3 ORDER BY due_at, id LIMIT ?4)",
                )
                .and_then(|mut s| s.execute(params![claim, lease_until, now, limit.min(MAX_LIST)]))
                .map_err(error::map)?;
            if claimed == 0 {
                return Ok(Vec::new());
            }
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM {FROM} WHERE n.claim = ?1 AND n.state = 'sending' ORDER BY n.due_at, n.id"
                ))
                .map_err(error::map)?;
            let rows = stmt.query_map([&claim], from_row).map_err(error::map)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(error::map)
        })
        .await
    }

    async fn mark_sent(&self, id: NotificationId, claim: &str, at: Millis) -> StoreResult<bool> {
        let claim = claim.to_string();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE notifications SET state = 'sent', sent_at = ?3, updated_at = ?3, due_at = NULL, claim = NULL
                 WHERE id = ?1 AND claim = ?2 AND state = 'sending'",
            )
            .and_then(|mut s| s.execute(params![id, claim, at]))
            .map(|n| n == 1)
            .map_err(error::map)
        })
        .await
    }

    async fn mark_failed(&self, id: NotificationId, claim: &str, failure: DeliveryFailure) -> StoreResult<bool> {
        let claim = claim.to_string();
        self.write(move |c| {
            let state = if failure.retry_at.is_some() { DeliveryState::FailedRetrying } else { DeliveryState::Failed };
            c.prepare_cached(
                "UPDATE notifications SET state = ?3, last_error = ?4, due_at = ?5, updated_at = ?6, claim = NULL
                 WHERE id = ?1 AND claim = ?2 AND state = 'sending'",
            )
            .and_then(|mut s| {
                s.execute(params![id, claim, state.as_str(), failure.error, failure.retry_at, failure.at])
            })
            .map(|n| n == 1)
            .map_err(error::map)
        })
        .await
    }

    async fn notifications_by_id(&self, ids: &[NotificationId]) -> StoreResult<Vec<Notification>> {
        // A JSON array of integers, read back by json_each: one statement for any number of ids.
        let ids = format!("[{}]", ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(","));
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM {FROM} WHERE n.id IN (SELECT value FROM json_each(?1)) ORDER BY n.id"
                ))
                .map_err(error::map)?;
            let rows = stmt.query_map([&ids], from_row).map_err(error::map)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(error::map)
        })
        .await
    }

    async fn notifications(&self, query: &NotificationQuery) -> StoreResult<Vec<Notification>> {
        let (low, high) = query.within.path_range();
        let query = query.clone();
        self.read(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM {FROM}
                 WHERE n.area_path >= ?1 AND n.area_path < ?2 AND (?3 IS NULL OR n.incident_id = ?3)
                   AND (?4 IS NULL OR n.state = ?4) AND (?5 IS NULL OR n.channel = ?5)
                   AND (?6 IS NULL OR n.person_id = ?6) AND (?7 IS NULL OR n.account_id = ?7)
                 ORDER BY {}, n.id DESC LIMIT ?8",
                board_order()
            );
            let mut stmt = c.prepare_cached(&sql).map_err(error::map)?;
            let rows = stmt
                .query_map(
                    params![
                        low,
                        high,
                        query.incident,
                        query.state.map(DeliveryState::as_str),
                        query.channel.map(Channel::as_str),
                        query.person,
                        query.account,
                        query.limit.min(MAX_LIST),
                    ],
                    from_row,
                )
                .map_err(error::map)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(error::map)
        })
        .await
    }

    async fn notification_counts(&self, within: &Scope, incident: Option<IncidentId>) -> StoreResult<Vec<StateCount>> {
        let (low, high) = within.path_range();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT channel, state, count(*) FROM notifications
                     WHERE area_path >= ?1 AND area_path < ?2 AND (?3 IS NULL OR incident_id = ?3)
                     GROUP BY channel, state",
                )
                .map_err(error::map)?;
            let rows = stmt
                .query_map(params![low, high, incident], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(error::map)?;
            let mut counts = rows
                .map(|r| {
                    let (channel, state, count) = r.map_err(error::map)?;
                    Ok(StateCount {
                        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
                        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("delivery state", &state))?,
                        count: u64::try_from(count).unwrap_or(0),
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            counts.sort();
            Ok(counts)
        })
        .await
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        self.read(|c| {
            c.query_row("SELECT min(due_at) FROM notifications WHERE due_at IS NOT NULL", [], |r| r.get(0))
                .map_err(error::map)
        })
        .await
    }

    async fn mark_read(&self, account: UserId, up_to: NotificationId, at: Millis) -> StoreResult<u64> {
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE notifications SET read_at = ?3
                 WHERE account_id = ?1 AND id <= ?2 AND channel = 'in_app' AND read_at IS NULL",
            )
            .and_then(|mut s| s.execute(params![account, up_to, at]))
            .map(|n| n as u64)
            .map_err(error::map)
        })
        .await
    }
}
