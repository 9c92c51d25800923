//! Accounts, passwords, sessions and login.
//!
//! Passwords are hashed with argon2id (default parameters). Session tokens are 32 random bytes;
//! storage keeps only their SHA-256, so a copy of the database does not let anyone sign in.
//! Login is throttled per account and per client address, and an unknown username costs as much
//! time as a wrong password, so neither timing nor messages tell which usernames exist.

use crate::{Actor, AppError, AppResult};
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64::Engine;
use bulwark_domain::{
    Millis,
    access::{
        Account, LoginThrottle, NewAccount, Operation, Role, Scope, SessionKind, ThrottleSettings, Username,
        check_password_strength,
    },
    areas::AreaCode,
    audit::Outcome,
};
use bulwark_store::Store;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::{LazyLock, Mutex};

pub fn hash_password(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the username does not exist, so that answer takes as long.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a password of anyone").expect("hashing a constant"));

/// A new random secret: 32 bytes, URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What storage keeps of a token: its SHA-256 in lower-case hex. Every authenticated request
/// computes it, so into one string (a `format!` per byte was 32 allocations a request).
pub fn token_hash(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for b in Sha256::digest(token.as_bytes()) {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    hex
}

/// Login throttles, shared by all requests of one server, and through
/// [`LoginGuard::tell_others`] by the servers sharing its database: a failure on one counts on
/// every one, so that a balancer spreading attempts over several servers does not multiply them.
/// The throttles keep a short hash of each account name and client address, never the name or
/// address itself, so that only hashes travel between servers.
pub struct LoginGuard {
    accounts: Mutex<LoginThrottle>,
    addresses: Mutex<LoginThrottle>,
    /// Told the key of every failure here (`a…` an account, `i…` an address).
    failed_here: std::sync::OnceLock<Tell>,
}

/// What a server tells the servers sharing its database (the web layer's fanout carries it).
type Tell = Box<dyn Fn(&str) + Send + Sync>;

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard {
            accounts: Mutex::new(LoginThrottle::new(ThrottleSettings::ACCOUNT)),
            addresses: Mutex::new(LoginThrottle::new(ThrottleSettings::ADDRESS)),
            failed_here: std::sync::OnceLock::new(),
        }
    }
}

/// The throttle's key of an account name or client address: 16 hex digits of its SHA-256.
fn throttle_key(raw: &str) -> String {
    token_hash(raw)[..16].to_string()
}

impl LoginGuard {
    /// `Err(retry_after_ms)` while the address or the account is locked.
    fn check(&self, account: &str, address: &str, now: Millis) -> Result<(), Millis> {
        self.addresses.lock().expect("throttle").check(address, now)?;
        self.accounts.lock().expect("throttle").check(account, now)
    }

    fn record_failure(&self, account: &str, address: &str, now: Millis) {
        self.addresses.lock().expect("throttle").record_failure(address, now);
        self.accounts.lock().expect("throttle").record_failure(account, now);
        if let Some(tell) = self.failed_here.get() {
            tell(&format!("a{account}"));
            tell(&format!("i{address}"));
        }
    }

    /// Calls `tell` with the key of every login failure on this server from now on.
    pub fn tell_others(&self, tell: Tell) {
        let _ = self.failed_here.set(tell);
    }

    /// Counts a failure another server had, by its key as [`LoginGuard::tell_others`] gave it;
    /// a key of another shape is ignored.
    pub fn failed_elsewhere(&self, key: &str, now: Millis) {
        let Some((kind, hash)) = key.split_at_checked(1) else { return };
        if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return;
        }
        match kind {
            "a" => self.accounts.lock().expect("throttle").record_failure(hash, now),
            "i" => self.addresses.lock().expect("throttle").record_failure(hash, now),
            _ => {}
        }
    }
}

fn too_many(retry_ms: Millis) -> AppError {
    AppError::TooManyAttempts { retry_after_secs: (retry_ms.max(0) as u64).div_ceil(1000).max(1) }
}

/// A successful login: the secret to hand to the client, once.
pub struct LoginSuccess {
    pub token: String,
    pub account: Account,
}

/// Checks a username and password and opens a session of `kind`.
pub async fn login(
    store: &dyn Store,
    guard: &LoginGuard,
    username: &str,
    password: &str,
    client: &str,
    kind: SessionKind,
    now: Millis,
) -> AppResult<LoginSuccess> {
    let name = username.trim().to_ascii_lowercase();
    let found = match Username::parse(&name) {
        Ok(u) => store.account_by_username(&u).await?,
        Err(_) => None,
    };
    let (account_key, address_key) = (throttle_key(&name), throttle_key(client));
    if let Err(retry_ms) = guard.check(&account_key, &address_key, now) {
        // Refused unheard, even with the right password; still one audit entry per attempt.
        store.append_audit(vec![failed_login(found.as_ref().map(|(a, _)| a), Some("throttled"), now)]).await?;
        return Err(too_many(retry_ms));
    }
    let password = password.to_string();
    let hash = found.as_ref().map(|(_, h)| h.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let account = match found {
        Some((account, _)) if verified && !account.disabled => account,
        other => {
            guard.record_failure(&account_key, &address_key, now);
            store.append_audit(vec![failed_login(other.as_ref().map(|(a, _)| a), None, now)]).await?;
            return Err(AppError::Unauthenticated);
        }
    };
    guard.accounts.lock().expect("throttle").record_success(&account_key);
    let token = new_token();
    store.create_session(&token_hash(&token), account.id, kind, now).await?;
    let entry = bulwark_domain::audit::NewAuditEntry {
        at: now,
        user: Some(account.id),
        username: account.username.as_str().to_string(),
        role: Some(account.role),
        operation: Operation::Login,
        person: None,
        outcome: Outcome::Success,
        detail: Some(kind.as_str().to_string()),
        request_id: new_token(),
    };
    store.append_audit(vec![entry]).await?;
    Ok(LoginSuccess { token, account })
}

/// The audit entry of a refused login. What was typed is kept only when it names an account: a
/// mistyped field may hold an ID number or a phone, which must not land in the audit log.
fn failed_login(account: Option<&Account>, detail: Option<&str>, now: Millis) -> bulwark_domain::audit::NewAuditEntry {
    bulwark_domain::audit::NewAuditEntry {
        at: now,
        user: account.map(|a| a.id),
        username: account.map_or_else(|| "(unknown account)".to_string(), |a| a.username.as_str().to_string()),
        role: account.map(|a| a.role),
        operation: Operation::Login,
        person: None,
        outcome: Outcome::Denied,
        detail: detail.map(str::to_string),
        request_id: new_token(),
    }
}

/// Resolves a session token into an actor, or `Unauthenticated` when it is unknown, expired or
/// its account is disabled.
pub async fn authenticate(store: &dyn Store, token: &str, request_id: String, now: Millis) -> AppResult<Actor> {
    let (_, account, scope) = resolve(store, &token_hash(token), now).await?;
    Ok(Actor { scope, account, request_id })
}

async fn resolve(
    store: &dyn Store,
    hash: &str,
    now: Millis,
) -> AppResult<(bulwark_domain::access::SessionTimes, Account, Scope)> {
    let (times, account) = store.session(hash).await?.ok_or(AppError::Unauthenticated)?;
    if !times.is_alive(now) {
        store.delete_session(hash).await?;
        return Err(AppError::Unauthenticated);
    }
    if times.should_touch(now) {
        store.touch_session(hash, now).await?;
    }
    let area = store.area(account.scope).await?.ok_or(AppError::Unauthenticated)?;
    Ok((times, account, Scope::of(&area)))
}

pub async fn logout(store: &dyn Store, token: &str) -> AppResult<()> {
    store.delete_session(&token_hash(token)).await?;
    Ok(())
}

/// What an admin gives to create an account.
pub struct AccountInput {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub scope: String,
    pub password: String,
}

/// Creates an account inside the creator's scope.
pub async fn create_account(store: &dyn Store, actor: &Actor, input: AccountInput, now: Millis) -> AppResult<Account> {
    actor.authorize(store, Operation::UsersManage, now).await?;
    let scope_area =
        crate::areas::resolve_area(store, actor, Operation::UsersManage, "scope", &input.scope, false, now).await?;
    let account = new_account(store, input).await?;
    let detail = format!("created account {} as {} for {}", account.username.as_str(), account.role, scope_area.code);
    let created = store.create_account(account, now).await?;
    actor.record_change(store, Operation::UsersManage, detail, now).await?;
    Ok(created)
}

/// Validates account input and hashes the password (used by admins and by the demo loader).
pub async fn new_account(store: &dyn Store, input: AccountInput) -> AppResult<NewAccount> {
    let username = Username::parse(&input.username).map_err(|e| AppError::invalid("username", e))?;
    let role = Role::parse(&input.role).ok_or_else(|| AppError::invalid("role", "one of the nine role names"))?;
    check_password_strength(&input.password).map_err(|e| AppError::invalid("password", e))?;
    let code = AreaCode::parse(&input.scope).map_err(|e| AppError::invalid("scope", e))?;
    let area = store.area_by_code(&code).await?.ok_or_else(|| AppError::invalid("scope", "an existing area code"))?;
    let password = input.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let display_name = input.display_name.trim().to_string();
    let display_name = if display_name.is_empty() { username.as_str().to_string() } else { display_name };
    Ok(NewAccount { username, display_name, role, scope: area.id, password_hash })
}

/// Accounts inside the actor's scope.
pub async fn list_accounts(store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<Vec<Account>> {
    actor.authorize(store, Operation::UsersList, now).await?;
    Ok(store.accounts(&actor.scope).await?)
}

/// Disables or re-enables an account inside the actor's scope; disabling ends its sessions.
pub async fn set_disabled(store: &dyn Store, actor: &Actor, id: i64, disabled: bool, now: Millis) -> AppResult<()> {
    actor.authorize(store, Operation::UsersManage, now).await?;
    let target = match store.account(id).await? {
        Some(t) => t,
        None => return Err(actor.deny(store, Operation::UsersManage, None, now).await),
    };
    let inside = store.area(target.scope).await?.is_some_and(|a| actor.scope.contains(&a));
    if !inside || target.id == actor.account.id {
        return Err(actor.deny(store, Operation::UsersManage, None, now).await);
    }
    store.set_disabled(id, disabled).await?;
    let verb = if disabled { "disabled" } else { "enabled" };
    actor
        .record_change(store, Operation::UsersManage, format!("{verb} account {}", target.username.as_str()), now)
        .await
}

/// Sessions recently resolved by this server: a scan at a lane should not cost two database
/// reads before it starts. An entry lives [`SessionCache::TTL`] at most; logout, disabling an
/// account and moving account scopes (grid merges) forget entries at once on this server, and,
/// through [`SessionCache::tell_others`], on the servers sharing its database as soon as they
/// hear of it.
#[derive(Default)]
pub struct SessionCache {
    entries: std::sync::Mutex<
        std::collections::HashMap<String, (Millis, bulwark_domain::access::SessionTimes, Account, Scope)>,
    >,
    /// Told what this server forgets: `t` and a token's hash, `u` and an account id, or `all`.
    forgotten_here: std::sync::OnceLock<Tell>,
}

impl SessionCache {
    pub const TTL: Millis = 2_000;
    const MAX_ENTRIES: usize = 50_000;

    pub fn forget_token(&self, token: &str) {
        self.forget(&format!("t{}", token_hash(token)));
    }

    pub fn forget_account(&self, account: bulwark_domain::access::UserId) {
        self.forget(&format!("u{account}"));
    }

    pub fn clear(&self) {
        self.forget("all");
    }

    fn forget(&self, what: &str) {
        self.drop_entries(what);
        if let Some(tell) = self.forgotten_here.get() {
            tell(what);
        }
    }

    /// Calls `tell` with what this server forgets from now on (a session's hash, an account, all).
    pub fn tell_others(&self, tell: Tell) {
        let _ = self.forgotten_here.set(tell);
    }

    /// Forgets what another server forgot, as [`SessionCache::tell_others`] gave it; anything of
    /// another shape is ignored.
    pub fn forget_from_elsewhere(&self, what: &str) {
        self.drop_entries(what);
    }

    /// Drops the entries `what` names: `t` and a token's hash, `u` and an account id, or `all`.
    fn drop_entries(&self, what: &str) {
        let mut entries = self.entries.lock().expect("session cache");
        match what.split_at_checked(1) {
            _ if what == "all" => entries.clear(),
            Some(("t", hash)) => {
                entries.remove(hash);
            }
            Some(("u", id)) => {
                if let Ok(account) = id.parse::<bulwark_domain::access::UserId>() {
                    entries.retain(|_, (_, _, a, _)| a.id != account);
                }
            }
            _ => {}
        }
    }
}

/// [`authenticate`], answered from `cache` when the session was resolved less than a TTL ago.
pub async fn authenticate_cached(
    store: &dyn Store,
    cache: &SessionCache,
    token: &str,
    request_id: String,
    now: Millis,
) -> AppResult<Actor> {
    let hash = token_hash(token);
    let hit = cache.entries.lock().expect("session cache").get(&hash).cloned();
    if let Some((fetched, times, account, scope)) = hit
        && now >= fetched
        && now - fetched < SessionCache::TTL
        && times.is_alive(now)
    {
        return Ok(Actor { scope, account, request_id });
    }
    let (times, account, scope) = resolve(store, &hash, now).await?;
    let mut entries = cache.entries.lock().expect("session cache");
    if entries.len() >= SessionCache::MAX_ENTRIES {
        entries.clear();
    }
    entries.insert(hash, (now, times, account.clone(), scope.clone()));
    Ok(Actor { scope, account, request_id })
}

#[cfg(test)]
mod tests {
    /// Sessions stored before keep working: the same lower-case hex of SHA-256 (FIPS 180-2's "abc").
    #[test]
    fn token_hash_is_sha256_in_lower_case_hex() {
        assert_eq!(super::token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    /// Failures on one server count on another: what one guard tells, the other records, and
    /// five of them lock the account there; names and addresses travel only as hashes.
    #[test]
    fn failures_told_to_another_guard_lock_there() {
        use super::{LoginGuard, throttle_key};
        use std::sync::{Arc, Mutex};
        let (here, there) = (LoginGuard::default(), LoginGuard::default());
        let told = Arc::new(Mutex::new(Vec::new()));
        let into = told.clone();
        here.tell_others(Box::new(move |key| into.lock().unwrap().push(key.to_string())));
        let (account, address) = (throttle_key("sampler"), throttle_key("203.0.113.7"));
        for t in 0..5 {
            here.record_failure(&account, &address, t);
        }
        let told = told.lock().unwrap().clone();
        assert_eq!(told.len(), 10);
        assert!(told.iter().all(|k| !k.contains("sampler") && !k.contains("203.0.113")), "{told:?}");
        assert!(there.check(&account, &address, 10).is_ok());
        for key in &told {
            there.failed_elsewhere(key, 10);
        }
        there.failed_elsewhere("a-not-a-key", 10);
        assert_eq!(there.check(&account, &throttle_key("198.51.100.1"), 11), Err(15 * 60_000 - 1));
    }
}
