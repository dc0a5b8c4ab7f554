//! Moving a whole shop between databases with `masthead export` and `masthead import shop`, as
//! the README's deployment chapter says: SQLite (media in its data folder) to PostgreSQL (media
//! in an S3 bucket), every row and upload arriving, the moved shop selling; and back again.

use std::collections::BTreeMap;

use masthead::{db::Db, staff::accounts::Role, terms, transfer::shop_tables};

use crate::{
    account::ask_for_link,
    admin::sign_in_as,
    digital::{reader_with, two_page_pdf},
    support::{fresh_database, s3::S3Server, test_config, Backend, TestApp},
};

/// Every table's rows, each written as JSON and sorted: two databases holding the same shop give the same map.
async fn contents(db: &Db) -> BTreeMap<String, Vec<String>> {
    let mut all = BTreeMap::new();
    for table in shop_tables(db).await.expect("the tables") {
        let rows = sqlx::query(&table.select_all()).fetch_all(&db.pool).await.expect("rows");
        let mut rows: Vec<String> =
            rows.iter().map(|r| serde_json::to_string(&table.values(r).expect("values")).expect("JSON")).collect();
        rows.sort();
        all.insert(table.name.clone(), rows);
    }
    all
}

/// Says which rows of which tables differ, rather than printing two whole shops.
fn assert_same(found: &BTreeMap<String, Vec<String>>, expected: &BTreeMap<String, Vec<String>>) {
    assert_eq!(found.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "the same tables");
    for (table, rows) in expected {
        // The import moves the page caches' content version on, so no instance serves old pages.
        if table == "content_version" {
            continue;
        }
        let missing: Vec<_> = rows.iter().filter(|r| !found[table].contains(r)).take(3).collect();
        let extra: Vec<_> = found[table].iter().filter(|r| !rows.contains(r)).take(3).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{table}: missing {missing:?}, extra {extra:?}");
        assert_eq!(found[table].len(), rows.len(), "{table}");
    }
}

/// Runs the binary with a shop's settings (and the S3 server's variables, when there is one).
fn masthead(
    args: &[&str],
    database_url: &str,
    data_dir: &std::path::Path,
    media: Option<(&S3Server, String)>,
) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_masthead"));
    command.args(args).env("DATABASE_URL", database_url).env("MASTHEAD_DATA_DIR", data_dir);
    if let Some((s3, url)) = media {
        command.env("MASTHEAD_MEDIA_URL", url).envs(s3.env());
    }
    let output = command.output().expect("the command runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

async fn upload(app: &TestApp, token: &str, path: &str, bytes: Vec<u8>) {
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name("f"));
    let response =
        app.client.post(app.url(&format!("{path}?csrf_token={token}"))).multipart(form).send().await.expect("sent");
    assert_eq!(response.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_moves_from_sqlite_to_postgresql_and_back() {
    let Some(s3) = S3Server::shared() else { return };
    let Some((pg_url, pg_dir)) = fresh_database(Backend::Postgres).await else { return };
    let source = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let token = sign_in_as(&source, "staff@example.org", Role::Staff).await;
    let mut cover = b"\x89PNG\r\n\x1a\n".to_vec();
    cover.resize(5000, b'k');
    upload(&source, &token, "/admin/issues/sw-2017-01/cover", cover.clone()).await;
    upload(&source, &token, "/admin/issues/sw-2017-01/pdf", two_page_pdf()).await;
    let covering = Some((terms::period(2016, 6), terms::period(2017, 5)));
    reader_with(&source, "digital@example.org", "sw-digital-1y", covering).await;
    reader_with(&source, "print@example.org", "sw-print-1y", None).await;

    // Exported while the shop runs.
    let export = source.config.data_dir.join("shop-export.tar.gz");
    let export_arg = export.to_string_lossy().into_owned();
    let (ok, out) = masthead(&["export", &export_arg], &source.config.database_url, &source.config.data_dir, None);
    assert!(ok && out.contains("exported") && out.contains("2 uploads"), "{out}");
    let (ok, out) = masthead(&["export", &export_arg], &source.config.database_url, &source.config.data_dir, None);
    assert!(!ok && out.contains("exists already"), "never overwrites: {out}");

    // Into PostgreSQL, the uploads into a bucket.
    let bucket = s3.new_location().await;
    let (ok, out) = masthead(&["import", "shop", &export_arg], &pg_url, &pg_dir, Some((s3, bucket.to_string())));
    assert!(ok && out.contains("2 uploads"), "{out}");
    let target_db = Db::connect(&pg_url, std::time::Duration::from_secs(5)).await.expect("PostgreSQL");
    let moved = contents(&source.db).await;
    assert!(moved["orders"].len() == 2 && moved["subscriptions"].len() == 2 && !moved["audit_log"].is_empty());
    assert_same(&contents(&target_db).await, &moved);
    // Imported twice: refused, and nothing changes.
    let (ok, out) = masthead(&["import", "shop", &export_arg], &pg_url, &pg_dir, Some((s3, bucket.to_string())));
    assert!(!ok && out.contains("already holds a shop"), "{out}");
    assert_same(&contents(&target_db).await, &moved);
    target_db.close().await;

    // The moved shop serves the uploads from the bucket, its readers sign in, and it sells.
    let mut config = test_config(&pg_url, pg_dir.clone());
    config.media = bucket.clone();
    let target = TestApp::start(config).await;
    let (_, page) = target.page("/issues/sw/2017/01").await;
    let start = page.find("src=\"/media/covers/").expect("the cover") + 5;
    let url = &page[start..start + page[start..].find('"').expect("ends")];
    assert_eq!(target.get(url).await.bytes().await.expect("the cover").to_vec(), cover);
    let reader = target.with_new_client();
    let link = ask_for_link(&reader, "digital@example.org").await.expect("a sign-in link");
    assert_eq!(reader.post_form(&link, &[]).await.status(), 303);
    let pdf = reader.get("/issues/sw/2017/01/pdf").await;
    assert_eq!(pdf.status(), 200, "the moved subscription still covers the issue");
    reader_with(&target, "new@example.org", "sw-print-1y", None).await;

    // And back: from PostgreSQL and its bucket into a new SQLite shop with its data folder.
    let back = target.config.data_dir.join("back.tar.gz");
    let back_arg = back.to_string_lossy().into_owned();
    let (ok, out) = masthead(&["export", &back_arg], &pg_url, &pg_dir, Some((s3, bucket.to_string())));
    assert!(ok, "{out}");
    let (sqlite_url, sqlite_dir) = fresh_database(Backend::Sqlite).await.expect("SQLite");
    let (ok, out) = masthead(&["import", "shop", &back_arg], &sqlite_url, &sqlite_dir, None);
    assert!(ok, "{out}");
    let sqlite = Db::connect(&sqlite_url, std::time::Duration::from_secs(5)).await.expect("SQLite");
    let now_on_pg = contents(&target.db).await;
    assert_eq!(now_on_pg["orders"].len(), 3);
    assert_same(&contents(&sqlite).await, &now_on_pg);
    assert_eq!(std::fs::read_dir(sqlite_dir.join("media/covers")).expect("covers").count(), 1);
    sqlite.close().await;
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_foreign_export_is_refused_before_anything_is_written() {
    let source = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let export = source.config.data_dir.join("export.tar.gz");
    let export_arg = export.to_string_lossy().into_owned();
    let (ok, out) = masthead(&["export", &export_arg], &source.config.database_url, &source.config.data_dir, None);
    assert!(ok, "{out}");
    let bytes = std::fs::read(&export).expect("the export");

    let truncated = source.config.data_dir.join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("written");
    let backup = source.config.data_dir.join("backup.tar.gz");
    masthead::backup::backup(&source.config, &backup, masthead::clock::now()).await.expect("a backup");
    for (file, why) in [(&truncated, "cut short"), (&backup, "unexpected file")] {
        let (url, dir) = fresh_database(Backend::Sqlite).await.expect("SQLite");
        let (ok, out) = masthead(&["import", "shop", &file.to_string_lossy()], &url, &dir, None);
        assert!(!ok && out.contains("not a usable masthead export") && out.contains(why), "{out}");
        let db = Db::connect(&url, std::time::Duration::from_secs(5)).await.expect("SQLite");
        let issues: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM issues").fetch_one(&db.pool).await.expect("n");
        assert_eq!(issues.0, 0, "nothing imported");
        db.close().await;
        assert!(!dir.join("media/covers").exists());
    }

    // A shop in another currency is not imported into one configured for dollars.
    let (url, dir) = fresh_database(Backend::Sqlite).await.expect("SQLite");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_masthead"))
        .args(["import", "shop", &export_arg])
        .env("DATABASE_URL", &url)
        .env("MASTHEAD_DATA_DIR", &dir)
        .env("MASTHEAD_CURRENCY", "EUR")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && text.contains("MASTHEAD_CURRENCY=USD"), "{text}");
}
