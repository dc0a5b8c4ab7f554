//! The storefront as a careful buyer meets it in a real browser: a checkout that forgives
//! mistakes and notices a cart changed in another tab.

use fantoccini::{Client, Locator};

use crate::journey::{choose, click, expect_path, expect_text, find, save_screenshot};
use crate::support::{browser::Browser, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_checkout_keeps_what_was_typed_and_says_what_to_fix_sqlite() {
    forgiving_checkout(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_checkout_keeps_what_was_typed_and_says_what_to_fix_postgres() {
    forgiving_checkout(Backend::Postgres).await;
}

async fn attribute(page: &Client, css: &str, name: &str) -> String {
    find(page, css).await.attr(name).await.expect("an attribute").unwrap_or_default()
}

async fn value(page: &Client, css: &str) -> String {
    find(page, css).await.prop("value").await.expect("a value").unwrap_or_default()
}

async fn script(page: &Client, code: &str) -> serde_json::Value {
    page.execute(code, vec![]).await.unwrap_or_else(|e| panic!("running {code}: {e}"))
}

async fn orders(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(&app.db.pool).await.expect("counted");
    n
}

async fn forgiving_checkout(backend: Backend) {
    let Some(app) = TestApp::spawn_reachable(backend).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let page = &browser.client;
    let name = app.db.backend.name();

    page.goto(&app.url("/subscribe")).await.expect("the subscribe page");
    click(page, "form:has(input[value='sw-print-1y']) button").await;
    expect_path(page, "/cart").await;
    click(page, "a[href='/checkout']").await;
    expect_path(page, "/checkout").await;
    assert_eq!(value(page, "#f-country").await, "US", "the shop's own country is chosen to start with");

    // At a phone's width first: a mistaken submit focuses the summary there too.
    page.set_window_size(390, 900).await.expect("a phone's width");
    click(page, ".pay-row button").await;
    expect_text(page, ".error-summary", "Enter an email address").await;
    assert_eq!(script(page, "return document.activeElement.id").await, "error-summary", "at 390 px");
    save_screenshot(page, &format!("checkout-errors-{name}-390")).await;
    page.set_window_size(1280, 900).await.expect("a desktop's width");

    // A mistyped email, a name, and no address at all (not even a country).
    find(page, "#f-email").await.send_keys("ada.example.org").await.expect("typed");
    find(page, "#f-name").await.send_keys("Ada Lovelace").await.expect("typed");
    choose(page, "#f-country", "").await;
    click(page, ".pay-row button").await;
    expect_text(page, ".error-summary", "Print copies need a mailing address").await;
    assert_eq!(orders(&app).await, 0, "a refused checkout places no order");
    assert_eq!(
        script(page, "return document.activeElement.id").await,
        "error-summary",
        "focus moves to the error summary"
    );
    let links: Vec<String> = {
        let mut hrefs = Vec::new();
        for link in page.find_all(Locator::Css(".error-summary a")).await.expect("links") {
            hrefs.push(link.attr("href").await.expect("href").unwrap_or_default());
        }
        hrefs
    };
    assert_eq!(links, ["#f-email", "#f-line1"], "each entry links to its field");
    assert_eq!(value(page, "#f-email").await, "ada.example.org", "what was typed stays");
    assert_eq!(value(page, "#f-name").await, "Ada Lovelace");
    assert_eq!(attribute(page, "#f-email", "aria-invalid").await, "true");
    assert_eq!(attribute(page, "#f-email", "aria-describedby").await, "e-email");
    assert_eq!(attribute(page, "#f-name", "aria-invalid").await, "", "a good field is not marked");
    for field in ["#f-line1", "#f-city", "#f-postal_code", "#f-country"] {
        assert_eq!(attribute(page, field, "aria-invalid").await, "true", "{field} is marked");
        assert_eq!(attribute(page, field, "aria-describedby").await, "e-shipping_address", "{field} says why");
    }
    assert_eq!(attribute(page, "#f-line2", "aria-invalid").await, "", "an optional field is not marked");
    save_screenshot(page, &format!("checkout-errors-{name}")).await;

    // Fixed, but meanwhile another tab adds a back issue: the order is not placed unseen.
    let email = find(page, "#f-email").await;
    email.clear().await.expect("cleared");
    email.send_keys("ada@example.org").await.expect("typed");
    for (field, text) in [("#f-line1", "12 St James's Square"), ("#f-city", "London"), ("#f-postal_code", "SW1Y 4JH")] {
        find(page, field).await.send_keys(text).await.expect("typed");
    }
    choose(page, "#f-country", "GB").await;
    let checkout_tab = page.window().await.expect("this tab");
    let other_tab = page.new_window(true).await.expect("another tab");
    page.switch_to_window(other_tab.handle).await.expect("switched");
    page.goto(&app.url("/issues/sw/2016/12")).await.expect("an issue page");
    click(page, ".buy-form button").await;
    expect_path(page, "/cart").await;
    page.close_window().await.expect("closed");
    page.switch_to_window(checkout_tab).await.expect("back");
    click(page, ".pay-row button").await;
    expect_text(page, ".error-summary", "Your cart changed since this page was shown").await;
    expect_text(page, ".order-summary", "Socialist Worker, December 2016").await;
    assert_eq!(orders(&app).await, 0, "no order for a cart the reader has not seen");
    assert_eq!(value(page, "#f-city").await, "London", "what was typed stays");
    assert_eq!(value(page, "#f-country").await, "GB");

    // On a phone the total comes before the button, and nothing scrolls sideways.
    page.set_window_size(390, 900).await.expect("a phone's width");
    let total_above_button = script(
        page,
        "return document.querySelector('.order-summary .grand-total').getBoundingClientRect().bottom \
         <= document.querySelector('.pay-row button').getBoundingClientRect().top",
    )
    .await;
    assert_eq!(total_above_button, true, "the total is read before the button");
    let wide = script(
        page,
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > \
         document.documentElement.clientWidth + 1).map(e => e.tagName + '.' + e.className + '#' + e.id)",
    )
    .await;
    assert_eq!(wide, serde_json::json!([]), "nothing on the page is wider than a phone");
    save_screenshot(page, &format!("checkout-changed-{name}-390")).await;
    page.set_window_size(1280, 900).await.expect("a desktop's width");

    // Now seen, the order goes through with both items.
    click(page, ".pay-row button").await;
    expect_path(page, "/checkout/test-payment/").await;
    expect_text(page, ".order-summary", "Socialist Worker, December 2016").await;
    assert_eq!(orders(&app).await, 1);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_facts_shown_are_the_order_placed_sqlite() {
    plan_facts_match_the_order(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_facts_shown_are_the_order_placed_postgres() {
    plan_facts_match_the_order(Backend::Postgres).await;
}

/// Next month's issue is already out, so a subscription bought now starts the month after: the
/// subscribe page, the cart and the checkout say so, and the order settles so.
async fn plan_facts_match_the_order(backend: Backend) {
    use masthead::{clock, orders::terms};
    let Some(app) = TestApp::spawn_reachable(backend).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let page = &browser.client;
    let name = app.db.backend.name();
    let next = terms::period_at(clock::now()) + 1;
    let (year, month) = terms::year_month(next);
    sqlx::query(
        "INSERT INTO issues (sku, publication, year, month, title, summary, price_amount, currency, published) \
         VALUES ($1, 'sw', $2, $3, 'Early', 'Out ahead of its month', 250, 'USD', 1)",
    )
    .bind(format!("sw-{year:04}-{month:02}"))
    .bind(year)
    .bind(month)
    .execute(&app.db.pool)
    .await
    .expect("an issue out early");
    let (first, last) = (terms::describe(next + 1), terms::describe(next + 12));
    let expected = format!("12 issues, {first} to {last}");

    for width in [390, 1280] {
        page.set_window_size(width, 900).await.expect("a width");
        page.goto(&app.url("/subscribe")).await.expect("the subscribe page");
        expect_text(page, "#sw-print-1y", &expected).await;
        expect_text(page, "#sw-print-1y", "$2.08 an issue").await;
        expect_text(page, "#sw .edition .starts", &format!("your first issue is {first}")).await;
        save_screenshot(page, &format!("subscribe-facts-{name}-{width}")).await;
    }
    // Longer terms are said to save only where they do: two years of the journal cost what one does.
    expect_text(page, "#isr-print-4y .saving", "save $4.50 a year").await;
    assert!(page.find(Locator::Css("#isr-print-2y .saving")).await.is_err(), "no saving claimed for 2 years");

    click(page, "form:has(input[value='sw-print-1y']) button").await;
    expect_path(page, "/cart").await;
    expect_text(page, ".cart-table", &expected).await;
    click(page, "a[href='/checkout']").await;
    expect_text(page, ".order-summary", &expected).await;
    for (field, text) in [("#f-email", "facts@example.org"), ("#f-name", "Fay Facts"), ("#f-line1", "1 Main St")] {
        find(page, field).await.send_keys(text).await.expect("typed");
    }
    find(page, "#f-city").await.send_keys("Chicago").await.expect("typed");
    find(page, "#f-postal_code").await.send_keys("60601").await.expect("typed");
    click(page, ".pay-row button").await;
    click(page, "form[action$='/pay'] button").await;
    expect_path(page, "/checkout/success").await;
    let (first_period, last_period): (i64, i64) = sqlx::query_as("SELECT first_period, last_period FROM subscriptions")
        .fetch_one(&app.db.pool)
        .await
        .expect("one subscription");
    assert_eq!((terms::describe(first_period), terms::describe(last_period)), (first, last));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offer_page_button_applies_the_code_sqlite() {
    offer_journey(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offer_page_button_applies_the_code_postgres() {
    offer_journey(Backend::Postgres).await;
}

/// From the home page's offer to a cart with the plan and the code, at a phone's width and a
/// desktop's.
async fn offer_journey(backend: Backend) {
    let Some(app) = TestApp::spawn_reachable(backend).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let page = &browser.client;
    let name = app.db.backend.name();
    for (width, sku, total) in [(390, "isr-print-1y", "$14.50"), (1280, "isr-print-4y", "$49.00")] {
        page.set_window_size(width, 900).await.expect("a width");
        page.goto(&app.url("/")).await.expect("the home page");
        click(page, ".featured-offer a[href='/offers/ftr-2016']").await;
        expect_path(page, "/offers/ftr-2016").await;
        expect_text(page, &format!("#{sku}"), "Add to cart").await;
        save_screenshot(page, &format!("offer-{name}-{width}")).await;
        click(page, &format!("#{sku} button")).await;
        expect_path(page, "/cart").await;
        expect_text(page, ".coupon", "FTR 2016").await;
        expect_text(page, ".grand-total", total).await;
        // The price per issue is of what the reader pays: $14.50 for 4 issues, $49 for 16.
        expect_text(page, ".line-facts", if width == 390 { "$3.63 an issue" } else { "$3.06 an issue" }).await;
        save_screenshot(page, &format!("offer-cart-{name}-{width}")).await;
        if width == 390 {
            click(page, &format!("form[action='/cart/items/{sku}/remove'] button")).await;
            expect_text(page, "main", "Your cart is empty").await;
        }
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_pages_are_a_click_away_from_every_page_sqlite() {
    policy_pages_from_the_footer(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_pages_are_a_click_away_from_every_page_postgres() {
    policy_pages_from_the_footer(Backend::Postgres).await;
}

async fn policy_pages_from_the_footer(backend: Backend) {
    let Some(app) = TestApp::spawn_reachable(backend).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let page = &browser.client;
    let name = app.db.backend.name();
    for (width, from, link, heading) in [
        (390, "/subscribe", "/refunds", "Refunds and cancellations"),
        (1280, "/issues/sw/2017/01", "/privacy", "Privacy"),
    ] {
        page.set_window_size(width, 900).await.expect("a width");
        page.goto(&app.url(from)).await.expect("a page");
        click(page, &format!(".site-footer a[href='{link}']")).await;
        expect_path(page, link).await;
        expect_text(page, "h1", heading).await;
        save_screenshot(page, &format!("policy-{name}-{width}")).await;
    }
    // And from the checkout page, before paying.
    page.goto(&app.url("/subscribe")).await.expect("subscribe");
    click(page, "form:has(input[value='sw-digital-1y']) button").await;
    click(page, "a[href='/checkout']").await;
    click(page, ".checkout-side a[href='/terms']").await;
    expect_text(page, "h1", "Terms of sale").await;
    browser.close().await;
}
