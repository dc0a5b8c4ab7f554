//! Erasing a reader: by themselves from the account, or by staff; financial records stay.

use masthead::staff::accounts::Role;
use serde_json::json;

use crate::{
    account::ask_for_link,
    addresses::{coming_issues, mailing_csv, print_subscriber, sku},
    admin::sign_in_as,
    checkout::checkout,
    on_both_databases,
    support::{released_together, visible_text, TestApp},
};

on_both_databases!(
    a_reader_erases_their_data_and_the_financial_records_remain,
    erasure_waits_for_an_order_awaiting_payment,
    staff_export_and_erase_a_reader_and_both_are_audited,
    erasing_while_another_tab_checks_out_never_anonymises_an_unpaid_order,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

/// Rows anywhere in the shop that still hold this text (an email or a name).
async fn traces_of(app: &TestApp, text: &str) -> i64 {
    let pattern = format!("%{}%", text.to_lowercase());
    let mut found = 0;
    for (table, columns) in [
        ("orders", "email || name || COALESCE(ship_line1, '')"),
        ("subscriptions", "email || name || COALESCE(ship_line1, '')"),
        ("coupon_redemptions", "email_normalized"),
        ("email_outbox", "recipient || body"),
        ("readers", "email_normalized"),
        ("sign_in_links", "email_normalized"),
        ("mailing_list_copies", "email || name"),
        ("attempt_counts", "limiter_key"),
        ("audit_log", "entity_id || COALESCE(after_json, '') || COALESCE(before_json, '')"),
    ] {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE lower({columns}) LIKE $1"))
            .bind(&pattern)
            .fetch_one(&app.db.pool)
            .await
            .expect("searched");
        found += n;
    }
    found
}

/// Orders' count and money, which erasure must leave exactly as they are.
async fn financial_totals(app: &TestApp) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(subtotal), 0) AS BIGINT), CAST(COALESCE(SUM(discount), 0) AS BIGINT), \
         CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM orders",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("totals")
}

async fn a_reader_erases_their_data_and_the_financial_records_remain(app: TestApp) {
    let now = coming_issues(&app, 1).await;
    let (reader, _) = print_subscriber(&app, "leaving@example.org", now).await;
    // A second order in the same browser, with the half-price code.
    reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y"})).await;
    let (status, body) = reader.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, answer) = checkout(&reader, &[], None, "leaving@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    assert_eq!(reader.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await.status(), 303);
    // This month's list is closed with the reader on it.
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "staff@example.org", Role::Staff).await;
    staff.post_form(&format!("/admin/mailing-list/{}/close", sku(now)), &[("csrf_token", &token)]).await;
    assert!(mailing_csv(&staff, now).await.contains("leaving@example.org"));
    let totals = financial_totals(&app).await;
    assert!(traces_of(&app, "leaving@example.org").await > 0);

    // The warning says what stops.
    let (status, page) = reader.page("/account/erase").await;
    assert_eq!(status, 200);
    let text = visible_text(&page);
    assert!(text.contains("Your subscriptions stop now"), "{text}");
    assert!(text.contains("Socialist Worker, print edition: 12 issues left"), "{text}");
    assert!(text.contains("International Socialist Review, print edition: 4 issues left"), "{text}");

    // Not confirmed: nothing happens.
    let response = reader.post_form("/account/erase", &[]).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.expect("a page").contains("Tick the box"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE email_normalized = 'leaving@example.org'").await, 2);

    let response = reader.post_form("/account/erase", &[("confirm", "yes")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/account/erased");
    assert_eq!(reader.get("/account").await.headers()["location"], "/account/login", "signed out");

    assert_eq!(traces_of(&app, "leaving@example.org").await, 0, "no trace of the email");
    assert_eq!(traces_of(&app, "Ada Reader").await, 0, "nor of the name");
    assert_eq!(traces_of(&app, "1 Main St").await, 0, "nor of the address");
    assert_eq!(financial_totals(&app).await, totals, "the accounts are unchanged");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM order_lines").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status = 'final'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions WHERE status = 'active'").await, 0);
    assert!(!mailing_csv(&staff, now).await.contains("Erased"), "off the closed list too");
    assert_eq!(mailing_csv(&staff, now + 1).await.lines().count(), 1, "and off the next: only the header");
    let (who,): (String,) = sqlx::query_as("SELECT staff_email FROM audit_log WHERE action = 'reader.erase'")
        .fetch_one(&app.db.pool)
        .await
        .expect("audited");
    assert_eq!(who, "(the reader)");
    // The shop no longer knows the address: no link is sent.
    assert_eq!(ask_for_link(&reader, "leaving@example.org").await, None);
}

async fn erasure_waits_for_an_order_awaiting_payment(app: TestApp) {
    let now = coming_issues(&app, 0).await;
    let (reader, _) = print_subscriber(&app, "waiting@example.org", now).await;
    let (status, answer) = checkout(&reader, &["isr-print-1y"], None, "waiting@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let traces = traces_of(&app, "waiting@example.org").await;
    let response = reader.post_form("/account/erase", &[("confirm", "yes")]).await;
    assert_eq!(response.status(), 409);
    assert!(visible_text(&response.text().await.expect("a page")).contains("waiting for its payment"));
    assert_eq!(traces_of(&app, "waiting@example.org").await, traces, "nothing changed");
    assert_eq!(reader.get("/account").await.status(), 200, "still signed in");
}

async fn staff_export_and_erase_a_reader_and_both_are_audited(app: TestApp) {
    let now = coming_issues(&app, 0).await;
    print_subscriber(&app, "asked@example.org", now).await;
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "staff@example.org", Role::Staff).await;
    let (_, page) = staff.page("/admin/readers?email=Asked%40Example.org").await;
    let text = visible_text(&page);
    assert!(text.contains("1 order, 1 subscription") && text.contains("12 issues left"), "{text}");
    let (status, data) = staff.json("/admin/readers/data.json?email=asked%40example.org").await;
    assert_eq!(status, 200);
    assert_eq!(data["orders"].as_array().map(Vec::len), Some(1), "{data}");
    assert_eq!(data["subscriptions"][0]["ship_line1"], "1 Main St");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'reader.export'").await, 1);

    // Not confirmed, or a mistyped email: nothing erased.
    staff.post_form("/admin/readers/erase", &[("csrf_token", &token), ("email", "asked@example.org")]).await;
    let response = staff
        .post_form(
            "/admin/readers/erase",
            &[("csrf_token", &token), ("email", "nobody@example.org"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = staff
        .post_form("/admin/readers/erase", &[("csrf_token", &token), ("email", "not an email"), ("confirm", "yes")])
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE email = 'asked@example.org'").await, 1);

    let response = staff
        .post_form(
            "/admin/readers/erase",
            &[("csrf_token", &token), ("email", "asked@example.org"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let (_, page) = staff.page("/admin/readers").await;
    assert!(visible_text(&page).contains("Erased: 1 orders and 1 subscriptions"), "{page}");
    assert_eq!(traces_of(&app, "asked@example.org").await, 0, "the export's audit entry too");
    let (who,): (String,) = sqlx::query_as("SELECT staff_email FROM audit_log WHERE action = 'reader.erase'")
        .fetch_one(&app.db.pool)
        .await
        .expect("audited");
    assert_eq!(who, "staff@example.org");
}

/// A reader erases in one tab (twice, a double click) while other tabs and browsers place orders
/// with the same email, round after round: the erasure either waits for those orders or comes
/// first; an order awaiting payment is never anonymised (its payment would have nobody to go to).
async fn erasing_while_another_tab_checks_out_never_anonymises_an_unpaid_order(app: TestApp) {
    let now = coming_issues(&app, 0).await;
    // Four rounds: each signs a reader in by a link, five of which one address may ask for.
    for round in 0..4 {
        let email = format!("racer{round}@example.org");
        let (reader, _) = print_subscriber(&app, &email, now).await;
        let erase = || reader.client.post(reader.url("/account/erase")).form(&[("confirm", "yes")]);
        let mut requests = vec![erase(), erase()];
        for _ in 0..3 {
            let tab = app.with_new_client();
            tab.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
            requests.push(
                tab.client.post(tab.url("/api/v1/checkout")).json(&json!({"email": email, "name": "Ada Reader"})),
            );
        }
        let requests = requests
            .into_iter()
            .map(|request| async move { request.send().await.expect("answered").status().as_u16() })
            .collect();
        let statuses = released_together(requests).await;
        assert!(statuses[..2].iter().all(|s| [303, 409].contains(s)), "round {round}: {statuses:?}");
        assert!(statuses[2..].iter().all(|s| *s == 201), "round {round}: {statuses:?}");
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM orders WHERE status = 'pending' AND email LIKE 'erased-%'").await,
            0,
            "round {round}: {statuses:?}"
        );
        let (paid,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM orders WHERE email_normalized = $1 AND status = 'paid'")
                .bind(&email)
                .fetch_one(&app.db.pool)
                .await
                .expect("counted");
        assert_eq!(paid == 0, statuses[..2].contains(&303), "round {round}: erased exactly when it said so");
    }
}
