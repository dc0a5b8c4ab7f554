//! Renewal reminders: 30 and 7 days before the last issue, each once, none after a renewal, and
//! exactly once when several instances run the job at the same moment.

use masthead::orders::{reminders::send_due_reminders, terms};

use crate::{
    checkout::checkout,
    on_both_databases,
    support::{released_together, TestApp},
};

on_both_databases!(
    a_reader_is_reminded_thirty_and_seven_days_before_the_last_issue,
    a_reader_who_renewed_is_not_reminded,
    two_instances_running_the_job_at_once_send_each_reminder_once,
);

const DAY: i64 = 24 * 60 * 60;

/// A paid one-year subscription whose last issue is moved to the month after next; answers the
/// subscription's id and the date of that last issue.
async fn ending_subscription(app: &TestApp, email: &str) -> (String, i64) {
    let buyer = app.with_new_client();
    let (status, answer) = checkout(&buyer, &["sw-print-1y"], None, email).await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    assert_eq!(buyer.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await.status(), 303);
    let last = terms::period_at(masthead::clock::now()) + 2;
    let (id,): (String,) = sqlx::query_as(
        "UPDATE subscriptions SET first_period = $2 - 11, last_period = $2 WHERE order_id = $1 RETURNING id",
    )
    .bind(order_id)
    .bind(last)
    .fetch_one(&app.db.pool)
    .await
    .expect("moved");
    (id, terms::first_day(last))
}

async fn reminders_to(app: &TestApp, email: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT kind, body FROM email_outbox WHERE recipient = $1 AND kind LIKE 'renewal_reminder%' ORDER BY kind",
    )
    .bind(email)
    .fetch_all(&app.db.pool)
    .await
    .expect("the outbox")
}

async fn send(app: &TestApp, at: i64) -> usize {
    send_due_reminders(&app.db, "Test Shop", "http://shop.test/account", at).await.expect("the job ran")
}

async fn a_reader_is_reminded_thirty_and_seven_days_before_the_last_issue(app: TestApp) {
    let (_, last_issue) = ending_subscription(&app, "ending@example.org").await;
    assert_eq!(send(&app, last_issue - 40 * DAY).await, 0, "too early");
    assert_eq!(send(&app, last_issue - 20 * DAY).await, 1);
    assert_eq!(send(&app, last_issue - 19 * DAY).await, 0, "once");
    assert_eq!(send(&app, last_issue - 5 * DAY).await, 1);
    assert_eq!(send(&app, last_issue - 4 * DAY).await, 0, "once");
    assert_eq!(send(&app, last_issue + DAY).await, 0, "not after the end");
    let sent = reminders_to(&app, "ending@example.org").await;
    let kinds: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["renewal_reminder_30_days", "renewal_reminder_7_days"]);
    for (_, body) in &sent {
        assert!(body.contains("http://shop.test/account\n") && body.contains("Nothing renews by itself"), "{body}");
    }
}

async fn a_reader_who_renewed_is_not_reminded(app: TestApp) {
    let (_, last_issue) = ending_subscription(&app, "renewed@example.org").await;
    // The renewal: a second term of the same edition, after the first.
    let (status, answer) = checkout(&app.with_new_client(), &["sw-print-2y"], None, "renewed@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id").to_string();
    masthead::orders::settle(
        &app.db,
        &order_id,
        masthead::orders::Outcome::Paid { amount: 4500, currency: "USD".into(), reference: None },
        masthead::clock::now(),
    )
    .await
    .expect("paid");
    assert_eq!(send(&app, last_issue - 20 * DAY).await, 0);
    assert_eq!(send(&app, last_issue - 5 * DAY).await, 0);
    assert!(reminders_to(&app, "renewed@example.org").await.is_empty());
}

async fn two_instances_running_the_job_at_once_send_each_reminder_once(app: TestApp) {
    let other = TestApp::start(app.config.clone()).await;
    for round in 0..5 {
        let email = format!("twice{round}@example.org");
        let (_, last_issue) = ending_subscription(&app, &email).await;
        let at = last_issue - 20 * DAY;
        let jobs = [app.db.clone(), other.db.clone()]
            .into_iter()
            .map(|db| async move {
                send_due_reminders(&db, "Test Shop", "http://shop.test/account", at).await.expect("ran")
            })
            .collect();
        let sent: usize = released_together(jobs).await.into_iter().sum();
        assert_eq!(sent, 1, "round {round}");
        assert_eq!(reminders_to(&app, &email).await.len(), 1, "round {round}");
    }
    other.stop().await;
}
