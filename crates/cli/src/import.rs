//! `bulwark import residents FILE`: the same import as the web page, from the command line, with a
//! progress bar. It runs as the operator of the machine: a system actor whose scope is the whole
//! tree, audited under the name `cli`.

use crate::{StorageArgs, storage};
use anyhow::Context;
use bulwark_app::Actor;
use bulwark_domain::access::{Account, Role, Scope, Username};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum ImportCommand {
    /// Import a resident register (CSV in UTF-8 or GB18030, or XLSX).
    Residents {
        file: PathBuf,
        /// Check the file and print the report without storing anything.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

pub(crate) async fn run(command: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Residents { file, dry_run, storage } = command;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let store = storage::open(&storage).await?;
    let actor = Actor {
        account: Account {
            id: 0,
            username: Username::parse("cli").expect("a valid username"),
            display_name: "command line".into(),
            role: Role::Admin,
            scope: 0,
            disabled: false,
        },
        scope: Scope::everywhere(),
        request_id: uuid_like(),
    };
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} rows").expect("a valid template"));
    bar.set_message("parsing");
    let progress_bar = bar.clone();
    let progress = Box::new(move |done: usize| {
        if progress_bar.length() == Some(0) || progress_bar.length() < Some(done as u64) {
            progress_bar.set_length(done as u64);
        }
        progress_bar.set_position(done as u64);
    });
    let clock = bulwark_web::SystemClock;
    use bulwark_web::Clock;
    let report = bulwark_app::imports::import_residents(
        store.as_ref(),
        &actor,
        bytes,
        dry_run,
        clock.today(),
        clock.now(),
        progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_with_message("parsed");
    // The import's audit entries into the person index now, rather than by the next server.
    bulwark_app::audit::index_waiting(store.as_ref()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    for e in &report.errors {
        println!("row {}, column {}: {} (found \"{}\") [{}]", e.row, e.column, e.message, e.value, e.code);
    }
    if !report.ignored_columns.is_empty() {
        println!("ignored columns: {}", report.ignored_columns.join(", "));
    }
    println!(
        "{} rows: {} {}, {} rejected",
        report.total_rows,
        if dry_run { report.importable } else { report.imported },
        if dry_run { "importable (dry run, nothing stored)" } else { "imported" },
        report.rejected
    );
    Ok(())
}

fn uuid_like() -> String {
    bulwark_app::accounts::new_token()
}
