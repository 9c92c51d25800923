//! [`NotificationStore`] on PostgreSQL. A batch is enqueued with one statement (arrays unnested,
//! `ON CONFLICT (dedup_key) DO NOTHING`); a claim locks the due rows it takes with
//! `FOR UPDATE SKIP LOCKED`, so servers claiming at the same time take different rows and none
//! waits for another.

use crate::{
    PgStore,
    areas::lock_areas,
    error::{corrupt, db},
    get,
};
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
use tokio_postgres::Row;

/// The most rows one list answers, whatever limit is asked for.
const MAX_LIST: u32 = 1000;

const COLUMNS: &str = "n.id, n.dedup_key, n.person_id, n.account_id, COALESCE(p.name, a.display_name, ''), n.channel, \
    n.address, n.incident_id, n.area_path, n.subject, n.body, n.state, n.attempts, n.last_error, n.due_at, \
    n.created_at, n.updated_at, n.sent_at, n.read_at";
const JOINS: &str = "LEFT JOIN persons p ON p.id = n.person_id LEFT JOIN accounts a ON a.id = n.account_id";

fn from_row(row: &Row) -> StoreResult<Notification> {
    let person: Option<i64> = get(row, 2)?;
    let account: Option<i64> = get(row, 3)?;
    let recipient = match (person, account) {
        (Some(p), _) => Recipient::Person(p),
        (None, Some(a)) => Recipient::Account(a),
        (None, None) => return Err(corrupt("recipient", "none")),
    };
    let channel: String = get(row, 5)?;
    let channel = Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?;
    let address: String = get(row, 6)?;
    let address = Address::from_stored(channel, &address).ok_or_else(|| corrupt("address", channel.as_str()))?;
    let state: String = get(row, 11)?;
    let attempts: i32 = get(row, 12)?;
    Ok(Notification {
        id: get(row, 0)?,
        key: get(row, 1)?,
        recipient,
        recipient_name: get(row, 4)?,
        address,
        incident: get(row, 7)?,
        area_path: get(row, 8)?,
        subject: get(row, 9)?,
        body: get(row, 10)?,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("delivery state", &state))?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts", attempts))?,
        last_error: get(row, 13)?,
        due_at: get(row, 14)?,
        created_at: get(row, 15)?,
        updated_at: get(row, 16)?,
        sent_at: get(row, 17)?,
        read_at: get(row, 18)?,
    })
}

/// `CASE state …`: the delivery board's order, failing ones first.
fn board_order() -> String {
    let ranks: Vec<String> =
        DeliveryState::ALL.iter().map(|s| format!("WHEN '{}' THEN {}", s.as_str(), s.board_rank())).collect();
    format!("CASE n.state {} END", ranks.join(" "))
}

#[async_trait]
impl NotificationStore for PgStore {
    async fn enqueue_notifications(&self, batch: Vec<NewNotification>, now: Millis) -> StoreResult<Enqueued> {
        if batch.is_empty() {
            return Ok(Enqueued::default());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let mut area_ids: Vec<i64> = batch.iter().map(|n| n.area).collect();
        area_ids.sort_unstable();
        area_ids.dedup();
        // Shared locks: a grid merge cannot rewrite these paths under the insert.
        let areas = lock_areas(&tx, &area_ids).await?;
        if let Some(missing) = area_ids.iter().find(|id| !areas.iter().any(|a| a.id == **id)) {
            return Err(StoreError::Invalid(format!("area {missing} does not exist")));
        }
        let keys: Vec<&str> = batch.iter().map(|n| n.key.as_str()).collect();
        let people: Vec<Option<i64>> = batch
            .iter()
            .map(|n| match n.recipient {
                Recipient::Person(p) => Some(p),
                Recipient::Account(_) => None,
            })
            .collect();
        let accounts: Vec<Option<i64>> = batch
            .iter()
            .map(|n| match n.recipient {
                Recipient::Account(a) => Some(a),
                Recipient::Person(_) => None,
            })
            .collect();
        let channels: Vec<&str> = batch.iter().map(|n| n.channel().as_str()).collect();
        let addresses: Vec<String> = batch.iter().map(|n| n.address.to_stored()).collect();
        let incidents: Vec<Option<i64>> = batch.iter().map(|n| n.incident).collect();
        let area_col: Vec<i64> = batch.iter().map(|n| n.area).collect();
        let subjects: Vec<&str> = batch.iter().map(|n| n.subject.as_str()).collect();
        let bodies: Vec<&str> = batch.iter().map(|n| n.body.as_str()).collect();
        let due: Vec<i64> = batch.iter().map(|n| n.not_before.unwrap_or(now)).collect();
        let row = tx
            .query_one(
                "WITH ins AS (
                     INSERT INTO notifications (dedup_key, person_id, account_id, channel, address, incident_id,
                         area_path, subject, body, state, due_at, created_at, updated_at)
                     SELECT u.k, u.p, u.a, u.ch, u.addr, u.inc, ar.path, u.subj, u.body, 'pending', u.due, $11, $11
                     FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
                                 $7::bigint[], $8::text[], $9::text[], $10::bigint[])
                          WITH ORDINALITY AS u(k, p, a, ch, addr, inc, area, subj, body, due, ord)
                     JOIN areas ar ON ar.id = u.area
                     ORDER BY u.ord
                     ON CONFLICT (dedup_key) DO NOTHING
                     RETURNING 1
                 )
                 SELECT count(*) FROM ins",
                &[
                    &keys, &people, &accounts, &channels, &addresses, &incidents, &area_col, &subjects, &bodies, &due,
                    &now,
                ],
            )
            .await
            .map_err(|e| match db(e) {
                StoreError::Invalid(_) => {
                    StoreError::Invalid("a notification's recipient is not a registered person or account".into())
                }
                other => other,
            })?;
        let created: i64 = get(&row, 0)?;
        tx.commit().await.map_err(db)?;
        let created = u64::try_from(created).unwrap_or(0);
        Ok(Enqueued { created, duplicates: batch.len() as u64 - created })
    }

    async fn claim_notifications(
        &self,
        claim: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        let client = self.client().await?;
        let limit = i64::from(limit.min(MAX_LIST));
        let sql = format!(
            "WITH n AS (
                 UPDATE notifications SET state = 'sending', claim = $1, due_at = $2, attempts = attempts + 1,
                     updated_at = $3
                 WHERE id IN (SELECT id FROM notifications WHERE due_at <= $3 ORDER BY due_at, id LIMIT $4
                              FOR UPDATE SKIP LOCKED)
                 RETURNING *
             )
             SELECT {COLUMNS} FROM n {JOINS} ORDER BY n.id"
        );
        let rows = client.query(&sql, &[&claim, &lease_until, &now, &limit]).await.map_err(db)?;
        rows.iter().map(from_row).collect()
    }

    async fn mark_sent(&self, id: NotificationId, claim: &str, at: Millis) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE notifications SET state = 'sent', sent_at = $3, updated_at = $3, due_at = NULL, claim = NULL
                 WHERE id = $1 AND claim = $2 AND state = 'sending'",
                &[&id, &claim, &at],
            )
            .await
            .map_err(db)?;
        Ok(n == 1)
    }

    async fn mark_failed(&self, id: NotificationId, claim: &str, failure: DeliveryFailure) -> StoreResult<bool> {
        let client = self.client().await?;
        let state = if failure.retry_at.is_some() { DeliveryState::FailedRetrying } else { DeliveryState::Failed };
        let n = client
            .execute(
                "UPDATE notifications SET state = $3, last_error = $4, due_at = $5, updated_at = $6, claim = NULL
                 WHERE id = $1 AND claim = $2 AND state = 'sending'",
                &[&id, &claim, &state.as_str(), &failure.error, &failure.retry_at, &failure.at],
            )
            .await
            .map_err(db)?;
        Ok(n == 1)
    }

    async fn notifications_by_id(&self, ids: &[NotificationId]) -> StoreResult<Vec<Notification>> {
        let client = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM notifications n {JOINS} WHERE n.id = ANY($1) ORDER BY n.id");
        let rows = client.query(&sql, &[&ids]).await.map_err(db)?;
        rows.iter().map(from_row).collect()
    }

    async fn notifications(&self, query: &NotificationQuery) -> StoreResult<Vec<Notification>> {
        let (low, high) = query.within.path_range();
        let client = self.client().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications n {JOINS}
             WHERE n.area_path >= $1 AND n.area_path < $2 AND ($3::bigint IS NULL OR n.incident_id = $3)
               AND ($4::text IS NULL OR n.state = $4) AND ($5::text IS NULL OR n.channel = $5)
               AND ($6::bigint IS NULL OR n.person_id = $6) AND ($7::bigint IS NULL OR n.account_id = $7)
             ORDER BY {}, n.id DESC LIMIT $8",
            board_order()
        );
        let rows = client
            .query(
                &sql,
                &[
                    &low,
                    &high,
                    &query.incident,
                    &query.state.map(DeliveryState::as_str),
                    &query.channel.map(Channel::as_str),
                    &query.person,
                    &query.account,
                    &i64::from(query.limit.min(MAX_LIST)),
                ],
            )
            .await
            .map_err(db)?;
        rows.iter().map(from_row).collect()
    }

    async fn notification_counts(&self, within: &Scope, incident: Option<IncidentId>) -> StoreResult<Vec<StateCount>> {
        let (low, high) = within.path_range();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT channel, state, count(*) FROM notifications
                 WHERE area_path >= $1 AND area_path < $2 AND ($3::bigint IS NULL OR incident_id = $3)
                 GROUP BY channel, state",
                &[&low, &high, &incident],
            )
            .await
            .map_err(db)?;
        let mut counts = rows
            .iter()
            .map(|r| {
                let channel: String = get(r, 0)?;
                let state: String = get(r, 1)?;
                let count: i64 = get(r, 2)?;
                Ok(StateCount {
                    channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
                    state: DeliveryState::parse(&state).ok_or_else(|| corrupt("delivery state", &state))?,
                    count: u64::try_from(count).unwrap_or(0),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        counts.sort();
        Ok(counts)
    }

    async fn next_due(&self) -> StoreResult<Option<Millis>> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT min(due_at) FROM notifications WHERE due_at IS NOT NULL", &[])
            .await
            .map_err(db)?;
        get(&row, 0)
    }

    async fn mark_read(&self, account: UserId, up_to: NotificationId, at: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE notifications SET read_at = $3
                 WHERE account_id = $1 AND id <= $2 AND channel = 'in_app' AND read_at IS NULL",
                &[&account, &up_to, &at],
            )
            .await
            .map_err(db)
    }
}
