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
    click(page, ".checkout-form button[type=submit]").await;
    expect_text(page, "[role=alert]", "Enter an email address").await;
    assert_eq!(orders(&app).await, 0, "a refused checkout places no order");

    for (field, value) in [
        ("#f-email", "rosa@example.org"),
        ("#f-name", "Rosa Reader"),
        ("#f-line1", "1 Main St"),
        ("#f-city", "Chicago"),
        ("#f-region", "IL"),
        ("#f-postal_code", "60601"),
        ("#f-country", "US"),
    ] {
        find(page, field).await.send_keys(value).await.expect("typed");
    }
    click(page, ".checkout-form button[type=submit]").await;
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
    page.goto(&app.url("/account")).await.expect("the account");
    expect_path(page, "/account/login").await;
    find(page, "#f-email").await.send_keys("Rosa@example.org").await.expect("typed");
    click(page, "form[action='/account/login'] button").await;
    expect_text(page, "[role=status]", "a sign-in link is on its way").await;
    let (body,): (String,) = sqlx::query_as("SELECT body FROM email_outbox WHERE kind = 'sign_in_link'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the emailed link");
    let link = body.split_whitespace().find(|w| w.contains("/account/sign-in/")).expect("a link in the email");
    page.goto(link).await.expect("the link");
    click(page, "main form button").await;
    expect_path(page, "/account").await;
    expect_text(page, "main", "International Socialist Review, print edition").await;
    expect_text(page, "main", "16 issues left").await;
    save_screenshot(page, &format!("account-{}", app.db.backend.name())).await;
    click(page, "a[href^='/account/orders/']").await;
    expect_text(page, "main", "Order number").await;
    expect_text(page, ".grand", "$54.00").await;
    save_screenshot(page, &format!("receipt-{}", app.db.backend.name())).await;
    if page.set_window_size(390, 900).await.is_ok() {
        save_screenshot(page, &format!("receipt-{}-390", app.db.backend.name())).await;
    }
    browser.close().await;
}

/// Kept for a person to look at: target/tmp/screenshots/NAME.png.
async fn save_screenshot(page: &Client, name: &str) {
    if let Ok(png) = page.screenshot().await {
        let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        let _ = std::fs::create_dir_all(&folder);
        let _ = std::fs::write(folder.join(format!("{name}.png")), png);
    }
}

async fn find(page: &Client, css: &str) -> Element {
    page.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
}

async fn click(page: &Client, css: &str) {
    find(page, css).await.click().await.unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// A click's page load may still be under way when the driver answers: look until it is there.
async fn expect_text(page: &Client, css: &str, needle: &str) {
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

async fn expect_path(page: &Client, prefix: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        seen = page.current_url().await.expect("a URL").path().to_string();
        if seen.starts_with(prefix) && (prefix.ends_with('/') || seen == prefix) {
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
