//! Accounts and sessions on SQLite.

use crate::{SqliteStore, areas::conversion, error, error::corrupt};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Account, NewAccount, Role, Scope, SessionKind, SessionTimes, UserId, Username},
};
use bulwark_store::{AccountStore, SessionStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "a.id, a.username, a.display_name, a.role, a.scope_area_id, a.disabled";

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let username: String = row.get(1)?;
    let role: String = row.get(3)?;
    Ok(Account {
        id: row.get(0)?,
        username: Username::parse(&username).map_err(|e| conversion(corrupt("username", e)))?,
        display_name: row.get(2)?,
        role: Role::parse(&role).ok_or_else(|| conversion(corrupt("role", &role)))?,
        scope: row.get(4)?,
        disabled: row.get(5)?,
    })
}

fn account_by_id(c: &Connection, id: UserId) -> StoreResult<Option<Account>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM accounts a WHERE a.id = ?1"))
        .and_then(|mut s| s.query_row([id], account_from_row).optional())
        .map_err(error::map)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, a: NewAccount, now: Millis) -> StoreResult<Account> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO accounts (username, display_name, role, scope_area_id, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a.username.as_str(), a.display_name, a.role.as_str(), a.scope, a.password_hash, now],
            )
            .map_err(|e| match error::map(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("the username {} is taken", a.username.as_str())),
                other => other,
            })?;
            account_by_id(c, c.last_insert_rowid())?.ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn account(&self, id: UserId) -> StoreResult<Option<Account>> {
        self.read(move |c| account_by_id(c, id)).await
    }

    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<(Account, String)>> {
        let username = username.as_str().to_string();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COLUMNS}, a.password_hash FROM accounts a WHERE a.username = ?1"))
                .and_then(|mut s| s.query_row([username], |r| Ok((account_from_row(r)?, r.get(6)?))).optional())
                .map_err(error::map)
        })
        .await
    }

    async fn accounts(&self, scope: &Scope) -> StoreResult<Vec<Account>> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM accounts a JOIN areas s ON s.id = a.scope_area_id
                     WHERE s.path >= ?1 AND s.path < ?2 ORDER BY a.username"
                ))
                .map_err(error::map)?;
            let rows = stmt.query_map(params![low, high], account_from_row).map_err(error::map)?;
            rows.collect::<Result<_, _>>().map_err(error::map)
        })
        .await
    }

    async fn set_disabled(&self, id: UserId, disabled: bool) -> StoreResult<()> {
        self.write(move |c| {
            if c.execute("UPDATE accounts SET disabled = ?1 WHERE id = ?2", params![disabled, id])
                .map_err(error::map)?
                == 0
            {
                return Err(StoreError::NotFound);
            }
            if disabled {
                c.execute("DELETE FROM sessions WHERE account_id = ?1", [id]).map_err(error::map)?;
            }
            Ok(())
        })
        .await
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        let hash = hash.to_string();
        self.write(move |c| {
            match c
                .execute("UPDATE accounts SET password_hash = ?1 WHERE id = ?2", params![hash, id])
                .map_err(error::map)?
            {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, token_hash: &str, user: UserId, kind: SessionKind, now: Millis) -> StoreResult<()> {
        let token_hash = token_hash.to_string();
        self.write(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, account_id, kind, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![token_hash, user, kind.as_str(), now],
            )
            .map(|_| ())
            .map_err(error::map)
        })
        .await
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<(SessionTimes, Account)>> {
        let token_hash = token_hash.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS}, s.kind, s.created_at, s.last_seen_at FROM sessions s JOIN accounts a ON a.id = s.account_id
                 WHERE s.token_hash = ?1 AND a.disabled = 0"
            ))
            .and_then(|mut st| {
                st.query_row([token_hash], |r| {
                    let kind: String = r.get(6)?;
                    let kind = SessionKind::parse(&kind).ok_or_else(|| conversion(corrupt("session kind", &kind)))?;
                    Ok((SessionTimes { kind, created_at: r.get(7)?, last_seen_at: r.get(8)? }, account_from_row(r)?))
                })
                .optional()
            })
            .map_err(error::map)
        })
        .await
    }

    async fn touch_session(&self, token_hash: &str, now: Millis) -> StoreResult<()> {
        let token_hash = token_hash.to_string();
        self.write(move |c| {
            c.execute("UPDATE sessions SET last_seen_at = ?1 WHERE token_hash = ?2", params![now, token_hash])
                .map(|_| ())
                .map_err(error::map)
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let token_hash = token_hash.to_string();
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash]).map(|_| ()).map_err(error::map)
        })
        .await
    }
}
