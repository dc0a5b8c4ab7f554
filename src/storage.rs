//! Uploaded files (covers, PDFs), kept under the data directory by key. The shop only puts and
//! reads by key, so a later deployment can swap this for object storage behind the same methods.

use std::path::{Path, PathBuf};

use anyhow::Context;

#[derive(Clone, Debug)]
pub struct FileStore {
    root: PathBuf,
}

/// What an upload turned out to be, judged from its bytes, never its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Png,
    Jpeg,
    Webp,
    Svg,
    Pdf,
}

impl FileKind {
    pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Some(FileKind::Png);
        }
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Some(FileKind::Jpeg);
        }
        if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            return Some(FileKind::Webp);
        }
        if bytes.starts_with(b"%PDF-") {
            return Some(FileKind::Pdf);
        }
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_lowercase();
        let head = head.trim_start_matches('\u{feff}').trim_start();
        if (head.starts_with("<svg") || head.starts_with("<?xml") || head.starts_with("<!--")) && head.contains("<svg")
        {
            return Some(FileKind::Svg);
        }
        None
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Png => "png",
            FileKind::Jpeg => "jpg",
            FileKind::Webp => "webp",
            FileKind::Svg => "svg",
            FileKind::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Webp => "image/webp",
            FileKind::Svg => "image/svg+xml",
            FileKind::Pdf => "application/pdf",
        }
    }

    pub fn from_key(key: &str) -> Option<FileKind> {
        match key.rsplit('.').next()? {
            "png" => Some(FileKind::Png),
            "jpg" => Some(FileKind::Jpeg),
            "webp" => Some(FileKind::Webp),
            "svg" => Some(FileKind::Svg),
            "pdf" => Some(FileKind::Pdf),
            _ => None,
        }
    }
}

/// A key is `folder/name.ext` of letters, digits and hyphens: nothing that could leave the store.
pub fn is_valid_key(key: &str) -> bool {
    let mut parts = key.split('/');
    let (Some(folder), Some(file), None) = (parts.next(), parts.next(), parts.next()) else { return false };
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok(folder) && ok(file) && !file.starts_with('.') && !key.contains("..") && FileKind::from_key(file).is_some()
}

/// The first 12 hex digits of the SHA-256 of some content: enough to tell versions apart in a URL.
pub fn short_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(bytes)[..6])
}

impl FileStore {
    pub fn new(root: &Path) -> FileStore {
        FileStore { root: root.to_path_buf() }
    }

    /// Starts storing an upload under a new key in `folder`, named after `stem`. The bytes go
    /// straight to a partial file on disk (never all into memory); `Upload::finish` judges what
    /// they are and puts the file in place, and an upload dropped unfinished leaves nothing.
    pub async fn begin_upload(&self, folder: &str, stem: &str, limit: u64) -> anyhow::Result<Upload> {
        let stem = format!("{stem}-{}", uuid::Uuid::new_v4().simple());
        anyhow::ensure!(is_valid_key(&format!("{folder}/{stem}.pdf")), "invalid key {folder}/{stem}");
        let dir = self.root.join(folder);
        tokio::fs::create_dir_all(&dir).await.with_context(|| format!("creating {}", dir.display()))?;
        let partial = dir.join(format!("{stem}.partial"));
        let file =
            tokio::fs::File::create(&partial).await.with_context(|| format!("creating {}", partial.display()))?;
        Ok(Upload {
            file: Some(file),
            partial,
            dir,
            folder: folder.to_string(),
            stem,
            written: 0,
            limit,
            head: Vec::new(),
        })
    }

    /// The path of a stored file and its length, for streaming it; `None` when there is none.
    pub async fn locate(&self, key: &str) -> anyhow::Result<Option<(PathBuf, u64)>> {
        if !is_valid_key(key) {
            return Ok(None);
        }
        let path = self.root.join(key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some((path, meta.len()))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file is not of a kind accepted here")]
    WrongKind,
    #[error("the file is empty")]
    Empty,
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

/// An upload being written to disk.
pub struct Upload {
    file: Option<tokio::fs::File>,
    partial: PathBuf,
    dir: PathBuf,
    folder: String,
    stem: String,
    written: u64,
    limit: u64,
    /// The first bytes, to tell what the file is.
    head: Vec<u8>,
}

const SNIFF_BYTES: usize = 2048;

impl Upload {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        use tokio::io::AsyncWriteExt;
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(UploadError::TooLarge(self.limit));
        }
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        let file = self.file.as_mut().ok_or_else(|| anyhow::anyhow!("upload already finished"))?;
        file.write_all(chunk).await.with_context(|| format!("writing {}", self.partial.display()))?;
        Ok(())
    }

    /// Judges the bytes by their content (never the name), and when `accept` takes that kind,
    /// syncs the file and renames it into place: a reader never sees half a file. Answers the key.
    pub async fn finish(mut self, accept: impl Fn(FileKind) -> bool) -> Result<(String, FileKind), UploadError> {
        use tokio::io::AsyncWriteExt;
        if self.written == 0 {
            return Err(UploadError::Empty);
        }
        let kind = FileKind::sniff(&self.head).filter(|k| accept(*k)).ok_or(UploadError::WrongKind)?;
        let mut file = self.file.take().ok_or_else(|| anyhow::anyhow!("upload already finished"))?;
        file.flush().await.context("flushing an upload")?;
        file.sync_all().await.context("syncing an upload")?;
        drop(file);
        let name = format!("{}.{}", self.stem, kind.extension());
        tokio::fs::rename(&self.partial, self.dir.join(&name)).await.context("putting an upload in place")?;
        self.partial = PathBuf::new();
        Ok((format!("{}/{name}", self.folder), kind))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.partial.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_bytes() {
        assert_eq!(FileKind::sniff(b"\x89PNG\r\n\x1a\n...."), Some(FileKind::Png));
        assert_eq!(FileKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(FileKind::Jpeg));
        assert_eq!(FileKind::sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 "), Some(FileKind::Webp));
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n"), Some(FileKind::Pdf));
        assert_eq!(
            FileKind::sniff(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Some(FileKind::Svg)
        );
        assert_eq!(FileKind::sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(FileKind::sniff(b"GIF89a"), None);
    }

    #[test]
    fn keys_cannot_leave_the_store() {
        assert!(is_valid_key("covers/sw-2017-01-abc.png"));
        for bad in [
            "../etc/passwd",
            "covers/../../x.png",
            "covers/x.exe",
            "/covers/x.png",
            "covers/.png",
            "a/b/c.png",
            "covers/x y.png",
        ] {
            assert!(!is_valid_key(bad), "{bad}");
        }
    }
}
