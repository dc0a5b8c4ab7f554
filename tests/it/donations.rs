//! Donations: on top of the cart, never discounted, a line of their own at Stripe, on the receipt,
//! in the confirmation and in the reports; bounded, and refused beside the field when typed wrong.

use masthead::staff::accounts::Role;
use serde_json::{json, Value};

use crate::{
    account::ask_for_link,
    admin::sign_in_as,
    checkout::address,
    on_both_databases, on_both_databases_with_stripe,
    support::{released_together, stripe::FakeStripe, visible_text, TestApp},
};

on_both_databases_with_stripe!(a_donation_is_its_own_line_at_stripe_on_the_receipt_and_in_the_reports);
on_both_databases!(
    bad_donations_are_refused_beside_the_field_and_change_nothing,
    the_checkout_page_changes_the_donation_and_keeps_what_was_typed,
    a_donation_changed_in_another_tab_is_never_charged_unseen,
    donations_pressed_at_once_leave_one_of_them,
    a_donation_alone_can_be_given,
);

async fn cart_donation(app: &TestApp) -> (i64, String) {
    let cart = app.cart().await;
    (cart["donation"]["amount"].as_i64().expect("a donation"), cart["version"].as_str().expect("a version").into())
}

async fn a_donation_is_its_own_line_at_stripe_on_the_receipt_and_in_the_reports(app: TestApp, stripe: FakeStripe) {
    let reader = app.with_new_client();
    reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y"})).await;
    let (status, _) = reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(status, 200);
    // The cart's $10 button.
    let response = reader.post_form("/cart/donation", &[("preset", "10")]).await;
    assert_eq!(response.status(), 303);
    let (_, page) = reader.page("/cart").await;
    let text = visible_text(&page);
    assert!(text.contains("a donation of $10.00 is in your order"), "{text}");
    assert!(text.contains("Donation to support the paper $10.00"), "{text}");
    // The coupon halves the journal ($29 → $14.50) and leaves the donation whole.
    assert!(text.contains("Total before postage $24.50"), "{text}");
    let cart = reader.cart().await;
    assert_eq!((cart["discount"]["amount"].as_i64(), cart["total"]["amount"].as_i64()), (Some(1450), Some(2450)));

    let body = json!({"email": "giver@example.org", "name": "Ada Giver", "shipping_address": address()});
    let (status, answer) = reader.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an order id").to_string();
    let (donation, paid): (i64, i64) =
        sqlx::query_as("SELECT donation, total + postage + donation FROM orders WHERE id = $1")
            .bind(&order_id)
            .fetch_one(&app.db.pool)
            .await
            .expect("the order");
    assert_eq!((donation, paid), (1000, 2450));

    // At Stripe: the discounted journal, then the donation as its own line; they add up.
    let form = stripe.requests_to("/v1/checkout/sessions").await;
    let sent = form
        .iter()
        .map(crate::support::stripe::form_pairs)
        .find(|pairs| crate::support::stripe::form_value(pairs, "client_reference_id") == Some(order_id.as_str()))
        .expect("the session's request");
    let field = |key: &str| crate::support::stripe::form_value(&sent, key).map(str::to_string);
    assert_eq!(field("line_items[0][price_data][unit_amount]").as_deref(), Some("1450"));
    assert_eq!(
        field("line_items[1][price_data][product_data][name]").as_deref(),
        Some("Donation to support the paper")
    );
    assert_eq!(field("line_items[1][price_data][unit_amount]").as_deref(), Some("1000"));
    let session = stripe.session_for(&order_id);
    assert_eq!(session["amount_total"], 2450);

    // Paid: the success page, the confirmation, the receipt and the reports name it.
    let session_id = session["id"].as_str().expect("a session id").to_string();
    stripe.update_session(&session_id, |s| {
        s["status"] = json!("complete");
        s["payment_status"] = json!("paid");
        s["payment_intent"] = json!("pi_donation");
    });
    let (status, page) = reader.page(&format!("/checkout/success?order={order_id}&session_id={session_id}")).await;
    assert_eq!(status, 200);
    let page = visible_text(&page);
    assert!(page.contains("Donation to support the paper") && page.contains("$10.00"), "{page}");
    let (email,): (String,) =
        sqlx::query_as("SELECT body FROM email_outbox WHERE order_id = $1 AND kind = 'order_confirmation'")
            .bind(&order_id)
            .fetch_one(&app.db.pool)
            .await
            .expect("the confirmation");
    assert!(email.contains("Donation to support the paper: $10.00"), "{email}");
    assert!(email.contains("Total paid: $24.50"), "{email}");

    let link = ask_for_link(&reader, "giver@example.org").await.expect("a sign-in link");
    reader.post_form(&link, &[]).await;
    let (status, receipt) = reader.page(&format!("/account/orders/{order_id}")).await;
    assert_eq!(status, 200);
    let receipt = visible_text(&receipt);
    assert!(receipt.contains("Donation to support the paper $10.00") && receipt.contains("Total $24.50"), "{receipt}");

    let staff = app.with_new_client();
    sign_in_as(&staff, "boss@example.org", Role::Staff).await;
    let (_, order_page) = staff.page(&format!("/admin/orders/{order_id}")).await;
    assert!(visible_text(&order_page).contains("Donation to support the paper $10.00"), "{order_page}");
    let csv = staff.get("/admin/reports/deferred-revenue.csv").await.text().await.expect("the CSV");
    assert!(csv.lines().next().is_some_and(|header| header.ends_with(",donations")), "{csv}");
    assert!(csv.lines().any(|row| row.ends_with(",10.00")), "this month's donations: {csv}");
}

async fn bad_donations_are_refused_beside_the_field_and_change_nothing(app: TestApp) {
    app.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y"})).await;
    app.send_json("PUT", "/api/v1/cart/donation", json!({"amount": "10"})).await;
    let before = cart_donation(&app).await;
    assert_eq!(before.0, 1000);
    for (typed, code, message) in [
        ("0", "donation_too_small", "A donation must be at least $1.00."),
        ("-5", "donation_too_small", "A donation must be at least $1.00."),
        ("1e9", "donation_too_large", "We take donations of up to $1,000.00 here"),
        ("12.345", "donation_too_precise", "Give the amount in dollars and cents"),
        ("ten", "donation_not_a_number", "Enter the amount as a number"),
        ("", "donation_missing", "Enter an amount to give"),
    ] {
        let response = app.post_form("/cart/donation", &[("amount", typed)]).await;
        assert_eq!(response.status(), 422, "{typed:?}");
        let page = response.text().await.expect("the page");
        let beside = page.split("id=\"e-donation\"").nth(1).unwrap_or_default();
        assert!(beside.contains(message), "{typed:?}: the message beside the field: {page}");
        assert!(page.contains(&format!("value=\"{typed}\"")), "{typed:?} shown again");
        assert_eq!(cart_donation(&app).await, before, "{typed:?} changed nothing");

        let (status, answer) = app.send_json("PUT", "/api/v1/cart/donation", json!({"amount": typed})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some(code)), "{typed:?}: {answer}");
        assert_eq!(cart_donation(&app).await, before, "{typed:?} by the API changed nothing");
    }
    // As JSON numbers too, and things that are not amounts at all.
    for amount in [json!(0), json!(-5), json!(1e9), json!(12.345), json!(null), json!([10]), json!({"amount": 10})] {
        let (status, answer) = app.send_json("PUT", "/api/v1/cart/donation", json!({"amount": amount})).await;
        assert_eq!(status, 422, "{amount}: {answer}");
        assert_eq!(cart_donation(&app).await, before, "{amount} changed nothing");
    }
    // The shop's maximum is configurable; an amount on it is taken.
    let (status, _) = app.send_json("PUT", "/api/v1/cart/donation", json!({"amount": 1000})).await;
    assert_eq!(status, 200);
    assert_eq!(cart_donation(&app).await.0, 100_000);
    let (status, cart) = app.send_json("DELETE", "/api/v1/cart/donation", json!({})).await;
    assert_eq!((status, cart["donation"]["amount"].as_i64()), (200, Some(0)));
}

async fn the_checkout_page_changes_the_donation_and_keeps_what_was_typed(app: TestApp) {
    app.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
    let typed = [("email", "kept@example.org"), ("name", "Kept Reader")];
    // A suggested amount pressed on the checkout page.
    let mut fields = typed.to_vec();
    fields.push(("preset", "25"));
    let response = app.post_form("/checkout/donation", &fields).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("the page");
    assert!(page.contains("value=\"kept@example.org\"") && page.contains("value=\"Kept Reader\""), "{page}");
    assert!(visible_text(&page).contains("Donation: $25.00"), "{page}");
    assert_eq!(cart_donation(&app).await.0, 2500);

    // Enter in the amount field sends the whole form to /checkout: the donation changes, no order.
    let mut fields = typed.to_vec();
    fields.push(("donation", "7.50"));
    let response = app.post_form("/checkout", &fields).await;
    assert_eq!(response.status(), 200);
    assert_eq!(cart_donation(&app).await.0, 750);
    let (orders,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(&app.db.pool).await.expect("a count");
    assert_eq!(orders, 0, "the reader sees the new total before paying");

    // A mistake comes back beside the field, with everything typed and the donation as it was.
    let mut fields = typed.to_vec();
    fields.push(("donation", "12.345"));
    let response = app.post_form("/checkout/donation", &fields).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.expect("the page");
    assert!(page.contains("value=\"kept@example.org\"") && page.contains("value=\"12.345\""), "{page}");
    assert!(page.contains("href=\"#f-donation\""), "the error summary links to the field: {page}");
    assert_eq!(cart_donation(&app).await.0, 750);

    // Removed from the checkout page.
    let mut fields = typed.to_vec();
    fields.push(("preset", "remove"));
    assert_eq!(app.post_form("/checkout/donation", &fields).await.status(), 200);
    assert_eq!(cart_donation(&app).await.0, 0);
}

const ROUNDS: usize = 6;

async fn a_donation_changed_in_another_tab_is_never_charged_unseen(app: TestApp) {
    let mut placed = 0;
    for round in 0..ROUNDS {
        let tab = app.with_new_client();
        tab.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
        tab.send_json("PUT", "/api/v1/cart/donation", json!({"amount": "5"})).await;
        let (seen, version) = cart_donation(&tab).await;
        let other_tab = tab.clone_session();
        let email = format!("tabs{round}@example.org");
        let body = json!({"cart_version": version, "email": email, "name": "Ada"});
        let checkout = Box::pin(async move { tab.send_json("POST", "/api/v1/checkout", body).await });
        let change = Box::pin(async move {
            if round % 2 == 0 {
                other_tab.send_json("PUT", "/api/v1/cart/donation", json!({"amount": "50"})).await
            } else {
                other_tab.send_json("DELETE", "/api/v1/cart/donation", json!({})).await
            }
        });
        let outcomes = released_together::<
            (u16, Value),
            std::pin::Pin<Box<dyn std::future::Future<Output = (u16, Value)> + Send>>,
        >(vec![checkout, change])
        .await;
        let (status, answer) = &outcomes[0];
        match status {
            201 => {
                placed += 1;
                let (donation,): (i64,) = sqlx::query_as("SELECT donation FROM orders WHERE email = $1")
                    .bind(&email)
                    .fetch_one(&app.db.pool)
                    .await
                    .expect("the order");
                assert_eq!(donation, seen, "round {round}: the order's donation is the one shown");
            }
            409 => {
                assert_eq!(answer["error"]["code"], "cart_changed", "round {round}");
                let (orders,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders WHERE email = $1")
                    .bind(&email)
                    .fetch_one(&app.db.pool)
                    .await
                    .expect("a count");
                assert_eq!(orders, 0, "round {round}: refused, nothing placed");
            }
            other => panic!("round {round}: {other} {answer}"),
        }
        assert_eq!(outcomes[1].0, 200, "round {round}: the other tab's change: {:?}", outcomes[1]);
    }
    eprintln!("{placed} of {ROUNDS} rounds placed an order before the other tab's change");
    // And sequentially: a donation changed after the page was shown is refused.
    let tab = app.with_new_client();
    tab.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
    let (_, version) = cart_donation(&tab).await;
    tab.send_json("PUT", "/api/v1/cart/donation", json!({"amount": "5"})).await;
    let body = json!({"cart_version": version, "email": "late@example.org", "name": "Ada"});
    let (status, answer) = tab.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("cart_changed")), "{answer}");
}

async fn donations_pressed_at_once_leave_one_of_them(app: TestApp) {
    for round in 0..ROUNDS {
        let tab = app.with_new_client();
        tab.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
        let presses: Vec<_> = ["5", "10", "25", "7.50"]
            .into_iter()
            .map(|amount| {
                let tab = tab.clone_session();
                Box::pin(async move { tab.post_form("/cart/donation", &[("preset", amount)]).await.status().as_u16() })
            })
            .collect();
        let statuses = released_together(presses).await;
        assert!(statuses.iter().all(|&s| s == 303), "round {round}: {statuses:?}");
        let (donation, _) = cart_donation(&tab).await;
        assert!([500, 1000, 2500, 750].contains(&donation), "round {round}: one of the amounts pressed: {donation}");
        let (carts,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM carts WHERE donation > 0")
            .fetch_one(&app.db.pool)
            .await
            .expect("a count");
        assert_eq!(carts, round as i64 + 1, "round {round}: one cart for the one session");
    }
}

async fn a_donation_alone_can_be_given(app: TestApp) {
    let response = app.post_form("/cart/donation", &[("amount", "20")]).await;
    assert_eq!(response.status(), 303);
    let (_, page) = app.page("/cart").await;
    assert!(visible_text(&page).contains("Total $20.00"), "{page}");
    let (status, answer) =
        app.send_json("POST", "/api/v1/checkout", json!({"email": "only@example.org", "name": "Ada"})).await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an order id");
    let (donation, subtotal, lines): (i64, i64, i64) = sqlx::query_as(
        "SELECT donation, subtotal, (SELECT COUNT(*) FROM order_lines WHERE order_id = orders.id) FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_one(&app.db.pool)
    .await
    .expect("the order");
    assert_eq!((donation, subtotal, lines), (2000, 0, 0));
    // Paid in test mode, it is settled like any order.
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let (status,): (String,) = sqlx::query_as("SELECT status FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&app.db.pool)
        .await
        .expect("the order");
    assert_eq!(status, "paid");
}
