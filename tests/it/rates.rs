//! Rates: a reduced rate on the honour system and a sustainer rate beside a plan's standard price,
//! set by an admin, chosen on the subscribe page or through the API, shown in the cart, on the
//! receipt and in the API; coupons cover them only when they say so; prices never come from a client.

use masthead::staff::accounts::Role;
use serde_json::{json, Value};

use crate::{
    admin::sign_in_as,
    on_both_databases,
    support::{released_together, save_coupon, test_coupon, visible_text, TestApp},
};

on_both_databases!(
    an_admin_sets_rates_and_a_reader_buys_at_them,
    coupons_discount_other_rates_only_when_they_say_so,
    bad_rate_choices_are_refused_beside_the_field_and_change_nothing,
    a_rate_changed_in_another_tab_or_withdrawn_is_never_charged_unseen,
    the_rates_form_refuses_what_makes_no_sense_and_is_for_admins,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

fn line<'a>(cart: &'a Value, sku: &str) -> &'a Value {
    cart["items"].as_array().expect("items").iter().find(|i| i["sku"] == sku).expect("the line")
}

/// The admin's rates form for `sku`, with these amounts.
pub async fn set_rates(staff: &TestApp, sku: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let (_, page) = staff.page(&format!("/admin/plans?edit={sku}")).await;
    let token = crate::admin::token_in(&page);
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    staff.post_form(&format!("/admin/plans/{sku}"), &form).await
}

async fn an_admin_sets_rates_and_a_reader_buys_at_them(app: TestApp) {
    let staff = app.with_new_client();
    sign_in_as(&staff, "admin@example.org", Role::Admin).await;
    let response = set_rates(
        &staff,
        "sw-digital-1y",
        &[
            ("reduced_price", "9"),
            ("reduced_wording", "Students and the unwaged"),
            ("sustainer_minimum", "20"),
            ("sustainer_suggested", "30"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let (_, page) = staff.page("/admin/plans").await;
    let text = visible_text(&page);
    assert!(
        text.contains("$9.00 (Students and the unwaged)") && text.contains("from $20.00, suggested $30.00"),
        "{text}"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'plan.rates'").await, 1, "audited");

    // The subscribe page offers them; the API lists them.
    let reader = app.with_new_client();
    let (_, page) = reader.page("/subscribe").await;
    let text = visible_text(&page);
    assert!(text.contains("Reduced rate $9.00: Students and the unwaged. On trust: we ask for no proof."), "{text}");
    assert!(
        text.contains("Sustainer rate: pay more to help others read the paper, from $20.00 (we suggest $30.00)"),
        "{text}"
    );
    let (_, products) = reader.json("/api/v1/products").await;
    let plan = products.as_array().expect("products").iter().find(|p| p["sku"] == "sw-digital-1y").expect("the plan");
    assert_eq!(plan["rates"]["reduced"]["price"]["amount"], 900);
    assert_eq!(plan["rates"]["sustainer"]["suggested"]["amount"], 3000);

    // A sustainer's own amount by the form, the demo's reduced journal by the API.
    let response =
        reader.post_form("/cart/items", &[("sku", "sw-digital-1y"), ("rate", "sustainer"), ("amount", "25")]).await;
    assert_eq!(response.status(), 303);
    let (status, cart) = reader
        .send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y", "rate": "reduced", "price": 1}))
        .await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(
        (line(&cart, "sw-digital-1y")["rate"].as_str(), line(&cart, "sw-digital-1y")["unit_price"]["amount"].as_i64()),
        (Some("sustainer"), Some(2500))
    );
    assert_eq!(
        (line(&cart, "isr-print-1y")["rate"].as_str(), line(&cart, "isr-print-1y")["unit_price"]["amount"].as_i64()),
        (Some("reduced"), Some(1900)),
        "a sent price is ignored"
    );
    assert_eq!(cart["total"]["amount"], 4400);
    let (_, page) = reader.page("/cart").await;
    let text = visible_text(&page);
    assert!(text.contains("Socialist Worker, digital edition, 1 year sustainer rate"), "{text}");
    assert!(text.contains("International Socialist Review, print edition, 1 year reduced rate"), "{text}");

    let body =
        json!({"email": "rates@example.org", "name": "Ada Rates", "shipping_address": crate::checkout::address()});
    let (status, answer) = reader.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an order id").to_string();
    let lines: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT sku, rate, unit_price FROM order_lines WHERE order_id = $1 ORDER BY position")
            .bind(&order_id)
            .fetch_all(&app.db.pool)
            .await
            .expect("the lines");
    // The order's lines are the cart's, in the cart's order (oldest first; SKU order within a
    // second, so either order here, depending on when the clock ticked).
    let mut expected = vec![
        ("isr-print-1y".to_string(), "reduced".to_string(), 1900),
        ("sw-digital-1y".into(), "sustainer".into(), 2500),
    ];
    if cart["items"][0]["sku"] == "sw-digital-1y" {
        expected.reverse();
    }
    assert_eq!(lines, expected, "the cart's lines, in its order: {cart}");
    reader.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    let (_, success) = reader.page(&format!("/checkout/success?order={order_id}")).await;
    assert!(visible_text(&success).contains("Socialist Worker, digital edition, 1 year (sustainer rate)"), "{success}");
    let (_, order_page) = staff.page(&format!("/admin/orders/{order_id}")).await;
    assert!(visible_text(&order_page).contains("International Socialist Review, print edition, 1 year (reduced rate)"));
}

async fn coupons_discount_other_rates_only_when_they_say_so(app: TestApp) {
    // FTR 2016 (half off new subscriptions) is for the standard rate: a sustainer line keeps its price.
    let reader = app.with_new_client();
    reader
        .send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y", "rate": "sustainer", "amount": 60}))
        .await;
    let (status, answer) = reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("coupon_not_applicable")), "{answer}");
    reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y"})).await;
    let (status, cart) = reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(line(&cart, "isr-print-1y")["discount"]["amount"], 0, "the sustainer rate is not discounted");
    assert_eq!(line(&cart, "sw-print-1y")["discount"]["amount"], 1250, "the standard rate is");

    // A coupon that says so covers the reduced rate (and not the sustainer rate it does not name).
    save_coupon(&app, masthead::coupons::NewCoupon { applies_to_reduced: true, ..test_coupon("SOLIDARITY") }).await;
    let reader = app.with_new_client();
    reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y", "rate": "reduced"})).await;
    reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y", "rate": "sustainer"})).await;
    let (status, cart) = reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "solidarity"})).await;
    assert_eq!(status, 200, "{cart}");
    assert!(line(&cart, "isr-print-1y")["discount"]["amount"].as_i64() > Some(0), "{cart}");
    assert_eq!(line(&cart, "sw-print-1y")["discount"]["amount"], 0, "{cart}");

    // The admin's preview shows every rate of every plan.
    let staff = app.with_new_client();
    sign_in_as(&staff, "boss@example.org", Role::Staff).await;
    let (_, list) = staff.page("/admin/coupons").await;
    let id: (String,) = sqlx::query_as("SELECT id FROM coupons WHERE normalized_code = 'FTR2016'")
        .fetch_one(&app.db.pool)
        .await
        .expect("FTR 2016");
    assert!(list.contains(&id.0));
    let (_, page) = staff.page(&format!("/admin/coupons/{}", id.0)).await;
    let token = crate::admin::token_in(&page);
    let response = staff
        .post_form(
            &format!("/admin/coupons/{}", id.0),
            &[
                ("csrf_token", token.as_str()),
                ("code", "FTR 2016"),
                ("description", "50% off"),
                ("kind", "percent"),
                ("value", "50"),
                ("applies_to", "subscriptions"),
                ("new_subscribers_only", "on"),
                ("active", "on"),
                ("action", "preview"),
            ],
        )
        .await;
    let page = response.text().await.expect("the page");
    assert!(page.contains("data-sku=\"isr-print-1y\" data-rate=\"reduced rate\">$19.00<"), "not discounted: {page}");
    assert!(page.contains("data-sku=\"isr-print-1y\" data-rate=\"sustainer rate (suggested)\">$50.00<"), "{page}");
    assert!(page.contains("class=\"preview-after\" data-sku=\"isr-print-1y\">$14.50<"), "{page}");
}

async fn bad_rate_choices_are_refused_beside_the_field_and_change_nothing(app: TestApp) {
    let reader = app.with_new_client();
    reader
        .send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y", "rate": "sustainer", "amount": "45"}))
        .await;
    let before = reader.cart().await;
    for (amount, message) in [
        ("39.99", "The sustainer rate is at least $40.00."),
        ("12.345", "Give the amount in dollars and cents"),
        ("1e9", "We take up to $1,000.00 at the sustainer rate here"),
        ("lots", "Enter the amount as a number"),
    ] {
        let response =
            reader.post_form("/cart/items", &[("sku", "sw-print-1y"), ("rate", "sustainer"), ("amount", amount)]).await;
        assert_eq!(response.status(), 422, "{amount}");
        let page = response.text().await.expect("the subscribe page");
        let beside = page.split("id=\"e-amount-sw-print-1y\"").nth(1).unwrap_or_default();
        assert!(beside.contains(message), "{amount}: beside the field: {page}");
        assert!(page.contains(&format!("value=\"{amount}\"")), "{amount} shown again");
        assert_eq!(reader.cart().await, before, "{amount} changed nothing");
        let (status, answer) = reader
            .send_json(
                "POST",
                "/api/v1/cart/items",
                json!({"sku": "sw-print-1y", "rate": "sustainer", "amount": amount}),
            )
            .await;
        assert_eq!(status, 422, "{amount}: {answer}");
        assert_eq!(reader.cart().await, before, "{amount} by the API changed nothing");
    }
    for (body, code) in [
        (json!({"sku": "sw-digital-1y", "rate": "reduced"}), "rate_not_offered"),
        (json!({"sku": "sw-print-1y", "rate": "student"}), "unknown_rate"),
        (json!({"sku": "sw-2016-12", "rate": "sustainer"}), "rate_not_offered"),
    ] {
        let (status, answer) = reader.send_json("POST", "/api/v1/cart/items", body.clone()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some(code)), "{body}: {answer}");
        assert_eq!(reader.cart().await, before, "{body} changed nothing");
    }
}

async fn a_rate_changed_in_another_tab_or_withdrawn_is_never_charged_unseen(app: TestApp) {
    // Another tab moves the plan to another rate after the checkout page was drawn.
    let tab = app.with_new_client();
    tab.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y", "rate": "sustainer", "amount": 60})).await;
    let shown = tab.cart().await;
    let (_, cart) = tab.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y", "rate": "reduced"})).await;
    assert_eq!(cart["notices"][0]["code"], "rate_changed", "{cart}");
    let body = json!({"cart_version": shown["version"], "email": "tab@example.org", "name": "Ada", "shipping_address": crate::checkout::address()});
    let (status, answer) = tab.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("cart_changed")), "{answer}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 0);

    // Two tabs choosing different rates at once leave one line at one of them.
    for round in 0..6 {
        let tab = app.with_new_client();
        let choices = [
            json!({"rate": "reduced"}),
            json!({"rate": "sustainer", "amount": 55}),
            json!({}),
            json!({"rate": "sustainer"}),
        ];
        let presses: Vec<_> = choices
            .into_iter()
            .map(|choice| {
                let tab = tab.clone_session();
                let mut body = json!({"sku": "isr-print-1y"});
                body.as_object_mut().expect("an object").extend(choice.as_object().expect("an object").clone());
                Box::pin(async move { tab.send_json("POST", "/api/v1/cart/items", body).await.0 })
            })
            .collect();
        let statuses = released_together(presses).await;
        assert!(statuses.iter().all(|&s| s == 200), "round {round}: {statuses:?}");
        let cart = tab.cart().await;
        assert_eq!(cart["items"].as_array().map(Vec::len), Some(1), "round {round}: {cart}");
        let (rate, price) = (
            line(&cart, "isr-print-1y")["rate"].as_str(),
            line(&cart, "isr-print-1y")["unit_price"]["amount"].as_i64(),
        );
        assert!(
            matches!(
                (rate, price),
                (Some("reduced"), Some(1900)) | (Some("sustainer"), Some(5500 | 5000)) | (Some("standard"), Some(2900))
            ),
            "round {round}: {rate:?} {price:?}"
        );
    }

    // The admin withdraws the reduced rate while it sits in a cart: the cart says so, at the standard price.
    let tab = app.with_new_client();
    tab.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y", "rate": "reduced"})).await;
    let staff = app.with_new_client();
    sign_in_as(&staff, "admin@example.org", Role::Admin).await;
    let response =
        set_rates(&staff, "isr-print-1y", &[("sustainer_minimum", "40"), ("sustainer_suggested", "50")]).await;
    assert_eq!(response.status(), 303);
    let (_, cart) = tab.json("/api/v1/cart").await;
    assert_eq!(cart["notices"][0]["code"], "rate_withdrawn", "{cart}");
    assert_eq!(
        (line(&cart, "isr-print-1y")["rate"].as_str(), cart["total"]["amount"].as_i64()),
        (Some("standard"), Some(2900))
    );
    let again = tab.cart().await;
    assert_eq!(again["version"], cart["version"], "told once, then the line is at the standard price");
}

async fn the_rates_form_refuses_what_makes_no_sense_and_is_for_admins(app: TestApp) {
    let staff = app.with_new_client();
    sign_in_as(&staff, "admin@example.org", Role::Admin).await;
    let before: Vec<(Option<i64>, Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT reduced_price, sustainer_minimum, sustainer_suggested FROM plans ORDER BY sku")
            .fetch_all(&app.db.pool)
            .await
            .expect("plans");
    for (fields, field, message) in [
        (vec![("reduced_price", "29")], "reduced_price", "A reduced rate costs less than the standard price ($29.00)."),
        (vec![("reduced_price", "-3")], "reduced_price", "Type an amount such as 15 or 12.50"),
        (
            vec![("sustainer_minimum", "20"), ("sustainer_suggested", "30")],
            "sustainer_minimum",
            "A sustainer pays more than the standard price",
        ),
        (
            vec![("sustainer_minimum", "60"), ("sustainer_suggested", "50")],
            "sustainer_suggested",
            "The suggested amount is at least the minimum.",
        ),
        (vec![("sustainer_minimum", "60")], "sustainer_suggested", "Suggest an amount"),
    ] {
        let response = set_rates(&staff, "isr-print-1y", &fields).await;
        assert_eq!(response.status(), 422, "{fields:?}");
        let page = response.text().await.expect("the page");
        let beside = page.split(&format!("id=\"e-{field}\"")).nth(1).unwrap_or_default();
        assert!(beside.contains(message), "{fields:?}: {page}");
    }
    let after: Vec<(Option<i64>, Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT reduced_price, sustainer_minimum, sustainer_suggested FROM plans ORDER BY sku")
            .fetch_all(&app.db.pool)
            .await
            .expect("plans");
    assert_eq!(before, after, "nothing changed");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'plan.rates'").await, 0);

    let clerk = app.with_new_client();
    sign_in_as(&clerk, "clerk@example.org", Role::Staff).await;
    let response = set_rates(&clerk, "isr-print-1y", &[("reduced_price", "10")]).await;
    assert_eq!(response.status(), 403);
    let (status, _) = clerk.page("/admin/plans/nope").await;
    assert!(status == 404 || status == 405, "{status}");
}
