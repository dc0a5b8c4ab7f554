//! Probes, headers, static files, the OpenAPI document and restarts.

use crate::{on_both_databases, support::TestApp};

on_both_databases!(
    health_and_readiness_probes_answer,
    every_response_carries_the_security_headers_and_a_request_id,
    static_files_are_cached_and_compressed,
    the_openapi_document_lists_every_api_route,
    secrets_in_a_path_never_reach_the_log,
    orders_wait_for_the_disk_and_carts_do_not,
);

/// SQLite: the shop's own connections (orders, payments, coupons, staff changes) commit with
/// `synchronous = FULL`; the connections carts, sessions and guess counters write through commit
/// with `NORMAL` (the README's "What a power cut can lose").
async fn orders_wait_for_the_disk_and_carts_do_not(app: TestApp) {
    if app.db.backend != masthead::db::Backend::Sqlite {
        return;
    }
    for _ in 0..3 {
        let (full,): (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(&app.db.pool).await.expect("a pragma");
        assert_eq!(full, 2, "FULL");
        let turn = app.db.unflushed_write().await.expect("a turn");
        let (normal,): (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(turn.pool()).await.expect("a pragma");
        assert_eq!(normal, 1, "NORMAL");
    }
    let masthead::db::SessionPool::Sqlite(sessions) = &app.db.sessions else { panic!("a SQLite session pool") };
    let (normal,): (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(sessions).await.expect("a pragma");
    assert_eq!(normal, 1, "sessions: NORMAL");
}

async fn health_and_readiness_probes_answer(app: TestApp) {
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.db.pool.close().await;
    assert_eq!(app.get("/readyz").await.status(), 503, "not ready without its database");
    assert_eq!(app.get("/healthz").await.status(), 200, "but still alive");
}

async fn every_response_carries_the_security_headers_and_a_request_id(app: TestApp) {
    for path in ["/", "/issues/sw/2016/12", "/no-such-page", "/api/v1/products", "/static/site.css"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().expect("text");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(!csp.contains("'unsafe-inline'"), "{path}: no inline script or style");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
        assert!(headers.get("x-request-id").is_some_and(|id| !id.is_empty()), "{path}");
    }
}

async fn static_files_are_cached_and_compressed(app: TestApp) {
    let response =
        app.client.get(app.url("/static/site.css")).header("accept-encoding", "gzip").send().await.expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/css");
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert!(response.headers()["cache-control"].to_str().expect("text").contains("max-age="));
    assert_eq!(app.get("/static/missing.css").await.status(), 404);
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
}

async fn the_openapi_document_lists_every_api_route(app: TestApp) {
    let (status, doc) = app.json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for (method, path) in masthead::http::api::api_router().routes {
        assert!(doc["paths"][&path][method.to_ascii_lowercase()].is_object(), "{method} {path} is undocumented");
    }
}

on_both_databases!(a_restart_on_the_same_database_migrates_nothing_and_keeps_the_catalog);

async fn a_restart_on_the_same_database_migrates_nothing_and_keeps_the_catalog(app: TestApp) {
    let (_, before) = app.json("/api/v1/issues").await;
    let config = app.stop().await;
    let app = TestApp::start(config).await;
    let (status, after) = app.json("/api/v1/issues").await;
    assert_eq!(status, 200);
    assert_eq!(before, after);
}

/// Everything the shop logs in this test process, from the moment `capture_logs` is first called.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogBuffer;

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().expect("the log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("masthead=info,tower_http=info"))
            .with_writer(|| LogBuffer)
            .with_ansi(false)
            .try_init();
    });
}

async fn secrets_in_a_path_never_reach_the_log(app: TestApp) {
    capture_logs();
    let secret = format!("SeCrEt{}", uuid::Uuid::new_v4().simple());
    let path = format!("/admin/set-password/{secret}");
    assert_eq!(app.get(&path).await.status(), 200);
    // A forged form to the same address is logged too (without its path).
    let response = app.post_form(&path, &[("password", "a long new passphrase"), ("csrf_token", "forged")]).await;
    assert_eq!(response.status(), 403);
    let response = app.get(&format!("/admin/login?next=/admin/set-password/{secret}")).await;
    assert_eq!(response.status(), 200);
    let logs = String::from_utf8_lossy(&LOGS.lock().expect("the log buffer")).into_owned();
    assert!(logs.contains("/admin/set-password/{token}"), "the route is logged, so an operator can follow requests");
    assert!(!logs.contains(&secret), "the token itself is never logged");
}
