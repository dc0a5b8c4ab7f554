//! Accessibility checked by machine: axe-core (from the npm registry, `tests/browser`) injected
//! into every public and admin page in a real browser, at a desktop's and a phone's width. A
//! serious or critical violation fails the test; every violation found is printed.

use fantoccini::Client;

use crate::journey::{choose, click, expect_path, expect_text, find};
use crate::support::{browser::Browser, Backend, TestApp};

/// axe-core's script, installed by `npm install --prefix tests/browser` (which `.ci/run` does).
fn axe_source() -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("axe-core is required when CI=true: run npm install --prefix tests/browser")
        }
        Err(_) => {
            eprintln!("accessibility check skipped: no {} (npm install --prefix tests/browser)", path.display());
            None
        }
    }
}

const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'], rules: { 'label-content-name-mismatch': { enabled: true } } })
  .then(r => done(r.violations.map(v => [v.impact, v.id + ': ' + v.help + ' at ' +
     v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')])))
  .catch(e => done([['critical', 'axe failed: ' + e]]));
"#;

/// The page's violations at both widths, as "impact id: help at targets".
async fn check(page: &Client, axe: &str, label: &str, found: &mut Vec<String>) {
    for width in [1280, 390] {
        page.set_window_size(width, 900).await.expect("a width");
        page.execute(axe, vec![]).await.unwrap_or_else(|e| panic!("injecting axe into {label}: {e}"));
        let result = page.execute_async(RUN_AXE, vec![]).await.unwrap_or_else(|e| panic!("axe on {label}: {e}"));
        for violation in result.as_array().cloned().unwrap_or_default() {
            let impact = violation[0].as_str().unwrap_or("?");
            let what = violation[1].as_str().unwrap_or("?");
            found.push(format!("{impact} · {label} @{width}: {what}"));
        }
    }
    page.set_window_size(1280, 900).await.expect("a width");
}

async fn visit(page: &Client, app: &TestApp, axe: &str, path: &str, found: &mut Vec<String>) {
    page.goto(&app.url(path)).await.unwrap_or_else(|e| panic!("opening {path}: {e}"));
    check(page, axe, path, found).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_at_both_widths() {
    let Some(axe) = axe_source() else { return };
    let Some(app) = TestApp::spawn_reachable(Backend::Sqlite).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let page = &browser.client;
    let mut found = Vec::new();

    for path in [
        "/",
        "/subscribe",
        "/issues",
        "/issues/sw",
        "/issues/sw/2017/01",
        "/issues/isr/2016/12",
        "/branches",
        "/offers/ftr-2016",
        "/contact",
        "/shipping",
        "/refunds",
        "/privacy",
        "/terms",
        "/cart",
        "/gifts/new?sku=sw-print-1y",
        "/account/login",
        "/no-such-page",
        "/checkout/success?order=elsewhere",
    ] {
        visit(page, &app, &axe, path, &mut found).await;
    }

    // A reader's way through: the cart, a failed checkout, the payment page, the receipt, the account.
    page.goto(&app.url("/subscribe")).await.expect("subscribe");
    click(page, "form:has(input[value='isr-print-4y']) button").await;
    expect_path(page, "/cart").await;
    find(page, "#coupon-code").await.send_keys("NOT A CODE").await.expect("typed");
    click(page, ".coupon-form button").await;
    expect_text(page, "#coupon-error", "know the coupon code").await;
    check(page, &axe, "/cart (a refused code)", &mut found).await;
    // A gift beside it: the form with its mistakes, then in the cart; a donation refused.
    page.goto(&app.url("/gifts/new?sku=sw-digital-1y")).await.expect("the gift form");
    click(page, ".gift-form .pay-row button").await;
    expect_text(page, ".error-summary", "Enter the name of the person").await;
    check(page, &axe, "/gifts/new (errors)", &mut found).await;
    find(page, "#f-recipient_name").await.send_keys("Bo").await.expect("typed");
    find(page, "#f-recipient_email").await.send_keys("bo@example.org").await.expect("typed");
    click(page, ".gift-form .pay-row button").await;
    expect_path(page, "/cart").await;
    find(page, "#f-donation").await.send_keys("0").await.expect("typed");
    click(page, ".donation-form .field .field-row button").await;
    expect_text(page, "#e-donation", "at least").await;
    check(page, &axe, "/cart (a gift, a refused donation)", &mut found).await;
    click(page, "a[href='/checkout']").await;
    check(page, &axe, "/checkout", &mut found).await;
    click(page, ".pay-row button").await;
    expect_text(page, ".error-summary", "Enter an email address").await;
    check(page, &axe, "/checkout (errors)", &mut found).await;
    for (field, value) in [("#f-email", "axe@example.org"), ("#f-name", "Ada"), ("#f-line1", "1 Main St")] {
        find(page, field).await.send_keys(value).await.expect("typed");
    }
    find(page, "#f-city").await.send_keys("Chicago").await.expect("typed");
    find(page, "#f-postal_code").await.send_keys("60601").await.expect("typed");
    choose(page, "#f-country", "US").await;
    click(page, ".pay-row button").await;
    expect_path(page, "/checkout/test-payment/").await;
    check(page, &axe, "/checkout/test-payment", &mut found).await;
    click(page, "form[action$='/pay'] button").await;
    expect_path(page, "/checkout/success").await;
    check(page, &axe, "/checkout/success", &mut found).await;
    visit(page, &app, &axe, "/account", &mut found).await;
    click(page, "a[href^='/account/orders/']").await;
    check(page, &axe, "/account/orders/{id}", &mut found).await;
    visit(page, &app, &axe, "/account/erase", &mut found).await;

    // Staff: every admin page.
    crate::admin::add_staff(&app, "boss@example.org", masthead::staff::accounts::Role::Admin).await;
    visit(page, &app, &axe, "/admin/login", &mut found).await;
    find(page, "#email").await.send_keys("boss@example.org").await.expect("typed");
    find(page, "#password").await.send_keys(crate::admin::PASSWORD).await.expect("typed");
    click(page, "form button[type=submit]").await;
    expect_path(page, "/admin").await;
    let (coupon,): (String,) =
        sqlx::query_as("SELECT id FROM coupons").fetch_one(&app.db.pool).await.expect("a coupon");
    let (order,): (String,) = sqlx::query_as("SELECT id FROM orders").fetch_one(&app.db.pool).await.expect("an order");
    for path in [
        "/admin".to_string(),
        "/admin/coupons".into(),
        "/admin/plans".into(),
        "/admin/plans?edit=isr-print-1y".into(),
        "/admin/coupons/new".into(),
        format!("/admin/coupons/{coupon}"),
        format!("/admin/coupons/{coupon}/offer"),
        "/admin/issues".into(),
        "/admin/issues/new".into(),
        "/admin/issues/sw-2017-01".into(),
        "/admin/issues/sw-2017-01/print-run".into(),
        "/admin/orders".into(),
        format!("/admin/orders/{order}"),
        format!("/admin/orders/{order}/refund"),
        "/admin/orders/new".into(),
        "/admin/subscribers".into(),
        "/admin/mailing-list".into(),
        "/admin/readers".into(),
        "/admin/branches".into(),
        "/admin/reports".into(),
        "/admin/import".into(),
        "/admin/postage".into(),
        "/admin/staff".into(),
        "/admin/pages".into(),
        "/admin/pages/refunds".into(),
        "/admin/settings".into(),
        "/admin/audit".into(),
        "/admin/two-factor".into(),
    ] {
        visit(page, &app, &axe, &path, &mut found).await;
    }
    browser.close().await;

    for line in &found {
        eprintln!("axe: {line}");
    }
    let failing: Vec<&String> =
        found.iter().filter(|l| l.starts_with("serious") || l.starts_with("critical")).collect();
    assert!(failing.is_empty(), "{} serious or critical violations:\n{failing:#?}", failing.len());
}
