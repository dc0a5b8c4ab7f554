//! Faults: requests dropped halfway, a connection left inside a transaction, a database that is
//! locked or stopped, instances starting together, a shop restarted in another currency.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::{Connection, Executor};

use crate::{
    checkout::address,
    on_both_databases,
    support::{self, new_browser, released_together, test_config, uses_of, Backend, TestApp},
};

on_both_databases!(
    a_connection_left_inside_a_transaction_never_serves_another_request,
    checkouts_dropped_halfway_leave_the_shop_working,
    readiness_says_so_when_the_database_cannot_be_written,
    instances_started_together_on_an_empty_database_all_come_up,
    a_shop_keeps_the_currency_it_started_with,
    writes_dropped_without_their_commit_are_undone_and_hold_no_lock,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

async fn checkout_with(browser: &reqwest::Client, app: &TestApp, email: &str) -> (u16, Value) {
    for (path, body) in
        [("/api/v1/cart/items", json!({"sku": "isr-print-1y"})), ("/api/v1/cart/coupon", json!({"code": "FTR 2016"}))]
    {
        let response = browser.post(app.url(path)).json(&body).send().await.expect("answered");
        assert_eq!(response.status(), 200, "{path}");
    }
    let body = json!({"email": email, "name": "Ada Reader", "shipping_address": address()});
    let response = browser.post(app.url("/api/v1/checkout")).json(&body).send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Every reservation the coupon counts belongs to an order that carries the coupon.
async fn reservations_match_orders(app: &TestApp) {
    let used = count(app, &uses_of("FTR2016")).await;
    let held = count(app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status IN ('reserved', 'final')").await;
    let orders = count(app, "SELECT COUNT(*) FROM orders WHERE coupon_id IS NOT NULL").await;
    assert_eq!((used, held), (orders, orders), "one reservation per order with the coupon");
}

async fn a_connection_left_inside_a_transaction_never_serves_another_request(app: TestApp) {
    // What a request cancelled between `BEGIN` and sqlx's bookkeeping leaves behind: a pooled
    // connection inside a transaction that no `Transaction` value will ever end.
    {
        let mut conn = app.db.pool.acquire().await.expect("a connection");
        let tx = match app.db.backend {
            masthead::db::Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await,
            masthead::db::Backend::Postgres => conn.begin().await,
        }
        .expect("a transaction");
        std::mem::forget(tx);
    }
    for round in 0..6 {
        let started = Instant::now();
        let (status, answer) = checkout_with(&new_browser(), &app, &format!("after{round}@example.org")).await;
        assert_eq!(status, 201, "round {round}: {answer}");
        assert!(started.elapsed() < Duration::from_secs(4), "not waiting out a lock");
    }
    assert_eq!(app.get("/readyz").await.status(), 200);
    // Every order was really committed: a connection of its own sees all six.
    let seen = match app.db.backend {
        masthead::db::Backend::Sqlite => {
            let mut own = sqlx::SqliteConnection::connect(&app.config.database_url).await.expect("connected");
            sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM orders").fetch_one(&mut own).await.expect("counted").0
        }
        masthead::db::Backend::Postgres => {
            let mut own = sqlx::PgConnection::connect(&app.config.database_url).await.expect("connected");
            sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM orders").fetch_one(&mut own).await.expect("counted").0
        }
    };
    assert_eq!(seen, 6);
}

async fn checkouts_dropped_halfway_leave_the_shop_working(app: TestApp) {
    // Readers who give up a few milliseconds into their checkout (a closed tab, a lost signal).
    for round in 0..30u64 {
        let browser = new_browser();
        for (path, body) in [
            ("/api/v1/cart/items", json!({"sku": "isr-print-1y"})),
            ("/api/v1/cart/coupon", json!({"code": "FTR 2016"})),
        ] {
            browser.post(app.url(path)).json(&body).send().await.expect("answered");
        }
        let body = json!({"email": format!("gone{round}@example.org"), "name": "Ada", "shipping_address": address()});
        let _ = browser
            .post(app.url("/api/v1/checkout"))
            .json(&body)
            .timeout(Duration::from_millis(1 + round % 15))
            .send()
            .await;
    }
    // Whatever was cut off finished or rolled back on its own; the shop still sells.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    let (status, answer) = checkout_with(&new_browser(), &app, "still@example.org").await;
    assert_eq!(status, 201, "{answer}");
    reservations_match_orders(&app).await;
}

async fn readiness_says_so_when_the_database_cannot_be_written(app: TestApp) {
    assert_eq!(app.get("/readyz").await.status(), 200);
    // Another connection holds the write lock (SQLite) or the row the probe writes (PostgreSQL).
    let sqlite = app.db.backend == masthead::db::Backend::Sqlite;
    let mut holder: Box<dyn std::any::Any + Send> = if sqlite {
        let mut conn = sqlx::SqliteConnection::connect(&app.config.database_url).await.expect("connected");
        conn.execute("BEGIN IMMEDIATE").await.expect("the write lock");
        Box::new(conn)
    } else {
        let mut conn = sqlx::PgConnection::connect(&app.config.database_url).await.expect("connected");
        conn.execute("BEGIN").await.expect("begun");
        conn.execute("SELECT value FROM settings WHERE name = 'currency' FOR UPDATE").await.expect("the row lock");
        Box::new(conn)
    };
    let started = Instant::now();
    assert_eq!(app.get("/readyz").await.status(), 503, "a database that cannot be written is not ready");
    assert!(started.elapsed() < Duration::from_secs(2), "answered within about a second: {:?}", started.elapsed());
    if let Some(conn) = holder.downcast_mut::<sqlx::SqliteConnection>() {
        conn.execute("ROLLBACK").await.expect("released");
    }
    if let Some(conn) = holder.downcast_mut::<sqlx::PgConnection>() {
        conn.execute("ROLLBACK").await.expect("released");
    }
    assert_eq!(app.get("/readyz").await.status(), 200);
}

async fn catalog_counts(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["publications", "plans", "issues", "articles", "coupons", "coupon_targets", "settings"] {
        counts.push(count(app, &format!("SELECT COUNT(*) FROM {table}")).await);
    }
    counts
}

async fn instances_started_together_on_an_empty_database_all_come_up(app: TestApp) {
    let backend = match app.db.backend {
        masthead::db::Backend::Sqlite => Backend::Sqlite,
        masthead::db::Backend::Postgres => Backend::Postgres,
    };
    let expected = catalog_counts(&app).await;
    for round in 0..3 {
        let (url, dir) = support::fresh_database(backend).await.expect("a database");
        let config = test_config(&url, dir);
        let starts = (0..4).map(|_| {
            let config = config.clone();
            async move { TestApp::try_start(config).await }
        });
        let mut instances = Vec::new();
        for started in released_together(starts.collect()).await {
            instances.push(started.unwrap_or_else(|e| panic!("round {round}: an instance failed to start: {e:#}")));
        }
        for instance in &instances {
            assert_eq!(instance.get("/readyz").await.status(), 200);
        }
        assert_eq!(catalog_counts(&instances[0]).await, expected, "round {round}: the demo catalog once, whole");
        for instance in instances {
            instance.stop().await;
        }
    }
}

async fn a_shop_keeps_the_currency_it_started_with(app: TestApp) {
    let mut config = app.stop().await;
    config.currency = masthead::money::Currency::Eur;
    let refused = TestApp::try_start(config.clone()).await.err().expect("a shop cannot change its currency");
    assert!(format!("{refused:#}").contains("MASTHEAD_CURRENCY=USD"), "{refused:#}");

    // A new shop in euros sells the demo catalog in euros, and an issue without a price is in euros too.
    let (url, dir) = support::fresh_database(match config.database_url.starts_with("sqlite") {
        true => Backend::Sqlite,
        false => Backend::Postgres,
    })
    .await
    .expect("a database");
    let mut euro = test_config(&url, dir);
    euro.currency = masthead::money::Currency::Eur;
    let shop = TestApp::start(euro).await;
    let (status, page) = shop.page("/subscribe").await;
    assert_eq!(status, 200);
    assert!(page.contains("€29.00") && !page.contains("$29.00"), "prices in euros");
    let currencies: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT currency FROM plans UNION SELECT DISTINCT currency FROM issues UNION SELECT DISTINCT currency FROM coupons")
            .fetch_all(&shop.db.pool)
            .await
            .expect("currencies");
    assert_eq!(currencies, [("EUR".to_string(),)]);
}

/// The reader's writes (`begin_unflushed`, `begin_durable`: in place on SQLite, on kept connections
/// on PostgreSQL), many at once, half of them dropped after writing and before their commit: only
/// the committed rows remain, and a dropped write's row can be written again at once (its lock
/// was given up). Far more at once than connections are kept, so most wait their turn.
async fn writes_dropped_without_their_commit_are_undone_and_hold_no_lock(app: TestApp) {
    use masthead::db::{Param, Statements};
    const INSERT: &str = "INSERT INTO carts (id, created_at, updated_at) VALUES ($1, $2, $2)";
    for round in 0..3 {
        let writes = (0..24).map(|n| {
            let db = app.db.clone();
            async move {
                let id = format!("dropped-{round}-{n}");
                let mut tx = if n % 3 == 0 { db.begin_durable().await } else { db.begin_unflushed().await }
                    .expect("a transaction");
                assert_eq!(tx.execute(INSERT, &[Param::Text(&id), Param::Int(1)]).await.expect("written"), 1);
                if n % 2 == 0 {
                    tx.commit().await.expect("committed");
                }
            }
        });
        released_together(writes.collect()).await;
        let pattern = format!("dropped-{round}-%");
        let kept: Vec<(String,)> = sqlx::query_as("SELECT id FROM carts WHERE id LIKE $1 ORDER BY id")
            .bind(&pattern)
            .fetch_all(&app.db.pool)
            .await
            .expect("rows");
        let mut committed: Vec<String> =
            (0..24).filter(|n| n % 2 == 0).map(|n| format!("dropped-{round}-{n}")).collect();
        committed.sort();
        assert_eq!(kept.into_iter().map(|(id,)| id).collect::<Vec<_>>(), committed, "round {round}");
        // A dropped write's key, written again: it would wait for ever behind a lock still held.
        let again = async {
            let mut tx = app.db.begin_unflushed().await.expect("a transaction");
            let id = format!("dropped-{round}-1");
            let written = tx.execute(INSERT, &[Param::Text(&id), Param::Int(2)]).await.expect("written");
            tx.commit().await.expect("committed");
            written
        };
        let written = tokio::time::timeout(Duration::from_secs(10), again).await.expect("no lock left behind");
        assert_eq!(written, 1);
    }
}

/// A PostgreSQL cluster of the test's own (stopping it disturbs no other test); none, with a word,
/// where PostgreSQL is not installed outside CI.
fn own_cluster() -> Option<support::postgres::Cluster> {
    match support::postgres::Cluster::start_new() {
        Ok(cluster) => Some(cluster),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL is required when CI=true: {why}")
        }
        Err(why) => {
            eprintln!("PostgreSQL outage test skipped: {why}");
            None
        }
    }
}

/// PostgreSQL stops under a running shop (its own cluster, so no other test is disturbed) and
/// comes back: meanwhile every request is answered 503 quickly, and afterwards the shop sells
/// again without a restart and has lost nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_postgres_is_answered_503_at_once_and_the_shop_recovers() {
    let Some(cluster) = own_cluster() else { return };
    let dir = std::env::temp_dir().join(format!("masthead-outage-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let app = TestApp::start(test_config(&cluster.url, dir.clone())).await;
    let (status, answer) = checkout_with(&app.client, &app, "before@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id").to_string();

    cluster.stop().expect("PostgreSQL stopped");
    let started = Instant::now();
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert!(started.elapsed() < Duration::from_millis(1500), "/readyz within a second: {:?}", started.elapsed());
    for path in ["/", "/subscribe", "/api/v1/products", "/api/v1/cart"] {
        let started = Instant::now();
        let response = app.get(path).await;
        let elapsed = started.elapsed();
        assert_eq!(response.status(), 503, "{path}");
        assert!(response.headers().contains_key("retry-after"), "{path}");
        assert!(elapsed < Duration::from_secs(4), "{path} answered in about two seconds: {elapsed:?}");
        let body = response.text().await.expect("a body");
        if path.starts_with("/api/") {
            let json: Value =
                serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: the JSON error shape: {body}"));
            assert_eq!(json["error"]["code"], "temporarily_unavailable", "{path}");
        } else {
            assert!(body.contains("try again"), "{path}: the site's error page");
            assert!(body.contains(&format!("href=\"{path}\">Try again</a>")), "{path}: a way to ask again");
        }
    }
    let body = json!({"email": "during@example.org", "name": "Ada", "shipping_address": address()});
    let response = app.client.post(app.url("/api/v1/checkout")).json(&body).send().await.expect("answered");
    assert_eq!(response.status(), 503, "no checkout while the database is away");

    cluster.start().expect("PostgreSQL started again");
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/readyz").await.status() != 200 {
        assert!(Instant::now() < deadline, "the shop recovers without a restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, answer) = checkout_with(&new_browser(), &app, "after@example.org").await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM orders WHERE id = '{order_id}'")).await, 1, "nothing lost");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 2, "the refused checkout placed nothing");
    reservations_match_orders(&app).await;
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A shop on a PostgreSQL cluster of its own, and a reader who has put the journal in their cart.
async fn a_reader_with_a_cart_on_own_cluster(
    name: &str,
) -> Option<(support::postgres::Cluster, TestApp, std::path::PathBuf, reqwest::Client)> {
    let cluster = own_cluster()?;
    let dir = std::env::temp_dir().join(format!("masthead-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let app = TestApp::start(test_config(&cluster.url, dir.clone())).await;
    let reader = new_browser();
    let added = reader.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "isr-print-1y"})).send().await;
    assert_eq!(added.expect("answered").status(), 200);
    Some((cluster, app, dir, reader))
}

/// PostgreSQL restarts between two requests of a reader: the connections the shop kept for reads
/// by key (`db::KeptConnections`) were all closed by the server, and the reader's next requests,
/// several at once, are answered at once without an error, their cart intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restarted_between_requests_costs_the_readers_nothing() {
    let Some((cluster, app, dir, reader)) = a_reader_with_a_cart_on_own_cluster("restart").await else { return };

    let cart_reads = |rounds: usize| {
        (0..rounds)
            .map(|round| {
                let path = if round % 2 == 0 { "/api/v1/cart" } else { "/" };
                let (reader, url) = (reader.clone(), app.url(path));
                async move {
                    let response = reader.get(url).send().await.expect("answered");
                    let status = response.status().as_u16();
                    (path, status, response.text().await.expect("a body"))
                }
            })
            .collect::<Vec<_>>()
    };
    // Several reads at once, so that several connections are kept.
    for (path, status, body) in released_together(cart_reads(12)).await {
        assert_eq!(status, 200, "{path}: {body}");
    }

    cluster.stop().expect("PostgreSQL stopped");
    cluster.start().expect("PostgreSQL started again");
    for (path, status, body) in released_together(cart_reads(12)).await {
        assert_eq!(status, 200, "{path} answered as before the restart: {body}");
        if path.starts_with("/api/") {
            assert!(body.contains("\"sku\":\"isr-print-1y\""), "the reader's own cart: {body}");
        }
    }
    let cart: Value = reader.get(app.url("/api/v1/cart")).send().await.expect("answered").json().await.expect("JSON");
    assert_eq!(cart["items"][0]["sku"], "isr-print-1y", "the cart survived: {cart}");
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// PostgreSQL stops answering without closing anything (frozen, as a hung server or a network
/// that drops everything looks): a reader's reads and writes, which run on kept connections, are
/// answered 503 within seconds rather than held until the request's time limit, and once the
/// server answers again the reader's cart is as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_that_stops_answering_is_a_503_in_seconds_not_a_hang() {
    let Some((cluster, app, dir, reader)) = a_reader_with_a_cart_on_own_cluster("frozen").await else { return };
    for _ in 0..3 {
        assert_eq!(reader.get(app.url("/api/v1/cart")).send().await.expect("answered").status(), 200);
    }

    cluster.pause().expect("PostgreSQL frozen");
    let read = reader.get(app.url("/api/v1/cart")).send();
    let write = reader.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "sw-print-1y"})).send();
    let started = Instant::now();
    let (read, write) = tokio::join!(read, write);
    let elapsed = started.elapsed();
    let statuses = (read.expect("answered").status().as_u16(), write.expect("answered").status().as_u16());
    cluster.resume().expect("PostgreSQL going on");
    assert_eq!(statuses, (503, 503), "a frozen database is unavailable");
    assert!(elapsed < Duration::from_secs(8), "answered within seconds, not at the 30 s limit: {elapsed:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let cart = loop {
        let response = reader.get(app.url("/api/v1/cart")).send().await.expect("answered");
        if response.status() == 200 {
            break response.json::<Value>().await.expect("JSON");
        }
        assert!(Instant::now() < deadline, "the shop recovers without a restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let skus: Vec<&str> = cart["items"].as_array().expect("items").iter().filter_map(|i| i["sku"].as_str()).collect();
    assert_eq!(skus, ["isr-print-1y"], "the refused add changed nothing: {cart}");
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
