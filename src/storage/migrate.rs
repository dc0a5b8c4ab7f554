//! `masthead media migrate --to s3://bucket/prefix`: copies the data folder's uploads into object
//! storage under the same keys, reads each copy back to check its SHA-256, and may be run again
//! (a copy already there and whole is left alone; a missing or different one is written anew).

use std::sync::Arc;

use anyhow::{bail, Context};
use futures_util::{StreamExt, TryStreamExt};
use object_store::{path::Path, ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};

use super::{is_valid_key, MediaStore};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files written to object storage by this run (and checked).
    pub copied: usize,
    /// Files already there with the same content (checked, not written).
    pub already_there: usize,
    pub bytes_copied: u64,
}

pub async fn migrate(source: &MediaStore, target: &Arc<dyn ObjectStore>) -> anyhow::Result<Summary> {
    let files: Vec<_> = source.inner().list(None).try_collect().await.context("listing the local media")?;
    let mut summary = Summary::default();
    for file in files {
        // Only what the shop stored: not readiness probes or an upload's leftovers.
        if !is_valid_key(file.location.as_ref()) {
            continue;
        }
        let (size, wanted) = digest(source.inner(), &file.location).await?;
        if matches(target, &file.location, wanted).await? {
            summary.already_there += 1;
            continue;
        }
        copy(source.inner(), target, &file.location).await?;
        if !matches(target, &file.location, wanted).await? {
            bail!("{}: the copy in object storage does not match the local file", file.location);
        }
        summary.copied += 1;
        summary.bytes_copied += size;
    }
    Ok(summary)
}

/// Whether `target` holds `key` with exactly the content whose SHA-256 is `wanted`.
async fn matches(target: &Arc<dyn ObjectStore>, key: &Path, wanted: [u8; 32]) -> anyhow::Result<bool> {
    match target.head(key).await {
        Ok(_) => Ok(digest(target, key).await?.1 == wanted),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context(format!("looking for {key} in object storage"))),
    }
}

/// The size and SHA-256 of a stored object, read as a stream.
async fn digest(store: &Arc<dyn ObjectStore>, key: &Path) -> anyhow::Result<(u64, [u8; 32])> {
    let mut stream = store.get(key).await.with_context(|| format!("reading {key}"))?.into_stream();
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("reading {key}"))?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((size, hasher.finalize().into()))
}

/// Streams one object across, part by part; an interrupted copy is aborted and never visible.
async fn copy(source: &Arc<dyn ObjectStore>, target: &Arc<dyn ObjectStore>, key: &Path) -> anyhow::Result<()> {
    let mut stream = source.get(key).await.with_context(|| format!("reading {key}"))?.into_stream();
    let mut writer = WriteMultipart::new(target.put_multipart(key).await.with_context(|| format!("writing {key}"))?);
    let copied = async {
        while let Some(chunk) = stream.next().await {
            writer.wait_for_capacity(2).await?;
            writer.put(chunk?);
        }
        Ok::<_, object_store::Error>(())
    }
    .await;
    match copied {
        Ok(()) => {
            writer.finish().await.with_context(|| format!("writing {key}"))?;
            Ok(())
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(anyhow::Error::new(e).context(format!("copying {key}")))
        }
    }
}
