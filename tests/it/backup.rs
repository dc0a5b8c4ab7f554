//! Backups of a shop on SQLite: taken while checkouts are written, restored into an empty folder
//! with every order acknowledged before the backup began, and a shop that starts and sells;
//! a truncated or foreign archive, or a live folder, refused before anything is touched.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Mutex,
};

use masthead::{backup, clock};
use serde_json::json;

use crate::support::{test_config, Backend, TestApp};

fn work_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a folder");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_checkouts_run_restores_every_acknowledged_order() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    // An uploaded file in media, to come back with the database.
    let media = app.config.data_dir.join("media/covers");
    std::fs::create_dir_all(&media).expect("media");
    std::fs::write(media.join("cover-1.png"), b"\x89PNG\r\n\x1a\nnot really").expect("a cover");

    // Readers keep checking out while the backup is taken.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, std::time::Instant)>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..3 {
        let (reader, acknowledged, running) = (app.with_new_client(), acknowledged.clone(), running.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while running.load(Ordering::SeqCst) {
                let tab = reader.with_new_client();
                tab.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
                let body = json!({"email": format!("w{writer}-{n}@example.org"), "name": "Ada"});
                let (status, answer) = tab.send_json("POST", "/api/v1/checkout", body).await;
                if status == 201 {
                    let id = answer["order_id"].as_str().expect("an id").to_string();
                    acknowledged.lock().expect("the list").push((id, std::time::Instant::now()));
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let dir = work_dir("backup");
    let archive = dir.join("shop.tar.gz");
    let began = std::time::Instant::now();
    let summary = backup::backup(&app.config, &archive, clock::now()).await.expect("a backup");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    running.store(false, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer");
    }
    assert!(summary.files >= 2, "{summary:?}");
    let before: Vec<String> =
        acknowledged.lock().expect("the list").iter().filter(|(_, at)| *at < began).map(|(id, _)| id.clone()).collect();
    assert!(!before.is_empty(), "orders were acknowledged before the backup began");
    // A second backup to the same name is refused: a backup never overwrites one.
    assert!(backup::backup(&app.config, &archive, clock::now()).await.is_err());

    // Restored into an empty folder: the database, every order acknowledged before, the media.
    let restored = work_dir("restored");
    backup::restore(&archive, &restored).expect("restored");
    assert!(restored.join("media/covers/cover-1.png").exists());
    let url = format!("sqlite://{}?mode=rwc", restored.join("masthead.db").display());
    let config = test_config(&url, restored.clone());
    let shop = TestApp::try_start(config).await.expect("the restored shop starts");
    for id in &before {
        let (found,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&shop.db.pool)
            .await
            .expect("a count");
        assert_eq!(found, 1, "order {id}, acknowledged before the backup began, is in it");
    }
    // And it sells.
    shop.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y"})).await;
    let body = json!({"email": "after@example.org", "name": "Ada", "shipping_address": crate::checkout::address()});
    let (status, answer) = shop.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!(status, 201, "{answer}");

    // Never over a live shop: refused, and the shop's files are untouched.
    let size = std::fs::metadata(restored.join("masthead.db")).expect("the database").len();
    let error = backup::restore(&archive, &restored).expect_err("refused").to_string();
    assert!(error.contains("already holds a shop"), "{error}");
    assert_eq!(std::fs::metadata(restored.join("masthead.db")).expect("still there").len(), size);
    shop.stop().await;

    // A truncated archive, or one that is not ours: refused before anything is written.
    let bytes = std::fs::read(&archive).expect("the archive");
    let cut = dir.join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("a cut archive");
    let foreign = dir.join("foreign.tar.gz");
    {
        let file = std::fs::File::create(&foreign).expect("a file");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_cksum();
        tar.append_data(&mut header, "masthead.db", &b"hello"[..]).expect("written");
        tar.into_inner().expect("finished").finish().expect("flushed");
    }
    let junk = dir.join("junk.tar.gz");
    std::fs::write(&junk, b"not an archive at all").expect("junk");
    for (bad, why) in [(&cut, "cut short"), (&foreign, "no manifest"), (&junk, "not a usable masthead backup")] {
        let empty = work_dir("empty");
        let error = format!("{:#}", backup::restore(bad, &empty).expect_err("refused"));
        assert!(error.contains(why), "{}: {error}", bad.display());
        let left: Vec<_> = std::fs::read_dir(&empty).expect("the folder").collect();
        assert!(left.is_empty(), "nothing written into {}: {left:?}", empty.display());
    }
    app.stop().await;
}

/// The commands as an operator types them (the README's "Backups").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_and_restore_commands_work_from_the_shell() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let dir = work_dir("cli");
    let archive = dir.join("nightly.tar.gz");
    let run = |args: &[&str], data: &std::path::Path, url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_masthead"))
            .args(args)
            .env("DATABASE_URL", url)
            .env("MASTHEAD_DATA_DIR", data)
            .env("RUST_LOG", "off")
            .output()
            .expect("the masthead binary runs")
    };
    let output = run(&["backup", &archive.to_string_lossy()], &app.config.data_dir, &app.config.database_url);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("backed up"));
    let target = dir.join("data");
    let url = format!("sqlite://{}?mode=rwc", target.join("masthead.db").display());
    let output = run(&["restore", &archive.to_string_lossy()], &target, &url);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let output = run(&["restore", &archive.to_string_lossy()], &target, &url);
    assert!(!output.status.success(), "a second restore over it is refused");
    assert!(String::from_utf8_lossy(&output.stderr).contains("already holds a shop"));
    app.stop().await;
}

/// The README's PostgreSQL backup, as written there: pg_dump of a running shop, pg_restore into
/// an empty database, and a shop that starts on it with its orders and sells.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_shop_is_backed_up_with_pg_dump_and_restored_with_pg_restore() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let (Some(pg_dump), Some(pg_restore)) =
        (crate::support::postgres::find_tool("pg_dump"), crate::support::postgres::find_tool("pg_restore"))
    else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "pg_dump and pg_restore are needed in CI");
        return;
    };
    app.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
    let (status, answer) =
        app.send_json("POST", "/api/v1/checkout", json!({"email": "kept@example.org", "name": "Ada"})).await;
    assert_eq!(status, 201, "{answer}");
    let order = answer["order_id"].as_str().expect("an order").to_string();
    let dump = work_dir("pgdump").join("shop.dump");
    let output = std::process::Command::new(&pg_dump)
        .args(["--format=custom", &format!("--file={}", dump.display()), &app.config.database_url])
        .output()
        .expect("pg_dump runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (empty, dir) = crate::support::fresh_database(Backend::Postgres).await.expect("an empty database");
    let output = std::process::Command::new(&pg_restore)
        .args(["--no-owner", &format!("--dbname={empty}"), &dump.to_string_lossy()])
        .output()
        .expect("pg_restore runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let shop = TestApp::try_start(test_config(&empty, dir)).await.expect("the restored shop starts");
    let (found,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders WHERE id = $1")
        .bind(&order)
        .fetch_one(&shop.db.pool)
        .await
        .expect("a count");
    assert_eq!(found, 1);
    shop.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
    let (status, answer) =
        shop.send_json("POST", "/api/v1/checkout", json!({"email": "after@example.org", "name": "Ada"})).await;
    assert_eq!(status, 201, "{answer}");
    shop.stop().await;
    app.stop().await;
}
