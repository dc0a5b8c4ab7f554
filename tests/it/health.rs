//! Knowing the shop is healthy: `/readyz` says what is wrong, `/metrics` behind its token, and
//! logs as JSON lines that name the route, never the raw path.

use std::io::{BufRead, BufReader};

use masthead::clock;

use crate::{
    on_both_databases,
    support::{TestApp, METRICS_TOKEN},
};

on_both_databases!(
    readiness_says_what_is_wrong,
    metrics_answer_only_with_the_token_and_count_requests_by_route,
    metrics_are_off_without_a_token,
);

async fn readiness_says_what_is_wrong(app: TestApp) {
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("database: ok") && body.contains("media: ok") && body.contains("outbox: ok (0 due"),
        "{body}"
    );

    // An email due 20 minutes ago and never sent: the outbox is stuck; the shop still serves.
    sqlx::query(
        "INSERT INTO email_outbox (id, kind, recipient, subject, body, status, next_attempt_at, created_at) \
         VALUES ('stuck', 'test', 'a@example.org', 's', 'b', 'pending', $1, $1)",
    )
    .bind(clock::now() - 20 * 60)
    .execute(&app.db.pool)
    .await
    .expect("a stuck email");
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("outbox: stuck: 1 email(s) due, the oldest for 20 minutes"), "{body}");

    // Media storage that cannot be written: not ready, and it says where.
    let media = app.config.data_dir.join("media");
    let _ = std::fs::remove_dir_all(&media);
    std::fs::write(&media, b"not a folder").expect("a file in the way");
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready\n") && body.contains("media: cannot write to"), "{body}");
    std::fs::remove_file(&media).expect("cleared");
    assert_eq!(app.get("/readyz").await.status(), 200);

    // No database: not ready, within a second, saying so.
    app.db.pool.close().await;
    let started = std::time::Instant::now();
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("database: unreachable or not writable"), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("answered");
    (response.status().as_u16(), response.text().await.expect("a body"))
}

async fn metrics_answer_only_with_the_token_and_count_requests_by_route(app: TestApp) {
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("wrong")).await.0, 401);
    let secret = format!("SeCrEt{}", uuid::Uuid::new_v4().simple());
    for path in ["/subscribe", "/subscribe", "/no-such-page", &format!("/admin/set-password/{secret}")] {
        app.get(path).await;
    }
    app.send_json("POST", "/api/v1/cart/items", serde_json::json!({"sku": "sw-digital-1y"})).await;
    let (_, answer) =
        app.send_json("POST", "/api/v1/checkout", serde_json::json!({"email": "m@example.org", "name": "M"})).await;
    let order = answer["order_id"].as_str().expect("an order").to_string();
    app.post_form(&format!("/checkout/test-payment/{order}/pay"), &[]).await;

    let (status, body) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    // The recorder is one per test process: counts only grow, so look for the lines, not exact totals.
    assert!(body.contains(r#"masthead_http_requests_total{method="GET",route="/subscribe",status="200"}"#), "{body}");
    assert!(body.contains(r#"route="/admin/set-password/{token}""#), "{body}");
    assert!(body.contains(r#"status="404""#), "{body}");
    assert!(body.contains("masthead_http_request_duration_seconds_bucket{"), "latency histograms: {body}");
    assert!(!body.contains(&secret), "a raw path never becomes a label");
    let gauge = |name: &str| {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in {body}"))
    };
    assert_eq!(gauge(r#"masthead_orders{status="paid"}"#), 1.0, "orders by status, from this shop's database");
    assert!(gauge("masthead_outbox_due") >= 0.0 && gauge("masthead_outbox_oldest_due_age_seconds") >= 0.0);
    assert!(gauge("masthead_db_pool_connections") >= 1.0);
    assert!(body.contains("masthead_reminders_waiting") && body.contains("masthead_outbox_scheduled"), "{body}");
}

async fn metrics_are_off_without_a_token(app: TestApp) {
    let config = app.stop().await;
    let app = TestApp::start(masthead::config::Config { metrics_token: None, ..config }).await;
    assert_eq!(scrape(&app, Some(METRICS_TOKEN)).await.0, 404);
}

/// The binary with `MASTHEAD_LOG_FORMAT=json`: every line a JSON object; a request's line carries
/// its id, route pattern, status and latency; a token in a path is never written.
#[test]
fn logs_are_json_lines_with_the_route_and_never_the_path() {
    let data = tempfile_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address").port();
    let mut shop = std::process::Command::new(env!("CARGO_BIN_EXE_masthead"))
        .env("MASTHEAD_DATA_DIR", &data)
        .env("MASTHEAD_ADDR", format!("127.0.0.1:{port}"))
        .env("MASTHEAD_LOG_FORMAT", "json")
        .env("RUST_LOG", "masthead=info,tower_http=info")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the shop starts");
    let secret = format!("SeCrEt{}", uuid::Uuid::new_v4().simple());
    let get = |path: &str| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok::<String, std::io::Error>(answer)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while get("/healthz").is_err() {
        assert!(std::time::Instant::now() < deadline, "the shop did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let answer = get(&format!("/admin/set-password/{secret}")).expect("answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = shop.kill();
    let stdout = shop.stdout.take().expect("the log");
    let lines: Vec<String> = BufReader::new(stdout).lines().map_while(Result::ok).collect();
    let _ = shop.wait();
    assert!(!lines.is_empty());
    let mut finished = None;
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(!line.contains(&secret), "the token is never logged: {line}");
        if value["span"]["route"] == "/admin/set-password/{token}" && value["fields"]["status"].is_number() {
            finished = Some(value);
        }
    }
    let finished = finished.unwrap_or_else(|| panic!("a finished request with its route: {lines:#?}"));
    assert_eq!(finished["fields"]["status"], 200);
    assert!(finished["fields"]["latency"].is_string(), "{finished}");
    assert!(finished["span"]["id"].as_str().is_some_and(|id| id.len() >= 32), "the request id: {finished}");
    let _ = std::fs::remove_dir_all(&data);

    // A format the shop does not know is refused at start, saying which.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_masthead"))
        .env("MASTHEAD_DATA_DIR", tempfile_dir())
        .env("MASTHEAD_LOG_FORMAT", "xml")
        .env_remove("DATABASE_URL")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&output.stderr), String::from_utf8_lossy(&output.stdout));
    assert!(said.contains("MASTHEAD_LOG_FORMAT must be text or json"), "{said}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("logs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a folder");
    dir
}
