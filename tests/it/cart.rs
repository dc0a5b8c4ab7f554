//! The cart and its coupons, through the JSON API and the HTML forms.

use masthead::{
    clock,
    coupons::{AppliesTo, NewCoupon},
    money::{Currency, Money},
};
use serde_json::{json, Value};

use crate::{
    on_both_databases,
    support::{new_browser, released_together, save_coupon, test_coupon, TestApp},
};

on_both_databases!(
    the_publishers_offer_halves_the_journal,
    a_coupon_code_is_found_however_it_is_typed,
    every_coupon_problem_has_its_code_and_changes_nothing,
    bad_items_and_quantities_are_refused_and_change_nothing,
    bad_bodies_are_refused_and_change_nothing,
    one_term_per_subscription,
    changing_quantities_and_removing_lines,
    a_coupon_that_stops_applying_is_removed_with_a_notice,
    coupon_guessing_is_slowed_down,
    wrong_codes_sent_at_once_never_get_past_the_limit,
    behind_a_trusted_proxy_each_reader_is_counted_by_their_own_address,
    the_cart_survives_a_restart,
    concurrent_changes_on_one_session_lose_nothing,
    new_visitors_adding_at_once_on_two_instances_each_get_their_own_cart,
    the_html_forms_work_without_javascript,
    html_form_mistakes_show_the_cart_with_the_error,
    the_session_cookie_is_http_only_and_lax,
    carts_expire_after_thirty_days_without_activity,
    a_cart_reads_its_plans_as_they_are_now,
    the_answer_to_a_coupon_is_the_cart_as_it_now_stands,
);

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::Usd)
}

async fn add(app: &TestApp, sku: &str, quantity: i64) -> (u16, Value) {
    app.send_json("POST", "/api/v1/cart/items", json!({"sku": sku, "quantity": quantity})).await
}

fn codes(cart: &Value) -> Vec<String> {
    cart["notices"]
        .as_array()
        .map(|n| n.iter().map(|n| n["code"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

async fn the_publishers_offer_halves_the_journal(app: TestApp) {
    for (sku, total) in [("isr-print-1y", "$14.50"), ("isr-print-2y", "$29.00"), ("isr-print-4y", "$49.00")] {
        let (status, _) = add(&app, sku, 1).await;
        assert_eq!(status, 200);
        let (status, cart) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "ftr 2016"})).await;
        assert_eq!(status, 200, "{cart}");
        assert_eq!(cart["total"]["display"], total, "{sku}");
        assert_eq!(cart["coupon"]["code"], "FTR 2016");
        assert!(
            codes(&cart).contains(&"coupon_confirmed_at_checkout".to_string()),
            "new subscribers only, confirmed at checkout"
        );
        let response = app.client.delete(app.url(&format!("/api/v1/cart/items/{sku}"))).send().await.expect("sent");
        assert_eq!(response.status(), 200);
    }
    // A single issue beside a subscription is not discounted.
    add(&app, "isr-print-4y", 1).await;
    app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR2016"})).await;
    let (_, cart) = add(&app, "sw-2017-01", 2).await;
    let issue =
        cart["items"].as_array().expect("items").iter().find(|i| i["sku"] == "sw-2017-01").cloned().expect("the issue");
    assert_eq!(issue["discount"]["amount"], 0);
    assert_eq!(issue["line_total"]["amount"], 500);
    assert_eq!(cart["subtotal"]["amount"], 10300);
    assert_eq!(cart["discount"]["amount"], 4900);
    assert_eq!(cart["total"], json!({"amount": 5400, "currency": "USD", "display": "$54.00"}));
}

async fn a_coupon_code_is_found_however_it_is_typed(app: TestApp) {
    add(&app, "isr-print-1y", 1).await;
    for typed in ["FTR 2016", "ftr2016", " Ftr-2016 ", "fTr 20-16"] {
        app.client.delete(app.url("/api/v1/cart/coupon")).send().await.expect("sent");
        let (status, cart) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": typed})).await;
        assert_eq!(status, 200, "{typed:?}");
        assert_eq!(cart["total"]["display"], "$14.50", "{typed:?}");
    }
}

/// Applies a code to a cart holding `isr-print-1y`; asserts the error and that the cart did not change.
async fn refused_coupon(app: &TestApp, code: &str, expected: &str) {
    let before = app.cart().await;
    let (status, body) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": code})).await;
    assert_eq!(status, 422, "{code}: {body}");
    assert_eq!(body["error"]["code"], expected, "{code}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.len() > 10), "{code}: a sentence for the reader");
    assert_eq!(app.cart().await, before, "{code}: the cart is unchanged");
}

async fn every_coupon_problem_has_its_code_and_changes_nothing(app: TestApp) {
    let now = clock::now();
    save_coupon(&app, NewCoupon { starts_at: Some(now + 86_400), ..test_coupon("LATER") }).await;
    save_coupon(&app, NewCoupon { ends_at: Some(now - 1), starts_at: Some(now - 86_400), ..test_coupon("GONE") }).await;
    save_coupon(&app, NewCoupon { active: false, ..test_coupon("OFF") }).await;
    save_coupon(&app, NewCoupon { applies_to: AppliesTo::SingleIssues, ..test_coupon("ISSUES") }).await;
    save_coupon(&app, NewCoupon { min_subtotal: Some(usd(5000)), ..test_coupon("BIG") }).await;
    save_coupon(&app, NewCoupon { max_redemptions: Some(1), ..test_coupon("ONCE") }).await;
    sqlx::query("UPDATE coupons SET redemptions_used = 1 WHERE normalized_code = 'ONCE'")
        .execute(&app.db.pool)
        .await
        .expect("used up");

    add(&app, "isr-print-1y", 1).await;
    // With a coupon already applied, a refused code leaves it in place.
    let (status, _) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(status, 200);
    refused_coupon(&app, "NOPE 2016", "unknown_coupon").await;
    refused_coupon(&app, "later", "coupon_not_yet_valid").await;
    refused_coupon(&app, "gone", "coupon_expired").await;
    refused_coupon(&app, "once", "coupon_used_up").await;
    refused_coupon(&app, "off", "coupon_inactive").await;
    refused_coupon(&app, "issues", "coupon_not_applicable").await;
    refused_coupon(&app, "big", "coupon_below_minimum").await;
    refused_coupon(&app, "  ", "empty_coupon_code").await;
    assert_eq!(app.cart().await["coupon"]["code"], "FTR 2016");

    // The same messages in HTML, after a redirect back to the cart (a reload resends nothing):
    // the code stays in its field, marked, with the reason beside it; shown once.
    let response = app.post_form("/cart/coupon", &[("code", "gone <b>")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/cart");
    let page = app.get("/cart").await.text().await.expect("the cart page");
    assert!(page.contains("We don&#x27;t know the coupon code"), "{page}");
    assert!(
        page.contains(r#"value="gone &lt;b&gt;""#)
            && page.contains(r#"aria-invalid="true" aria-describedby="coupon-error"#),
        "{page}"
    );
    let response = app.post_form("/cart/coupon", &[("code", "gone")]).await;
    assert_eq!(response.status(), 303);
    let (_, page) = app.page("/cart").await;
    assert!(page.contains("The coupon GONE expired on"), "{page}");
    let (_, page) = app.page("/cart").await;
    assert!(!page.contains("expired on") && !page.contains("aria-invalid"), "shown once: {page}");
    assert_eq!(app.cart().await["coupon"]["code"], "FTR 2016", "a refused code leaves the applied one");
}

async fn bad_items_and_quantities_are_refused_and_change_nothing(app: TestApp) {
    add(&app, "sw-2016-12", 2).await;
    let before = app.cart().await;
    for (body, status, code) in [
        (json!({"sku": "ISR PRINT", "quantity": 1}), 404, "malformed_sku"),
        (json!({"sku": "../../etc", "quantity": 1}), 404, "malformed_sku"),
        (json!({"sku": "isr-print-3y", "quantity": 1}), 404, "unknown_sku"),
        (json!({"sku": "sw-2031-01", "quantity": 1}), 404, "unknown_sku"),
        (json!({"sku": "sw-2017-01", "quantity": 0}), 422, "quantity_zero"),
        (json!({"sku": "sw-2017-01", "quantity": -2}), 422, "quantity_negative"),
        (json!({"sku": "sw-2017-01", "quantity": 1.5}), 422, "quantity_fractional"),
        (json!({"sku": "sw-2017-01", "quantity": 100}), 422, "quantity_too_high"),
        (json!({"sku": "sw-2017-01", "quantity": "three"}), 422, "quantity_not_a_number"),
        (json!({"sku": "sw-2017-01", "quantity": null}), 422, "quantity_not_a_number"),
        (json!({"sku": "sw-2016-12", "quantity": 98}), 422, "quantity_too_high"),
        (json!({"sku": "isr-print-1y", "quantity": 2}), 422, "quantity_too_high"),
        (json!({"quantity": 1}), 422, "invalid_body"),
    ] {
        let (got, answer) = app.send_json("POST", "/api/v1/cart/items", body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body}");
        assert_eq!(app.cart().await, before, "{body}: the cart is unchanged");
    }
    for (quantity, code) in [
        (json!(-1), "quantity_negative"),
        (json!(2.5), "quantity_fractional"),
        (json!(100), "quantity_too_high"),
        (json!("x"), "quantity_not_a_number"),
    ] {
        let (got, answer) =
            app.send_json("PATCH", "/api/v1/cart/items/sw-2016-12", json!({"quantity": quantity})).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (422, Some(code)), "{quantity}");
        assert_eq!(app.cart().await, before);
    }
    let (got, answer) = app.send_json("PATCH", "/api/v1/cart/items/sw-2017-01", json!({"quantity": 2})).await;
    assert_eq!((got, answer["error"]["code"].as_str()), (404, Some("not_in_cart")));
    let response = app.client.delete(app.url("/api/v1/cart/items/sw-2017-01")).send().await.expect("sent");
    assert_eq!(response.status(), 404);
    assert_eq!(app.cart().await, before);
}

async fn bad_bodies_are_refused_and_change_nothing(app: TestApp) {
    add(&app, "sw-2016-12", 1).await;
    let before = app.cart().await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        let request = app.client.post(app.url("/api/v1/cart/items")).header("content-type", content_type).body(body);
        async move {
            let response = request.send().await.expect("sent");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("the JSON error shape");
            (status, body["error"]["code"].as_str().unwrap_or_default().to_string())
        }
    };
    assert_eq!(post(b"{\"sku\": ".to_vec(), "application/json").await, (400, "malformed_json".into()));
    assert_eq!(
        post(b"sku=sw-2017-01".to_vec(), "application/x-www-form-urlencoded").await,
        (415, "unsupported_media_type".into())
    );
    assert_eq!(post(b"{\"sku\":\"sw-2017-01\"}".to_vec(), "text/plain").await, (415, "unsupported_media_type".into()));
    let huge = format!("{{\"sku\": \"sw-2017-01\", \"padding\": \"{}\"}}", "x".repeat(17 * 1024));
    assert_eq!(post(huge.into_bytes(), "application/json").await, (413, "payload_too_large".into()));
    let response = app
        .client
        .delete(app.url("/api/v1/cart/items/sw-2016-12"))
        .header("content-type", "text/plain")
        .body("please")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 415);
    assert_eq!(app.cart().await, before);
    // Prices come from the catalog only: whatever else a body says is ignored.
    let (_, cart) = app
        .send_json(
            "POST",
            "/api/v1/cart/items",
            json!({"sku": "sw-2017-01", "quantity": 1, "unit_price": 1, "price": {"amount": 1}, "discount": 999}),
        )
        .await;
    let line =
        cart["items"].as_array().expect("items").iter().find(|i| i["sku"] == "sw-2017-01").cloned().expect("added");
    assert_eq!(line["unit_price"]["amount"], 250);
    assert_eq!(cart["discount"]["amount"], 0);
}

async fn one_term_per_subscription(app: TestApp) {
    add(&app, "isr-print-1y", 1).await;
    let before = app.cart().await;
    let (status, body) = add(&app, "isr-print-4y", 1).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "duplicate_subscription");
    assert!(body["error"]["message"].as_str().expect("a message").contains("1 year"));
    assert_eq!(app.cart().await, before);
    // The same plan again is a double click, not a mistake.
    let (status, cart) = add(&app, "isr-print-1y", 1).await;
    assert_eq!(status, 200);
    assert_eq!(codes(&cart), vec!["already_in_cart"]);
    assert_eq!(app.cart().await, before);
    // Other editions and publications are separate subscriptions.
    assert_eq!(add(&app, "sw-print-1y", 1).await.0, 200);
    assert_eq!(add(&app, "sw-digital-2y", 1).await.0, 200);
    assert_eq!(app.cart().await["items"].as_array().expect("items").len(), 3);
}

async fn changing_quantities_and_removing_lines(app: TestApp) {
    add(&app, "sw-2017-01", 1).await;
    let (_, cart) = add(&app, "sw-2017-01", 2).await;
    assert_eq!(cart["items"][0]["quantity"], 3, "adding more copies of an issue adds to its line");
    let (status, cart) = app.send_json("PATCH", "/api/v1/cart/items/sw-2017-01", json!({"quantity": 7})).await;
    assert_eq!(status, 200);
    assert_eq!(cart["items"][0]["quantity"], 7);
    assert_eq!(cart["total"]["display"], "$17.50");
    assert_eq!(cart["item_count"], 7);
    let (status, cart) = app.send_json("PATCH", "/api/v1/cart/items/sw-2017-01", json!({"quantity": 0})).await;
    assert_eq!(status, 200);
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["total"]["amount"], 0);
}

async fn a_coupon_that_stops_applying_is_removed_with_a_notice(app: TestApp) {
    add(&app, "isr-print-1y", 1).await;
    add(&app, "sw-2017-01", 1).await;
    app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    let response = app.client.delete(app.url("/api/v1/cart/items/isr-print-1y")).send().await.expect("sent");
    let cart: Value = response.json().await.expect("the cart");
    assert_eq!(cart["coupon"], Value::Null);
    assert!(codes(&cart).contains(&"coupon_removed".to_string()), "{cart}");
    assert_eq!(cart["total"]["display"], "$2.50");

    // Staff switching a coupon off takes it off carts at their next look.
    add(&app, "isr-print-1y", 1).await;
    app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    sqlx::query("UPDATE coupons SET active = 0").execute(&app.db.pool).await.expect("deactivated");
    let (_, cart) = app.json("/api/v1/cart").await;
    assert_eq!(cart["coupon"], Value::Null);
    let notice = cart["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .find(|n| n["code"] == "coupon_removed")
        .cloned()
        .expect("told why");
    assert!(notice["message"].as_str().expect("text").contains("no longer active"));
    assert_eq!(cart["total"]["display"], "$31.50");
}

async fn coupon_guessing_is_slowed_down(app: TestApp) {
    add(&app, "isr-print-1y", 1).await;
    let before = app.cart().await;
    for i in 0..10 {
        let (status, _) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": format!("GUESS{i}")})).await;
        assert_eq!(status, 422);
    }
    let response =
        app.client.post(app.url("/api/v1/cart/coupon")).json(&json!({"code": "FTR 2016"})).send().await.expect("sent");
    assert_eq!(response.status(), 429);
    let retry_after: i64 = response.headers()["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "too_many_coupon_attempts");
    assert_eq!(app.cart().await, before, "even a good code waits, and the cart is unchanged");

    // Another session from the same address waits too.
    let other = reqwest::Client::builder().cookie_store(true).build().expect("a client");
    let response =
        other.post(app.url("/api/v1/cart/coupon")).json(&json!({"code": "FTR 2016"})).send().await.expect("sent");
    assert_eq!(response.status(), 429);
    // The HTML form says so too.
    let response = app.post_form("/cart/coupon", &[("code", "FTR 2016")]).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

async fn wrong_codes_sent_at_once_never_get_past_the_limit(app: TestApp) {
    add(&app, "isr-print-1y", 1).await;
    for round in 0..3 {
        // Thirty guesses from one session at the same moment: at most ten are even checked.
        let guesses = (0..30)
            .map(|i| {
                let request =
                    app.client.post(app.url("/api/v1/cart/coupon")).json(&json!({"code": format!("GUESS{round}X{i}")}));
                async move { request.send().await.expect("sent").status().as_u16() }
            })
            .collect();
        let statuses = crate::support::released_together(guesses).await;
        let checked = statuses.iter().filter(|&&s| s == 422).count();
        let refused = statuses.iter().filter(|&&s| s == 429).count();
        let expected_checked = if round == 0 { 10 } else { 0 };
        assert_eq!((checked, refused), (expected_checked, 30 - expected_checked), "round {round}: {statuses:?}");
        assert_eq!(app.cart().await["coupon"], Value::Null);
    }
    // The good code waits too, and the cart is as it was.
    let (status, _) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(status, 429);
    assert!(app.cart().await["coupon"].is_null());
}

async fn behind_a_trusted_proxy_each_reader_is_counted_by_their_own_address(app: TestApp) {
    // The shop behind a load balancer on this machine: every request comes from 127.0.0.1.
    let mut config = app.stop().await;
    config.trusted_proxies = masthead::client_address::TrustedProxies::parse("127.0.0.1/32").expect("networks");
    let app = TestApp::start(config.clone()).await;
    let from = |reader: &'static str| {
        let client = crate::support::new_browser();
        let url = app.url("/api/v1/cart/coupon");
        async move {
            let request = client.post(url).header("x-forwarded-for", reader).json(&json!({"code": "NOT A CODE"}));
            request.send().await.expect("sent").status().as_u16()
        }
    };
    // One reader guesses ten times, each time from a new session: their address is locked out...
    for _ in 0..10 {
        assert_eq!(from("198.51.100.1").await, 422);
    }
    assert_eq!(from("198.51.100.1").await, 429);
    // ...and nobody else is, even one who claims the trusted proxy's own address as theirs.
    assert_eq!(from("198.51.100.2").await, 422);
    assert_eq!(from("6.6.6.6, 198.51.100.3").await, 422, "the right-most untrusted hop is the client");
    app.stop().await;

    // Without the setting the header is not believed: every reader is the balancer's address.
    config.trusted_proxies = Default::default();
    let app = TestApp::start(config).await;
    let claims = [
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.3",
        "203.0.113.4",
        "203.0.113.5",
        "203.0.113.6",
        "203.0.113.7",
        "203.0.113.8",
        "203.0.113.9",
        "203.0.113.10",
        "203.0.113.11",
    ];
    let mut statuses = Vec::new();
    for claimed in claims {
        let client = crate::support::new_browser();
        let request = client
            .post(app.url("/api/v1/cart/coupon"))
            .header("x-forwarded-for", claimed)
            .json(&json!({"code": "NOT A CODE"}));
        statuses.push(request.send().await.expect("sent").status().as_u16());
    }
    assert_eq!(
        statuses,
        [422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 429],
        "a forged header does not reset the count"
    );
}

async fn the_cart_survives_a_restart(app: TestApp) {
    add(&app, "isr-print-2y", 1).await;
    add(&app, "sw-2016-12", 3).await;
    app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "ftr-2016"})).await;
    let before = app.cart().await;
    let client = app.client.clone();
    let config = app.stop().await;
    let mut app = TestApp::start(config).await;
    app.client = client;
    let after = app.cart().await;
    assert_eq!(after, before);
    assert_eq!(after["total"]["display"], "$36.50");
}

async fn concurrent_changes_on_one_session_lose_nothing(app: TestApp) {
    // Open the session (and its cart) first: concurrency is about one session.
    add(&app, "sw-2017-01", 1).await;
    app.client.delete(app.url("/api/v1/cart/items/sw-2017-01")).send().await.expect("sent");
    let (_, issues) = app.json("/api/v1/issues?publication=sw").await;
    let skus: Vec<String> = issues
        .as_array()
        .expect("issues")
        .iter()
        .take(20)
        .map(|i| i["sku"].as_str().expect("a sku").to_string())
        .collect();
    assert_eq!(skus.len(), 20);
    let adds = skus.iter().map(|sku| {
        let request = app.client.post(app.url("/api/v1/cart/items")).json(&json!({"sku": sku, "quantity": 1}));
        async move { request.send().await.expect("sent").status().as_u16() }
    });
    let statuses = futures_join_all(adds).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let cart = app.cart().await;
    let mut in_cart: Vec<String> =
        cart["items"].as_array().expect("items").iter().map(|i| i["sku"].as_str().expect("sku").to_string()).collect();
    in_cart.sort();
    let mut expected = skus.clone();
    expected.sort();
    assert_eq!(in_cart, expected, "all 20 lines are there");

    let changes = (1..=10).map(|quantity| {
        let request =
            app.client.patch(app.url(&format!("/api/v1/cart/items/{}", skus[0]))).json(&json!({"quantity": quantity}));
        async move { request.send().await.expect("sent").status().as_u16() }
    });
    let statuses = futures_join_all(changes).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let cart = app.cart().await;
    let lines: Vec<&Value> =
        cart["items"].as_array().expect("items").iter().filter(|i| i["sku"] == skus[0].as_str()).collect();
    assert_eq!(lines.len(), 1);
    let quantity = lines[0]["quantity"].as_i64().expect("a number");
    assert!((1..=10).contains(&quantity), "one of the quantities sent: {quantity}");
    assert_eq!(cart["items"].as_array().expect("items").len(), 20);
}

/// New visitors add to their carts at once, half of them through each of two instances on one
/// database (on SQLite, two processes' worth of writers, each instance's own turns, meeting at
/// SQLite's lock): every one gets a session and a cart of their own holding exactly what they
/// added, which the other instance shows them too.
async fn new_visitors_adding_at_once_on_two_instances_each_get_their_own_cart(here: TestApp) {
    let there = TestApp::start(here.config.clone()).await;
    let count = |table: &'static str| {
        let pool = here.db.pool.clone();
        let sql = format!("SELECT COUNT(*) FROM {table}");
        async move { sqlx::query_as::<_, (i64,)>(&sql).fetch_one(&pool).await.expect("a count").0 }
    };
    // Each store's own table.
    let sessions = match here.db.backend {
        masthead::db::Backend::Sqlite => "tower_sessions",
        masthead::db::Backend::Postgres => "tower_sessions.session",
    };
    let (carts_before, sessions_before) = (count("carts").await, count(sessions).await);
    const VISITORS: usize = 16;
    const ROUNDS: usize = 3;
    for round in 0..ROUNDS {
        let visitors: Vec<(reqwest::Client, &TestApp, &TestApp, &str)> = (0..VISITORS)
            .map(|i| {
                let (add_at, look_at) = if i % 2 == 0 { (&here, &there) } else { (&there, &here) };
                let sku = ["sw-print-1y", "isr-print-2y", "sw-2017-01", "sw-digital-4y"][(i + round) % 4];
                (new_browser(), add_at, look_at, sku)
            })
            .collect();
        let adds = visitors
            .iter()
            .map(|(browser, add_at, _, sku)| {
                let request = browser.post(add_at.url("/api/v1/cart/items")).json(&json!({"sku": sku}));
                async move { request.send().await.expect("answered").status().as_u16() }
            })
            .collect();
        let statuses = released_together(adds).await;
        assert!(statuses.iter().all(|&s| s == 200), "round {round}: {statuses:?}");
        for (browser, _, look_at, sku) in &visitors {
            let cart: Value =
                browser.get(look_at.url("/api/v1/cart")).send().await.expect("answered").json().await.expect("JSON");
            let skus: Vec<&str> =
                cart["items"].as_array().expect("items").iter().filter_map(|i| i["sku"].as_str()).collect();
            assert_eq!(skus, vec![*sku], "round {round}: each visitor's own line, seen on the other instance");
        }
    }
    let added = (VISITORS * ROUNDS) as i64;
    assert_eq!(count("carts").await, carts_before + added, "a cart each");
    assert_eq!(count(sessions).await, sessions_before + added, "a session each");
}

/// Runs the futures concurrently on the test's runtime and collects their outputs in order.
async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("the request task"));
    }
    out
}

async fn the_html_forms_work_without_javascript(app: TestApp) {
    let (_, page) = app.page("/subscribe").await;
    assert!(page.contains("action=\"/cart/items\"") && page.contains("value=\"isr-print-4y\""));
    let (_, page) = app.page("/issues/sw/2017/01").await;
    assert!(page.contains("action=\"/cart/items\"") && page.contains("value=\"sw-2017-01\""));

    let response = app.post_form("/cart/items", &[("sku", "isr-print-4y")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/cart");
    let (status, page) = app.page("/cart").await;
    assert_eq!(status, 200);
    assert!(page.contains("Added International Socialist Review, print edition, 4 years to your cart."));
    assert!(page.contains("$98.00"));
    assert!(page.contains("<span class=\"cart-count\">1</span>"), "the header counts the cart");

    app.post_form("/cart/items", &[("sku", "sw-2016-12"), ("quantity", "2")]).await;
    let response = app.post_form("/cart/coupon", &[("code", "ftr 2016")]).await;
    assert_eq!(response.status(), 303);
    let (_, page) = app.page("/cart").await;
    assert!(page.contains("Coupon FTR 2016 applied"));
    assert!(page.contains("we'll confirm it at checkout"));
    assert!(page.contains("$54.00"), "$49.00 for ISR plus two copies at $2.50");

    app.post_form("/cart/items/sw-2016-12", &[("quantity", "4")]).await;
    assert_eq!(app.cart().await["total"]["display"], "$59.00");
    app.post_form("/cart/items/sw-2016-12/remove", &[]).await;
    app.post_form("/cart/coupon/remove", &[]).await;
    let cart = app.cart().await;
    assert_eq!(cart["total"]["display"], "$98.00");
    assert_eq!(cart["coupon"], Value::Null);
    // The flash messages are shown once.
    app.page("/cart").await;
    let (_, page) = app.page("/cart").await;
    assert!(!page.contains("Coupon removed."));
}

async fn html_form_mistakes_show_the_cart_with_the_error(app: TestApp) {
    app.post_form("/cart/items", &[("sku", "sw-2016-12")]).await;
    let before = app.cart().await;
    for (path, fields, status, says) in [
        ("/cart/items", vec![("sku", "sw-2099-01")], 404, "We don't sell that item"),
        ("/cart/items", vec![("sku", "sw-2017-01"), ("quantity", "0")], 422, "Add at least one copy."),
        ("/cart/items", vec![("sku", "sw-2017-01"), ("quantity", "lots")], 422, "A quantity must be a number"),
        ("/cart/items/sw-2016-12", vec![("quantity", "-3")], 422, "A quantity cannot be negative."),
    ] {
        let response = app.post_form(path, &fields).await;
        assert_eq!(response.status(), status, "{path} {fields:?}");
        let page = crate::support::html_text(&response.text().await.expect("a page"));
        assert!(page.contains(says) && page.contains("<h1>Your cart</h1>"), "{path} {fields:?}: {page}");
        assert_eq!(app.cart().await, before, "{path} {fields:?}");
    }
    let response = app
        .client
        .post(app.url("/cart/items"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 415);
}

async fn the_session_cookie_is_http_only_and_lax(app: TestApp) {
    let response = app.post_form("/cart/items", &[("sku", "sw-2016-12")]).await;
    let cookie = response.headers()["set-cookie"].to_str().expect("text").to_string();
    assert!(cookie.starts_with("masthead_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "not Secure when the shop is on http: {cookie}");
    assert!(cookie.contains("Max-Age=") || cookie.contains("Expires="), "{cookie}");
}

async fn carts_expire_after_thirty_days_without_activity(app: TestApp) {
    add(&app, "sw-2016-12", 1).await;
    sqlx::query("UPDATE carts SET updated_at = updated_at - 31 * 24 * 3600").execute(&app.db.pool).await.expect("aged");
    assert_eq!(app.cart().await["items"], json!([]));
    add(&app, "sw-2017-01", 1).await;
    assert_eq!(app.cart().await["items"].as_array().expect("items").len(), 1, "a fresh cart, without the old line");
    sqlx::query("UPDATE carts SET updated_at = updated_at - 31 * 24 * 3600").execute(&app.db.pool).await.expect("aged");
    let purged = masthead::cart::purge_abandoned_carts(&app.db, clock::now()).await.expect("purged");
    assert_eq!(purged, 1);
}

/// A cart's lines are read with their plans in one statement: a plan's new price shows at once, a
/// plan taken off sale leaves the cart with a notice, and a back issue beside it is untouched.
async fn a_cart_reads_its_plans_as_they_are_now(app: TestApp) {
    add(&app, "isr-print-2y", 1).await;
    add(&app, "sw-2016-12", 2).await;
    let line = |cart: &Value, sku: &str| {
        cart["items"].as_array().expect("items").iter().find(|i| i["sku"] == sku).cloned().unwrap_or(Value::Null)
    };
    let cart = app.json("/api/v1/cart").await.1;
    assert_eq!(line(&cart, "isr-print-2y")["unit_price"]["amount"], 5800, "{cart}");
    sqlx::query("UPDATE plans SET price_amount = 6000 WHERE sku = 'isr-print-2y'")
        .execute(&app.db.pool)
        .await
        .expect("a new price");
    let cart = app.json("/api/v1/cart").await.1;
    assert_eq!(line(&cart, "isr-print-2y")["unit_price"]["amount"], 6000, "{cart}");
    assert_eq!(codes(&cart), Vec::<String>::new());
    sqlx::query("UPDATE plans SET active = 0 WHERE sku = 'isr-print-2y'")
        .execute(&app.db.pool)
        .await
        .expect("off sale");
    let cart = app.json("/api/v1/cart").await.1;
    assert_eq!(codes(&cart), vec!["item_unavailable"], "{cart}");
    assert_eq!(line(&cart, "isr-print-2y"), Value::Null, "{cart}");
    assert_eq!(line(&cart, "sw-2016-12")["quantity"], 2, "{cart}");
    let cart = app.json("/api/v1/cart").await.1;
    assert_eq!(cart["items"].as_array().map(Vec::len), Some(1), "removed for good: {cart}");
    assert_eq!(codes(&cart), Vec::<String>::new());
}

/// Applying a code answers the cart priced with it (from the lines it was checked against, not
/// read again): the same cart, total and version as reading the cart afterwards, so a checkout
/// sent with that version is placed. A cart with a plan, a back issue, a gift and a donation.
async fn the_answer_to_a_coupon_is_the_cart_as_it_now_stands(app: TestApp) {
    let reader = app.with_new_client();
    for sku in ["isr-print-1y", "sw-2017-01"] {
        assert_eq!(reader.send_json("POST", "/api/v1/cart/items", json!({"sku": sku})).await.0, 200);
    }
    let gift = crate::gifts::gift_fields("sw-print-1y", &[]);
    assert_eq!(reader.post_form("/cart/gifts", &gift).await.status(), 303);
    assert_eq!(reader.send_json("PUT", "/api/v1/cart/donation", json!({"amount": "7.50"})).await.0, 200);

    let (status, mut applied) = reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "ftr 2016"})).await;
    assert_eq!(status, 200, "{applied}");
    let notices = applied.as_object_mut().and_then(|o| o.remove("notices")).unwrap_or_default();
    assert!(notices.to_string().contains("coupon_applied"), "{notices}");
    let mut read = reader.cart().await;
    read.as_object_mut().map(|o| o.remove("notices"));
    assert_eq!(applied, read, "the answer is the cart as read afterwards");
    assert_eq!(applied["items"].as_array().map(Vec::len), Some(3), "{applied}");
    assert!(applied["discount"]["amount"].as_i64().is_some_and(|d| d > 0), "{applied}");

    let body = json!({"cart_version": applied["version"], "email": "answer@example.org", "name": "Ada Reader",
        "shipping_address": crate::checkout::address()});
    let (status, order) = reader.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!(status, 201, "{order}");
}
