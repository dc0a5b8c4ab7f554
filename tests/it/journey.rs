//! A reader's whole journey in a real browser (headless Chromium), in local test mode: the
//! publisher's offer from the front page to the confirmation, as a person would click it.

use std::time::Duration;

use fantoccini::{elements::Element, Client, Locator};

use crate::support::{browser::Browser, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_buys_the_journal_at_half_price_in_a_browser_sqlite() {
    journey(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_buys_the_journal_at_half_price_in_a_browser_postgres() {
    journey(Backend::Postgres).await;
}

async fn journey(backend: Backend) {
    let Some(app) = TestApp::spawn_reachable(backend).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let page = &browser.client;

    page.goto(&app.url("/")).await.expect("the front page");
    expect_text(page, ".test-mode-banner", "TEST MODE").await;
    click(page, "a[href='/subscribe']").await;
    click(page, "form:has(input[value='isr-print-4y']) button").await;
    expect_path(page, "/cart").await;
    expect_text(page, ".grand-total", "$98.00").await;

    // The publisher's code, typed loosely.
    find(page, "#coupon-code").await.send_keys(" Ftr-2016 ").await.expect("typed");
    click(page, ".coupon-form button").await;
    expect_text(page, ".grand-total", "$49.00").await;

    // A back issue in the same cart keeps its price.
    page.goto(&app.url("/issues/sw/2016/12")).await.expect("the issue page");
    let copies = find(page, ".buy-form input[name=quantity]").await;
    copies.clear().await.expect("cleared");
    copies.send_keys("2").await.expect("typed");
    click(page, ".buy-form button").await;
    expect_text(page, ".grand-total", "$54.00").await;

    click(page, "a[href='/checkout']").await;
    expect_path(page, "/checkout").await;
    save_screenshot(page, &format!("checkout-{}", app.db.backend.name())).await;
    click(page, ".pay-row button").await;
    expect_text(page, ".error-summary", "Enter an email address").await;
    assert_eq!(orders(&app).await, 0, "a refused checkout places no order");

    for (field, value) in [
        ("#f-email", "rosa@example.org"),
        ("#f-name", "Rosa Reader"),
        ("#f-line1", "1 Main St"),
        ("#f-city", "Chicago"),
        ("#f-region", "IL"),
        ("#f-postal_code", "60601"),
    ] {
        find(page, field).await.send_keys(value).await.expect("typed");
    }
    choose(page, "#f-country", "US").await;
    click(page, ".pay-row button").await;
    expect_path(page, "/checkout/test-payment/").await;
    expect_text(page, "main", "This is a test payment. No money moves.").await;

    click(page, "form[action$='/pay'] button").await;
    expect_path(page, "/checkout/success").await;
    expect_text(page, "main", "Thank you, Rosa Reader").await;
    expect_text(page, "main", "International Socialist Review, print edition, 4 years: from the").await;
    expect_text(page, ".grand-total", "$54.00").await;

    let (total, status): (i64, String) =
        sqlx::query_as("SELECT total, status FROM orders").fetch_one(&app.db.pool).await.expect("one order");
    assert_eq!((total, status.as_str()), (5400, "paid"));
    let (first, last): (i64, i64) = sqlx::query_as("SELECT first_period, last_period FROM subscriptions")
        .fetch_one(&app.db.pool)
        .await
        .expect("one subscription");
    assert_eq!(last - first, 45, "sixteen quarterly issues, three months apart");

    page.goto(&app.url("/cart")).await.expect("the cart");
    expect_text(page, "main", "Your cart is empty.").await;

    // The paid order signed the buyer in on this browser: the account shows the subscription.
    page.goto(&app.url("/account")).await.expect("the account");
    expect_path(page, "/account").await;
    expect_text(page, ".account-head", "rosa@example.org").await;
    click(page, "form[action='/account/logout'] button").await;
    expect_path(page, "/").await;

    // Later the reader signs in by the link the shop emails, and finds the subscription again.
    sign_in_by_emailed_link(page, &app, "Rosa@example.org").await;
    expect_text(page, "main", "International Socialist Review, print edition").await;
    expect_text(page, "main", "16 issues left").await;
    save_screenshot(page, &format!("account-{}", app.db.backend.name())).await;

    // Rosa moves: the new address applies from the next issue whose mailing list is open.
    click(page, ".address-change summary").await;
    for (field, value) in [("line1", "9 Queen St W"), ("city", "Toronto"), ("region", "ON"), ("postal_code", "M5V 2T6")]
    {
        find(page, &format!(".address-form input[name={field}]")).await.send_keys(value).await.expect("typed");
    }
    choose(page, ".address-form select[name=country]", "CA").await;
    click(page, ".address-form button").await;
    expect_text(page, "[role=status]", "Your new address is saved").await;
    expect_text(page, ".account-card .address", "9 Queen St W, Toronto ON M5V 2T6, CA").await;
    click(page, ".address-change summary").await;
    save_screenshot(page, &format!("account-moved-{}", app.db.backend.name())).await;
    // The way out is there, with its warning; Rosa stays.
    click(page, "a[href='/account/erase']").await;
    expect_text(page, "main", "Your subscriptions stop now").await;
    save_screenshot(page, &format!("erase-{}", app.db.backend.name())).await;
    page.goto(&app.url("/account")).await.expect("the account");
    click(page, "a[href^='/account/orders/']").await;
    expect_text(page, "main", "Order number").await;
    expect_text(page, ".grand", "$54.00").await;
    save_screenshot(page, &format!("receipt-{}", app.db.backend.name())).await;
    if page.set_window_size(390, 900).await.is_ok() {
        save_screenshot(page, &format!("receipt-{}-390", app.db.backend.name())).await;
    }
    browser.close().await;
}

/// The reader asks for a sign-in link, opens it from the outbox and presses Sign in.
async fn sign_in_by_emailed_link(page: &Client, app: &TestApp, email: &str) {
    page.goto(&app.url("/account")).await.expect("the account");
    expect_path(page, "/account/login").await;
    find(page, "#f-email").await.send_keys(email).await.expect("typed");
    click(page, "form[action='/account/login'] button").await;
    expect_text(page, "[role=status]", "a sign-in link is on its way").await;
    let (body,): (String,) = sqlx::query_as(
        "SELECT body FROM email_outbox WHERE kind = 'sign_in_link' AND lower(recipient) = lower($1) \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(email)
    .fetch_one(&app.db.pool)
    .await
    .expect("the emailed link");
    let link = body.split_whitespace().find(|w| w.contains("/account/sign-in/")).expect("a link in the email");
    page.goto(link).await.expect("the link");
    click(page, "main form button").await;
    expect_path(page, "/account").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digital_subscriber_signs_in_and_downloads_an_issue_sqlite() {
    digital_journey(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digital_subscriber_signs_in_and_downloads_an_issue_postgres() {
    digital_journey(Backend::Postgres).await;
}

/// A reader buys the digital edition, the publisher then publishes the term's first issue with its
/// PDF, and the reader (signed out meanwhile) signs in by the emailed link and downloads it.
async fn digital_journey(backend: Backend) {
    let Some(app) = TestApp::spawn_reachable(backend).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let page = &browser.client;

    page.goto(&app.url("/subscribe")).await.expect("the subscribe page");
    click(page, "form:has(input[value='sw-digital-1y']) button").await;
    expect_path(page, "/cart").await;
    click(page, "a[href='/checkout']").await;
    find(page, "#f-email").await.send_keys("dora@example.org").await.expect("typed");
    find(page, "#f-name").await.send_keys("Dora Digital").await.expect("typed");
    click(page, ".pay-row button").await;
    click(page, "form[action$='/pay'] button").await;
    expect_path(page, "/checkout/success").await;
    expect_text(page, "main", "sign in at your account with dora@example.org; we email you a link").await;
    let (first,): (i64,) =
        sqlx::query_as("SELECT first_period FROM subscriptions").fetch_one(&app.db.pool).await.expect("the term");
    page.goto(&app.url("/account")).await.expect("the account");
    click(page, "form[action='/account/logout'] button").await;
    expect_path(page, "/").await;

    // The publisher publishes the term's first issue with its PDF (as the admin's upload stores it).
    let (year, month) = masthead::orders::terms::year_month(first);
    let folder = app.config.data_dir.join("media").join("pdfs");
    std::fs::create_dir_all(&folder).expect("a folder");
    std::fs::write(folder.join("journey.pdf"), crate::digital::two_page_pdf()).expect("written");
    sqlx::query(
        "INSERT INTO issues (sku, publication, year, month, title, summary, pdf_file, currency, published, published_at) \
         VALUES ($1, 'sw', $2, $3, 'Out now', 'The new issue', 'pdfs/journey.pdf', 'USD', 1, 0)",
    )
    .bind(format!("sw-{year:04}-{month:02}"))
    .bind(year)
    .bind(month)
    .execute(&app.db.pool)
    .await
    .expect("published");

    sign_in_by_emailed_link(page, &app, "dora@example.org").await;
    expect_text(page, "main", "Socialist Worker, digital edition").await;
    page.goto(&app.url(&format!("/issues/sw/{year:04}/{month:02}"))).await.expect("the issue page");
    expect_text(page, "#pdf-title", "Read the PDF").await;
    expect_text(page, "main", "Included in your digital subscription").await;
    save_screenshot(page, &format!("issue-with-pdf-{}", app.db.backend.name())).await;
    // The browser would save the file; the same request, with this browser's session, reads it back.
    let href = find(page, "a[href$='/pdf']").await.attr("href").await.expect("an href").expect("a link");
    let cookies = page.get_all_cookies().await.expect("the cookies");
    let cookie = cookies.iter().map(|c| format!("{}={}", c.name(), c.value())).collect::<Vec<_>>().join("; ");
    let response = reqwest::Client::new().get(app.url(&href)).header("cookie", cookie).send().await.expect("the PDF");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.expect("its bytes");
    let pages = crate::digital::text_of(&pdf);
    assert!(pages.iter().all(|p| p.contains("Dora Digital")), "stamped with the reader's name: {pages:?}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_abroad_sees_the_postage_before_paying_sqlite() {
    abroad_journey(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_abroad_sees_the_postage_before_paying_postgres() {
    abroad_journey(Backend::Postgres).await;
}

/// A reader in Germany buys two years of the paper in print: the cart and the checkout say what
/// mailing costs before a country is typed, and the payment page shows the postage line.
async fn abroad_journey(backend: Backend) {
    let Some(app) = TestApp::spawn_reachable(backend).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let page = &browser.client;
    let name = app.db.backend.name();

    page.goto(&app.url("/subscribe")).await.expect("the subscribe page");
    expect_text(page, "#postage", "Rest of the world").await;
    click(page, "form:has(input[value='sw-print-2y']) button").await;
    expect_path(page, "/cart").await;
    expect_text(page, ".postage-estimate", "Your print items are 24 copies mailed").await;
    expect_text(page, ".postage-estimate", "$72.00").await;
    save_screenshot(page, &format!("cart-postage-{name}")).await;
    click(page, "a[href='/checkout']").await;
    expect_text(page, ".order-summary", "Total before postage: $45.00").await;
    for (field, value) in [
        ("#f-email", "gerda@example.org"),
        ("#f-name", "Gerda Leserin"),
        ("#f-line1", "Hauptstraße 1"),
        ("#f-city", "Berlin"),
        ("#f-postal_code", "10115"),
    ] {
        find(page, field).await.send_keys(value).await.expect("typed");
    }
    choose(page, "#f-country", "DE").await;
    save_screenshot(page, &format!("checkout-postage-{name}")).await;
    click(page, ".pay-row button").await;
    expect_path(page, "/checkout/test-payment/").await;
    expect_text(page, ".order-summary", "Postage to Germany: 24 copies at $3.00").await;
    expect_text(page, ".grand-total", "$117.00").await;
    save_screenshot(page, &format!("payment-postage-{name}")).await;
    if page.set_window_size(390, 900).await.is_ok() {
        save_screenshot(page, &format!("payment-postage-{name}-390")).await;
        page.goto(&app.url("/cart")).await.expect("the cart");
        save_screenshot(page, &format!("cart-postage-{name}-390")).await;
    }
    let (charged,): (i64,) =
        sqlx::query_as("SELECT total + postage FROM orders").fetch_one(&app.db.pool).await.expect("one order");
    assert_eq!(charged, 11_700);
    browser.close().await;
}

/// Kept for a person to look at: target/tmp/screenshots/NAME.png.
pub(crate) async fn save_screenshot(page: &Client, name: &str) {
    if let Ok(png) = page.screenshot().await {
        let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        let _ = std::fs::create_dir_all(&folder);
        let _ = std::fs::write(folder.join(format!("{name}.png")), png);
    }
}

pub(crate) async fn find(page: &Client, css: &str) -> Element {
    page.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
}

/// Picks the option with this value in a list.
pub(crate) async fn choose(page: &Client, css: &str, value: &str) {
    find(page, css).await.select_by_value(value).await.unwrap_or_else(|e| panic!("choosing {value} in {css}: {e}"));
}

pub(crate) async fn click(page: &Client, css: &str) {
    find(page, css).await.click().await.unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// A click's page load may still be under way when the driver answers: look until it is there.
pub(crate) async fn expect_text(page: &Client, css: &str, needle: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        if let Ok(element) = page.find(Locator::Css(css)).await {
            seen = element.text().await.unwrap_or_default();
            if seen.contains(needle) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never said {needle:?}; it says: {seen}");
}

pub(crate) async fn expect_path(page: &Client, prefix: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        seen = page.current_url().await.expect("a URL").path().to_string();
        // "/x/" is a prefix; any other path ("/" included) must match exactly.
        let is_prefix = prefix.len() > 1 && prefix.ends_with('/');
        if seen == prefix || (is_prefix && seen.starts_with(prefix)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached {prefix}; it is at {seen}");
}

async fn orders(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(&app.db.pool).await.expect("counted");
    n
}
