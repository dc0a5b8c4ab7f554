//! The shop's archives (`masthead backup`, `masthead export`): one gzipped tar file whose
//! `MANIFEST.json` names its format and lists every file with its size and SHA-256. Reading one
//! checks it whole, in a staging folder, before the caller uses anything from it.

use std::{
    fs,
    io::{Read, Write},
    path::{Component, Path, PathBuf},
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MANIFEST: &str = "MANIFEST.json";

/// A kind of archive: its name in the manifest, its version, and the paths it may hold.
pub struct Format {
    pub name: &'static str,
    pub version: u32,
    /// The paths an archive of this kind may hold (relative, forward slashes).
    pub allows: fn(&str) -> bool,
    /// A path it must hold.
    pub required: &'static str,
    /// What it is, in a refusal: "masthead backup".
    pub noun: &'static str,
}

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

/// What was written or read, for the operator.
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

/// Every file under `root`, as paths relative to it.
pub fn files_under(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
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

/// A relative path with forward slashes, as an archive names it.
pub fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// A path from an archive when it stays inside the folder it is unpacked into and the format allows it.
fn safe_path(format: &Format, path: &str) -> Option<PathBuf> {
    let candidate = Path::new(path);
    let plain = candidate.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && (format.allows)(path)).then(|| candidate.to_path_buf())
}

/// Writes `entries` (archive path, file on disk) into a new archive at `dest`, through a
/// temporary file renamed into place once complete and synced.
pub fn write(format: &Format, entries: &[(String, PathBuf)], dest: &Path, now: i64) -> anyhow::Result<Summary> {
    let mut manifest =
        Manifest { format: format.name.into(), version: format.version, created_at: now, files: Vec::new() };
    for (path, file) in entries {
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
    for (path, file) in entries {
        tar.append_path_with_name(file, path).with_context(|| format!("adding {path}"))?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()?.sync_all()?;
    fs::rename(&partial, dest)?;
    Ok(Summary { files: manifest.files.len(), bytes: manifest.files.iter().map(|f| f.size).sum() })
}

/// Unpacks `archive` into `staging` and checks it in full: its format, every file's size and
/// digest against the manifest, nothing missing, nothing extra, no path outside the folder.
pub fn unpack_and_check(format: &Format, archive: &Path, staging: &Path) -> anyhow::Result<Summary> {
    let refuse = |why: String| anyhow::anyhow!("{} is not a usable {}: {why}", archive.display(), format.noun);
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
        let relative =
            safe_path(format, &path).ok_or_else(|| refuse(format!("it holds an unexpected file {path:?}")))?;
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
    if manifest.format != format.name || manifest.version != format.version {
        return Err(refuse(format!("its format is {} {}", manifest.format, manifest.version)));
    }
    if !manifest.files.iter().any(|f| f.path == format.required) {
        return Err(refuse(format!("it holds no {}", format.required)));
    }
    for expected in &manifest.files {
        let relative =
            safe_path(format, &expected.path).ok_or_else(|| refuse(format!("bad path {:?}", expected.path)))?;
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

    const FORMAT: Format = Format {
        name: "t",
        version: 1,
        allows: |p| p == "masthead.db" || p.starts_with("media/"),
        required: "masthead.db",
        noun: "test archive",
    };

    #[test]
    fn paths_stay_inside_and_within_the_format() {
        assert!(safe_path(&FORMAT, "masthead.db").is_some());
        assert!(safe_path(&FORMAT, "media/covers/a.png").is_some());
        assert!(safe_path(&FORMAT, "../etc/passwd").is_none());
        assert!(safe_path(&FORMAT, "media/../../x").is_none());
        assert!(safe_path(&FORMAT, "/etc/passwd").is_none());
        assert!(safe_path(&FORMAT, "other.db").is_none());
    }
}
