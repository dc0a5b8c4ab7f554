//! Checkout in local test mode (no Stripe keys): orders, coupon reservations, fulfilment, email.

use masthead::{
    clock,
    coupons::{AppliesTo, CouponValue, NewCoupon},
    money::{Currency, Money},
};
use serde_json::{json, Value};

use crate::{
    on_both_databases,
    support::{save_coupon, test_coupon, uses_of, TestApp},
};

on_both_databases!(
    local_test_mode_sells_end_to_end_through_the_pages,
    every_page_says_test_mode,
    checkout_refuses_what_it_cannot_sell_and_places_no_order,
    a_digital_only_cart_needs_no_address,
    a_full_discount_is_fulfilled_without_payment,
    the_order_is_a_snapshot_of_the_cart,
    cancelling_releases_the_coupon_and_keeps_the_cart,
    new_subscribers_only_and_per_reader_limits_are_checked_at_checkout,
    a_renewal_starts_after_the_running_term,
    orders_are_shown_only_to_the_session_that_placed_them,
    a_limited_coupon_is_never_redeemed_beyond_its_limit,
    a_coupon_that_no_longer_applies_is_removed_on_the_checkout_page_keeping_what_was_typed,
    a_cart_changed_between_its_pricing_and_its_order_is_not_ordered,
);

pub fn address() -> Value {
    json!({"line1": "1 Main St", "city": "Chicago", "region": "IL", "postal_code": "60601", "country": "us"})
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

/// Puts the SKUs (and the coupon) in the cart and checks out through the API.
pub async fn checkout(app: &TestApp, skus: &[&str], coupon: Option<&str>, email: &str) -> (u16, Value) {
    for sku in skus {
        let (status, body) = app.send_json("POST", "/api/v1/cart/items", json!({"sku": sku})).await;
        assert_eq!(status, 200, "{sku}: {body}");
    }
    if let Some(code) = coupon {
        let (status, body) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": code})).await;
        assert_eq!(status, 200, "{body}");
    }
    app.send_json(
        "POST",
        "/api/v1/checkout",
        json!({"email": email, "name": "Ada Reader", "shipping_address": address()}),
    )
    .await
}

/// The issue period after this month's, as "Month YYYY".
fn next_month_label() -> String {
    let now = time::OffsetDateTime::now_utc();
    let (year, month) = if now.month() as u8 == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() as u8 + 1) };
    format!("{} {year}", masthead::catalog::month_name(month as i64))
}

/// Publishes this month's Socialist Worker, so the next issue is next month's.
async fn publish_this_months_issue(app: &TestApp) {
    let now = time::OffsetDateTime::now_utc();
    sqlx::query(
        "INSERT INTO issues (sku, publication, year, month, title, summary, price_amount, currency, published, published_at) \
         VALUES ($1, 'sw', $2, $3, 'This month', 'Out now', 250, 'USD', 1, $4)",
    )
    .bind(format!("sw-{:04}-{:02}", now.year(), now.month() as u8))
    .bind(now.year() as i64)
    .bind(now.month() as u8 as i64)
    .bind(clock::now())
    .execute(&app.db.pool)
    .await
    .expect("this month's issue");
}

async fn local_test_mode_sells_end_to_end_through_the_pages(app: TestApp) {
    publish_this_months_issue(&app).await;
    app.post_form("/cart/items", &[("sku", "sw-print-1y")]).await;
    app.post_form("/cart/items", &[("sku", "sw-2016-12"), ("quantity", "2")]).await;
    let (_, page) = app.page("/cart").await;
    assert!(page.contains("href=\"/checkout\""));
    let (status, page) = app.page("/checkout").await;
    assert_eq!(status, 200);
    assert!(page.contains("Mailing address for print copies") && page.contains("$30.00"));

    let response = app
        .post_form(
            "/checkout",
            &[
                ("email", "ada@example.org"),
                ("name", "Ada Reader"),
                ("line1", "1 Main St"),
                ("city", "Chicago"),
                ("region", "IL"),
                ("postal_code", "60601"),
                ("country", "US"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let payment_url = response.headers()["location"].to_str().expect("text").to_string();
    let path = payment_url.strip_prefix("http://shop.test").expect("a page of the shop's own").to_string();
    assert!(path.starts_with("/checkout/test-payment/"), "{path}");
    let order_id = path.trim_start_matches("/checkout/test-payment/").to_string();

    let (status, page) = app.page(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("This is a test payment. No money moves."));
    assert!(page.contains("Pay $30.00 (test)"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 0, "nothing before paying");

    let response = app.post_form(&format!("{path}/pay"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], format!("/checkout/success?order={order_id}"));
    let (status, page) = app.page(&format!("/checkout/success?order={order_id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Thank you, Ada Reader"), "{page}");
    let first = next_month_label();
    assert!(page.contains(&format!("from the <strong>{first}</strong> issue")), "starts with the next issue, {first}");

    let (first_period, last_period, city): (i64, i64, Option<String>) =
        sqlx::query_as("SELECT first_period, last_period, ship_city FROM subscriptions WHERE publication = 'sw'")
            .fetch_one(&app.db.pool)
            .await
            .expect("one subscription");
    assert_eq!(last_period - first_period, 11, "twelve monthly issues");
    assert_eq!(city.as_deref(), Some("Chicago"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM order_items WHERE action = 'ship' AND quantity = 2").await, 1);
    let (recipient, body): (String, String) =
        sqlx::query_as("SELECT recipient, body FROM email_outbox WHERE kind = 'order_confirmation'")
            .fetch_one(&app.db.pool)
            .await
            .expect("the confirmation in the outbox");
    assert_eq!(recipient, "ada@example.org");
    assert!(body.contains("Total paid: $30.00") && body.contains(&format!("from the {first} issue")), "{body}");
    assert!(body.contains("  1 Main St\n  Chicago IL 60601\n  US\n"), "the whole address, state included: {body}");
    assert_eq!(app.cart().await["items"], json!([]), "what was bought left the cart");

    // Paying twice changes nothing.
    app.post_form(&format!("{path}/pay"), &[]).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox").await, 1);
}

async fn every_page_says_test_mode(app: TestApp) {
    for path in ["/", "/subscribe", "/issues", "/cart", "/no-such-page"] {
        let (_, page) = app.page(path).await;
        assert!(page.contains("class=\"test-mode-banner\"") && page.contains("TEST MODE"), "{path}");
    }
}

async fn checkout_refuses_what_it_cannot_sell_and_places_no_order(app: TestApp) {
    let (status, body) =
        app.send_json("POST", "/api/v1/checkout", json!({"email": "a@example.org", "name": "A"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("empty_cart")));
    app.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y"})).await;
    for (body, code) in [
        (json!({"email": "not an email", "name": "A", "shipping_address": address()}), "invalid_email"),
        (json!({"email": "a@example.org", "name": "  ", "shipping_address": address()}), "invalid_name"),
        (json!({"email": "a@example.org", "name": "A"}), "address_required"),
        (
            json!({"email": "a@example.org", "name": "A", "shipping_address": {"line1": "1 Main St", "city": "Chicago", "postal_code": "60601", "country": "USA"}}),
            "invalid_address",
        ),
        (
            json!({"email": "a@example.org", "name": "A", "shipping_address": {"line1": "", "city": "Chicago", "postal_code": "60601", "country": "US"}}),
            "invalid_address",
        ),
    ] {
        let (status, answer) = app.send_json("POST", "/api/v1/checkout", body.clone()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some(code)), "{body}");
    }
    // Below Stripe's minimum charge: $2.50 less 90% is $0.25.
    let coupon = NewCoupon {
        description: "90% off issues".into(),
        value: CouponValue::Percent(masthead::coupons::Percent::from_basis_points(9000).expect("in range")),
        applies_to: AppliesTo::SingleIssues,
        ..test_coupon("NINETY")
    };
    save_coupon(&app, coupon).await;
    app.client.delete(app.url("/api/v1/cart/items/isr-print-1y")).send().await.expect("sent");
    app.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-2016-12"})).await;
    app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "ninety"})).await;
    let (status, answer) = app
        .send_json(
            "POST",
            "/api/v1/checkout",
            json!({"email": "a@example.org", "name": "A", "shipping_address": address()}),
        )
        .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("total_below_minimum")), "{answer}");
    // A coupon that stopped applying since the reader last looked.
    sqlx::query("UPDATE coupons SET active = 0 WHERE normalized_code = 'NINETY'")
        .execute(&app.db.pool)
        .await
        .expect("off");
    let (status, answer) = app
        .send_json(
            "POST",
            "/api/v1/checkout",
            json!({"email": "a@example.org", "name": "A", "shipping_address": address()}),
        )
        .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("coupon_no_longer_applies")), "{answer}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions").await, 0);

    // The form says it field by field and keeps what was typed.
    let response = app.post_form("/checkout", &[("email", "nope"), ("name", "Ada")]).await;
    assert_eq!(response.status(), 422);
    let page = crate::support::html_text(&response.text().await.expect("a page"));
    assert!(
        page.contains("Enter an email address such as name@example.org.") && page.contains("value=\"Ada\""),
        "{page}"
    );
}

async fn a_digital_only_cart_needs_no_address(app: TestApp) {
    app.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
    let (status, answer) =
        app.send_json("POST", "/api/v1/checkout", json!({"email": "d@example.org", "name": "Dee"})).await;
    assert_eq!(status, 201, "{answer}");
    let (_, page) = app.page("/checkout").await;
    assert!(!page.contains("Mailing address"));
}

async fn a_full_discount_is_fulfilled_without_payment(app: TestApp) {
    let coupon = NewCoupon {
        description: "On the house".into(),
        value: CouponValue::Fixed(Money::new(100_000, Currency::Usd)),
        max_redemptions: Some(5),
        ..test_coupon("FREE")
    };
    save_coupon(&app, coupon).await;
    let (status, answer) = checkout(&app, &["isr-print-1y"], Some("free"), "free@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    assert_eq!(answer["payment_url"], format!("http://shop.test/checkout/success?order={order_id}"));
    let (status, provider): (String, String) =
        sqlx::query_as("SELECT status, provider FROM orders").fetch_one(&app.db.pool).await.expect("the order");
    assert_eq!((status.as_str(), provider.as_str()), ("paid", "none"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status = 'final'").await, 1);
}

async fn the_order_is_a_snapshot_of_the_cart(app: TestApp) {
    let (_, answer) = checkout(&app, &["isr-print-2y"], None, "snap@example.org").await;
    let order_id = answer["order_id"].as_str().expect("an id").to_string();
    // Another tab adds a line while the reader pays.
    app.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-2017-01", "quantity": 3})).await;
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert_eq!(response.status(), 303);
    let (total, status): (i64, String) = sqlx::query_as("SELECT total, status FROM orders WHERE id = $1")
        .bind(&order_id)
        .fetch_one(&app.db.pool)
        .await
        .expect("the order");
    assert_eq!((total, status.as_str()), (5800, "paid"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM order_items").await, 0, "the later line was not bought");
    let cart = app.cart().await;
    assert_eq!(cart["items"].as_array().expect("items").len(), 1, "and it is still in the cart");
    assert_eq!(cart["items"][0]["sku"], "sw-2017-01");
}

async fn cancelling_releases_the_coupon_and_keeps_the_cart(app: TestApp) {
    let (status, answer) = checkout(&app, &["isr-print-4y"], Some("FTR 2016"), "cancel@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id").to_string();
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 1, "reserved at checkout");
    let before = app.cart().await;
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/cancel"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/cart");
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 0, "released");
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM orders").fetch_one(&app.db.pool).await.expect("the order");
    assert_eq!(status, "failed");
    assert_eq!(app.cart().await, before);
    let (_, page) = app.page("/cart").await;
    assert!(page.contains("Checkout cancelled: nothing was charged"));
    // A cancelled order cannot be paid afterwards.
    app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 0);
}

async fn pay(app: &TestApp, order_id: &str) {
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert_eq!(response.status(), 303);
}

async fn new_subscribers_only_and_per_reader_limits_are_checked_at_checkout(app: TestApp) {
    let (_, answer) = checkout(&app, &["isr-print-1y"], Some("FTR 2016"), "Old.Reader@example.org").await;
    pay(&app, answer["order_id"].as_str().expect("an id")).await;
    // The same reader (whatever the case of the address) is not new any more.
    let (status, answer) = checkout(&app, &["isr-print-2y"], Some("FTR 2016"), "old.reader@EXAMPLE.org").await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("coupon_new_subscribers_only")), "{answer}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 1);
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 1);

    let coupon = NewCoupon {
        description: "10% off, once per reader".into(),
        per_customer_limit: Some(1),
        ..test_coupon("ONCE EACH")
    };
    save_coupon(&app, coupon).await;
    app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "once each"})).await;
    let (status, answer) = app
        .send_json(
            "POST",
            "/api/v1/checkout",
            json!({"email": "b@example.org", "name": "B", "shipping_address": address()}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    pay(&app, answer["order_id"].as_str().expect("an id")).await;
    let (status, answer) = checkout(&app, &["sw-2016-12"], Some("once each"), "b@example.org").await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("coupon_limit_reached")), "{answer}");
}

async fn a_renewal_starts_after_the_running_term(app: TestApp) {
    let (_, answer) = checkout(&app, &["isr-print-1y"], None, "renew@example.org").await;
    pay(&app, answer["order_id"].as_str().expect("an id")).await;
    let (_, answer) = checkout(&app, &["isr-print-2y"], None, "renew@example.org").await;
    pay(&app, answer["order_id"].as_str().expect("an id")).await;
    let terms: Vec<(i64, i64)> =
        sqlx::query_as("SELECT first_period, last_period FROM subscriptions ORDER BY first_period")
            .fetch_all(&app.db.pool)
            .await
            .expect("two terms");
    assert_eq!(terms.len(), 2);
    assert_eq!(terms[0].1 - terms[0].0, 9, "four quarterly issues");
    assert_eq!(terms[1].0, terms[0].1 + 3, "the renewal starts with the issue after the last one");
    assert_eq!(terms[1].1 - terms[1].0, 21, "eight quarterly issues");
}

async fn orders_are_shown_only_to_the_session_that_placed_them(app: TestApp) {
    let (_, answer) = checkout(&app, &["isr-print-1y"], None, "mine@example.org").await;
    let order_id = answer["order_id"].as_str().expect("an id");
    assert_eq!(app.get(&format!("/checkout/success?order={order_id}")).await.status(), 200);
    let stranger = reqwest::Client::new();
    for path in [format!("/checkout/success?order={order_id}"), format!("/checkout/test-payment/{order_id}")] {
        let response = stranger.get(app.url(&path)).send().await.expect("sent");
        assert_eq!(response.status(), 404, "{path}");
        let page = response.text().await.expect("a page");
        assert!(!page.contains("mine@example.org") && !page.contains("International Socialist Review"), "{page}");
    }
    // Pages with a cart, an order or a payment are never stored by a browser or proxy.
    for path in [
        "/cart".to_string(),
        "/checkout".to_string(),
        format!("/checkout/test-payment/{order_id}"),
        format!("/checkout/success?order={order_id}"),
        "/account".to_string(),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
    // The return pages, opened elsewhere (another device, cookies cleared), say where the order is.
    for (path, title) in [
        (format!("/checkout/success?order={order_id}"), "<h1>Your order</h1>"),
        (format!("/checkout/cancel?order={order_id}"), "<h1>Checkout cancelled</h1>"),
        ("/checkout/success?order=nonsense".to_string(), "<h1>Your order</h1>"),
    ] {
        let page = stranger.get(app.url(&path)).send().await.expect("sent").text().await.expect("a page");
        assert!(page.contains(title) && page.contains("/account/login") && !page.contains("Page not found"), "{page}");
    }
    let (status,): (String,) = sqlx::query_as("SELECT status FROM orders").fetch_one(&app.db.pool).await.expect("one");
    assert_eq!(status, "pending", "a stranger's cancel link cancels nothing");
    let response =
        stranger.post(app.url(&format!("/checkout/test-payment/{order_id}/pay"))).send().await.expect("sent");
    assert_eq!(response.status(), 404);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 0);
}

async fn a_limited_coupon_is_never_redeemed_beyond_its_limit(app: TestApp) {
    let coupon = NewCoupon {
        description: "For the first ten".into(),
        value: CouponValue::Percent(masthead::coupons::Percent::from_basis_points(2000).expect("in range")),
        max_redemptions: Some(10),
        ..test_coupon("TEN ONLY")
    };
    save_coupon(&app, coupon).await;
    // A hundred readers, each with their own session and cart holding the coupon.
    let mut readers = Vec::new();
    for _ in 0..100 {
        let client = reqwest::Client::builder().cookie_store(true).build().expect("a client");
        let added = client
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"sku": "isr-print-1y"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(added.status(), 200);
        let applied =
            client.post(app.url("/api/v1/cart/coupon")).json(&json!({"code": "ten only"})).send().await.expect("sent");
        assert_eq!(applied.status(), 200);
        readers.push(client);
    }
    let checkouts = readers.into_iter().enumerate().map(|(i, client)| {
        let url = app.url("/api/v1/checkout");
        tokio::spawn(async move {
            let body =
                json!({"email": format!("reader{i}@example.org"), "name": "Reader", "shipping_address": address()});
            let response = client.post(url).json(&body).send().await.expect("sent");
            let status = response.status().as_u16();
            let answer: Value = response.json().await.expect("JSON");
            (status, answer["error"]["code"].as_str().map(str::to_string))
        })
    });
    let mut outcomes = Vec::new();
    for handle in checkouts.collect::<Vec<_>>() {
        outcomes.push(handle.await.expect("a checkout"));
    }
    let placed = outcomes.iter().filter(|(s, _)| *s == 201).count();
    // Refused at the reservation (`coupon_used_up`), or earlier when pricing the cart already saw
    // the limit reached and took the coupon off (`coupon_no_longer_applies`): either way, no order.
    let refused = outcomes
        .iter()
        .filter(|(s, code)| *s == 422 && matches!(code.as_deref(), Some("coupon_used_up" | "coupon_no_longer_applies")))
        .count();
    assert_eq!((placed, refused), (10, 90), "{outcomes:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE coupon_id IS NOT NULL").await, 10);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 10, "a refused checkout places no order");
    assert_eq!(count(&app, "SELECT redemptions_used FROM coupons WHERE normalized_code = 'TENONLY'").await, 10);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status = 'reserved'").await, 10);
}

/// An existing subscriber with the new-subscribers code reaches checkout: the refusal names the
/// coupon, the page's "Remove the coupon" button takes it out and gives back the form as typed,
/// and the order then goes through at the full price.
async fn a_coupon_that_no_longer_applies_is_removed_on_the_checkout_page_keeping_what_was_typed(app: TestApp) {
    let first = app.with_new_client();
    let (status, answer) = checkout(&first, &["isr-print-1y"], None, "again@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    first.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;

    app.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-2y"})).await;
    let (status, body) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(status, 200, "{body}");
    let typed = [
        ("email", "again@example.org"),
        ("name", "Ada Again"),
        ("line1", "5 Elm St"),
        ("line2", "Apt 2"),
        ("city", "Oak Park"),
        ("region", "IL"),
        ("postal_code", "60302"),
        ("country", "US"),
    ];
    let response = app.post_form("/checkout", &typed).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.expect("the page");
    assert!(page.contains("is for new subscribers") && page.contains("Remove the coupon FTR 2016"), "{page}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 1, "nothing placed");

    let response = app.post_form("/checkout/remove-coupon", &typed).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("the page");
    for (_, value) in typed {
        assert!(page.contains(&format!("value=\"{value}\"")), "{value} is kept: {page}");
    }
    assert!(!page.contains("Remove the coupon"), "{page}");
    assert!(app.cart().await["coupon"].is_null());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 1, "removing places nothing");

    let response = app.post_form("/checkout", &typed).await;
    assert_eq!(response.status(), 303);
    let (total,): (i64,) = sqlx::query_as("SELECT total FROM orders WHERE name = 'Ada Again'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the order");
    assert_eq!(total, 5800, "the full two-year price");
}

/// The checks checkout makes under the cart's lock, each met for certain: the cart is priced,
/// another tab changes it, then the order priced is placed. Each change is refused with
/// `cart_changed` and writes nothing; the cart as it now is can then be ordered.
async fn a_cart_changed_between_its_pricing_and_its_order_is_not_ordered(app: TestApp) {
    use masthead::orders::{place_priced_order, CheckoutInput, PaymentMethod};
    save_coupon(&app, test_coupon("OTHER TAB")).await;
    let reader = app.with_new_client();
    for sku in ["sw-print-1y", "sw-2017-01"] {
        assert_eq!(reader.send_json("POST", "/api/v1/cart/items", json!({"sku": sku})).await.0, 200);
    }
    assert_eq!(reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await.0, 200);
    let (cart_id,): (String,) =
        sqlx::query_as("SELECT id FROM carts").fetch_one(&app.db.pool).await.expect("the reader's cart");
    let input: CheckoutInput = serde_json::from_value(
        json!({"email": "tabs@example.org", "name": "Ada Reader", "shipping_address": address()}),
    )
    .expect("checkout input");
    let gift = crate::gifts::gift_fields("isr-print-1y", &[]);
    let issue_line = "/api/v1/cart/items/sw-2017-01";
    // What another tab does in between, and how to put the cart back as it was.
    let tabs: Vec<(&str, &str, &str, Value)> = vec![
        ("a gift added", "GIFT", "", json!(null)),
        ("a copy more", "PATCH", issue_line, json!({"quantity": 2})),
        ("a line added", "POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y"})),
        ("a line removed", "DELETE", issue_line, json!(null)),
        ("the coupon swapped", "POST", "/api/v1/cart/coupon", json!({"code": "OTHER TAB"})),
        ("the coupon removed", "DELETE", "/api/v1/cart/coupon", json!(null)),
        ("a donation given", "PUT", "/api/v1/cart/donation", json!({"amount": "5"})),
    ];
    for (change, method, path, body) in tabs {
        // The cart as it was: two lines, the half-price coupon, no gift, no donation.
        sqlx::query("DELETE FROM cart_gifts").execute(&app.db.pool).await.expect("gifts cleared");
        sqlx::query("DELETE FROM cart_items WHERE sku = 'isr-print-1y'").execute(&app.db.pool).await.expect("line");
        reader.send_json("DELETE", "/api/v1/cart/donation", json!(null)).await;
        reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-2017-01"})).await;
        reader.send_json("PATCH", issue_line, json!({"quantity": 1})).await;
        assert_eq!(reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await.0, 200);

        let priced = masthead::cart::view_cart(&app.db, Some(&cart_id), Currency::Usd, clock::now())
            .await
            .expect("the cart priced");
        assert_eq!(priced.quote.lines.len(), 2, "{change}: {:?}", priced.quote.lines);
        assert!(priced.applied_coupon.is_some(), "{change}");
        let status = match method {
            "GIFT" => reader.post_form("/cart/gifts", &gift).await.status().as_u16(),
            _ => reader.send_json(method, path, body).await.0,
        };
        assert!(matches!(status, 200 | 204 | 303), "{change}: {status}");

        let placed =
            place_priced_order(&app.db, Some(&cart_id), priced, &input, PaymentMethod::Test, clock::now()).await;
        match placed {
            Err(masthead::error::Error::Conflict { code, .. }) => assert_eq!(code, "cart_changed", "{change}"),
            other => panic!("{change}: ordered anyway: {:?}", other.map(|o| o.id)),
        }
        assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 0, "{change}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions").await, 0, "{change}");
    }
    // Priced again, the cart as it now is is ordered.
    let priced = masthead::cart::view_cart(&app.db, Some(&cart_id), Currency::Usd, clock::now()).await.expect("priced");
    let order = place_priced_order(&app.db, Some(&cart_id), priced, &input, PaymentMethod::Test, clock::now())
        .await
        .expect("the cart as it is now, ordered");
    // The order answered is the one written (read back as it was inserted).
    let written = masthead::orders::find_order(&app.db, &order.id).await.expect("read").expect("written");
    assert_eq!(format!("{order:?}"), format!("{written:?}"));
    assert!(order.total > 0 && order.discount > 0, "{order:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 1);
}
