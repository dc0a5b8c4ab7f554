//! An upload on its way into the media store: streamed, never whole in memory, judged by its
//! first bytes before anything is stored, and invisible until it is complete.

use std::sync::Arc;

use bytes::Bytes;
use object_store::{path::Path, ObjectStore, WriteMultipart};

use super::{is_valid_key, FileKind};

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file is not of a kind accepted here")]
    WrongKind,
    #[error("the file is empty")]
    Empty,
    /// The media store failed or could not be reached; nothing was stored.
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl From<object_store::Error> for UploadError {
    fn from(error: object_store::Error) -> UploadError {
        UploadError::Storage(anyhow::Error::new(error).context("writing to the media store"))
    }
}

/// The first bytes, enough to tell what a file is.
const SNIFF_BYTES: usize = 2048;
/// Parts of a multipart upload in flight at once.
const PARTS_IN_FLIGHT: usize = 2;

pub struct Upload {
    store: Arc<dyn ObjectStore>,
    folder: String,
    stem: String,
    limit: u64,
    written: u64,
    accept: fn(FileKind) -> bool,
    /// The bytes held back until the kind is judged.
    head: Vec<u8>,
    /// The multipart upload, once the kind is known (and with it the key).
    writer: Option<(WriteMultipart, String, FileKind)>,
}

impl Upload {
    /// A new key in `folder` named after `stem` with a random part: what a key names never changes.
    pub(super) fn begin(
        store: Arc<dyn ObjectStore>,
        folder: &str,
        stem: &str,
        limit: u64,
        accept: fn(FileKind) -> bool,
    ) -> anyhow::Result<Upload> {
        let stem = format!("{stem}-{}", uuid::Uuid::new_v4().simple());
        anyhow::ensure!(is_valid_key(&format!("{folder}/{stem}.pdf")), "invalid key {folder}/{stem}");
        Ok(Upload {
            store,
            folder: folder.to_string(),
            stem,
            limit,
            written: 0,
            accept,
            head: Vec::new(),
            writer: None,
        })
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(UploadError::TooLarge(self.limit));
        }
        match &mut self.writer {
            Some((writer, _, _)) => {
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                writer.write(chunk);
            }
            None => {
                self.head.extend_from_slice(chunk);
                if self.head.len() >= SNIFF_BYTES {
                    let kind = self.judge()?;
                    let key = self.key(kind);
                    let upload = self.store.put_multipart(&Path::from(key.as_str())).await?;
                    let mut writer = WriteMultipart::new(upload);
                    writer.write(&std::mem::take(&mut self.head));
                    self.writer = Some((writer, key, kind));
                }
            }
        }
        Ok(())
    }

    /// Completes the upload: only now does the key name a file. Answers the key and the kind.
    pub async fn finish(mut self) -> Result<(String, FileKind), UploadError> {
        if self.written == 0 {
            return Err(UploadError::Empty);
        }
        match self.writer.take() {
            Some((writer, key, kind)) => {
                writer.finish().await?;
                Ok((key, kind))
            }
            // Smaller than the sniffing window: one plain put.
            None => {
                let kind = self.judge()?;
                let key = self.key(kind);
                let bytes = Bytes::from(std::mem::take(&mut self.head));
                self.store.put(&Path::from(key.as_str()), bytes.into()).await?;
                Ok((key, kind))
            }
        }
    }

    /// Gives the upload up and waits until no part of it is left in the store.
    pub async fn abort(mut self) {
        if let Some((writer, key, _)) = self.writer.take() {
            if let Err(e) = writer.abort().await {
                tracing::warn!(error = %e, key, "aborting an unfinished upload");
            }
        }
    }

    fn judge(&self) -> Result<FileKind, UploadError> {
        FileKind::sniff(&self.head).filter(|k| (self.accept)(*k)).ok_or(UploadError::WrongKind)
    }

    fn key(&self, kind: FileKind) -> String {
        format!("{}/{}.{}", self.folder, self.stem, kind.extension())
    }
}

/// An upload dropped unfinished (too large, the client gone, a storage error) is aborted, so
/// no part of it is left behind.
impl Drop for Upload {
    fn drop(&mut self) {
        if let Some((writer, key, _)) = self.writer.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = writer.abort().await {
                        tracing::warn!(error = %e, key, "aborting an unfinished upload");
                    }
                });
            }
        }
    }
}
