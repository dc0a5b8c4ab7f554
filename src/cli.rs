//! The operator's commands besides serving: migrate, load the demo catalog, manage staff
//! accounts. Each prepares the database as a starting instance would, under the set-up lock.

use crate::{app, audit::Actor, catalog, clock, config::Config, coupons, staff::accounts};

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    app::prepare_without_demo(config).await?;
    tracing::info!("migrations applied");
    Ok(())
}

pub async fn seed(config: &Config) -> anyhow::Result<()> {
    let db = app::prepare_without_demo(config).await?;
    let added = db
        .with_setup_lock(async {
            let added = catalog::seed_demo_catalog(&db, config.currency).await?;
            coupons::seed_demo_coupons(&db, config.currency, clock::now()).await?;
            Ok(added)
        })
        .await?;
    crate::http::page_cache::bump_version(&db).await.map_err(operator_error)?;
    tracing::info!(issues = added, "demo catalog and coupons loaded");
    Ok(())
}

/// `masthead sample-data`: the demo shop at realistic size (see `sample_data`).
pub async fn sample_data(config: &Config) -> anyhow::Result<()> {
    let db = app::prepare(config).await?;
    let media = crate::storage::MediaStore::open(&config.media, &config.data_dir)?;
    let added = crate::sample_data::generate(&db, &media, config.currency.code(), clock::now()).await?;
    crate::http::page_cache::bump_version(&db).await.map_err(operator_error)?;
    if added {
        tracing::info!(
            orders = crate::sample_data::ORDERS,
            subscriptions = crate::sample_data::SUBSCRIPTIONS,
            coupons = crate::sample_data::COUPONS,
            "sample data added"
        );
    } else {
        tracing::info!("sample data was already there; nothing added");
    }
    Ok(())
}

/// `masthead staff add`: the password comes from standard input (the first line), or a link is printed.
pub async fn staff_add(config: &Config, email: &str, admin: bool) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal};
    let db = app::prepare_without_demo(config).await?;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Password for {email} (at least 12 characters; leave empty for a one-time link):");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']);
    let role = if admin { accounts::Role::Admin } else { accounts::Role::Staff };
    let password = Some(password).filter(|p| !p.is_empty());
    let (staff, token) = accounts::add(&db, email, role, password, &Actor::command_line(), clock::now())
        .await
        .map_err(operator_error)?;
    println!("created {} ({})", staff.email, staff.role.as_str());
    if let Some(token) = token {
        println!("set the password within a day at {}/admin/set-password/{token}", config.base());
    }
    Ok(())
}

pub async fn staff_list(config: &Config) -> anyhow::Result<()> {
    let db = app::prepare_without_demo(config).await?;
    for s in accounts::list(&db).await? {
        println!(
            "{}\t{}\t{}{}",
            s.email,
            s.role.as_str(),
            if s.disabled { "disabled" } else { "active" },
            if s.two_factor { "\ttwo-factor" } else { "" }
        );
    }
    Ok(())
}

pub async fn staff_disable(config: &Config, email: &str) -> anyhow::Result<()> {
    let db = app::prepare_without_demo(config).await?;
    let staff =
        accounts::set_disabled(&db, email, true, &Actor::command_line(), clock::now()).await.map_err(operator_error)?;
    println!("disabled {}", staff.email);
    Ok(())
}

/// `masthead import subscribers FILE [--dry-run]`: prints each problem with its line, or what was
/// imported; fails (exit status 1) when the file has problems.
pub async fn import_subscribers(config: &Config, file: &std::path::Path, dry_run: bool) -> anyhow::Result<()> {
    let db = app::prepare_without_demo(config).await?;
    let opened = std::fs::File::open(file).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
    let report = crate::orders::import::import_subscribers(
        &db,
        std::io::BufReader::new(opened),
        dry_run,
        config.currency,
        &Actor::command_line(),
        clock::now(),
    )
    .await
    .map_err(operator_error)?;
    for problem in &report.problems {
        let column = problem.column.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
        println!("line {}{column}: {}", problem.line, problem.message);
    }
    if report.more_problems > 0 {
        println!("... and {} more problems", report.more_problems);
    }
    if !report.problems.is_empty() {
        anyhow::bail!("{} rows read; nothing imported: put the lines above right and run it again", report.rows);
    }
    if report.imported {
        crate::http::page_cache::bump_version(&db).await.map_err(operator_error)?;
    }
    let verb = if dry_run { "would import" } else { "imported" };
    println!("{} rows read: {verb} {}, already imported {}", report.rows, report.new, report.already_imported);
    Ok(())
}

/// The operator at the command line sees the real cause of a failure (a reader would get only
/// the public sentence).
fn operator_error(error: crate::error::Error) -> anyhow::Error {
    match error {
        crate::error::Error::Internal(cause) => cause,
        unavailable @ crate::error::Error::Unavailable(_) => anyhow::anyhow!(unavailable.to_string()),
        other => anyhow::anyhow!(other.public_message()),
    }
}

/// `masthead backup DEST`.
pub async fn backup(config: &Config, dest: &std::path::Path) -> anyhow::Result<()> {
    let summary = crate::backup::backup(config, dest, clock::now()).await?;
    println!("backed up {} files ({} bytes) to {}", summary.files, summary.bytes, dest.display());
    if config.media != crate::config::MediaLocation::DataDir {
        println!(
            "the uploads are in object storage ({}), not in this archive: keep that bucket versioned or replicated",
            config.media
        );
    }
    Ok(())
}

/// `masthead restore ARCHIVE`, into `MASTHEAD_DATA_DIR`.
pub fn restore(config: &Config, archive: &std::path::Path) -> anyhow::Result<()> {
    if !config.database_url.starts_with("sqlite:") {
        anyhow::bail!("restore puts back a shop on SQLite; for PostgreSQL use pg_restore (see the README)");
    }
    let summary = crate::backup::restore(archive, &config.data_dir)?;
    println!("restored {} files ({} bytes) into {}", summary.files, summary.bytes, config.data_dir.display());
    Ok(())
}

/// `masthead media migrate --to s3://bucket/prefix`: the data folder's uploads into object storage.
pub async fn media_migrate(config: &Config, to: &str) -> anyhow::Result<()> {
    use crate::{config::MediaLocation, storage};
    let MediaLocation::S3(target) = MediaLocation::parse(Some(to))? else {
        anyhow::bail!("--to must be an s3://bucket/prefix URL");
    };
    let source = storage::MediaStore::open(&MediaLocation::DataDir, &config.data_dir)?;
    let summary = storage::migrate::migrate(&source, &storage::open_s3(&target)?).await?;
    println!(
        "copied {} files ({} bytes) and checked them; {} were there already and match",
        summary.copied, summary.bytes_copied, summary.already_there
    );
    println!("set MASTHEAD_MEDIA_URL={to} on every instance and restart them to serve from there");
    Ok(())
}

/// `masthead export FILE`: the whole shop, from a running instance's database and media store.
pub async fn export(config: &Config, dest: &std::path::Path) -> anyhow::Result<()> {
    let db = crate::db::Db::connect(&config.database_url, config.db_acquire_timeout).await?;
    let media = crate::storage::MediaStore::open(&config.media, &config.data_dir)?;
    let summary = crate::transfer::export(&db, &media, dest, clock::now()).await;
    db.close().await;
    let summary = summary?;
    println!(
        "exported {} rows of {} tables and {} uploads to {}",
        summary.rows,
        summary.tables,
        summary.files,
        dest.display()
    );
    Ok(())
}

/// `masthead import FILE`: into the (new, empty) database and media store this configuration names.
pub async fn import(config: &Config, archive: &std::path::Path) -> anyhow::Result<()> {
    let db = app::prepare_without_demo(config).await?;
    let media = crate::storage::MediaStore::open(&config.media, &config.data_dir)?;
    let summary = crate::transfer::import(&db, config.currency, &media, archive, &config.data_dir).await;
    if summary.is_ok() {
        crate::http::page_cache::bump_version(&db).await.map_err(operator_error)?;
    }
    db.close().await;
    let summary = summary?;
    println!(
        "imported {} rows of {} tables and {} uploads into {} (media: {})",
        summary.rows,
        summary.tables,
        summary.files,
        crate::config::redact_password(&config.database_url),
        config.media
    );
    Ok(())
}
