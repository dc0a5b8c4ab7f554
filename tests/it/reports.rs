//! The reports, checked against hand-computed figures: deferred revenue of a 4-year prepaid
//! journal across its first year to the cent, subscriptions by zone, terms ending soon, renewals.

use masthead::{
    audit::Actor,
    clock,
    money::Currency,
    orders::{import::import_subscribers, reports, terms},
    staff::accounts::Role,
};

use crate::{admin::sign_in_as, checkout::checkout, on_both_databases, support::TestApp};

on_both_databases!(
    a_four_year_journal_is_earned_issue_by_issue,
    subscriptions_by_zone_and_terms_ending_soon,
    renewals_are_counted_by_the_month_a_term_ended,
);

/// Buys `sku` in test mode and pays for it; answers the order id.
async fn bought(app: &TestApp, sku: &str, email: &str, country: &str) -> String {
    let reader = app.with_new_client();
    reader.send_json("POST", "/api/v1/cart/items", serde_json::json!({"sku": sku})).await;
    let body = serde_json::json!({"email": email, "name": "Ada Reader", "shipping_address":
        {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": country}});
    let (status, answer) = reader.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an order id").to_string();
    let paid = reader.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert_eq!(paid.status(), 303);
    order_id
}

async fn a_four_year_journal_is_earned_issue_by_issue(app: TestApp) {
    bought(&app, "isr-print-4y", "ada@example.org", "US").await;
    // An order not paid counts for nothing.
    let (status, answer) = checkout(&app.with_new_client(), &["isr-print-1y"], None, "late@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let (first, last): (i64, i64) = sqlx::query_as("SELECT first_period, last_period FROM subscriptions")
        .fetch_one(&app.db.pool)
        .await
        .expect("the term");
    assert_eq!(last - first, 45, "16 quarterly issues");
    let now = terms::period_at(clock::now());
    let rows = reports::deferred_revenue(&app.db, now, first + 11).await.expect("the report");
    // $98.00 over 16 issues is $6.125 an issue: after k issues R·k/16 rounded down, so the first
    // year's four issues earn 6.12, 6.13, 6.12, 6.13 and leave $73.50 owed.
    let mut expected = Vec::new();
    let mut owed = 9800;
    for period in now..=first + 11 {
        let earned = match period - first {
            0 => 612,
            3 => 613,
            6 => 612,
            9 => 613,
            _ => 0,
        };
        owed -= earned;
        let received = if period == now { 9800 } else { 0 };
        expected.push(reports::RevenueRow {
            month: terms::describe(period),
            received,
            earned,
            deferred: owed,
            donations: 0,
        });
    }
    assert_eq!(rows, expected);
    assert_eq!(rows.last().expect("a year on").deferred, 7350);
    // The whole term earns exactly what was paid.
    let all = reports::deferred_revenue(&app.db, now, last).await.expect("the report");
    assert_eq!(all.iter().map(|r| r.earned).sum::<i64>(), 9800);
    assert_eq!(all.last().expect("the end").deferred, 0);

    // The same on the admin's page and in its CSV.
    let staff = app.with_new_client();
    sign_in_as(&staff, "boss@example.org", Role::Staff).await;
    let (status, page) = staff.page("/admin/reports").await;
    assert_eq!(status, 200);
    assert!(page.contains("$98.00"), "{page}");
    let csv = staff.get("/admin/reports/deferred-revenue.csv").await.text().await.expect("the CSV");
    assert!(csv.starts_with("month,received,earned,deferred,donations\n"), "{csv}");
    // This month earns its issue's share when the first issue is this month's (as in December).
    let this_month = &rows[0];
    let amount = |cents: i64| format!("{}.{:02}", cents / 100, cents % 100);
    let line =
        format!("{},98.00,{},{},0.00", terms::describe(now), amount(this_month.earned), amount(this_month.deferred));
    assert!(csv.contains(&line), "{line} in {csv}");
}

async fn subscriptions_by_zone_and_terms_ending_soon(app: TestApp) {
    bought(&app, "sw-print-1y", "us@example.org", "US").await;
    bought(&app, "sw-print-1y", "ca@example.org", "CA").await;
    bought(&app, "sw-print-2y", "de@example.org", "DE").await;
    bought(&app, "sw-digital-1y", "dig@example.org", "US").await;
    let now = terms::period_at(clock::now());
    let rows = reports::subscriptions_by_zone(&app.db, now).await.expect("the report");
    let rows: Vec<(String, String, String, i64)> =
        rows.into_iter().map(|r| (r.publication, r.edition, r.zone, r.subscriptions)).collect();
    assert_eq!(
        rows,
        [
            ("sw".into(), "digital".into(), "Digital".into(), 1),
            ("sw".into(), "print".into(), "Canada and Mexico".into(), 1),
            ("sw".into(), "print".into(), "Rest of the world".into(), 1),
            ("sw".into(), "print".into(), "United States".into(), 1),
        ]
    );

    // Terms ending with the next issue, within 3, within 6 (monthly: months).
    let (next,): (i64,) =
        sqlx::query_as("SELECT MIN(first_period) FROM subscriptions").fetch_one(&app.db.pool).await.expect("next");
    let month = |p: i64| {
        let (y, m) = terms::year_month(p);
        format!("{y:04}-{m:02}")
    };
    let file = format!(
        "email,name,publication,edition,last_issue\n\
         a@example.org,A,sw,digital,{}\nb@example.org,B,sw,digital,{}\nc@example.org,C,sw,digital,{}\n",
        month(next),
        month(next + 2),
        month(next + 5)
    );
    let report =
        import_subscribers(&app.db, file.as_bytes(), false, Currency::Usd, &Actor::command_line(), clock::now())
            .await
            .expect("imported");
    assert!(report.problems.is_empty(), "{report:?}");
    let expiring = reports::expiring(&app.db, next).await.expect("the report");
    let digital = expiring.iter().find(|r| r.edition == "digital").expect("digital");
    assert_eq!((digital.next_1, digital.next_3, digital.next_6), (1, 2, 3));
    let print = expiring.iter().find(|r| r.edition == "print").expect("print");
    assert_eq!((print.next_1, print.next_3, print.next_6), (0, 0, 0), "one- and two-year terms end later");
}

async fn renewals_are_counted_by_the_month_a_term_ended(app: TestApp) {
    let file = "email,name,publication,edition,issues_remaining,external_id\n\
                a@example.org,A,sw,digital,12,a1\na@example.org,A,sw,digital,12,a2\n\
                b@example.org,B,sw,digital,12,b1\nc@example.org,C,sw,print,12,c1\n"
        .replace("sw,print,12,c1", "sw,digital,12,c1");
    let report =
        import_subscribers(&app.db, file.as_bytes(), false, Currency::Usd, &Actor::command_line(), clock::now())
            .await
            .expect("imported");
    assert!(report.problems.is_empty(), "{report:?}");
    // Move the terms into the past: A's first term and B's end in December 2025, A renewed from
    // January 2026; C's ended in November 2025 and was not renewed.
    for (key, first, last) in [
        ("id:a1", terms::period(2025, 1), terms::period(2025, 12)),
        ("id:a2", terms::period(2026, 1), terms::period(2026, 12)),
        ("id:b1", terms::period(2025, 1), terms::period(2025, 12)),
        ("id:c1", terms::period(2024, 12), terms::period(2025, 11)),
    ] {
        sqlx::query(
            "UPDATE subscriptions SET first_period = $2, last_period = $3 \
             WHERE order_id = (SELECT id FROM orders WHERE import_key = $1)",
        )
        .bind(key)
        .bind(first)
        .bind(last)
        .execute(&app.db.pool)
        .await
        .expect("moved");
    }
    let rows =
        reports::renewal_rate(&app.db, terms::period(2025, 11), terms::period(2026, 1)).await.expect("the report");
    let figures: Vec<(String, i64, i64, Option<i64>)> =
        rows.into_iter().map(|r| (r.month, r.ended, r.renewed, r.rate_percent)).collect();
    assert_eq!(
        figures,
        [
            ("November 2025".into(), 1, 0, Some(0)),
            ("December 2025".into(), 2, 1, Some(50)),
            ("January 2026".into(), 0, 0, None),
        ]
    );
}
