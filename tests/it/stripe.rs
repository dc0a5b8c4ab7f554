//! Checkout through Stripe, against a fake Stripe server, and Stripe's webhooks signed by the test.

use masthead::{clock, payments};
use serde_json::{json, Value};

use crate::{
    checkout::checkout,
    on_both_databases_with_stripe,
    support::{
        stripe::{event, form_pairs, form_value, signature, FakeStripe, WEBHOOK_SECRET},
        uses_of, TestApp,
    },
};

on_both_databases_with_stripe!(
    checkout_opens_a_stripe_session_with_exactly_the_order,
    webhook_signatures_are_verified_before_anything_changes,
    a_signed_event_that_cannot_be_read_is_retried,
    an_unpaid_completion_waits_for_the_async_payment,
    the_same_event_fulfils_once_however_often_it_comes,
    the_webhook_and_the_success_page_at_the_same_moment_fulfil_once,
    an_expiry_after_completion_changes_nothing,
    an_amount_that_does_not_match_is_put_aside_for_staff,
    an_expired_session_fails_the_order_and_releases_the_coupon,
    other_event_types_are_ignored,
    reconciliation_settles_orders_whose_webhook_never_came,
    cancelling_expires_the_stripe_session,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

async fn order_status(app: &TestApp, order_id: &str) -> String {
    sqlx::query_as::<_, (String,)>("SELECT status FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&app.db.pool)
        .await
        .expect("the order")
        .0
}

/// Sends a webhook with the given body and signature header; answers the status.
async fn deliver(app: &TestApp, body: &str, signature: Option<&str>) -> u16 {
    let mut request =
        app.client.post(app.url("/webhooks/stripe")).header("content-type", "application/json").body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    request.send().await.expect("sent").status().as_u16()
}

/// Sends a correctly signed webhook; answers the `result` word of the shop's 200 answer.
async fn deliver_for_result(app: &TestApp, body: &str) -> String {
    deliver_to(app.client.clone(), app.url("/webhooks/stripe"), body.to_string()).await
}

async fn deliver_to(client: reqwest::Client, url: String, body: String) -> String {
    let response = client
        .post(url)
        .header("stripe-signature", signature(&body, WEBHOOK_SECRET, clock::now()))
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("a JSON answer");
    answer["result"].as_str().expect("a result").to_string()
}

async fn deliver_signed(app: &TestApp, body: &str) -> u16 {
    deliver(app, body, Some(&signature(body, WEBHOOK_SECRET, clock::now()))).await
}

/// Places an order for ISR 4 years with FTR 2016 and two copies of an issue; answers its id.
async fn place(app: &TestApp) -> String {
    let (status, answer) =
        checkout(app, &["isr-print-4y", "sw-2016-12", "sw-2016-12"], Some("ftr 2016"), "pay@example.org").await;
    assert_eq!(status, 201, "{answer}");
    answer["order_id"].as_str().expect("an order id").to_string()
}

fn paid(session: &mut Value) {
    session["status"] = json!("complete");
    session["payment_status"] = json!("paid");
    session["payment_intent"] = json!("pi_test_0001");
}

async fn checkout_opens_a_stripe_session_with_exactly_the_order(app: TestApp, stripe: FakeStripe) {
    let before = clock::now();
    let (status, answer) =
        checkout(&app, &["isr-print-4y", "sw-2016-12", "sw-2016-12"], Some("ftr 2016"), "pay@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    let session = stripe.session_for(order_id);
    assert_eq!(answer["payment_url"], session["url"], "the reader goes to Stripe's page");

    let requests = stripe.requests_to("/v1/checkout/sessions").await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.headers.get("idempotency-key").and_then(|v| v.to_str().ok()), Some(order_id));
    let form = form_pairs(request);
    let field = |key: &str| form_value(&form, key).unwrap_or_else(|| panic!("{key} in {form:?}")).to_string();
    assert_eq!(field("mode"), "payment");
    assert_eq!(field("customer_email"), "pay@example.org");
    assert_eq!(field("client_reference_id"), order_id);
    assert_eq!(field("metadata[order_id]"), order_id);
    assert_eq!(
        field("success_url"),
        format!("http://shop.test/checkout/success?order={order_id}&session_id={{CHECKOUT_SESSION_ID}}")
    );
    assert_eq!(field("cancel_url"), format!("http://shop.test/checkout/cancel?order={order_id}"));
    let expires_at: i64 = field("expires_at").parse().expect("a time");
    assert!(expires_at >= before + 30 * 60 && expires_at <= before + 24 * 3600, "within Stripe's bounds");
    assert_eq!(field("line_items[0][price_data][currency]"), "usd");
    assert_eq!(field("line_items[0][price_data][unit_amount]"), "4900", "the discounted price");
    assert_eq!(field("line_items[0][quantity]"), "1");
    assert_eq!(
        field("line_items[0][price_data][product_data][name]"),
        "International Socialist Review, print edition, 4 years"
    );
    assert!(field("line_items[0][price_data][product_data][description]").contains("FTR 2016"), "names the coupon");
    assert_eq!(field("line_items[1][price_data][unit_amount]"), "250");
    assert_eq!(field("line_items[1][quantity]"), "2");
    assert!(form_value(&form, "line_items[2][quantity]").is_none());
    assert_eq!(session["amount_total"], 5400);

    // No test mode while Stripe is configured.
    let (_, page) = app.page("/").await;
    assert!(!page.contains("test-mode-banner"));
    assert_eq!(app.get(&format!("/checkout/test-payment/{order_id}")).await.status(), 404);
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert_eq!(response.status(), 404);
    assert_eq!(order_status(&app, order_id).await, "pending");
}

async fn webhook_signatures_are_verified_before_anything_changes(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let session = stripe.update_session(stripe.session_for(&order_id)["id"].as_str().expect("id"), paid);
    let body = event("evt_sig_1", "checkout.session.completed", &session);
    // Stripe's tolerance is 300 s; 310 keeps a second ticking over during the test from letting a
    // stale or future signature through.
    let now = clock::now();
    let tampered = body.replace("\"amount_total\":5400", "\"amount_total\":1");
    assert_ne!(tampered, body);
    for (label, payload, header) in [
        ("tampered body", tampered.clone(), Some(signature(&body, WEBHOOK_SECRET, now))),
        ("wrong secret", body.clone(), Some(signature(&body, "whsec_someone_else", now))),
        ("stale timestamp", body.clone(), Some(signature(&body, WEBHOOK_SECRET, now - 310))),
        ("timestamp in the future", body.clone(), Some(signature(&body, WEBHOOK_SECRET, now + 310))),
        ("malformed header", body.clone(), Some("t=abc,v1=zz".to_string())),
        ("missing header", body.clone(), None),
    ] {
        assert_eq!(deliver(&app, &payload, header.as_deref()).await, 400, "{label}");
        assert_eq!(order_status(&app, &order_id).await, "pending", "{label}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM payment_events").await, 0, "{label}");
    }
    // Any of several v1 signatures may match (Stripe sends more than one while a secret is rolled).
    let good = signature(&body, WEBHOOK_SECRET, now);
    let other = signature(&body, "whsec_old_secret", now);
    let header = format!("{},{}", other, good.split(',').nth(1).expect("v1"));
    assert_eq!(deliver(&app, &body, Some(&header)).await, 200);
    assert_eq!(order_status(&app, &order_id).await, "paid");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
}

async fn a_signed_event_that_cannot_be_read_is_retried(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let _ = stripe;
    let body = json!({"id": "evt_broken", "object": "event", "type": "checkout.session.completed", "data": {"object": {"id": "cs_x"}}}).to_string();
    assert_eq!(deliver_signed(&app, &body).await, 500, "so that Stripe delivers it again");
    assert_eq!(order_status(&app, &order_id).await, "pending");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM payment_events").await, 0);
}

async fn an_unpaid_completion_waits_for_the_async_payment(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let id = stripe.session_for(&order_id)["id"].as_str().expect("id").to_string();
    let unpaid = stripe.update_session(&id, |s| s["status"] = json!("complete"));
    assert_eq!(deliver_signed(&app, &event("evt_c1", "checkout.session.completed", &unpaid)).await, 200);
    assert_eq!(order_status(&app, &order_id).await, "pending", "a bank debit has not cleared yet");
    let succeeded = stripe.update_session(&id, paid);
    assert_eq!(
        deliver_signed(&app, &event("evt_c2", "checkout.session.async_payment_succeeded", &succeeded)).await,
        200
    );
    assert_eq!(order_status(&app, &order_id).await, "paid");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status = 'final'").await, 1);
}

async fn the_same_event_fulfils_once_however_often_it_comes(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let session = stripe.update_session(stripe.session_for(&order_id)["id"].as_str().expect("id"), paid);
    let body = event("evt_twice", "checkout.session.completed", &session);
    assert_eq!(deliver_for_result(&app, &body).await, "fulfilled");
    assert_eq!(deliver_for_result(&app, &body).await, "duplicate");
    // Twenty deliveries at the same moment, of the same event and of another event id for the same payment.
    let deliveries = (0..20).map(|i| {
        let body = if i % 2 == 0 {
            body.clone()
        } else {
            event(&format!("evt_again_{i}"), "checkout.session.completed", &session)
        };
        let delivery = deliver_to(app.client.clone(), app.url("/webhooks/stripe"), body);
        tokio::spawn(async move { (i, delivery.await) })
    });
    for handle in deliveries.collect::<Vec<_>>() {
        let (i, result) = handle.await.expect("a delivery");
        let expected = if i % 2 == 0 { "duplicate" } else { "already_settled" };
        assert_eq!(result, expected, "delivery {i}");
    }
    assert_eq!(order_status(&app, &order_id).await, "paid");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM order_items").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox").await, 1);
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 1);
}

async fn the_webhook_and_the_success_page_at_the_same_moment_fulfil_once(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let session = stripe.update_session(stripe.session_for(&order_id)["id"].as_str().expect("id"), paid);
    let body = event("evt_race", "checkout.session.completed", &session);
    let webhook = {
        let request = app
            .client
            .post(app.url("/webhooks/stripe"))
            .header("stripe-signature", signature(&body, WEBHOOK_SECRET, clock::now()))
            .body(body.clone());
        tokio::spawn(async move { request.send().await.expect("sent").status().as_u16() })
    };
    let success = {
        let request = app.client.get(app.url(&format!("/checkout/success?order={order_id}")));
        tokio::spawn(async move { request.send().await.expect("sent").text().await.expect("a page") })
    };
    assert_eq!(webhook.await.expect("the webhook"), 200);
    let page = success.await.expect("the page");
    assert!(page.contains("Thank you"), "the success page asked Stripe and shows the order paid");
    let provider = payments::PaymentProvider::Stripe(std::sync::Arc::new(
        payments::StripeGateway::new("sk_test", Some(&stripe.server.uri())).expect("a client"),
    ));
    payments::reconcile(&app.db, &provider).await.expect("reconciled");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox").await, 1);
}

async fn an_expiry_after_completion_changes_nothing(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let id = stripe.session_for(&order_id)["id"].as_str().expect("id").to_string();
    let session = stripe.update_session(&id, paid);
    assert_eq!(deliver_signed(&app, &event("evt_e1", "checkout.session.completed", &session)).await, 200);
    let expired = stripe.update_session(&id, |s| s["status"] = json!("expired"));
    assert_eq!(deliver_signed(&app, &event("evt_e2", "checkout.session.expired", &expired)).await, 200);
    assert_eq!(order_status(&app, &order_id).await, "paid");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status = 'final'").await, 1);
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 1);
}

async fn an_amount_that_does_not_match_is_put_aside_for_staff(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let session = stripe.update_session(stripe.session_for(&order_id)["id"].as_str().expect("id"), |s| {
        paid(s);
        s["amount_total"] = json!(100);
    });
    assert_eq!(deliver_signed(&app, &event("evt_m1", "checkout.session.completed", &session)).await, 200);
    assert_eq!(order_status(&app, &order_id).await, "review");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox").await, 0);
    let currency = stripe.update_session(session["id"].as_str().expect("id"), |s| {
        s["amount_total"] = json!(5400);
        s["currency"] = json!("eur");
    });
    assert_eq!(deliver_signed(&app, &event("evt_m2", "checkout.session.completed", &currency)).await, 200);
    assert_eq!(order_status(&app, &order_id).await, "review");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 0);
}

async fn an_expired_session_fails_the_order_and_releases_the_coupon(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 1);
    let expired = stripe
        .update_session(stripe.session_for(&order_id)["id"].as_str().expect("id"), |s| s["status"] = json!("expired"));
    assert_eq!(deliver_signed(&app, &event("evt_x1", "checkout.session.expired", &expired)).await, 200);
    assert_eq!(order_status(&app, &order_id).await, "failed");
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status = 'released'").await, 1);
    // Money that arrives after all is not lost: the order goes to staff.
    let late = stripe.update_session(expired["id"].as_str().expect("id"), paid);
    assert_eq!(deliver_signed(&app, &event("evt_x2", "checkout.session.async_payment_succeeded", &late)).await, 200);
    assert_eq!(order_status(&app, &order_id).await, "review");
}

async fn other_event_types_are_ignored(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let session = stripe.session_for(&order_id);
    let body = event("evt_other", "checkout.session.completed", &session)
        .replace("checkout.session.completed", "customer.created");
    let body = body.replace("\"object\":\"checkout.session\"", "\"object\":\"customer\"");
    assert_eq!(deliver_signed(&app, &body).await, 200);
    assert_eq!(order_status(&app, &order_id).await, "pending");
}

async fn reconciliation_settles_orders_whose_webhook_never_came(mut app: TestApp, stripe: FakeStripe) {
    let paid_order = place(&app).await;
    stripe.update_session(stripe.session_for(&paid_order)["id"].as_str().expect("id"), paid);
    // A second reader whose session expired unpaid.
    let first_reader =
        std::mem::replace(&mut app.client, reqwest::Client::builder().cookie_store(true).build().expect("a client"));
    let (status, answer) = checkout(&app, &["sw-digital-1y"], None, "late@example.org").await;
    app.client = first_reader;
    assert_eq!(status, 201, "{answer}");
    let expired_order = answer["order_id"].as_str().expect("an id").to_string();
    stripe.update_session(stripe.session_for(&expired_order)["id"].as_str().expect("id"), |s| {
        s["status"] = json!("expired")
    });
    let provider = payments::PaymentProvider::Stripe(std::sync::Arc::new(
        payments::StripeGateway::new("sk_test", Some(&stripe.server.uri())).expect("a client"),
    ));
    assert_eq!(payments::reconcile(&app.db, &provider).await.expect("reconciled"), 0, "nothing is overdue yet");
    sqlx::query("UPDATE orders SET expires_at = $1")
        .bind(clock::now() - 60)
        .execute(&app.db.pool)
        .await
        .expect("overdue");
    assert_eq!(payments::reconcile(&app.db, &provider).await.expect("reconciled"), 2);
    assert_eq!(order_status(&app, &paid_order).await, "paid");
    assert_eq!(order_status(&app, &expired_order).await, "failed");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
}

async fn cancelling_expires_the_stripe_session(app: TestApp, stripe: FakeStripe) {
    let order_id = place(&app).await;
    let before = app.cart().await;
    let response = app.get(&format!("/checkout/cancel?order={order_id}")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/cart");
    assert_eq!(
        stripe
            .requests_to(&format!(
                "/v1/checkout/sessions/{}/expire",
                stripe.session_for(&order_id)["id"].as_str().expect("id")
            ))
            .await
            .len(),
        1
    );
    assert_eq!(order_status(&app, &order_id).await, "failed");
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 0);
    assert_eq!(app.cart().await, before, "the cart is intact");
}
