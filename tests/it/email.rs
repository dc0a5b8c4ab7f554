//! The email outbox: delivered once as .eml files without SMTP, retried later when SMTP fails.

use crate::{checkout::checkout, on_both_databases, support::TestApp};
use masthead::{clock, email};

on_both_databases!(the_outbox_is_delivered_once_and_retried_when_smtp_is_down);

async fn the_outbox_is_delivered_once_and_retried_when_smtp_is_down(app: TestApp) {
    let (status, answer) = checkout(&app, &["sw-digital-2y"], None, "mail@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;

    // SMTP down: nothing is lost, the message waits with its error and a later attempt time.
    let down = email::Mailer::new(Some("smtp://127.0.0.1:9"), &app.config.outbox_dir()).expect("a mailer");
    let now = clock::now();
    assert_eq!(email::deliver_due(&app.db, &down, &app.config.email_from, now).await.expect("tried"), 0);
    let (status, attempts, next, error): (String, i64, i64, Option<String>) =
        sqlx::query_as("SELECT status, attempts, next_attempt_at, last_error FROM email_outbox")
            .fetch_one(&app.db.pool)
            .await
            .expect("the message");
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(next > now && error.is_some());
    assert_eq!(
        email::deliver_due(&app.db, &down, &app.config.email_from, now).await.expect("tried"),
        0,
        "not before its time"
    );

    // Later, with files instead of SMTP: written once.
    let files = email::Mailer::new(None, &app.config.outbox_dir()).expect("a mailer");
    assert_eq!(email::deliver_due(&app.db, &files, &app.config.email_from, next).await.expect("sent"), 1);
    assert_eq!(email::deliver_due(&app.db, &files, &app.config.email_from, next + 3600).await.expect("sent"), 0);
    let written: Vec<_> = std::fs::read_dir(app.config.outbox_dir()).expect("the outbox folder").flatten().collect();
    assert_eq!(written.len(), 1);
    let eml = std::fs::read_to_string(written[0].path()).expect("an .eml file");
    assert!(eml.contains("To: mail@example.org") && eml.contains("Subject: Your order"), "{eml}");
    assert!(eml.contains("Socialist Worker, digital edition, 2 years"));
}
