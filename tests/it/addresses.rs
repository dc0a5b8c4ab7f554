//! A print subscriber's change of address, and closed mailing lists that never change.

use masthead::{clock, orders::terms, staff::accounts::Role};

use crate::{
    admin::sign_in_as,
    checkout::checkout,
    on_both_databases,
    support::{released_together, visible_text, TestApp},
};

on_both_databases!(
    an_address_change_applies_from_the_next_open_issue_and_leaves_a_closed_list_alone,
    a_wrong_or_foreign_address_change_changes_nothing,
    closing_a_list_while_readers_move_keeps_list_and_history_in_agreement,
);

/// This month's issue period, and Socialist Worker issues (unpublished) for it and the `more` after it.
pub async fn coming_issues(app: &TestApp, more: i64) -> i64 {
    let now = terms::period_at(clock::now());
    for period in now..=now + more {
        let (year, month) = terms::year_month(period);
        sqlx::query(
            "INSERT INTO issues (sku, publication, year, month, title, summary, price_amount, currency, published) \
             VALUES ($1, 'sw', $2, $3, 'Coming', 'Soon', 250, 'USD', 0)",
        )
        .bind(format!("sw-{year:04}-{month:02}"))
        .bind(year)
        .bind(month)
        .execute(&app.db.pool)
        .await
        .expect("an issue");
    }
    now
}

pub fn sku(period: i64) -> String {
    let (year, month) = terms::year_month(period);
    format!("sw-{year:04}-{month:02}")
}

/// A signed-in browser of a reader with a paid one-year print subscription to Socialist Worker
/// running from `first`; answers it and the subscription's id.
pub async fn print_subscriber(app: &TestApp, email: &str, first: i64) -> (TestApp, String) {
    let browser = crate::digital::reader_with(app, email, "sw-print-1y", Some((first, first + 11))).await;
    let (id,): (String,) = sqlx::query_as("SELECT id FROM subscriptions WHERE email_normalized = $1")
        .bind(email)
        .fetch_one(&app.db.pool)
        .await
        .expect("a subscription");
    (browser, id)
}

fn address(line1: &str, city: &str) -> Vec<(&'static str, String)> {
    vec![
        ("line1", line1.to_string()),
        ("line2", String::new()),
        ("city", city.to_string()),
        ("region", "ON".into()),
        ("postal_code", "M5V 2T6".into()),
        ("country", "ca".into()),
    ]
}

async fn move_to(browser: &TestApp, subscription: &str, fields: &[(&'static str, String)]) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post_form(&format!("/account/subscriptions/{subscription}/address"), &fields).await
}

pub async fn mailing_csv(staff: &TestApp, period: i64) -> String {
    let response = staff.get(&format!("/admin/mailing-list/{}.csv", sku(period))).await;
    assert_eq!(response.status(), 200);
    response.text().await.expect("the CSV")
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

async fn an_address_change_applies_from_the_next_open_issue_and_leaves_a_closed_list_alone(app: TestApp) {
    let now = coming_issues(&app, 2).await;
    let (reader, subscription) = print_subscriber(&app, "mover@example.org", now).await;
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "staff@example.org", Role::Staff).await;

    // Before any list is closed, a change reaches this month's issue.
    let (_, page) = reader.page("/account").await;
    let text = visible_text(&page);
    assert!(text.contains(&format!("A new address applies from the {} issue", terms::describe(now))), "{text}");

    // Staff close this month's list: it is fixed as it stands.
    let response = staff.post_form(&format!("/admin/mailing-list/{}/close", sku(now)), &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    let closed = mailing_csv(&staff, now).await;
    assert!(closed.contains("Ada Reader,1 Main St"), "{closed}");
    let (_, page) = staff.page(&format!("/admin/mailing-list?issue={}", sku(now))).await;
    assert!(page.contains("Closed on") && page.contains("by staff@example.org"), "{page}");
    // Closing again changes nothing.
    let again = staff.post_form(&format!("/admin/mailing-list/{}/close", sku(now)), &[("csrf_token", &token)]).await;
    assert_eq!(again.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM mailing_list_closures").await, 1);

    // The reader moves: the change applies from next month's issue, and the page says so.
    let (_, page) = reader.page("/account").await;
    assert!(visible_text(&page).contains(&format!("applies from the {} issue", terms::describe(now + 1))));
    let response = move_to(&reader, &subscription, &address("9 Queen St W", "Toronto")).await;
    assert_eq!(response.status(), 303);
    let (_, page) = reader.page("/account").await;
    let text = visible_text(&page);
    assert!(text.contains(&format!("copies from the {} issue on go there", terms::describe(now + 1))), "{text}");
    assert!(text.contains("Mailed to: 9 Queen St W, Toronto ON M5V 2T6, CA"), "{text}");
    assert!(text.contains(&format!("From the {} issue: 9 Queen St W", terms::describe(now + 1))), "{text}");

    // The closed list is exactly as it was; next month's (still open) goes to Toronto.
    assert_eq!(mailing_csv(&staff, now).await, closed);
    let next = mailing_csv(&staff, now + 1).await;
    assert!(next.contains("Ada Reader,9 Queen St W,,Toronto,ON,M5V 2T6,CA,1,subscription"), "{next}");
    assert!(!next.contains("1 Main St"), "{next}");

    // A second change before next month's list closes replaces the first; the history keeps the
    // address this month's issue went to.
    assert_eq!(move_to(&reader, &subscription, &address("10 King St", "Toronto")).await.status(), 303);
    let rows = count(&app, "SELECT COUNT(*) FROM subscription_addresses").await;
    assert_eq!(rows, 1, "one change pending, from next month");
    assert_eq!(mailing_csv(&staff, now).await, closed);

    // A print subscription paid now starts after the closed issue: its list is fixed.
    let late = app.with_new_client();
    let (status, answer) = checkout(&late, &["sw-print-1y"], None, "later@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    assert_eq!(late.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await.status(), 303);
    let (first,): (i64,) = sqlx::query_as("SELECT first_period FROM subscriptions WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(&app.db.pool)
        .await
        .expect("its term");
    assert_eq!(first, now + 1, "the closed issue is skipped");
}

async fn a_wrong_or_foreign_address_change_changes_nothing(app: TestApp) {
    let now = coming_issues(&app, 1).await;
    let (reader, subscription) = print_subscriber(&app, "careful@example.org", now).await;
    let (other, other_subscription) = print_subscriber(&app, "other@example.org", now).await;

    // Missing fields: the page again, each message beside its field, what was typed kept.
    let mut fields = address("", "");
    fields[4].1 = "Z1Z 1Z1".into();
    let response = move_to(&reader, &subscription, &fields).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.expect("a page");
    assert!(page.contains("Enter the street address.") && page.contains("Enter the city or town."), "{page}");
    assert!(page.contains(&format!("id=\"a-{subscription}-line1\" name=\"line1\" value=\"\"")), "{page}");
    assert!(page.contains("value=\"Z1Z 1Z1\""), "typed values are kept");
    assert!(page.contains("aria-invalid=\"true\""));
    let mut fields = address("1 Rue", "Paris");
    fields[5].1 = "France".into();
    let response = move_to(&reader, &subscription, &fields).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.expect("a page").contains("Enter the country as its two-letter code"));

    // Another reader's subscription, a made-up id, a very long id: not found, never a hint.
    for id in [other_subscription.as_str(), "nope", &"x".repeat(500)] {
        let response = move_to(&reader, id, &address("1 Thief Lane", "Nowhere")).await;
        assert_eq!(response.status(), 404, "{id}");
    }
    // A digital subscription has no mailing address.
    sqlx::query("UPDATE subscriptions SET edition = 'digital' WHERE id = $1")
        .bind(&other_subscription)
        .execute(&app.db.pool)
        .await
        .expect("made digital");
    let response = move_to(&other, &other_subscription, &address("1 Main St", "Chicago")).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.expect("a page").contains("A digital subscription is not mailed"));
    // Signed out: sent to sign in.
    let stranger = app.with_new_client();
    let response = move_to(&stranger, &subscription, &address("1 Main St", "Chicago")).await;
    assert_eq!(response.headers()["location"], "/account/login");

    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscription_addresses").await, 0, "nothing changed");
}

/// Staff close lists while readers move, all at once, round after round: whatever wins, each
/// closed list holds the address the history says applies to that issue.
async fn closing_a_list_while_readers_move_keeps_list_and_history_in_agreement(app: TestApp) {
    let now = coming_issues(&app, 6).await;
    let mut readers = Vec::new();
    for n in 0..3 {
        readers.push(print_subscriber(&app, &format!("mover{n}@example.org"), now).await);
    }
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "staff@example.org", Role::Staff).await;
    let second_staff = staff.with_new_client();
    let second_token = sign_in_as(&second_staff, "second@example.org", Role::Staff).await;
    for round in 0..5 {
        let period = now + round;
        let close_path = format!("/admin/mailing-list/{}/close", sku(period));
        // Each request built first (cookies are in the clients), then sent together.
        let mut requests = vec![
            staff.client.post(staff.url(&close_path)).form(&[("csrf_token", token.as_str())]),
            second_staff.client.post(second_staff.url(&close_path)).form(&[("csrf_token", second_token.as_str())]),
        ];
        for (n, (reader, subscription)) in readers.iter().enumerate() {
            let fields = address(&format!("{round}{n} Moving St"), "Toronto");
            let path = format!("/account/subscriptions/{subscription}/address");
            requests.push(reader.client.post(reader.url(&path)).form(&fields));
        }
        let requests = requests
            .into_iter()
            .map(|request| async move { request.send().await.expect("answered").status().as_u16() })
            .collect();
        let statuses = released_together(requests).await;
        assert!(statuses.iter().all(|s| *s == 303), "round {round}: {statuses:?}");
        assert_eq!(
            count(&app, &format!("SELECT COUNT(*) FROM mailing_list_copies WHERE issue_sku = '{}'", sku(period))).await,
            3,
            "round {round}: written once"
        );
        for (_, subscription) in &readers {
            let expected: Option<(String,)> = sqlx::query_as(
                "SELECT line1 FROM subscription_addresses WHERE subscription_id = $1 AND from_period = \
                 (SELECT MAX(from_period) FROM subscription_addresses WHERE subscription_id = $1 AND from_period <= $2)",
            )
            .bind(subscription)
            .bind(period)
            .fetch_optional(&app.db.pool)
            .await
            .expect("the history");
            let expected = expected.map_or("1 Main St".to_string(), |(line1,)| line1);
            let (mailed,): (String,) =
                sqlx::query_as("SELECT line1 FROM mailing_list_copies WHERE issue_sku = $1 AND subscription_id = $2")
                    .bind(sku(period))
                    .bind(subscription)
                    .fetch_one(&app.db.pool)
                    .await
                    .expect("on the closed list");
            assert_eq!(mailed, expected, "round {round}");
        }
    }
}
