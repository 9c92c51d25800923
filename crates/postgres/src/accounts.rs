//! Accounts and sessions.

use crate::{
    PgStore,
    error::{Explain, corrupt, db},
    get,
};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Account, NewAccount, Role, Scope, SessionTimes, UserId, Username},
};
use bulwark_store::{AccountStore, SessionKind, SessionStore, StoreError, StoreResult};
use tokio_postgres::Row;

const ACCOUNT_COLS: &str = "a.id, a.username, a.display_name, a.role, a.scope_area_id, a.disabled";

/// An account from the six [`ACCOUNT_COLS`] starting at column `at`.
fn account_from(row: &Row, at: usize) -> StoreResult<Account> {
    let username: String = get(row, at + 1)?;
    let role: String = get(row, at + 3)?;
    Ok(Account {
        id: get(row, at)?,
        username: Username::parse(&username).map_err(|_| corrupt("username", &username))?,
        display_name: get(row, at + 2)?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        scope: get(row, at + 4)?,
        disabled: get(row, at + 5)?,
    })
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, account: NewAccount, now: Millis) -> StoreResult<Account> {
        let client = self.client().await?;
        let sql = format!(
            "INSERT INTO accounts AS a (username, display_name, role, scope_area_id, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ACCOUNT_COLS}"
        );
        let row = client
            .query_one(
                &sql,
                &[
                    &account.username.as_str(),
                    &account.display_name,
                    &account.role.as_str(),
                    &account.scope,
                    &account.password_hash,
                    &now,
                ],
            )
            .await
            .map_err(db)
            .conflict(|| format!("an account named {} already exists", account.username.as_str()))
            .invalid(|| format!("scope area {} does not exist", account.scope))?;
        account_from(&row, 0)
    }

    async fn account(&self, id: UserId) -> StoreResult<Option<Account>> {
        let client = self.client().await?;
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.id = $1");
        let row = client.query_opt(&sql, &[&id]).await.map_err(db)?;
        row.map(|r| account_from(&r, 0)).transpose()
    }

    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<(Account, String)>> {
        let client = self.client().await?;
        let sql = format!("SELECT {ACCOUNT_COLS}, a.password_hash FROM accounts a WHERE a.username = $1");
        let row = client.query_opt(&sql, &[&username.as_str()]).await.map_err(db)?;
        row.map(|r| Ok((account_from(&r, 0)?, get(&r, 6)?))).transpose()
    }

    async fn accounts(&self, scope: &Scope) -> StoreResult<Vec<Account>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let sql = format!(
            "SELECT {ACCOUNT_COLS} FROM accounts a JOIN areas s ON s.id = a.scope_area_id
             WHERE s.path >= $1 AND s.path < $2 ORDER BY a.username"
        );
        let rows = client.query(&sql, &[&low, &high]).await.map_err(db)?;
        rows.iter().map(|r| account_from(r, 0)).collect()
    }

    async fn set_disabled(&self, id: UserId, disabled: bool) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx.execute("UPDATE accounts SET disabled = $2 WHERE id = $1", &[&id, &disabled]).await.map_err(db)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if disabled {
            tx.execute("DELETE FROM sessions WHERE account_id = $1", &[&id]).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        let client = self.client().await?;
        let n =
            client.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", &[&id, &hash]).await.map_err(db)?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, token_hash: &str, user: UserId, kind: SessionKind, now: Millis) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sessions (token_hash, account_id, kind, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)",
                &[&token_hash, &user, &kind.as_str(), &now],
            )
            .await
            .map_err(db)
            .conflict(|| "a session with this token already exists".into())
            .invalid(|| format!("account {user} does not exist"))?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<(SessionTimes, Account)>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT s.kind, s.created_at, s.last_seen_at, {ACCOUNT_COLS}
             FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.token_hash = $1 AND NOT a.disabled"
        );
        let stmt = client.prepare_cached(&sql).await.map_err(db)?;
        let Some(row) = client.query_opt(&stmt, &[&token_hash]).await.map_err(db)? else {
            return Ok(None);
        };
        let kind: String = get(&row, 0)?;
        let times = SessionTimes {
            kind: SessionKind::parse(&kind).ok_or_else(|| corrupt("session kind", &kind))?,
            created_at: get(&row, 1)?,
            last_seen_at: get(&row, 2)?,
        };
        Ok(Some((times, account_from(&row, 3)?)))
    }

    async fn touch_session(&self, token_hash: &str, now: Millis) -> StoreResult<()> {
        let client = self.client().await?;
        // Never backwards: concurrent requests of one session may finish out of order.
        client
            .execute(
                "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE token_hash = $1",
                &[&token_hash, &now],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash]).await.map_err(db)?;
        Ok(())
    }
}
