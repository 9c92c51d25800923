//! Opening the storage engine a URL names: PostgreSQL for `postgres://…`, SQLite otherwise.

use crate::StorageArgs;
use anyhow::Context;
use bulwark_store::Store;
use std::sync::Arc;

pub(crate) async fn open(args: &StorageArgs) -> anyhow::Result<Arc<dyn Store>> {
    match args.database.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = bulwark_postgres::PgStore::connect(url).await.context("connecting to PostgreSQL")?;
            Ok(Arc::new(store))
        }
        Some(url) => {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            open_sqlite(std::path::Path::new(path))
        }
        None => {
            std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
            open_sqlite(&args.data_dir.join("bulwark.db"))
        }
    }
}

fn open_sqlite(path: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    let store = bulwark_sqlite::SqliteStore::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Arc::new(store))
}
