//! Rendered public pages kept in memory for visitors without a session: the catalog changes a few
//! times a month and is read all day.
//!
//! What makes it safe: a response is stored only for a GET that carries no session cookie and that
//! sets none, so it holds nothing of any reader (their cart, their sign-in, their PDFs); a request
//! with a session cookie never reads the cache. What keeps it fresh: every staff change bumps the
//! `content_version` row (the admin does it after each change it makes, and clears this instance's
//! cache at once); every instance polls that row once a second and drops its pages when it moved.
//! Entries also age out after `MAX_AGE`, for what changes with time alone (an embargo ending).
//!
//! Beside the pages it keeps shared catalog data (`PageCache::shared`): what a page shows every
//! reader alike (plans, the latest issues, the featured offer), under the same version and age
//! rules, so that a page for a reader with a session is made from it plus their own parts, read
//! afresh (their cart, their sign-in). Nothing of a reader is ever put there.
//!
//! And it keeps such pages rendered (`PageCache::rendered`): a page made from the shared data and
//! a `ReaderParts` only (the header's cart count, the issue page's PDF link) is the same bytes for
//! every reader with the same parts, so it is kept under the page and those parts together. A
//! reader's parts are read afresh on every request; only the rendering is reused.

use std::{
    any::Any,
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::db::Db;

const MAX_AGE: Duration = Duration::from_secs(30);
/// Pages kept at most (a few hundred issues and their archive pages); past it the cache starts over.
const MAX_ENTRIES: usize = 2_000;
/// Larger bodies are served afresh each time.
const MAX_BODY_BYTES: usize = 512 * 1024;
const SESSION_COOKIE: &str = "masthead_session=";
/// Pages for larger carts are rendered each time (a few readers; the variants stay few).
const MAX_KEPT_CART_COUNT: i64 = 20;

/// All a page rendered for a reader with a session may show of them. The render function of
/// `PageCache::rendered` gets these and nothing else of the reader, so the page is the same for
/// everyone with the same parts, and these are (with the page's name) its key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReaderParts {
    /// The header's count of items; `None` for a visitor without a cart.
    pub cart_count: Option<i64>,
    /// What the issue page says of its PDF (read it, sign in, not covered).
    pub pdf: Option<crate::accounts::PdfAccess>,
}

/// A whole answer for a visitor without a session.
#[derive(Clone)]
struct Entry {
    /// The handler's headers (the layers outside this one add theirs to every answer).
    headers: HeaderMap,
    body: Bytes,
}

/// Values each made under one content version, served while it holds and for at most `MAX_AGE`;
/// past `MAX_ENTRIES` they start over.
struct Kept<K, V> {
    values: RwLock<HashMap<K, (Instant, i64, V)>>,
}

impl<K, V> Default for Kept<K, V> {
    fn default() -> Self {
        Kept { values: RwLock::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    fn get(&self, key: &K, version: i64) -> Option<V> {
        let values = self.values.read().ok()?;
        values
            .get(key)
            .filter(|(made_at, made_under, _)| *made_under == version && made_at.elapsed() < MAX_AGE)
            .map(|(_, _, value)| value.clone())
    }

    fn put(&self, key: K, value: V, version: i64) {
        if let Ok(mut values) = self.values.write() {
            if values.len() >= MAX_ENTRIES {
                values.clear();
            }
            values.insert(key, (Instant::now(), version, value));
        }
    }

    fn clear(&self) {
        if let Ok(mut values) = self.values.write() {
            values.clear();
        }
    }
}

/// One instance's cached pages, and the content version they were made under.
#[derive(Clone, Default)]
pub struct PageCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    enabled: bool,
    /// The `content_version` these pages belong to; -1 before the first poll.
    version: AtomicI64,
    entries: Kept<String, Entry>,
    shared: Kept<String, Arc<dyn Any + Send + Sync>>,
    rendered: Kept<(String, ReaderParts), Bytes>,
}

impl PageCache {
    pub fn new(enabled: bool) -> PageCache {
        let inner = Inner {
            enabled,
            version: AtomicI64::new(-1),
            entries: Default::default(),
            shared: Default::default(),
            rendered: Default::default(),
        };
        PageCache { inner: Arc::new(inner) }
    }

    fn clear(&self) {
        self.inner.entries.clear();
        self.inner.shared.clear();
        self.inner.rendered.clear();
    }

    /// What `kept` holds under `key` for the current content version, or what `make` makes,
    /// kept when `keep` and no change was seen while it was made. Made every time with the cache
    /// off or the version unknown.
    async fn kept_or_made<K, V>(
        &self,
        kept: &Kept<K, V>,
        key: K,
        keep: bool,
        make: impl Future<Output = crate::error::Result<V>>,
    ) -> crate::error::Result<V>
    where
        K: Eq + Hash,
        V: Clone,
    {
        let version = self.inner.version.load(Ordering::SeqCst);
        let usable = keep && self.inner.enabled && version >= 0;
        if let Some(value) = usable.then(|| kept.get(&key, version)).flatten() {
            return Ok(value);
        }
        let value = make.await?;
        if usable {
            self.keep(kept, key, value.clone(), version);
        }
        Ok(value)
    }

    /// Keeps `value`, made under `version`, unless a change was seen while it was being made (it
    /// may show the old content).
    fn keep<K: Eq + Hash, V: Clone>(&self, kept: &Kept<K, V>, key: K, value: V, version: i64) {
        if self.inner.version.load(Ordering::SeqCst) == version {
            kept.put(key, value, version);
        }
    }

    /// Data every reader sees alike, made by `load` when this instance has none for the current
    /// content version (or it is older than `MAX_AGE`).
    pub async fn shared<T, F, Fut>(&self, key: &str, load: F) -> crate::error::Result<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = crate::error::Result<T>>,
    {
        let make = async { Ok(Arc::new(load().await?) as Arc<dyn Any + Send + Sync>) };
        let value = self.kept_or_made(&self.inner.shared, key.to_string(), true, make).await?;
        value.downcast::<T>().map_err(|_| anyhow::anyhow!("shared data {key} was kept as another type").into())
    }

    /// The page `page` for a reader with `parts`: kept from an earlier reader with the same parts
    /// under the current content version (and younger than `MAX_AGE`), or made now by `render`
    /// from `parts` and shared data.
    pub async fn rendered<F, Fut>(&self, page: &str, parts: ReaderParts, render: F) -> crate::error::Result<Bytes>
    where
        F: FnOnce(ReaderParts) -> Fut,
        Fut: Future<Output = crate::error::Result<String>>,
    {
        let keep = parts.cart_count.unwrap_or(0) <= MAX_KEPT_CART_COUNT;
        let make = async { Ok(Bytes::from(render(parts).await?)) };
        self.kept_or_made(&self.inner.rendered, (page.to_string(), parts), keep, make).await
    }

    /// Takes the database's version; drops every page when it moved.
    fn observe(&self, version: i64) {
        if self.inner.version.swap(version, Ordering::SeqCst) != version {
            self.clear();
        }
    }

    /// After a staff change: this instance forgets its pages now, every other within a second.
    pub async fn content_changed(&self, db: &Db) -> crate::error::Result<()> {
        bump_version(db).await?;
        self.clear();
        Ok(())
    }

    /// Polls the content version once a second for as long as the instance runs.
    pub async fn follow_changes(self, db: Db) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match current_version(&db).await {
                Ok(version) => self.observe(version),
                Err(error) => {
                    // Without the version the pages may be stale: serve none until it is back.
                    self.inner.version.store(-1, Ordering::SeqCst);
                    self.clear();
                    tracing::debug!(error = %error, "page cache: content version unavailable");
                }
            }
        }
    }
}

pub async fn current_version(db: &Db) -> crate::error::Result<i64> {
    let (version,): (i64,) =
        sqlx::query_as("SELECT version FROM content_version WHERE id = 1").fetch_one(&db.pool).await?;
    Ok(version)
}

pub async fn bump_version(db: &Db) -> crate::error::Result<()> {
    sqlx::query("UPDATE content_version SET version = version + 1 WHERE id = 1")
        .execute(db.write_turn().await?.pool())
        .await?;
    Ok(())
}

/// Only a visitor nobody knows: no session cookie, no credentials.
fn is_anonymous(headers: &HeaderMap) -> bool {
    !headers.contains_key(header::AUTHORIZATION)
        && headers
            .get_all(header::COOKIE)
            .iter()
            .all(|cookie| cookie.to_str().is_ok_and(|c| !c.contains(SESSION_COOKIE)))
}

fn is_cacheable_type(content_type: &HeaderValue) -> bool {
    let text = content_type.to_str().unwrap_or("");
    ["text/html", "application/json", "application/atom+xml", "image/svg+xml"].iter().any(|t| text.starts_with(t))
}

/// The middleware: a stored page for an anonymous GET, or the handler's answer, stored when it
/// may be.
pub async fn serve(State(cache): State<PageCache>, request: Request, next: Next) -> Response {
    let version = cache.inner.version.load(Ordering::SeqCst);
    if !cache.inner.enabled || version < 0 || request.method() != Method::GET || !is_anonymous(request.headers()) {
        return next.run(request).await;
    }
    let key = request.uri().path_and_query().map_or_else(|| request.uri().path().to_string(), |p| p.to_string());
    if let Some(entry) = cache.inner.entries.get(&key, version) {
        let mut response = Response::new(Body::from(entry.body));
        *response.headers_mut() = entry.headers;
        return response;
    }
    let response = next.run(request).await;
    // A rendered page knows its length; a stream (a file) does not, and is not kept.
    let size = axum::body::HttpBody::size_hint(response.body()).exact();
    let storable = response.status() == StatusCode::OK
        && size.is_some_and(|size| size <= MAX_BODY_BYTES as u64)
        && !response.headers().contains_key(header::SET_COOKIE)
        && response.headers().get(header::CONTENT_TYPE).is_some_and(is_cacheable_type)
        && !response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("private") || v.contains("no-store"));
    if !storable {
        return response;
    }
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => {
            let entry = Entry { headers: parts.headers.clone(), body: body.clone() };
            cache.keep(&cache.inner.entries, key, entry, version);
            Response::from_parts(parts, Body::from(body))
        }
        Err(error) => {
            // The body broke off while it was read: the same as a handler failing.
            tracing::error!(error = %error, "page cache: reading a page's body failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
