//! Uploads in S3-compatible object storage (a real moto server): any instance serves any upload,
//! refused uploads leave nothing behind, the shop keeps its pages when the storage is down, and
//! `masthead media migrate` moves a data folder's uploads across.

use masthead::{config::MediaLocation, staff::accounts::Role, terms};

use crate::{
    admin::sign_in_as,
    digital::{reader_with, text_of, two_page_pdf},
    support::{s3::S3Server, Backend, TestApp},
};

macro_rules! on_both_databases_with_s3 {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await;
            }
        }
    )+};
}

on_both_databases_with_s3!(
    an_upload_through_one_instance_is_served_by_another,
    the_shop_keeps_serving_with_its_storage_down
);

/// A PNG's signature followed by filler: past the sniffing window, so it goes up in a multipart upload.
fn png(size: usize, fill: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size, fill);
    bytes
}

async fn upload(app: &TestApp, token: &str, path: &str, bytes: Vec<u8>, name: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
    app.client.post(app.url(&format!("{path}?csrf_token={token}"))).multipart(form).send().await.expect("sent")
}

/// The cover URL an issue's page shows.
async fn cover_url(app: &TestApp, path: &str) -> String {
    let (status, page) = app.page(path).await;
    assert_eq!(status, 200, "{page}");
    let start = page.find("src=\"/media/covers/").expect("the uploaded cover") + 5;
    page[start..start + page[start..].find('"').expect("ends")].to_string()
}

async fn cover_key(app: &TestApp, sku: &str) -> Option<String> {
    sqlx::query_as::<_, (Option<String>,)>("SELECT cover_image FROM issues WHERE sku = $1")
        .bind(sku)
        .fetch_one(&app.db.pool)
        .await
        .expect("the issue")
        .0
}

/// Files under a data folder's media/ (there should be none when the media are in a bucket).
fn local_files(app: &TestApp) -> Vec<String> {
    let mut found = Vec::new();
    for folder in ["covers", "pdfs"] {
        if let Ok(entries) = std::fs::read_dir(app.config.data_dir.join("media").join(folder)) {
            found.extend(entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
        }
    }
    found
}

/// Keys in a bucket and multipart uploads still open there, as S3's own listing says.
async fn bucket_contents(s3: &S3Server, location: &MediaLocation) -> (Vec<String>, usize) {
    let MediaLocation::S3(s3_location) = location else { panic!("an S3 location") };
    let base = format!("{}/{}", s3.endpoint(), s3_location.bucket);
    let client = reqwest::Client::new();
    let list = client.get(format!("{base}?list-type=2")).send().await.expect("listed").text().await.expect("XML");
    let keys = list.split("<Key>").skip(1).map(|k| k[..k.find("</Key>").expect("ends")].to_string()).collect();
    let open = client.get(format!("{base}?uploads")).send().await.expect("listed").text().await.expect("XML");
    (keys, open.matches("<UploadId>").count())
}

async fn an_upload_through_one_instance_is_served_by_another(backend: Backend) {
    let Some(s3) = S3Server::shared() else { return };
    let media = s3.new_location().await;
    let Some(first) = TestApp::spawn_with(backend, |c| c.media = media.clone()).await else { return };
    let mut config = first.config.clone();
    config.data_dir = first.config.data_dir.join("second-instance");
    let second = TestApp::start(config).await;
    let token = sign_in_as(&first, "staff@example.org", Role::Staff).await;

    let cover = png(40_000, b'c');
    assert_eq!(upload(&first, &token, "/admin/issues/sw-2017-01/cover", cover.clone(), "c.png").await.status(), 303);
    let url = cover_url(&second, "/issues/sw/2017/01").await;
    let response = second.get(&url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["content-length"], "40000");
    assert!(response.headers()["cache-control"].to_str().expect("text").contains("immutable"));
    assert_eq!(response.bytes().await.expect("the cover").to_vec(), cover, "the other instance serves it whole");

    // Staff on both instances replace the cover at once, four rounds: every upload is stored, the
    // issue names one of them, and both instances serve that one whole.
    for round in 0..4u8 {
        let covers: Vec<Vec<u8>> = (0..4u8).map(|i| png(10_000 + usize::from(i), b'a' + round * 4 + i)).collect();
        let answers = futures_util::future::join_all(covers.iter().enumerate().map(|(i, bytes)| {
            let instance = if i % 2 == 0 { &first } else { &second };
            let form = reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name("c.png"));
            first
                .client
                .post(instance.url(&format!("/admin/issues/sw-2017-01/cover?csrf_token={token}")))
                .multipart(form)
                .send()
        }))
        .await;
        assert!(answers.iter().all(|a| a.as_ref().is_ok_and(|r| r.status() == 303)), "round {round}: {answers:?}");
        let url = cover_url(&first, "/issues/sw/2017/01").await;
        let served = first.get(&url).await.bytes().await.expect("the cover").to_vec();
        assert!(covers.contains(&served), "round {round}: the issue names one of the uploads");
        assert_eq!(second.get(&url).await.bytes().await.expect("the cover").to_vec(), served);
    }

    // The PDF: uploaded through one, downloaded (stamped for a subscriber, whole for staff) through the other.
    let original = two_page_pdf();
    assert_eq!(upload(&first, &token, "/admin/issues/sw-2017-01/pdf", original.clone(), "i.pdf").await.status(), 303);
    let covering = Some((terms::period(2016, 6), terms::period(2017, 5)));
    let reader = reader_with(&second, "digital@example.org", "sw-digital-1y", covering).await;
    let response = reader.get("/issues/sw/2017/01/pdf").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let pages = text_of(&response.bytes().await.expect("the PDF"));
    assert!(pages.len() == 2 && pages[0].contains("Ada Reader"), "{pages:?}");
    // The staff session lives in the database, so the same browser is signed in on both instances.
    let staff_copy = first.client.get(second.url("/admin/issues/sw-2017-01/pdf")).send().await.expect("answered");
    assert_eq!(staff_copy.status(), 200);
    assert_eq!(staff_copy.bytes().await.expect("the PDF").to_vec(), original);
    // Never a public URL: the bucket's key is not served as a cover, and strangers are sent to sign in.
    let pdf_key = sqlx::query_as::<_, (String,)>("SELECT pdf_file FROM issues WHERE sku = 'sw-2017-01'")
        .fetch_one(&first.db.pool)
        .await
        .expect("recorded")
        .0;
    assert_eq!(second.with_new_client().get(&format!("/media/{pdf_key}")).await.status(), 404);
    assert_eq!(second.with_new_client().get("/issues/sw/2017/01/pdf").await.status(), 303);

    assert!(local_files(&first).is_empty() && local_files(&second).is_empty(), "nothing kept on an instance's disk");
    let (keys, open) = bucket_contents(s3, &media).await;
    assert_eq!((keys.len(), open), (18, 0), "one PDF and 17 covers, every one stored whole: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("shop/media/covers/") || k.starts_with("shop/media/pdfs/")), "{keys:?}");
    let (status, body) = second.page("/readyz").await;
    assert!(status == 200 && body.contains("media: ok"), "{body}");
    second.stop().await;
}

mod refused_uploads_leave_nothing_in_the_bucket {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::refused_uploads_leave_nothing_in_the_bucket().await;
    }
}

async fn refused_uploads_leave_nothing_in_the_bucket() {
    let Some(s3) = S3Server::shared() else { return };
    let media = s3.new_location().await;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.media = media.clone()).await.expect("SQLite");
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let path = "/admin/issues/sw-2017-01/cover";

    let mut html = b"<html><script>alert(1)</script>".to_vec();
    html.resize(10_000, b' ');
    assert_eq!(upload(&app, &token, path, html, "cover.png").await.status(), 422, "judged by its bytes");
    // Over 5 MiB: refused after a part has gone up; the multipart upload is aborted.
    let response = upload(&app, &token, path, png(6 * 1024 * 1024 + 10, b'x'), "big.png").await;
    assert_eq!(response.status(), 413);
    assert_eq!(bucket_contents(s3, &media).await, (vec![], 0), "no object and no open upload is left");
    assert_eq!(cover_key(&app, "sw-2017-01").await, None, "the issue is unchanged");

    // The connection drops halfway through a PDF (a part already sent): the upload is aborted.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = std::iter::once(Ok(b"%PDF-1.7\n".to_vec()))
        .chain((0..7).map(|_| Ok(vec![b'x'; 1024 * 1024])))
        .chain(std::iter::once(Err(std::io::Error::other("the line went down"))))
        .collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::stream(body).file_name("i.pdf"));
    let sent =
        app.client.post(app.url(&format!("/admin/issues/sw-2017-01/pdf?csrf_token={token}"))).multipart(form).send();
    assert!(sent.await.is_err(), "the request never completes");
    let started = std::time::Instant::now();
    while bucket_contents(s3, &media).await != (vec![], 0) {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", bucket_contents(s3, &media).await);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (pdf,): (Option<String>,) = sqlx::query_as("SELECT pdf_file FROM issues WHERE sku = 'sw-2017-01'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the issue");
    assert_eq!(pdf, None);

    // A 12 MiB PDF goes up in three parts and comes back byte for byte.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(12 * 1024 * 1024, b'p');
    assert_eq!(upload(&app, &token, "/admin/issues/sw-2017-01/pdf", pdf.clone(), "i.pdf").await.status(), 303);
    let response = app.get("/admin/issues/sw-2017-01/pdf").await;
    assert_eq!(response.headers()["content-length"], pdf.len().to_string().as_str());
    assert!(response.bytes().await.expect("the PDF").to_vec() == pdf, "the PDF comes back whole");
    assert_eq!(bucket_contents(s3, &media).await.1, 0);
}

async fn the_shop_keeps_serving_with_its_storage_down(backend: Backend) {
    let Some(mut s3) = S3Server::start() else { return };
    let media = s3.new_location().await;
    let Some(app) = TestApp::spawn_with(backend, |c| c.media = media.clone()).await else { return };
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let path = "/admin/issues/sw-2017-01/cover";
    assert_eq!(upload(&app, &token, path, png(3000, b'a'), "a.png").await.status(), 303);
    let before = cover_key(&app, "sw-2017-01").await;
    let audited = |app: &TestApp| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_as::<_, (i64,)>("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log")
                .fetch_one(&pool)
                .await
                .expect("n")
                .0
        }
    };
    let audit_before = audited(&app).await;

    s3.stop();
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("media: cannot write to the media store (s3://"), "{body}");
    // Pages still render; the cover is a placeholder that no browser keeps.
    let url = cover_url(&app, "/issues/sw/2017/01").await;
    assert_eq!(app.page("/").await.0, 200);
    let response = app.get(&url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.text().await.expect("SVG").contains("Cover not"));
    // An upload fails with words staff can act on; nothing changes.
    let response = upload(&app, &token, path, png(3000, b'b'), "b.png").await;
    assert_eq!(response.status(), 502);
    let page = crate::support::html_text(&response.text().await.expect("a page"));
    assert!(page.contains("cannot reach its file storage") && page.contains("Nothing was changed"), "{page}");
    assert_eq!(cover_key(&app, "sw-2017-01").await, before);
    assert_eq!(audited(&app).await, audit_before);
    // A subscriber's PDF download says the same, not a blank 500.
    sqlx::query("UPDATE issues SET pdf_file = 'pdfs/sw-2017-01-x.pdf', pdf_free = 1 WHERE sku = 'sw-2017-01'")
        .execute(&app.db.pool)
        .await
        .expect("a PDF recorded");
    assert_eq!(app.get("/issues/sw/2017/01/pdf").await.status(), 502);

    // The storage comes back (empty, as moto keeps nothing): ready again, uploads work again.
    let restarted = S3Server::start_on(s3.port).expect("moto again");
    let masthead::config::MediaLocation::S3(location) = &media else { unreachable!() };
    restarted.create_bucket(&location.bucket).await;
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(upload(&app, &token, path, png(3000, b'c'), "c.png").await.status(), 303);
    let url = cover_url(&app, "/issues/sw/2017/01").await;
    assert_eq!(app.get(&url).await.bytes().await.expect("the cover").to_vec(), png(3000, b'c'));
}

mod media_migrate_copies_checks_and_can_run_again {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::media_migrate_copies_checks_and_can_run_again().await;
    }
}

/// Runs `masthead media migrate --to URL` as an operator would, with the AWS_* variables set.
fn migrate(app: &TestApp, s3: &S3Server, to: &str) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_masthead"))
        .args(["media", "migrate", "--to", to])
        .env("MASTHEAD_DATA_DIR", &app.config.data_dir)
        .env("DATABASE_URL", &app.config.database_url)
        .envs(s3.env())
        .output()
        .expect("the command runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

async fn media_migrate_copies_checks_and_can_run_again() {
    let Some(s3) = S3Server::shared() else { return };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let cover = png(9000, b'm');
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(7 * 1024 * 1024, b'q');
    assert_eq!(upload(&app, &token, "/admin/issues/sw-2017-01/cover", cover.clone(), "c.png").await.status(), 303);
    assert_eq!(upload(&app, &token, "/admin/issues/sw-2017-01/pdf", pdf.clone(), "i.pdf").await.status(), 303);
    assert_eq!(local_files(&app).len(), 2);

    let media = s3.new_location().await;
    let to = media.to_string();
    let (ok, out) = migrate(&app, s3, &to);
    assert!(ok && out.contains("copied 2 files") && out.contains("0 were there already"), "{out}");
    let (ok, out) = migrate(&app, s3, &to);
    assert!(ok && out.contains("copied 0 files") && out.contains("2 were there already"), "run twice: {out}");
    // An object changed in the bucket is found by its checksum and written again.
    let (keys, _) = bucket_contents(s3, &media).await;
    let MediaLocation::S3(location) = &media else { unreachable!() };
    let cover_object = keys.iter().find(|k| k.contains("/covers/")).expect("the cover's object");
    let response = reqwest::Client::new()
        .put(format!("{}/{}/{cover_object}", s3.endpoint(), location.bucket))
        .body(png(9000, b'z'))
        .send()
        .await
        .expect("overwritten");
    assert!(response.status().is_success());
    let (ok, out) = migrate(&app, s3, &to);
    assert!(ok && out.contains("copied 1 files") && out.contains("1 were there already"), "{out}");

    // A shop pointed at the bucket serves what was migrated.
    let mut config = app.config.clone();
    config.media = media.clone();
    config.data_dir = app.config.data_dir.join("on-s3");
    let on_s3 = TestApp::start(config).await;
    let url = cover_url(&on_s3, "/issues/sw/2017/01").await;
    assert_eq!(on_s3.get(&url).await.bytes().await.expect("the cover").to_vec(), cover);
    let staff_copy = app.client.get(on_s3.url("/admin/issues/sw-2017-01/pdf")).send().await.expect("answered");
    assert_eq!(staff_copy.bytes().await.expect("the PDF").to_vec(), pdf);

    // Refused: not an S3 URL; a bucket that is not there (nothing copied, the reason said).
    let (ok, out) = migrate(&app, s3, "/var/backups/media");
    assert!(!ok && out.contains("s3://"), "{out}");
    let (ok, out) = migrate(&app, s3, "s3://no-such-bucket-here/x");
    assert!(!ok && out.to_lowercase().contains("bucket"), "{out}");
    on_s3.stop().await;
}
