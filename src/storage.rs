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
        if (head.starts_with("<svg") || head.starts_with("<?xml") || head.starts_with("<!--")) && head.contains("<svg") {
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

impl FileStore {
    pub fn new(root: &Path) -> FileStore {
        FileStore { root: root.to_path_buf() }
    }

    /// Stores the bytes under a new key in `folder`, named after `stem`; answers the key.
    pub async fn put(&self, folder: &str, stem: &str, kind: FileKind, bytes: &[u8]) -> anyhow::Result<String> {
        let key = format!("{folder}/{stem}-{}.{}", uuid::Uuid::new_v4().simple(), kind.extension());
        anyhow::ensure!(is_valid_key(&key), "invalid key {key}");
        let path = self.root.join(&key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.with_context(|| format!("creating {}", parent.display()))?;
        }
        // Written beside, then renamed: a reader never sees half a file.
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, bytes).await.with_context(|| format!("writing {}", partial.display()))?;
        tokio::fs::rename(&partial, &path).await?;
        Ok(key)
    }

    pub async fn read(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        if !is_valid_key(key) {
            return Ok(None);
        }
        match tokio::fs::read(self.root.join(key)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
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
        assert_eq!(FileKind::sniff(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), Some(FileKind::Svg));
        assert_eq!(FileKind::sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(FileKind::sniff(b"GIF89a"), None);
    }

    #[test]
    fn keys_cannot_leave_the_store() {
        assert!(is_valid_key("covers/sw-2017-01-abc.png"));
        for bad in ["../etc/passwd", "covers/../../x.png", "covers/x.exe", "/covers/x.png", "covers/.png", "a/b/c.png", "covers/x y.png"] {
            assert!(!is_valid_key(bad), "{bad}");
        }
    }
}
