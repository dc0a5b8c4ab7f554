//! Uploaded files (covers, PDFs), kept by key in one media store: `media/` in the data folder
//! (the default) or S3-compatible object storage (`MASTHEAD_MEDIA_URL=s3://bucket/prefix`). Both
//! sit behind object_store's one interface, so the shop reads and writes them the same way, and
//! on object storage every instance serves every upload.

pub mod migrate;
mod upload;

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::{
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    local::LocalFileSystem,
    prefix::PrefixStore,
    ClientConfigKey, ObjectStore, RetryConfig,
};

use crate::config::{MediaLocation, S3Location};
pub use upload::{Upload, UploadError};

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

/// Where uploads are kept, shared by every request of an instance.
#[derive(Clone, Debug)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    location: MediaLocation,
}

/// A stored file, ready to be streamed.
pub struct StoredFile {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

/// How much of a file in the data folder is read at a time when it is streamed. object_store
/// reads 8 KiB, each a hop to a blocking thread: a 400 KB PDF took 50 hops, and the downloads of a
/// rush kept dozens of threads busy (BENCHMARKS.md, stop 26).
const FILE_CHUNK: u64 = 64 * 1024;

/// A file of `size` bytes from its start, read `FILE_CHUNK` at a time on blocking threads.
fn file_chunks(file: std::fs::File, size: u64) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
    let read_error =
        |source: std::io::Error| object_store::Error::Generic { store: "data folder", source: source.into() };
    let chunks = futures_util::stream::try_unfold((file, size), move |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let chunk = remaining.min(FILE_CHUNK);
        // Allocated here, not on the blocking thread: glibc gives each thread that allocates an
        // arena of its own, which keeps what it freed, and a rush of downloads uses dozens of them.
        let mut bytes = Vec::with_capacity(chunk as usize);
        let (file, bytes) = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            (&mut file).take(chunk).read_to_end(&mut bytes)?;
            match bytes.len() as u64 == chunk {
                true => Ok((file, bytes)),
                false => Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file is shorter than it was")),
            }
        })
        .await
        .map_err(|e| read_error(e.into()))?
        .map_err(read_error)?;
        Ok(Some((Bytes::from(bytes), (file, remaining - chunk))))
    });
    Box::pin(chunks)
}

/// A request to object storage gives up after this long, and a dead endpoint is noticed after
/// this long (rather than object_store's minutes of retries), so a page waits seconds at most.
const S3_CONNECT_TIMEOUT: &str = "3s";
const S3_REQUEST_TIMEOUT: &str = "120s";

impl MediaStore {
    /// The store the configuration names; the data folder's `media/` is created when missing.
    pub fn open(location: &MediaLocation, data_dir: &Path) -> anyhow::Result<MediaStore> {
        let store: Arc<dyn ObjectStore> = match location {
            MediaLocation::DataDir => return MediaStore::folder(&data_dir.join("media")),
            MediaLocation::S3(s3) => open_s3(s3)?,
        };
        Ok(MediaStore { store, location: location.clone() })
    }

    /// A store in a folder of its own (created when missing): the data folder's `media/`, or an
    /// export's staging folder.
    pub fn folder(root: &Path) -> anyhow::Result<MediaStore> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        Ok(MediaStore { store: Arc::new(LocalFileSystem::new_with_prefix(root)?), location: MediaLocation::DataDir })
    }

    /// The store itself, for `migrate`.
    pub(crate) fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn location(&self) -> &MediaLocation {
        &self.location
    }

    /// Starts storing an upload under a new key in `folder`, named after `stem`; see `Upload`.
    pub fn begin_upload(
        &self,
        folder: &str,
        stem: &str,
        limit: u64,
        accept: fn(FileKind) -> bool,
    ) -> anyhow::Result<Upload> {
        Upload::begin(self.store.clone(), folder, stem, limit, accept)
    }

    /// A stored file to stream; `None` when there is none. An error means the store could not answer.
    pub async fn open_file(&self, key: &str) -> anyhow::Result<Option<StoredFile>> {
        let Some(found) = self.get(key).await? else { return Ok(None) };
        let size = found.meta.size;
        let stream = match found.payload {
            object_store::GetResultPayload::File(file, _) => file_chunks(file, size),
            object_store::GetResultPayload::Stream(stream) => stream,
        };
        Ok(Some(StoredFile { size, stream }))
    }

    /// A stored file whole, in memory (a PDF to stamp); `None` when there is none.
    pub async fn read(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        match self.get(key).await? {
            Some(found) => Ok(Some(found.bytes().await.with_context(|| format!("reading {key}"))?)),
            None => Ok(None),
        }
    }

    /// The store's answer for a key the shop could have written; `None` for any other key or a missing file.
    async fn get(&self, key: &str) -> anyhow::Result<Option<object_store::GetResult>> {
        if !is_valid_key(key) {
            return Ok(None);
        }
        match self.store.get(&object_store::path::Path::from(key)).await {
            Ok(found) => Ok(Some(found)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading {key} from the media store"))),
        }
    }

    /// Writes and removes a small probe object where uploads go, within `timeout`.
    pub async fn probe(&self, timeout: Duration) -> anyhow::Result<()> {
        let key = object_store::path::Path::from(format!(".ready-{}", uuid::Uuid::new_v4().simple()));
        let work = async {
            self.store.put(&key, Bytes::from_static(b"ok").into()).await?;
            self.store.delete(&key).await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => Ok(result?),
            Err(_) => anyhow::bail!("no answer within {} ms", timeout.as_millis()),
        }
    }
}

/// An S3 client from the usual `AWS_*` variables (credentials, region, `AWS_ENDPOINT` for MinIO,
/// R2 and the like, `AWS_ALLOW_HTTP`), with the location's own settings over them.
pub(crate) fn open_s3(s3: &S3Location) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), S3_CONNECT_TIMEOUT)
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), S3_REQUEST_TIMEOUT)
        .with_retry(RetryConfig { max_retries: 2, retry_timeout: Duration::from_secs(10), ..Default::default() });
    let settings = &s3.settings;
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    if let Some(key_id) = &settings.access_key_id {
        builder = builder.with_access_key_id(key_id);
    }
    if let Some(secret) = &settings.secret_access_key {
        builder = builder.with_secret_access_key(secret.expose());
    }
    let store = builder.build().with_context(|| format!("configuring object storage for bucket {}", s3.bucket))?;
    Ok(match s3.prefix.as_str() {
        "" => Arc::new(store),
        prefix => Arc::new(PrefixStore::new(store, prefix)),
    })
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_file_in_the_data_folder_streams_whole_in_chunks_and_a_shrunk_one_fails() {
        let dir = std::env::temp_dir().join(format!("masthead-chunks-{}", std::process::id()));
        let media = MediaStore::folder(&dir).expect("a store");
        let path = dir.join("pdfs");
        std::fs::create_dir_all(&path).expect("a folder");
        // Two whole chunks and a part of one, every byte telling where it is.
        let bytes: Vec<u8> = (0..2 * FILE_CHUNK + 1234).map(|n| (n % 251) as u8).collect();
        std::fs::write(path.join("big.pdf"), &bytes).expect("written");
        let file = media.open_file("pdfs/big.pdf").await.expect("the store").expect("the file");
        assert_eq!(file.size, bytes.len() as u64);
        let chunks: Vec<Bytes> = file.stream.map(|c| c.expect("a chunk")).collect().await;
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), bytes);
        // Cut short after it was opened: the stream ends in an error, not a short file sent as whole.
        let file = media.open_file("pdfs/big.pdf").await.expect("the store").expect("the file");
        std::fs::write(path.join("big.pdf"), &bytes[..1000]).expect("rewritten");
        let read: Vec<_> = file.stream.collect().await;
        assert!(read.last().is_some_and(|last| last.is_err()), "{} chunks", read.len());
        let _ = std::fs::remove_dir_all(&dir);
    }

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
