//! Postage: zones of countries set in the admin, charged per print copy mailed, kept on the order,
//! a line of its own at Stripe, on the success page and in the confirmation email.

use masthead::staff::accounts::Role;
use serde_json::{json, Value};

use crate::{
    admin::{sign_in_as, token_in},
    on_both_databases, on_both_databases_with_stripe,
    support::{released_together, save_coupon, stripe::FakeStripe, test_coupon, visible_text, TestApp},
};

on_both_databases_with_stripe!(postage_follows_the_country_of_a_two_year_print_plan);
on_both_databases!(
    coupons_discount_the_journal_not_its_postage,
    a_coupon_that_covers_postage_waives_it,
    a_country_no_zone_takes_is_refused_and_nothing_is_written,
    a_zone_price_change_leaves_placed_orders_alone,
    the_zone_form_names_each_mistake_and_changes_nothing,
    two_admins_claiming_one_country_at_once_leave_it_in_one_zone,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

fn address_in(country: &str) -> Value {
    json!({"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": country})
}

/// Puts the SKUs (and the coupon) in a new visitor's cart and checks out to `country`.
async fn order_to(app: &TestApp, skus: &[&str], coupon: Option<&str>, country: &str) -> (u16, Value) {
    for sku in skus {
        let (status, body) = app.send_json("POST", "/api/v1/cart/items", json!({"sku": sku})).await;
        assert_eq!(status, 200, "{sku}: {body}");
    }
    if let Some(code) = coupon {
        let (status, body) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": code})).await;
        assert_eq!(status, 200, "{body}");
    }
    let body = json!({"email": "abroad@example.org", "name": "Ada Reader", "shipping_address": address_in(country)});
    app.send_json("POST", "/api/v1/checkout", body).await
}

/// subtotal, discount, postage, postage_copies and what the reader pays (the column `total` is the
/// items' total after discount) of an order.
async fn amounts(app: &TestApp, order_id: &str) -> (i64, i64, i64, i64, i64) {
    sqlx::query_as("SELECT subtotal, discount, postage, postage_copies, total + postage FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&app.db.pool)
        .await
        .expect("the order")
}

async fn postage_follows_the_country_of_a_two_year_print_plan(app: TestApp, stripe: FakeStripe) {
    // Socialist Worker in print for 2 years ($45) is 24 monthly copies: nothing to the US, $1.50 a
    // copy to Canada, $3.00 to Germany (the rest of the world).
    for (country, postage, label) in [
        ("US", 0, None),
        ("CA", 3600, Some("Postage to Canada: 24 copies at $1.50")),
        ("DE", 7200, Some("Postage to Germany: 24 copies at $3.00")),
    ] {
        let reader = app.with_new_client();
        // The cart says what each destination costs before a country is typed.
        reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-2y"})).await;
        let (_, cart) = reader.page("/cart").await;
        let cart = visible_text(&cart);
        assert!(cart.contains("Your print items are 24 copies mailed"), "{cart}");
        assert!(cart.contains("Canada, Mexico $1.50 $36.00"), "{cart}");
        assert!(cart.contains("every other country $3.00 $72.00"), "{cart}");

        let (status, answer) = order_to(&reader, &[], None, country).await;
        assert_eq!(status, 201, "{country}: {answer}");
        let order_id = answer["order_id"].as_str().expect("an order id").to_string();
        assert_eq!(amounts(&app, &order_id).await, (4500, 0, postage, 24, 4500 + postage), "{country}");

        // At Stripe: the plan, then postage as a line of its own; the lines add up to the order.
        let session = stripe.session_for(&order_id);
        let form = stripe.requests_to("/v1/checkout/sessions").await;
        let sent = form
            .iter()
            .map(crate::support::stripe::form_pairs)
            .find(|pairs| crate::support::stripe::form_value(pairs, "client_reference_id") == Some(order_id.as_str()))
            .expect("the session's request");
        let field = |key: &str| crate::support::stripe::form_value(&sent, key).map(str::to_string);
        assert_eq!(field("line_items[0][price_data][unit_amount]").as_deref(), Some("4500"));
        match label {
            Some(label) => {
                assert_eq!(field("line_items[1][price_data][product_data][name]").as_deref(), Some(label));
                assert_eq!(field("line_items[1][price_data][unit_amount]"), Some(postage.to_string()));
                assert_eq!(field("line_items[1][quantity]").as_deref(), Some("1"));
            }
            None => assert_eq!(field("line_items[1][price_data][unit_amount]"), None, "no postage line to the US"),
        }
        assert_eq!(session["amount_total"], 4500 + postage);

        // The success page and the confirmation email name the postage line.
        let session_id = session["id"].as_str().expect("a session id").to_string();
        stripe.update_session(&session_id, |s| {
            s["status"] = json!("complete");
            s["payment_status"] = json!("paid");
            s["payment_intent"] = json!(format!("pi_{country}"));
        });
        let (status, page) = reader.page(&format!("/checkout/success?order={order_id}&session_id={session_id}")).await;
        assert_eq!(status, 200);
        let (paid,): (String,) = sqlx::query_as("SELECT status FROM orders WHERE id = $1")
            .bind(&order_id)
            .fetch_one(&app.db.pool)
            .await
            .expect("the order");
        assert_eq!(paid, "paid", "settled by the success page's check with Stripe");
        let total = format!("${}.00", (4500 + postage) / 100);
        let page = visible_text(&page);
        assert!(page.contains(&format!("Total: {total}")), "{page}");
        let (email,): (String,) = sqlx::query_as("SELECT body FROM email_outbox WHERE body LIKE $1")
            .bind(format!("%{order_id}%"))
            .fetch_one(&app.db.pool)
            .await
            .expect("the confirmation");
        assert!(email.contains(&format!("Total paid: {total}")), "{email}");
        // The receipt in the buyer's account (this browser, now that the order is paid).
        let (status, receipt) = reader.page(&format!("/account/orders/{order_id}")).await;
        assert_eq!(status, 200);
        let receipt = visible_text(&receipt);
        assert!(receipt.contains(&format!("Total {total}")), "{receipt}");
        if let Some(label) = label {
            let zone = if country == "CA" { "Canada and Mexico" } else { "Rest of the world" };
            assert!(receipt.contains(&format!("{label} ({zone}) ${}.00", postage / 100)), "{receipt}");
            assert!(page.contains(&format!("{label} ${}.00", postage / 100)), "{page}");
            assert!(email.contains(&format!("{label}: ${}.00", postage / 100)), "{email}");
        } else {
            assert!(!page.contains("Postage to") && !email.contains("Postage to"), "{email}");
            assert!(!receipt.contains("Postage to"), "{receipt}");
        }
    }
}

async fn coupons_discount_the_journal_not_its_postage(app: TestApp) {
    // ISR in print for 2 years is $58, half with FTR 2016: $29; 8 quarterly copies to Canada at
    // $1.50 are $12, not halved. Total $41.
    let (status, answer) = order_to(&app, &["isr-print-2y"], Some("FTR 2016"), "CA").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an order id");
    assert_eq!(amounts(&app, order_id).await, (5800, 2900, 1200, 8, 4100));
    // The test payment page shows the same lines before anything is paid.
    let (_, page) = app.page(&format!("/checkout/test-payment/{order_id}")).await;
    let page = visible_text(&page);
    assert!(page.contains("Postage to Canada: 8 copies at $1.50 $12.00"), "{page}");
    assert!(page.contains("Total: $41.00"), "{page}");

    // Digital copies are never mailed: no address, no postage, whatever the country.
    let reader = app.with_new_client();
    reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
    let body = json!({"email": "far@example.org", "name": "Far Reader"});
    let (status, answer) = reader.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!(status, 201, "{answer}");
    let digital = answer["order_id"].as_str().expect("an order id");
    assert_eq!(amounts(&app, digital).await, (1500, 0, 0, 0, 1500));
}

async fn a_coupon_that_covers_postage_waives_it(app: TestApp) {
    // 10% off and free postage: the paper for 2 years to Germany is $45 less $4.50; the $72 of
    // postage is covered, and the order says so.
    save_coupon(&app, masthead::coupons::NewCoupon { covers_postage: true, ..test_coupon("FREEPOST") }).await;
    let (status, answer) = order_to(&app, &["sw-print-2y"], Some("FREEPOST"), "DE").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an order id");
    assert_eq!(amounts(&app, order_id).await, (4500, 450, 0, 24, 4050));
    let (waived,): (i64,) = sqlx::query_as("SELECT postage_waived FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&app.db.pool)
        .await
        .expect("the order");
    assert_eq!(waived, 7200);
    let (_, page) = app.page(&format!("/checkout/test-payment/{order_id}")).await;
    let page = visible_text(&page);
    assert!(
        page.contains("Postage to Germany: 24 copies at $3.00, $72.00 covered by the coupon FREEPOST $0.00"),
        "{page}"
    );
    assert!(page.contains("Total: $40.50"), "{page}");
    // The same coupon without the flag leaves postage to pay.
    save_coupon(&app, test_coupon("TENOFF")).await;
    let (status, answer) = order_to(&app.with_new_client(), &["sw-print-2y"], Some("TENOFF"), "DE").await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(amounts(&app, answer["order_id"].as_str().expect("an id")).await, (4500, 450, 7200, 24, 11250));
}

async fn delete_zone(app: &TestApp, token: &str, id: &str) {
    let response = app.post_form(&format!("/admin/postage/{id}/delete"), &[("csrf_token", token)]).await;
    assert_eq!(response.status(), 303);
}

async fn a_country_no_zone_takes_is_refused_and_nothing_is_written(app: TestApp) {
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "boss@example.org", Role::Admin).await;
    delete_zone(&staff, &token, "rest-of-world").await;
    let coupons_before = count(&app, "SELECT redemptions_used FROM coupons").await;

    let (status, answer) = order_to(&app, &["isr-print-1y"], Some("FTR 2016"), "DE").await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "no_postage_zone", "{answer}");
    assert!(answer["error"]["message"].as_str().expect("a message").contains("We can't mail print copies to Germany"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions").await, 0);
    assert_eq!(count(&app, "SELECT redemptions_used FROM coupons").await, coupons_before);
    assert_eq!(app.cart().await["items"].as_array().map(Vec::len), Some(1), "the cart is as it was");

    // The checkout page says it beside the country, keeping what was typed.
    let (_, page) = app.page("/checkout").await;
    let token_field = page.contains("csrf_token");
    let mut fields = vec![
        ("email", "abroad@example.org"),
        ("name", "Ada Reader"),
        ("line1", "Hauptstr. 1"),
        ("city", "Berlin"),
        ("postal_code", "10115"),
        ("country", "de"),
    ];
    let csrf;
    if token_field {
        csrf = token_in(&page);
        fields.push(("csrf_token", &csrf));
    }
    let response = app.post_form("/checkout", &fields).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.expect("a page");
    assert!(
        page.contains("We can&#x27;t mail print copies to Germany")
            || page.contains("We can't mail print copies to Germany"),
        "{page}"
    );
    assert!(page.contains("value=\"Hauptstr. 1\""), "typed values are kept");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 0);
    // Canada is still in a zone.
    let (status, answer) = app
        .send_json(
            "POST",
            "/api/v1/checkout",
            json!({"email": "abroad@example.org", "name": "Ada Reader", "shipping_address": address_in("CA")}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
}

async fn a_zone_price_change_leaves_placed_orders_alone(app: TestApp) {
    let (status, answer) = order_to(&app, &["sw-print-2y"], None, "MX").await;
    assert_eq!(status, 201, "{answer}");
    let first = answer["order_id"].as_str().expect("an order id").to_string();

    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "boss@example.org", Role::Admin).await;
    let response = staff
        .post_form(
            "/admin/postage/canada-mexico",
            &[("csrf_token", &token), ("name", "Canada and Mexico"), ("per_copy", "2"), ("countries", "ca mx")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let (before, after): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT before_json, after_json FROM audit_log WHERE action = 'postage_zone.update' AND entity_id = 'canada-mexico'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("an audit entry");
    assert!(before.expect("before").contains("\"per_copy\":150"));
    assert!(after.expect("after").contains("\"per_copy\":200"));

    assert_eq!(amounts(&app, &first).await, (4500, 0, 3600, 24, 8100), "the placed order keeps its postage");
    let reader = app.with_new_client();
    let (status, answer) = order_to(&reader, &["sw-print-2y"], None, "MX").await;
    assert_eq!(status, 201, "{answer}");
    let second = answer["order_id"].as_str().expect("an order id");
    assert_eq!(amounts(&app, second).await, (4500, 0, 4800, 24, 9300), "a new order pays the new price");
    // The subscribe page shows the new price at once (the page cache is emptied by the change).
    let (_, page) = app.with_new_client().page("/subscribe").await;
    assert!(visible_text(&page).contains("Canada, Mexico $2.00"), "{page}");
}

async fn zones_snapshot(app: &TestApp) -> Vec<(String, String, i64, i64)> {
    sqlx::query_as(
        "SELECT z.id, COALESCE(c.country, ''), z.per_copy, z.every_other_country FROM postage_zones z \
         LEFT JOIN postage_zone_countries c ON c.zone_id = z.id ORDER BY z.id, c.country",
    )
    .fetch_all(&app.db.pool)
    .await
    .expect("the zones")
}

async fn the_zone_form_names_each_mistake_and_changes_nothing(app: TestApp) {
    let before = zones_snapshot(&app).await;
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "boss@example.org", Role::Admin).await;
    for (fields, field, message) in [
        (
            vec![("name", "Europe"), ("per_copy", "-1"), ("countries", "FR")],
            "per_copy",
            "Postage per copy is from 0 to",
        ),
        (
            vec![("name", "Europe"), ("per_copy", "1.505"), ("countries", "FR")],
            "per_copy",
            "Enter the postage per copy",
        ),
        (
            vec![("name", "Europe"), ("per_copy", "2"), ("countries", "FR, Narnia")],
            "countries",
            "Not two-letter country codes: Narnia",
        ),
        (
            vec![("name", "Europe"), ("per_copy", "2"), ("countries", "FR, CA")],
            "countries",
            "Already in another zone: CA (Canada and Mexico)",
        ),
        (vec![("name", ""), ("per_copy", "2"), ("countries", "FR")], "name", "Name the zone"),
        (vec![("name", "Europe"), ("per_copy", "2"), ("countries", "")], "countries", "List the zone's countries"),
        (
            vec![("name", "Europe"), ("per_copy", "2"), ("countries", "FR"), ("every_other_country", "on")],
            "every_other_country",
            "Rest of the world already takes every other country",
        ),
    ] {
        let mut form = fields.clone();
        form.push(("csrf_token", &token));
        let response = staff.post_form("/admin/postage", &form).await;
        assert_eq!(response.status(), 422, "{fields:?}");
        let page = response.text().await.expect("a page");
        assert!(page.contains(&format!("id=\"e-{field}\"")), "{field}: {page}");
        assert!(visible_text(&page).contains(message), "{message}: {}", visible_text(&page));
        assert!(page.contains(&format!("value=\"{}\"", fields[0].1)), "the name typed is kept");
    }
    assert_eq!(zones_snapshot(&app).await, before);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE entity = 'postage_zone'").await, 0);

    // Staff who are not admins see the zones but cannot change them.
    let clerk = app.with_new_client();
    let clerk_token = sign_in_as(&clerk, "clerk@example.org", Role::Staff).await;
    let (status, page) = clerk.page("/admin/postage").await;
    assert_eq!(status, 200);
    assert!(visible_text(&page).contains("Only an admin can change postage"));
    let response = clerk
        .post_form(
            "/admin/postage",
            &[("csrf_token", &clerk_token), ("name", "Europe"), ("per_copy", "2"), ("countries", "FR")],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(zones_snapshot(&app).await, before);

    // A right form saves, with its audit entry; the zone shows on the subscribe page.
    let response = staff
        .post_form(
            "/admin/postage",
            &[("csrf_token", &token), ("name", "Europe"), ("per_copy", "2.25"), ("countries", "fr, de")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM postage_zone_countries WHERE zone_id = 'europe'").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'postage_zone.create'").await, 1);
    let (_, page) = app.with_new_client().page("/subscribe").await;
    assert!(visible_text(&page).contains("Europe France, Germany $2.25"), "{}", visible_text(&page));
}

async fn two_admins_claiming_one_country_at_once_leave_it_in_one_zone(app: TestApp) {
    let first = app.with_new_client();
    let first_token = sign_in_as(&first, "one@example.org", Role::Admin).await;
    let second = app.with_new_client();
    let second_token = sign_in_as(&second, "two@example.org", Role::Admin).await;
    for (round, country) in ["FR", "DE", "IT", "ES", "PT"].iter().enumerate() {
        let save = |admin: &TestApp, token: &str, name: String| {
            let request = admin.client.post(admin.url("/admin/postage")).form(&[
                ("csrf_token", token.to_string()),
                ("name", name),
                ("per_copy", "2".to_string()),
                ("countries", country.to_string()),
            ]);
            async move { request.send().await.expect("answered").status().as_u16() }
        };
        let answers = released_together(vec![
            save(&first, &first_token, format!("Zone A{round}")),
            save(&second, &second_token, format!("Zone B{round}")),
        ])
        .await;
        let mut sorted = answers.clone();
        sorted.sort();
        assert_eq!(sorted, [303, 422], "round {round}: {answers:?}");
        let holders =
            count(&app, &format!("SELECT COUNT(*) FROM postage_zone_countries WHERE country = '{country}'")).await;
        assert_eq!(holders, 1, "round {round}");
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM postage_zones").await,
            4 + round as i64,
            "the loser wrote no zone"
        );
    }
}
