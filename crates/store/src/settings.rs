//! Small named values the server keeps between starts, such as where the demo's replay clock was
//! anchored (see `bulwark_web::replay`). Keys are short ASCII names chosen by the code that uses
//! them; values are text (JSON where they have parts).
//!
//! Rules every engine keeps, on top of the crate's:
//! - [`SettingsStore::init_setting`] stores a value only where none is; with several servers
//!   starting at once, exactly one value wins and every caller is answered that value.

use crate::StoreResult;
use async_trait::async_trait;
use bulwark_domain::Millis;

#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The value stored under `key`, if any.
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` under `key` unless a value is there already; answers the stored value (the
    /// one found, or `value`). `now` is kept as the row's time.
    async fn init_setting(&self, key: &str, value: &str, now: Millis) -> StoreResult<String>;
    /// Stores `value` under `key`, replacing what was there.
    async fn put_setting(&self, key: &str, value: &str, now: Millis) -> StoreResult<()>;
}
