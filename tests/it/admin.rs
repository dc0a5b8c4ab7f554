//! The staff admin: who may enter, CSRF, sign-in, coupons, issues, orders and the mailing list.

use masthead::{
    clock,
    staff::accounts::{self as staff, Role},
};
use serde_json::{json, Value};

use crate::{
    checkout::checkout,
    on_both_databases,
    support::{html_text, TestApp},
};

on_both_databases!(
    a_coupon_whose_window_is_over_is_saved_only_after_a_warning,
    the_audit_log_reads_as_before_and_after_and_filters,
    a_cancelled_checkout_reads_cancelled_and_figures_are_in_good_english,
    the_shops_postal_address_is_set_by_an_admin_and_printed_on_receipts,
    every_admin_route_refuses_strangers,
    a_forged_form_changes_nothing,
    signing_in_checks_password_account_and_address,
    a_second_factor_is_asked_for_once_enrolled_and_can_be_required,
    coupon_form_refuses_each_mistake_field_by_field,
    the_preview_prices_the_publishers_offer,
    deactivating_a_coupon_stops_new_redemptions_but_paid_orders_keep_theirs,
    a_redeemed_coupon_keeps_its_code_and_cannot_be_deleted,
    the_admin_counts_a_coupons_uses_and_a_new_limit_starts_from_them,
    the_mailing_list_has_exactly_the_subscriptions_covering_the_issue,
    a_refund_ends_the_subscriptions_and_is_audited,
    issues_are_created_uploaded_and_published,
    staff_management_is_for_admins,
    a_sign_in_link_with_control_characters_goes_to_the_dashboard,
    a_staff_change_and_its_audit_entry_commit_together,
    a_large_pdf_is_streamed_in_and_out,
    searching_by_email_takes_underscores_and_percent_signs_literally,
    an_unreadable_percentage_gets_one_message_beside_its_field,
    the_staff_command_tells_the_operator_what_went_wrong,
);

pub const PASSWORD: &str = "a long staff passphrase 2017";

pub fn token_in(page: &str) -> String {
    let start = page.find("name=\"csrf_token\" value=\"").expect("a CSRF token in the page") + 25;
    page[start..start + page[start..].find('"').expect("the token ends")].to_string()
}

/// Creates a staff member with the test password, as `masthead staff add` would.
pub async fn add_staff(app: &TestApp, email: &str, role: Role) {
    staff::add(&app.db, email, role, Some(PASSWORD), &masthead::audit::Actor::command_line(), clock::now())
        .await
        .expect("a staff member");
}

/// Creates a staff member and signs the app's client in; answers the CSRF token for forms.
pub async fn sign_in_as(app: &TestApp, email: &str, role: Role) -> String {
    add_staff(app, email, role).await;
    let (_, page) = app.page("/admin/login").await;
    let response = app
        .post_form("/admin/login", &[("csrf_token", &token_in(&page)), ("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 303, "signed in");
    let (status, page) = app.page("/admin").await;
    assert_eq!(status, 200);
    token_in(&page)
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

async fn ftr_id(app: &TestApp) -> String {
    sqlx::query_as::<_, (String,)>("SELECT id FROM coupons WHERE normalized_code = 'FTR2016'")
        .fetch_one(&app.db.pool)
        .await
        .expect("FTR 2016")
        .0
}

async fn every_admin_route_refuses_strangers(app: TestApp) {
    let routes = masthead::http::admin::admin_routes().routes;
    assert!(routes.len() >= 25, "{} routes", routes.len());
    let stranger = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    for (method, path) in routes {
        let path =
            path.split('/').map(|part| if part.starts_with('{') { "x" } else { part }).collect::<Vec<_>>().join("/");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let response = stranger
            .request(method.clone(), app.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("code=X&csrf_token=guess")
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert_eq!(response.headers()["cache-control"], "no-store", "{method} {path}");
        let body = response.text().await.expect("a body");
        assert!(
            (status == 303 && location.starts_with("/admin/login")) || status == 401,
            "{method} {path}: {status} {location}"
        );
        assert!(!body.contains("Sign out") && !body.contains("boss@"), "{method} {path} showed content");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupons WHERE active = 1").await, 1);
}

async fn a_forged_form_changes_nothing(app: TestApp) {
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let id = ftr_id(&app).await;
    let path = format!("/admin/coupons/{id}/deactivate");
    for forged in [vec![], vec![("csrf_token", "not-the-token")], vec![("csrf_token", "")]] {
        let response = app.post_form(&path, &forged).await;
        assert_eq!(response.status(), 403, "{forged:?}");
        assert_eq!(count(&app, "SELECT active FROM coupons").await, 1, "still active");
    }
    // A page of another site posting with the reader's cookie but its own session's token.
    let attacker = app.with_new_client();
    let (_, page) = attacker.page("/admin/login").await;
    let response = app.post_form(&path, &[("csrf_token", &token_in(&page))]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE entity = 'coupon'").await, 0);
    let response = app.post_form(&path, &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(count(&app, "SELECT active FROM coupons").await, 0);
    // Uploads carry the token in the query string; without it, nothing is stored.
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"\x89PNG\r\n\x1a\nxx".to_vec()).file_name("c.png"));
    let response =
        app.client.post(app.url("/admin/issues/sw-2017-01/cover")).multipart(form).send().await.expect("sent");
    assert_eq!(response.status(), 403);
}

async fn signing_in_checks_password_account_and_address(app: TestApp) {
    add_staff(&app, "ada@example.org", Role::Staff).await;
    let (_, page) = app.page("/admin/login").await;
    let token = token_in(&page);
    let cookie_before = session_cookie(&app, "/admin/login").await;

    let response = app
        .post_form(
            "/admin/login",
            &[("csrf_token", &token), ("email", "ada@example.org"), ("password", "wrong password!!")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(html_text(&response.text().await.expect("a page"))
        .contains("That email and password do not match a staff account."));
    assert_eq!(app.get("/admin").await.status(), 303, "not signed in");

    // The session id changes at sign-in.
    let response = app
        .post_form("/admin/login", &[("csrf_token", &token), ("email", "ADA@example.org"), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 303);
    let cookie_after = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(cookie_after.starts_with("masthead_session="), "a new cookie: {cookie_after}");
    assert_ne!(cookie_value(&cookie_after), cookie_before, "no session fixation");
    assert_eq!(app.get("/admin").await.status(), 200);

    // A disabled account is refused even with the right password.
    staff::set_disabled(&app.db, "ada@example.org", true, &masthead::audit::Actor::command_line(), clock::now())
        .await
        .expect("disabled");
    assert_eq!(app.get("/admin").await.status(), 303, "signed out at the next request");
    let (_, page) = app.page("/admin/login").await;
    let response = app
        .post_form(
            "/admin/login",
            &[("csrf_token", &token_in(&page)), ("email", "ada@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(html_text(&response.text().await.expect("a page")).contains("disabled"));

    // Repeated failures lock the account out for a while, even with the right password.
    add_staff(&app, "bo@example.org", Role::Staff).await;
    let (_, page) = app.page("/admin/login").await;
    let token = token_in(&page);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let response = app
            .post_form(
                "/admin/login",
                &[("csrf_token", &token), ("email", "bo@example.org"), ("password", "guess guess guess")],
            )
            .await;
        statuses.push(response.status().as_u16());
    }
    // This address already failed twice above (a wrong password, a disabled account): its tenth
    // failure comes first, and from then on it waits.
    assert_eq!(statuses, [422, 422, 422, 422, 422, 422, 422, 422, 429, 429]);
    let response = app
        .post_form("/admin/login", &[("csrf_token", &token), ("email", "bo@example.org"), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(count(&app, "SELECT failures FROM attempt_counts WHERE kind = 'staff_sign_in' AND limiter_key = 'account:bo@example.org'").await, 11);
    // A fresh session from the same address waits too.
    let other = app.with_new_client();
    let (_, page) = other.page("/admin/login").await;
    let response = other
        .post_form(
            "/admin/login",
            &[("csrf_token", &token_in(&page)), ("email", "bo@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 429);
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or("").to_string()
}

async fn session_cookie(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(cookie_value).unwrap_or_default()
}

async fn a_second_factor_is_asked_for_once_enrolled_and_can_be_required(app: TestApp) {
    let token = sign_in_as(&app, "boss@example.org", Role::Admin).await;
    let (_, page) = app.page("/admin/two-factor").await;
    let start = page.find("<code class=\"secret\">").expect("the secret") + 21;
    let secret = page[start..start + page[start..].find('<').expect("ends")].to_string();
    let response = app.post_form("/admin/two-factor", &[("csrf_token", &token), ("code", "000000")]).await;
    assert_eq!(response.status(), 422, "a wrong code does not enrol");
    let code = masthead::staff::two_factor::current_totp_code(&secret, "boss@example.org").expect("a code");
    let response = app.post_form("/admin/two-factor", &[("csrf_token", &token), ("code", &code)]).await;
    assert_eq!(response.status(), 303);

    app.post_form("/admin/logout", &[("csrf_token", &token)]).await;
    assert_eq!(app.get("/admin").await.status(), 303);
    let (_, page) = app.page("/admin/login").await;
    let login = token_in(&page);
    let response = app
        .post_form("/admin/login", &[("csrf_token", &login), ("email", "boss@example.org"), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 422, "the password alone is not enough");
    let code = masthead::staff::two_factor::current_totp_code(&secret, "boss@example.org").expect("a code");
    let response = app
        .post_form(
            "/admin/login",
            &[("csrf_token", &login), ("email", "boss@example.org"), ("password", PASSWORD), ("code", &code)],
        )
        .await;
    assert_eq!(response.status(), 303);

    // Required for everyone: a colleague without a second factor is sent to set one up.
    let (_, page) = app.page("/admin/staff").await;
    let response =
        app.post_form("/admin/staff/two-factor", &[("csrf_token", &token_in(&page)), ("required", "on")]).await;
    assert_eq!(response.status(), 303);
    let colleague = app.with_new_client();
    sign_in_as_existing_or_new(&colleague, "helper@example.org").await;
    let response = colleague.get("/admin/coupons").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/two-factor");
}

/// Signs in a new staff member on this client without looking at the dashboard (which may redirect).
async fn sign_in_as_existing_or_new(app: &TestApp, email: &str) {
    add_staff(app, email, Role::Staff).await;
    let (_, page) = app.page("/admin/login").await;
    let response = app
        .post_form("/admin/login", &[("csrf_token", &token_in(&page)), ("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 303);
}

fn coupon_fields<'a>(token: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("csrf_token", token),
        ("code", "WINTER 26"),
        ("description", "Winter sale"),
        ("kind", "percent"),
        ("value", "20"),
        ("applies_to", "everything"),
        ("active", "on"),
        ("action", "save"),
    ];
    for (key, value) in overrides {
        fields.retain(|(k, _)| k != key);
        fields.push((key, value));
    }
    fields
}

async fn coupon_form_refuses_each_mistake_field_by_field(app: TestApp) {
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    for (overrides, says) in [
        (vec![("value", "0")], "A percentage must be more than 0 and at most 100."),
        (vec![("value", "150")], "A percentage must be more than 0 and at most 100."),
        (vec![("value", "33.333")], "at most two decimals"),
        (vec![("kind", "fixed"), ("value", "0")], "A fixed discount must be more than zero."),
        (vec![("kind", "fixed"), ("value", "-5")], "A fixed discount must be more than zero."),
        (
            vec![("starts_at", "2026-12-31T10:00"), ("ends_at", "2026-12-01T10:00")],
            "The end must come after the start.",
        ),
        (vec![("code", "ftr-2016")], "Another coupon already uses the code FTR2016"),
        (vec![("applies_to", "skus"), ("targets", "isr-print-3y")], "There is no product isr-print-3y."),
        (vec![("applies_to", "publications"), ("targets", "nyt")], "There is no publication nyt."),
        (vec![("code", "  ")], "A coupon needs a code."),
    ] {
        let response = app.post_form("/admin/coupons", &coupon_fields(&token, &overrides)).await;
        assert_eq!(response.status(), 422, "{overrides:?}");
        let page = html_text(&response.text().await.expect("a page"));
        assert!(page.contains(says), "{overrides:?}: {says}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM coupons").await, 1, "{overrides:?}: nothing saved");
    }
    // Every mistake at once, each said once: a taken code beside the others, and no overflow on an absurd number.
    for value in ["150", "79228162514264337593543950335"] {
        let overrides = [("code", "Ftr 2016"), ("value", value), ("description", "")];
        let response = app.post_form("/admin/coupons", &coupon_fields(&token, &overrides)).await;
        assert_eq!(response.status(), 422);
        let page = html_text(&response.text().await.expect("a page"));
        let listed = page.split("<li>").filter(|item| item.starts_with("A percentage must be")).count();
        assert_eq!(listed, 1, "the range mistake is listed once: {page}");
        assert!(
            page.contains("Another coupon already uses the code FTR2016") && page.contains("Say what the coupon gives")
        );
    }
    let response =
        app.post_form("/admin/coupons", &coupon_fields(&token, &[("value", "33.33"), ("covers_postage", "on")])).await;
    assert_eq!(response.status(), 303);
    let (bp, code, covers_postage): (i64, String, i64) =
        sqlx::query_as("SELECT percent_bp, code, covers_postage FROM coupons WHERE normalized_code = 'WINTER26'")
            .fetch_one(&app.db.pool)
            .await
            .expect("saved");
    assert_eq!((bp, code.as_str(), covers_postage), (3333, "WINTER 26", 1));
    let (action, entity): (String, String) =
        sqlx::query_as("SELECT action, entity FROM audit_log WHERE entity <> 'staff'")
            .fetch_one(&app.db.pool)
            .await
            .expect("audited");
    assert_eq!((action.as_str(), entity.as_str()), ("coupon.create", "coupon"));
}

fn preview_price(page: &str, sku: &str) -> String {
    let marker = format!("class=\"preview-after\" data-sku=\"{sku}\">");
    let start = page.find(&marker).unwrap_or_else(|| panic!("a preview for {sku}")) + marker.len();
    page[start..start + page[start..].find('<').expect("ends")].to_string()
}

async fn the_preview_prices_the_publishers_offer(app: TestApp) {
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let (status, page) = app.page(&format!("/admin/coupons/{}", ftr_id(&app).await)).await;
    assert_eq!(status, 200);
    assert_eq!(preview_price(&page, "isr-print-1y"), "$14.50");
    assert_eq!(preview_price(&page, "isr-print-2y"), "$29.00");
    assert_eq!(preview_price(&page, "isr-print-4y"), "$49.00");
    assert_eq!(preview_price(&page, "sw-2017-01"), "$2.50", "single issues are not discounted");
    // An unsaved form previews too, and saves nothing.
    let response = app
        .post_form(
            "/admin/coupons",
            &coupon_fields(
                &token,
                &[
                    ("kind", "fixed"),
                    ("value", "5"),
                    ("applies_to", "publications"),
                    ("targets", "sw"),
                    ("action", "preview"),
                ],
            ),
        )
        .await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("a page");
    assert_eq!(preview_price(&page, "sw-print-1y"), "$20.00");
    assert_eq!(preview_price(&page, "sw-2017-01"), "$0.00", "never below zero");
    assert_eq!(preview_price(&page, "isr-print-1y"), "$29.00");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupons").await, 1);
}

async fn deactivating_a_coupon_stops_new_redemptions_but_paid_orders_keep_theirs(app: TestApp) {
    let (_, answer) = checkout(&app, &["isr-print-4y"], Some("FTR 2016"), "first@example.org").await;
    let paid_order = answer["order_id"].as_str().expect("an order").to_string();
    app.post_form(&format!("/checkout/test-payment/{paid_order}/pay"), &[]).await;

    let reader = app.with_new_client();
    reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y"})).await;
    let (status, _) = reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(status, 200);

    let staff_client = app.with_new_client();
    let token = sign_in_as(&staff_client, "staff@example.org", Role::Staff).await;
    let response = staff_client
        .post_form(&format!("/admin/coupons/{}/deactivate", ftr_id(&app).await), &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), 303);

    let (status, answer) = reader
        .send_json(
            "POST",
            "/api/v1/checkout",
            json!({"email": "second@example.org", "name": "B", "shipping_address": crate::checkout::address()}),
        )
        .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("coupon_no_longer_applies")), "{answer}");
    let (_, cart) = reader.json("/api/v1/cart").await;
    assert_eq!(cart["coupon"], Value::Null);
    let (status, discount): (String, i64) = sqlx::query_as("SELECT status, discount FROM orders WHERE id = $1")
        .bind(&paid_order)
        .fetch_one(&app.db.pool)
        .await
        .expect("the order");
    assert_eq!((status.as_str(), discount), ("paid", 4900), "the paid order keeps its discount");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status = 'final'").await, 1);
}

async fn a_redeemed_coupon_keeps_its_code_and_cannot_be_deleted(app: TestApp) {
    let (_, answer) = checkout(&app, &["isr-print-1y"], Some("FTR 2016"), "r@example.org").await;
    assert!(answer["order_id"].is_string());
    let staff_client = app.with_new_client();
    let token = sign_in_as(&staff_client, "staff@example.org", Role::Staff).await;
    let id = ftr_id(&app).await;
    let response = staff_client
        .post_form(
            &format!("/admin/coupons/{id}"),
            &coupon_fields(&token, &[("code", "FTR 2017"), ("applies_to", "subscriptions")]),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(html_text(&response.text().await.expect("a page")).contains("its code can no longer change"));
    let response = staff_client.post_form(&format!("/admin/coupons/{id}/delete"), &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 409);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupons WHERE normalized_code = 'FTR2016'").await, 1);
    // An unused coupon can be deleted.
    staff_client.post_form("/admin/coupons", &coupon_fields(&token, &[])).await;
    let (other,): (String,) = sqlx::query_as("SELECT id FROM coupons WHERE normalized_code = 'WINTER26'")
        .fetch_one(&app.db.pool)
        .await
        .expect("saved");
    let response = staff_client.post_form(&format!("/admin/coupons/{other}/delete"), &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupons").await, 1);
}

/// A coupon without a limit keeps no count: the admin counts its reserved and final redemptions
/// (a cancelled checkout's is released), and a limit given later starts from them.
async fn the_admin_counts_a_coupons_uses_and_a_new_limit_starts_from_them(app: TestApp) {
    let mut orders = Vec::new();
    for email in ["paid@example.org", "waiting@example.org", "cancelled@example.org"] {
        let reader = app.with_new_client();
        let (status, answer) = checkout(&reader, &["isr-print-1y"], Some("FTR 2016"), email).await;
        assert_eq!(status, 201, "{answer}");
        orders.push((reader, answer["order_id"].as_str().expect("an order").to_string()));
    }
    for ((reader, order), action) in orders.iter().zip(["pay", "", "cancel"]).filter(|(_, a)| !a.is_empty()) {
        let response = reader.post_form(&format!("/checkout/test-payment/{order}/{action}"), &[]).await;
        assert_eq!(response.status(), 303, "{action}");
    }
    let staff_client = app.with_new_client();
    let token = sign_in_as(&staff_client, "staff@example.org", Role::Staff).await;
    let (_, list) = staff_client.page("/admin/coupons").await;
    assert!(list.contains("<td>2</td>"), "paid and waiting, not cancelled: {list}");
    let id = ftr_id(&app).await;
    let (_, form) = staff_client.page(&format!("/admin/coupons/{id}")).await;
    assert!(html_text(&form).contains("Used 2 times"));

    let ftr = |limit| {
        let fields = [("code", "FTR 2016"), ("value", "50"), ("applies_to", "subscriptions")];
        let mut fields = coupon_fields(&token, &fields);
        fields.extend([("new_subscribers_only", "on"), ("max_redemptions", limit)]);
        fields
    };
    let response = staff_client.post_form(&format!("/admin/coupons/{id}"), &ftr("1")).await;
    assert_eq!(response.status(), 422);
    let page = html_text(&response.text().await.expect("a page"));
    assert!(page.contains("The limit cannot be lower than the redemptions already made."), "{page}");
    let stored = "SELECT COALESCE(max_redemptions, 0) * 100 + redemptions_used FROM coupons";
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupons WHERE max_redemptions IS NULL").await, 1, "unchanged");

    let response = staff_client.post_form(&format!("/admin/coupons/{id}"), &ftr("3")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(count(&app, stored).await, 3 * 100 + 2, "a limit of 3, used twice");
    let (_, list) = staff_client.page("/admin/coupons").await;
    assert!(list.contains("<td>2 / 3</td>"), "{list}");
    let (status, answer) =
        checkout(&app.with_new_client(), &["isr-print-1y"], Some("FTR 2016"), "third@example.org").await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(count(&app, stored).await, 3 * 100 + 3, "counted against the limit");
    let (_, list) = staff_client.page("/admin/coupons").await;
    assert!(list.contains("<td>3 / 3</td>") && list.contains("used up"), "{list}");
}

async fn the_mailing_list_has_exactly_the_subscriptions_covering_the_issue(app: TestApp) {
    let (_, answer) = checkout(&app, &["sw-print-1y", "sw-2017-01"], None, "base@example.org").await;
    let order_id = answer["order_id"].as_str().expect("an order").to_string();
    app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    sqlx::query("DELETE FROM subscriptions").execute(&app.db.pool).await.expect("cleared");
    // January 2017 is period 2017 * 12 + 0.
    let jan = 2017 * 12;
    for (position, name, edition, first, last, status, country) in [
        (10, "Covers Exactly", "print", jan, jan, "active", "US"),
        (11, "Long Term", "print", jan - 11, jan + 36, "active", "CA"),
        (12, "Ended Before", "print", jan - 12, jan - 1, "active", "US"),
        (13, "Starts After", "print", jan + 1, jan + 12, "active", "US"),
        (14, "Digital Only", "digital", jan - 1, jan + 11, "active", "US"),
        (15, "Refunded", "print", jan - 1, jan + 11, "ended", "US"),
    ] {
        sqlx::query(
            "INSERT INTO subscriptions (id, order_id, order_position, email, email_normalized, name, publication, edition, term_years, \
             first_period, last_period, ship_line1, ship_city, ship_postal_code, ship_country, status, created_at) \
             VALUES ($1, $2, $3, 'x@example.org', 'x@example.org', $4, 'sw', $5, 1, $6, $7, '1 Main St', 'Town', '12345', $8, $9, 0)",
        )
        .bind(format!("sub{position}"))
        .bind(&order_id)
        .bind(position as i64)
        .bind(name)
        .bind(edition)
        .bind(first as i64)
        .bind(last as i64)
        .bind(country)
        .bind(status)
        .execute(&app.db.pool)
        .await
        .expect("a subscription");
    }
    let staff_client = app.with_new_client();
    sign_in_as(&staff_client, "staff@example.org", Role::Staff).await;
    let response = staff_client.get("/admin/mailing-list/sw-2017-01.csv").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = response.text().await.expect("the CSV");
    let names: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap_or("")).collect();
    assert_eq!(names.len(), 3, "{csv}");
    for name in ["Covers Exactly", "Long Term", "Ada Reader"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(csv.contains("single copy"), "the single print copy sold of the issue");
    let (_, page) = staff_client.page("/admin/mailing-list?issue=sw-2017-01").await;
    assert!(page.contains("<strong>3</strong> printed copies"), "{page}");
    assert!(
        page.contains("<th scope=\"row\">US</th><td>2</td>") && page.contains("<th scope=\"row\">CA</th><td>1</td>")
    );
}

async fn a_refund_ends_the_subscriptions_and_is_audited(app: TestApp) {
    let (_, answer) = checkout(&app, &["isr-print-2y"], None, "refund@example.org").await;
    let order_id = answer["order_id"].as_str().expect("an order").to_string();
    app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    let staff_client = app.with_new_client();
    let token = sign_in_as(&staff_client, "staff@example.org", Role::Staff).await;
    let (_, page) = staff_client.page(&format!("/admin/orders/{order_id}")).await;
    assert!(page.contains("Refund this order") && page.contains("$58.00"));
    let (_, page) = staff_client.page("/admin").await;
    assert!(
        page.contains("<strong>1</strong> paid order</a>")
            && page.contains("<strong>1</strong> active subscription</a>"),
        "{page}"
    );
    // A refund asks first: the amount, and what ends with it. Posted without the confirmation,
    // nothing happens and the question comes back.
    let refund = format!("/admin/orders/{order_id}/refund");
    let response = staff_client.post_form(&refund, &[("csrf_token", &token)]).await;
    assert_eq!(
        (response.status().as_u16(), response.headers()["location"].to_str().expect("text")),
        (303, refund.as_str())
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE status = 'refunded'").await, 0);
    let (status, page) = staff_client.page(&refund).await;
    assert_eq!(status, 200);
    assert!(page.contains("Refund $58.00") && page.contains("International Socialist Review"), "{page}");
    assert!(page.contains("ends now"), "{page}");
    let response = staff_client.post_form(&refund, &[("csrf_token", &token), ("confirm", "yes")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE status = 'refunded'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions WHERE status = 'ended'").await, 1);
    let response = staff_client.post_form(&refund, &[("csrf_token", &token), ("confirm", "yes")]).await;
    assert_eq!(response.status(), 409, "refunded once");
    let (_, page) = staff_client.page("/admin").await;
    assert!(
        page.contains("<strong>0</strong> paid orders") && page.contains("<strong>0</strong> active subscriptions"),
        "{page}"
    );
    let (_, page) = staff_client.page("/admin/audit").await;
    assert!(page.contains("refunded an order: <strong>order ") && page.contains("staff@example.org"), "{page}");
    let (_, page) = staff_client.page("/admin/orders?status=refunded&email=REFUND").await;
    assert!(page.contains(&order_id[..8]));
    let (_, page) = staff_client.page("/admin/orders?status=paid").await;
    assert!(!page.contains(&order_id[..8]));
}

async fn issues_are_created_uploaded_and_published(app: TestApp) {
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let response = app
        .post_form(
            "/admin/issues",
            &[
                ("csrf_token", token.as_str()),
                ("publication", "sw"),
                ("year", "2017"),
                ("month", "2"),
                ("title", "Resist the ban"),
                ("summary", "The airport protests."),
                (
                    "contents",
                    "Front page | Resist the ban | Socialist Worker\nEditorial | Where next? | SW\nLetters | Readers",
                ),
                ("price", "2.50"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/issues/sw-2017-02");
    assert_eq!(app.get("/issues/sw/2017/02").await.status(), 404, "not published yet");

    let upload = |path: &str, bytes: &[u8], name: &str| {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()));
        app.client.post(app.url(&format!("{path}?csrf_token={token}"))).multipart(form).send()
    };
    let response = upload("/admin/issues/sw-2017-02/cover", b"<html><script>alert(1)</script></html>", "cover.png")
        .await
        .expect("sent");
    assert_eq!(response.status(), 422, "the name says PNG, the bytes do not");
    let svg = b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    assert_eq!(upload("/admin/issues/sw-2017-02/cover", svg, "cover.svg").await.expect("sent").status(), 303);
    assert_eq!(upload("/admin/issues/sw-2017-02/pdf", b"not a pdf", "issue.pdf").await.expect("sent").status(), 422);
    assert_eq!(
        upload("/admin/issues/sw-2017-02/pdf", b"%PDF-1.7\n%fake but typed right", "issue.pdf")
            .await
            .expect("sent")
            .status(),
        303
    );

    let response = app.post_form("/admin/issues/sw-2017-02/publish", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    let (status, page) = app.page("/issues/sw/2017/02").await;
    assert_eq!(status, 200);
    assert!(page.contains("Resist the ban") && page.contains("Where next?"));
    let start = page.find("src=\"/media/").expect("the uploaded cover") + 5;
    let cover = &page[start..start + page[start..].find('"').expect("ends")];
    let response = app.get(cover).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(
        response.headers()["content-security-policy"].to_str().expect("text").contains("sandbox"),
        "the SVG cannot run its script"
    );
    assert_eq!(app.get("/media/../Cargo.toml").await.status(), 404);
    // The PDF is for digital subscribers and staff, not the public.
    let (pdf_key,): (String,) = sqlx::query_as("SELECT pdf_file FROM issues WHERE sku = 'sw-2017-02'")
        .fetch_one(&app.db.pool)
        .await
        .expect("a PDF");
    assert_eq!(app.with_new_client().get(&format!("/media/{pdf_key}")).await.status(), 404);
    assert_eq!(app.get("/admin/issues/sw-2017-02/pdf").await.status(), 200);
    let actions: Vec<(String,)> = sqlx::query_as("SELECT action FROM audit_log ORDER BY at, action")
        .fetch_all(&app.db.pool)
        .await
        .expect("audit");
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    for expected in ["issue.create", "issue.cover", "issue.pdf", "issue.publish"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
}

async fn staff_management_is_for_admins(app: TestApp) {
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    assert_eq!(app.get("/admin/staff").await.status(), 403);
    let response =
        app.post_form("/admin/staff", &[("csrf_token", &token), ("email", "new@example.org"), ("role", "admin")]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM staff").await, 1);

    let admin_client = app.with_new_client();
    let token = sign_in_as(&admin_client, "boss@example.org", Role::Admin).await;
    let response = admin_client
        .post_form("/admin/staff", &[("csrf_token", &token), ("email", "new@example.org"), ("role", "staff")])
        .await;
    assert_eq!(response.status(), 303);
    let (_, page) = admin_client.page("/admin/staff").await;
    let start = page.find("/admin/set-password/").expect("a one-time link");
    let link = &page[start..start + page[start..].find(|c: char| c.is_whitespace() || c == '<').expect("ends")];
    let (_, form) = app.with_new_client().page(link).await;
    let newcomer = app.with_new_client();
    let (_, form_page) = newcomer.page(link).await;
    assert!(form.contains("Set your password"));
    let response = newcomer.post_form(link, &[("csrf_token", &token_in(&form_page)), ("password", "short")]).await;
    assert_eq!(response.status(), 422);
    let response =
        newcomer.post_form(link, &[("csrf_token", &token_in(&form_page)), ("password", "password1234")]).await;
    assert_eq!(response.status(), 422, "too common");
    let response = newcomer.post_form(link, &[("csrf_token", &token_in(&form_page)), ("password", PASSWORD)]).await;
    assert_eq!(response.status(), 303);
    let response = newcomer.post_form(link, &[("csrf_token", &token_in(&form_page)), ("password", PASSWORD)]).await;
    assert_eq!(response.status(), 404, "a link works once");
}

async fn a_sign_in_link_with_control_characters_goes_to_the_dashboard(app: TestApp) {
    add_staff(&app, "ada@example.org", Role::Staff).await;
    for next in ["/admin%0d%0aSet-Cookie:%20stolen=1", "/admin/orders%00", "/admin%09x", "//evil.example/admin"] {
        let (status, page) = app.with_new_client().page(&format!("/admin/login?next={next}")).await;
        assert_eq!(status, 200, "{next}: the sign-in page, not a 500");
        let browser = app.with_new_client();
        let (_, page_of_browser) = browser.page("/admin/login").await;
        let decoded: String =
            serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("n={next}")).expect("decoded")[0].1.clone();
        let response = browser
            .post_form(
                "/admin/login",
                &[
                    ("csrf_token", &token_in(&page_of_browser)),
                    ("email", "ada@example.org"),
                    ("password", PASSWORD),
                    ("next", &decoded),
                ],
            )
            .await;
        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(response.headers()["location"], "/admin", "{next}");
        assert!(response.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap_or("").contains("stolen")));
        assert!(!page.contains("Set-Cookie"), "{next}");
    }
}

async fn a_staff_change_and_its_audit_entry_commit_together(app: TestApp) {
    let token = sign_in_as(&app, "boss@example.org", Role::Admin).await;
    // With the audit log unwritable, a change must not happen without its entry.
    sqlx::query("ALTER TABLE audit_log RENAME TO audit_log_away").execute(&app.db.pool).await.expect("renamed");
    let response =
        app.post_form("/admin/staff", &[("csrf_token", &token), ("email", "new@example.org"), ("role", "staff")]).await;
    assert_eq!(response.status(), 500);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM staff WHERE email = 'new@example.org'").await,
        0,
        "no account without its audit entry"
    );
    let response = app.post_form("/admin/staff/two-factor", &[("csrf_token", &token), ("required", "on")]).await;
    assert_eq!(response.status(), 500);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM settings WHERE name = 'require_two_factor' AND value = '1'").await, 0);
    sqlx::query("ALTER TABLE audit_log_away RENAME TO audit_log").execute(&app.db.pool).await.expect("renamed back");
    let response =
        app.post_form("/admin/staff", &[("csrf_token", &token), ("email", "new@example.org"), ("role", "staff")]).await;
    assert_eq!(response.status(), 303);
    let (id,): (String,) = sqlx::query_as("SELECT id FROM staff WHERE email = 'new@example.org'")
        .fetch_one(&app.db.pool)
        .await
        .expect("added");
    let response = app.post_form(&format!("/admin/staff/{id}/disable"), &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    let actions: Vec<(String, String)> =
        sqlx::query_as("SELECT action, staff_email FROM audit_log WHERE entity_id = $1 ORDER BY at, action")
            .bind(&id)
            .fetch_all(&app.db.pool)
            .await
            .expect("audited");
    assert_eq!(
        actions,
        [
            ("staff.add".to_string(), "boss@example.org".to_string()),
            ("staff.disable".to_string(), "boss@example.org".to_string())
        ]
    );
}

async fn a_large_pdf_is_streamed_in_and_out(app: TestApp) {
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    // 120 MiB: more than the old limit, read in chunks rather than whole.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(120 * 1024 * 1024, b'x');
    let form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(pdf).file_name("issue.pdf"));
    let response = app
        .client
        .post(app.url(&format!("/admin/issues/sw-2017-01/pdf?csrf_token={token}")))
        .multipart(form)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 303);
    let response = app.get("/admin/issues/sw-2017-01/pdf").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], (120 * 1024 * 1024).to_string().as_str());
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let bytes = response.bytes().await.expect("the PDF");
    assert!(bytes.starts_with(b"%PDF-1.7") && bytes.len() == 120 * 1024 * 1024);
    // Over the limit: refused, nothing half-written is left behind, the issue keeps its PDF.
    let mut huge = b"%PDF-1.7\n".to_vec();
    huge.resize(201 * 1024 * 1024, b'x');
    let form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(huge).file_name("huge.pdf"));
    let response = app
        .client
        .post(app.url(&format!("/admin/issues/sw-2017-01/pdf?csrf_token={token}")))
        .multipart(form)
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }
    let folder = app.config.data_dir.join("media").join("pdfs");
    let files: Vec<String> = std::fs::read_dir(&folder)
        .expect("the PDF folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".pdf"), "{files:?}");
}

async fn searching_by_email_takes_underscores_and_percent_signs_literally(app: TestApp) {
    for email in ["o_brien@example.org", "oxbrien@example.org", "100%reader@example.org"] {
        let (status, answer) = checkout(&app.with_new_client(), &["isr-print-1y"], None, email).await;
        assert_eq!(status, 201, "{answer}");
    }
    sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let (_, page) = app.page("/admin/orders?email=o_b").await;
    assert!(
        page.contains("o_brien@example.org") && !page.contains("oxbrien@example.org"),
        "_ is an underscore, not any character"
    );
    let (_, page) = app.page("/admin/orders?email=100%25").await;
    assert!(page.contains("100%reader@example.org") && !page.contains("o_brien@example.org"), "% is a percent sign");
}

async fn an_unreadable_percentage_gets_one_message_beside_its_field(app: TestApp) {
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let response = app.post_form("/admin/coupons", &coupon_fields(&token, &[("value", "fifty")])).await;
    assert_eq!(response.status(), 422);
    let page = html_text(&response.text().await.expect("a page"));
    assert_eq!(page.matches("Type a percentage such as 50").count(), 2, "once in the summary, once beside the field");
    assert!(!page.contains("more than 0 and at most 100"), "no second message about a range");
    let beside = page.find("id=\"value\"").expect("the value input");
    let message = page.find("id=\"e-value\"").expect("the message beside it");
    assert!(message > beside, "the message follows its field");
}

async fn the_staff_command_tells_the_operator_what_went_wrong(app: TestApp) {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_masthead"))
            .args(args)
            .env("DATABASE_URL", &app.config.database_url)
            .env("MASTHEAD_DATA_DIR", &app.config.data_dir)
            .env("RUST_LOG", "off")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the masthead binary runs")
    };
    let output = run(&["staff", "disable", "nobody@example.org"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("There is no staff account for nobody@example.org"));
    // A fault of the database's is shown as it is, not as the readers' "something went wrong".
    sqlx::query("ALTER TABLE staff_password_tokens RENAME TO tokens_away")
        .execute(&app.db.pool)
        .await
        .expect("renamed");
    let output = run(&["staff", "add", "new@example.org"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("staff_password_tokens") && !stderr.contains("Something went wrong"), "{stderr}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM staff WHERE email = 'new@example.org'").await, 0, "all or nothing");
}

async fn the_shops_postal_address_is_set_by_an_admin_and_printed_on_receipts(app: TestApp) {
    let buyer = app.with_new_client();
    let (status, answer) = checkout(&buyer, &["isr-print-1y"], None, "claim@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id").to_string();
    buyer.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;

    let clerk = app.with_new_client();
    let token = sign_in_as(&clerk, "clerk@example.org", Role::Staff).await;
    let fields = [("postal_address", "PO Box 258\nChicago IL 60690"), ("email", "subs@example.org")];
    let response = clerk.post_form("/admin/settings", &[&fields[..], &[("csrf_token", token.as_str())]].concat()).await;
    assert_eq!(response.status(), 403, "only an admin");

    let admin = app.with_new_client();
    let token = sign_in_as(&admin, "boss@example.org", Role::Admin).await;
    let response = admin
        .post_form(
            "/admin/settings",
            &[("csrf_token", token.as_str()), ("postal_address", "PO Box 1"), ("email", "nope")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.expect("a page").contains("aria-invalid=\"true\""));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM settings WHERE name = 'shop_postal_address'").await, 0);

    let response = admin.post_form("/admin/settings", &[&fields[..], &[("csrf_token", token.as_str())]].concat()).await;
    assert_eq!(response.status(), 303);
    let (_, page) = buyer.page(&format!("/account/orders/{order_id}")).await;
    assert!(page.contains("PO Box 258<br>Chicago IL 60690<br>subs@example.org"), "{page}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'settings.shop_contact'").await, 1);
}

async fn a_cancelled_checkout_reads_cancelled_and_figures_are_in_good_english(app: TestApp) {
    let (status, answer) = checkout(&app, &["isr-print-1y"], None, "changed.mind@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an order").to_string();
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/cancel"), &[]).await;
    assert_eq!(response.status(), 303);
    let staff = app.with_new_client();
    sign_in_as(&staff, "staff@example.org", Role::Staff).await;
    let (_, list) = staff.page("/admin/orders").await;
    assert!(list.contains("status-cancelled\">cancelled<") && !list.contains("status-failed"), "{list}");
    let (_, page) = staff.page(&format!("/admin/orders/{order_id}")).await;
    assert!(page.contains(">cancelled</span>") && !page.contains(">failed<"), "{page}");
    let (_, dashboard) = staff.page("/admin").await;
    for figure in ["0</strong> orders awaiting payment", "0</strong> paid orders", "1</strong> coupon switched on"] {
        assert!(dashboard.contains(figure), "{figure}: {dashboard}");
    }
}

async fn the_audit_log_reads_as_before_and_after_and_filters(app: TestApp) {
    let boss = app.with_new_client();
    let boss_token = sign_in_as(&boss, "boss@example.org", Role::Admin).await;
    let clerk = app.with_new_client();
    let clerk_token = sign_in_as(&clerk, "clerk@example.org", Role::Staff).await;
    let id = ftr_id(&app).await;
    assert_eq!(
        clerk.post_form(&format!("/admin/coupons/{id}/deactivate"), &[("csrf_token", &clerk_token)]).await.status(),
        303
    );
    let fields = [("csrf_token", boss_token.as_str()), ("postal_address", "1 Union Sq\nChicago IL"), ("email", "")];
    assert_eq!(boss.post_form("/admin/settings", &fields).await.status(), 303);

    let (status, page) = boss.page("/admin/audit").await;
    assert_eq!(status, 200);
    // Names, not ids; only the fields that changed, before and after.
    assert!(page.contains("<strong>coupon FTR 2016</strong>"), "{page}");
    assert!(!page.contains(&id), "no raw id: {page}");
    assert!(page.contains("<dt>active</dt><dd><del>yes</del> → <ins>no</ins></dd>"), "{page}");
    assert!(!page.contains("<dt>code</dt>"), "unchanged fields are left out: {page}");
    assert!(page.contains("changed a setting"), "{page}");

    // By staff member, kind and day.
    let (_, page) = boss.page("/admin/audit?staff=clerk%40example.org").await;
    assert!(page.contains("FTR 2016") && !page.contains("changed a setting"), "{page}");
    let (_, page) = boss.page("/admin/audit?kind=settings").await;
    assert!(!page.contains("FTR 2016") && page.contains("changed a setting"), "{page}");
    let today = clock::day(clock::now());
    let (_, page) = boss.page(&format!("/admin/audit?from={today}&to={today}")).await;
    assert!(page.contains("FTR 2016") && page.contains("changed a setting"), "{page}");
    let (_, page) = boss.page("/admin/audit?to=2000-01-01").await;
    assert!(page.contains("No change matches."), "{page}");
    let (status, page) = boss.page("/admin/audit?from=yesterday").await;
    assert_eq!(status, 422);
    assert!(page.contains("A date is written like 2026-11-30."), "{page}");
}

async fn a_coupon_whose_window_is_over_is_saved_only_after_a_warning(app: TestApp) {
    let token = sign_in_as(&app, "staff@example.org", Role::Staff).await;
    let past = [("starts_at", "2016-11-01T00:00"), ("ends_at", "2016-12-31T00:00")];
    let response = app.post_form("/admin/coupons", &coupon_fields(&token, &past)).await;
    assert_eq!(response.status(), 422);
    let page = html_text(&response.text().await.expect("a page"));
    assert!(page.contains("whole window is in the past") && page.contains("value=\"save_past\""), "{page}");
    assert!(page.contains("value=\"WINTER 26\""), "what was typed stays: {page}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupons WHERE normalized_code = 'WINTER26'").await, 0);
    // A window still open is saved at once; the past one after "Save anyway".
    let mut anyway = past.to_vec();
    anyway.push(("action", "save_past"));
    let response = app.post_form("/admin/coupons", &coupon_fields(&token, &anyway)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupons WHERE normalized_code = 'WINTER26'").await, 1);
    let open = [("code", "SPRING 27"), ("ends_at", "2099-01-01T00:00")];
    assert_eq!(app.post_form("/admin/coupons", &coupon_fields(&token, &open)).await.status(), 303);
}
