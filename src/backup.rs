//! Backups of a shop on SQLite: a consistent snapshot of the running database (`VACUUM INTO`,
//! never a copy of the live file) and the local media, in one gzipped tar archive with a manifest
//! of every file's size and SHA-256. A restore checks the whole archive before it touches
//! anything, and never writes over a data folder that holds a shop.
//! On PostgreSQL the database is backed up with `pg_dump` (see the README).

use std::{fs, path::Path};

use anyhow::{bail, Context};

use crate::{
    archive::{self, files_under, slash_path, Format, Summary},
    config::Config,
    db::Backend,
};

const DATABASE: &str = "masthead.db";

const FORMAT: Format = Format {
    name: "masthead-backup",
    version: 1,
    allows: |path| path == DATABASE || path.starts_with("media/"),
    required: DATABASE,
    noun: "masthead backup",
};

/// `masthead backup DEST`: the running shop's SQLite database and media, into a new archive at `dest`.
pub async fn backup(config: &Config, dest: &Path, now: i64) -> anyhow::Result<Summary> {
    if dest.exists() {
        bail!("{} exists already: choose a new file name (a backup never overwrites one)", dest.display());
    }
    let db = crate::db::Db::connect(&config.database_url, config.db_acquire_timeout).await?;
    if db.backend != Backend::Sqlite {
        bail!("this shop runs on PostgreSQL: back it up with pg_dump (see the README's \"Backups\"), and keep the media folder and configuration beside it");
    }
    let work = dest.with_extension("partial");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = write_backup(&db, config, dest, &work, now).await;
    let _ = fs::remove_dir_all(&work);
    db.pool.close().await;
    result
}

async fn write_backup(
    db: &crate::db::Db,
    config: &Config,
    dest: &Path,
    work: &Path,
    now: i64,
) -> anyhow::Result<Summary> {
    // SQLite writes a consistent copy of the database as of one moment, while others keep writing.
    let snapshot = work.join(DATABASE);
    sqlx::query("VACUUM INTO $1")
        .bind(snapshot.to_string_lossy().into_owned())
        .execute(&db.pool)
        .await
        .context("taking a snapshot of the database (VACUUM INTO)")?;
    let media = config.data_dir.join("media");
    let mut entries = vec![(DATABASE.to_string(), snapshot.clone())];
    for relative in files_under(&media)? {
        entries.push((format!("media/{}", slash_path(&relative)), media.join(&relative)));
    }
    archive::write(&FORMAT, &entries, dest, now)
}

/// `masthead restore ARCHIVE`: into an empty data folder. The archive is read and checked in
/// full (format, every file's size and digest, no path outside the folder) into a staging
/// folder first; only then are its files moved into place.
pub fn restore(archive: &Path, data_dir: &Path) -> anyhow::Result<Summary> {
    if data_dir.join(DATABASE).exists() || !files_under(&data_dir.join("media"))?.is_empty() {
        bail!(
            "{} already holds a shop (a database or media): restore into an empty folder, never over a live one",
            data_dir.display()
        );
    }
    fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let staging = data_dir.join(format!(".restore-{}", uuid::Uuid::new_v4().simple()));
    fs::create_dir_all(&staging)?;
    let checked = archive::unpack_and_check(&FORMAT, archive, &staging);
    let summary = match checked {
        Ok(summary) => summary,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    for relative in files_under(&staging)? {
        let to = data_dir.join(&relative);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(staging.join(&relative), &to)?;
    }
    let _ = fs::remove_dir_all(&staging);
    Ok(summary)
}
