//! The digital edition: who may download an issue's PDF.

use masthead::orders::terms;

use crate::{account::ask_for_link, checkout::checkout, on_both_databases, support::TestApp};

on_both_databases!(
    only_readers_whose_digital_term_covers_the_issue_download_its_pdf,
    a_digital_buyer_is_told_how_to_read_the_issues,
    downloads_at_once_each_carry_their_own_readers_stamp,
);

/// A real two-page PDF, as the publisher's layout program would make (smaller).
pub fn two_page_pdf() -> Vec<u8> {
    use lopdf::{
        content::{Content, Operation},
        dictionary, Document, Object, Stream,
    };
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Times-Roman" });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for text in ["Socialist Worker, January 2017", "Resist the ban"] {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 24.into()]),
                Operation::new("Td", vec![72.into(), 700.into()]),
                Operation::new("Tj", vec![Object::string_literal(text)]),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().expect("encoded")));
        kids.push(Object::from(doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        })));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => 2, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("saved");
    bytes
}

pub fn text_of(pdf: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(pdf).expect("a PDF that opens");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    pages.iter().map(|p| doc.extract_text(&[*p]).expect("its text")).collect()
}

/// A browser signed in as a reader who bought `sku` (paid), with the term moved to `first..=last`.
pub async fn reader_with(app: &TestApp, email: &str, sku: &str, term: Option<(i64, i64)>) -> TestApp {
    let browser = app.with_new_client();
    let (status, answer) = checkout(&browser, &[sku], None, email).await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    assert_eq!(browser.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await.status(), 303);
    if let Some((first, last)) = term {
        sqlx::query("UPDATE subscriptions SET first_period = $2, last_period = $3 WHERE order_id = $1")
            .bind(order_id)
            .bind(first)
            .bind(last)
            .execute(&app.db.pool)
            .await
            .expect("moved");
    }
    browser.post_form("/account/logout", &[]).await;
    let link = ask_for_link(&browser, email).await.expect("a link");
    assert_eq!(browser.post_form(&link, &[]).await.status(), 303);
    browser
}

async fn only_readers_whose_digital_term_covers_the_issue_download_its_pdf(app: TestApp) {
    let folder = app.config.data_dir.join("media").join("pdfs");
    std::fs::create_dir_all(&folder).expect("a folder");
    let original = two_page_pdf();
    std::fs::write(folder.join("sw-2017-01-test.pdf"), &original).expect("written");
    sqlx::query("UPDATE issues SET pdf_file = 'pdfs/sw-2017-01-test.pdf' WHERE sku = 'sw-2017-01'")
        .execute(&app.db.pool)
        .await
        .expect("the PDF recorded");
    let pdf = "/issues/sw/2017/01/pdf";
    let covering = Some((terms::period(2016, 6), terms::period(2017, 5)));

    let covered = reader_with(&app, "digital@example.org", "sw-digital-1y", covering).await;
    let response = covered.get(pdf).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["content-disposition"], "attachment; filename=\"sw-2017-01.pdf\"");
    assert_eq!(headers["cache-control"], "private, no-store");
    // Every page is stamped with the reader's name and order number: the publisher's file byte for
    // byte, then an update that adds the stamp. The file on disk is untouched.
    let length: usize = headers["content-length"].to_str().ok().and_then(|l| l.parse().ok()).expect("a length");
    let stamped = response.bytes().await.expect("the PDF");
    assert_eq!(stamped.len(), length);
    assert!(stamped.starts_with(&original) && stamped.len() > original.len());
    let (order_id,): (String,) =
        sqlx::query_as("SELECT order_id FROM subscriptions WHERE email_normalized = 'digital@example.org'")
            .fetch_one(&app.db.pool)
            .await
            .expect("the order");
    let pages = text_of(&stamped);
    assert_eq!(pages.len(), 2);
    for page in &pages {
        assert!(page.contains("Ada Reader") && page.contains(&order_id[..8]), "{page}");
    }
    assert!(pages[1].contains("Resist the ban"), "the issue itself is still there: {}", pages[1]);
    assert_eq!(std::fs::read(folder.join("sw-2017-01-test.pdf")).expect("the original"), original);
    let (_, page) = covered.page("/issues/sw/2017/01").await;
    assert!(page.contains("Download the PDF") && page.contains("Included in your digital subscription"), "{page}");

    // A term that does not cover January 2017, a print term that does, a buyer of a single copy.
    let later = reader_with(&app, "later@example.org", "sw-digital-1y", None).await;
    let print = reader_with(&app, "print@example.org", "sw-print-1y", covering).await;
    let copy = reader_with(&app, "copy@example.org", "sw-2016-12", None).await;
    for (who, browser) in [("later term", &later), ("print", &print), ("single copy", &copy)] {
        let response = browser.get(pdf).await;
        assert_eq!(response.status(), 403, "{who}");
        let (_, page) = browser.page("/issues/sw/2017/01").await;
        assert!(page.contains("do not cover this issue") && !page.contains("Download the PDF"), "{who}: {page}");
    }
    // Nobody signed in: sent to sign in; the page says how to read it.
    let stranger = app.with_new_client();
    let response = stranger.get(pdf).await;
    assert_eq!(
        (response.status().as_u16(), response.headers()["location"].to_str().ok()),
        (303, Some("/account/login"))
    );
    let (_, page) = stranger.page("/issues/sw/2017/01").await;
    assert!(page.contains("Sign in</a> to read it"), "{page}");
    // An issue without a PDF, and nonsense: not found.
    for path in ["/issues/sw/2016/12/pdf", "/issues/sw/2017/13/pdf", "/issues/../../pdf"] {
        assert_eq!(covered.get(path).await.status(), 404, "{path}");
    }

    // An embargo: back issues older than 60 months are free for everyone; without one, they are not.
    let actor = masthead::audit::Actor::command_line();
    masthead::settings::set_pdf_embargo_months(&app.db, Some(60), &actor, masthead::clock::now()).await.expect("set");
    assert_eq!(stranger.get(pdf).await.status(), 200, "January 2017 is more than five years old");
    masthead::settings::set_pdf_embargo_months(&app.db, Some(600), &actor, masthead::clock::now()).await.expect("set");
    assert_eq!(stranger.get(pdf).await.status(), 303, "not yet fifty years old");
    masthead::settings::set_pdf_embargo_months(&app.db, None, &actor, masthead::clock::now()).await.expect("off");
    assert_eq!(stranger.get(pdf).await.status(), 303);

    // Made free by staff: everyone may download it.
    masthead::catalog::editing::set_pdf_free(
        &app.db,
        "sw-2017-01",
        true,
        &masthead::audit::Actor::command_line(),
        masthead::clock::now(),
    )
    .await
    .expect("made free");
    let response = stranger.get(pdf).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.expect("the PDF").as_ref(), original.as_slice(), "a free PDF is not stamped");
    let (_, page) = stranger.page("/issues/sw/2017/01").await;
    assert!(page.contains("free to download for everyone"), "{page}");
}

async fn a_digital_buyer_is_told_how_to_read_the_issues(app: TestApp) {
    let (status, answer) = checkout(&app, &["sw-digital-1y"], None, "pdf@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    assert_eq!(app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await.status(), 303);
    let (_, page) = app.page(&format!("/checkout/success?order={order_id}")).await;
    assert!(page.contains("How to read your digital issues") && page.contains("href=\"/account/login\""), "{page}");
    let (body,): (String,) = sqlx::query_as("SELECT body FROM email_outbox WHERE kind = 'order_confirmation'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the confirmation");
    assert!(
        body.contains("How to read your digital issues") && body.contains("http://shop.test/account/login"),
        "{body}"
    );
    // A print-only order says nothing of PDFs.
    let (_, answer) = checkout(&app.with_new_client(), &["isr-print-1y"], None, "paper@example.org").await;
    let order_id = answer["order_id"].as_str().expect("an id");
    masthead::orders::settle(
        &app.db,
        order_id,
        masthead::orders::Outcome::Paid { amount: 2900, currency: "USD".into(), reference: None },
        masthead::clock::now(),
    )
    .await
    .expect("paid");
    let (body,): (String,) = sqlx::query_as("SELECT body FROM email_outbox WHERE recipient = 'paper@example.org'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the confirmation");
    assert!(!body.contains("digital issues"), "{body}");
}

async fn downloads_at_once_each_carry_their_own_readers_stamp(app: TestApp) {
    let folder = app.config.data_dir.join("media").join("pdfs");
    std::fs::create_dir_all(&folder).expect("a folder");
    std::fs::write(folder.join("rush.pdf"), two_page_pdf()).expect("written");
    sqlx::query("UPDATE issues SET pdf_file = 'pdfs/rush.pdf' WHERE sku = 'sw-2017-01'")
        .execute(&app.db.pool)
        .await
        .expect("the PDF recorded");
    let covering = Some((terms::period(2016, 6), terms::period(2017, 5)));
    let ada = reader_with(&app, "ada@example.org", "sw-digital-1y", covering).await;
    let bo = reader_with(&app, "bo@example.org", "sw-digital-1y", covering).await;
    let mut marks = Vec::new();
    for email in ["ada@example.org", "bo@example.org"] {
        // The checkout helper names every buyer alike: their order numbers tell the copies apart.
        let (order,): (String,) = sqlx::query_as("SELECT order_id FROM subscriptions WHERE email_normalized = $1")
            .bind(email)
            .fetch_one(&app.db.pool)
            .await
            .expect("the order");
        marks.push(format!("(order {})", &order[..8]));
    }
    let (ada_mark, bo_mark) = (&marks[0], &marks[1]);
    // Rounds of downloads released together, the first of them before any copy was stamped.
    for _ in 0..3 {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(16));
        let downloads = (0..16).map(|n| {
            let (reader, mark, other) = if n % 2 == 0 { (&ada, ada_mark, bo_mark) } else { (&bo, bo_mark, ada_mark) };
            let barrier = barrier.clone();
            async move {
                barrier.wait().await;
                let response = reader.get("/issues/sw/2017/01/pdf").await;
                assert_eq!(response.status(), 200);
                let pages = text_of(&response.bytes().await.expect("the PDF"));
                assert_eq!(pages.len(), 2);
                for page in pages {
                    assert!(page.contains(mark.as_str()) && !page.contains(other.as_str()), "{page}");
                }
            }
        });
        futures_util::future::join_all(downloads).await;
    }
    // A new file under a new key (staff replacing the PDF) is stamped from itself, not from the
    // plan of the one before.
    let mut corrected = lopdf::Document::load_mem(&two_page_pdf()).expect("the PDF");
    let info = corrected.add_object(lopdf::dictionary! { "Title" => lopdf::Object::string_literal("Corrected") });
    corrected.trailer.set("Info", info);
    let mut replacement = Vec::new();
    corrected.save_to(&mut replacement).expect("saved");
    std::fs::write(folder.join("rush-corrected.pdf"), &replacement).expect("written");
    sqlx::query("UPDATE issues SET pdf_file = 'pdfs/rush-corrected.pdf' WHERE sku = 'sw-2017-01'")
        .execute(&app.db.pool)
        .await
        .expect("the PDF recorded");
    let copy = ada.get("/issues/sw/2017/01/pdf").await.bytes().await.expect("the PDF");
    assert!(copy.starts_with(&replacement), "the corrected file comes first");
    assert!(text_of(&copy).iter().all(|page| page.contains(ada_mark.as_str())));
}
