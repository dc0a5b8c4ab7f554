//! Backups of a shop on SQLite: a consistent snapshot of the running database (`VACUUM INTO`,
//! never a copy of the live file) and the local media, in one gzipped tar archive with a manifest
//! of every file's size and SHA-256. A restore checks the whole archive before it touches
//! anything, and never writes over a data folder that holds a shop.
//! On PostgreSQL the database is backed up with `pg_dump` (see the README).

use std::{
    fs,
    io::{Read, Write},
    path::{Component, Path, PathBuf},
};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{config::Config, db::Backend};

const FORMAT: &str = "masthead-backup";
const VERSION: u32 = 1;
const MANIFEST: &str = "MANIFEST.json";
const DATABASE: &str = "masthead.db";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    created_at: i64,
    files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct FileEntry {
    path: String,
    size: u64,
    sha256: String,
}

/// What a backup or a restore did, for the operator.
#[derive(Debug)]
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
}

fn digest(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = [0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Every file under `root`, as paths relative to it (forward slashes).
fn files_under(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if !root.exists() {
        return Ok(found);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path().strip_prefix(root)?.to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

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
    let mut manifest = Manifest { format: FORMAT.into(), version: VERSION, created_at: now, files: Vec::new() };
    for (path, file) in &entries {
        let (size, sha256) = digest(file)?;
        manifest.files.push(FileEntry { path: path.clone(), size, sha256 });
    }
    let partial = dest.with_extension("tmp");
    let out = fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(out, flate2::Compression::default()));
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest_bytes.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, manifest_bytes.as_slice())?;
    for (path, file) in &entries {
        tar.append_path_with_name(file, path).with_context(|| format!("adding {path}"))?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()?.sync_all()?;
    fs::rename(&partial, dest)?;
    let bytes = manifest.files.iter().map(|f| f.size).sum();
    Ok(Summary { files: manifest.files.len(), bytes })
}

/// A path from an archive, when it is one a backup writes: the database, or a file under media/.
fn safe_path(path: &str) -> Option<PathBuf> {
    let candidate = Path::new(path);
    let plain = candidate.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && (path == DATABASE || path.starts_with("media/"))).then(|| candidate.to_path_buf())
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
    let checked = unpack_and_check(archive, &staging);
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

fn unpack_and_check(archive: &Path, staging: &Path) -> anyhow::Result<Summary> {
    let refuse = |why: String| anyhow::anyhow!("{} is not a usable masthead backup: {why}", archive.display());
    let file = fs::File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut manifest: Option<Manifest> = None;
    let mut seen = Vec::new();
    let entries = tar.entries().map_err(|e| refuse(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| refuse(format!("it is cut short or damaged ({e})")))?;
        let path = entry.path().map_err(|e| refuse(e.to_string()))?.to_string_lossy().into_owned();
        if path == MANIFEST {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| refuse(format!("its manifest cannot be read ({e})")))?;
            manifest =
                Some(serde_json::from_str(&text).map_err(|e| refuse(format!("its manifest is not ours ({e})")))?);
            continue;
        }
        let relative = safe_path(&path).ok_or_else(|| refuse(format!("it holds an unexpected file {path:?}")))?;
        let to = staging.join(&relative);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut out = fs::File::create(&to)?;
        std::io::copy(&mut entry, &mut out).map_err(|e| refuse(format!("it is cut short or damaged ({e})")))?;
        out.sync_all()?;
        seen.push(path);
    }
    let manifest = manifest.ok_or_else(|| refuse("it has no manifest".into()))?;
    if manifest.format != FORMAT || manifest.version != VERSION {
        return Err(refuse(format!("its format is {} {}", manifest.format, manifest.version)));
    }
    if !manifest.files.iter().any(|f| f.path == DATABASE) {
        return Err(refuse("it holds no database".into()));
    }
    for expected in &manifest.files {
        let relative = safe_path(&expected.path).ok_or_else(|| refuse(format!("bad path {:?}", expected.path)))?;
        if !seen.contains(&expected.path) {
            return Err(refuse(format!("{} is missing (cut short?)", expected.path)));
        }
        let (size, sha256) = digest(&staging.join(relative))?;
        if size != expected.size || sha256 != expected.sha256 {
            return Err(refuse(format!("{} does not match its manifest", expected.path)));
        }
    }
    if seen.len() != manifest.files.len() {
        return Err(refuse("it holds files its manifest does not list".into()));
    }
    Ok(Summary { files: seen.len(), bytes: manifest.files.iter().map(|f| f.size).sum() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_database_and_media_may_be_restored() {
        assert!(safe_path("masthead.db").is_some());
        assert!(safe_path("media/covers/a.png").is_some());
        assert!(safe_path("../etc/passwd").is_none());
        assert!(safe_path("media/../../x").is_none());
        assert!(safe_path("/etc/passwd").is_none());
        assert!(safe_path("other.db").is_none());
    }
}
