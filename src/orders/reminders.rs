//! Renewal reminders: an email 30 days and another 7 days before a subscription's last issue, each
//! once, to readers who have not renewed. Every instance runs the job; a reminder is claimed by
//! inserting its row (`renewal_reminders`, one per subscription and kind) in the transaction that
//! puts the email in the outbox, so the database decides who sends it, across instances and
//! restarts. The email links to the account page, where renewing is a button: a link in an email
//! never changes anything by itself.

use sqlx::FromRow;

use super::terms;
use crate::{
    db::Db,
    email::{self, EmailMessage},
    error::Result,
};

const DAY: i64 = 24 * 60 * 60;

#[derive(FromRow)]
struct Due {
    id: String,
    email: String,
    name: String,
    publication_name: String,
    edition: String,
    last_period: i64,
    /// A gift: the buyer, who is reminded (and the recipient too when the buyer asked).
    gift_from_email: Option<String>,
    gift_from_name: Option<String>,
    gift_remind_recipient: i64,
}

/// Which reminder is due `days_left` days before the last issue, if any.
fn reminder_kind(seconds_left: i64) -> Option<&'static str> {
    match seconds_left {
        s if s < 0 => None,
        s if s <= 7 * DAY => Some("7_days"),
        s if s <= 30 * DAY => Some("30_days"),
        _ => None,
    }
}

/// Sends the reminders due at `now`; answers how many this call sent (the others, if any, were
/// claimed by another instance or an earlier run).
pub async fn send_due_reminders(db: &Db, shop_name: &str, account_url: &str, now: i64) -> Result<usize> {
    // Active terms whose last issue falls within 30 days, of readers without a later term of the
    // same publication and edition (a renewal).
    let candidates: Vec<Due> = sqlx::query_as(
        "SELECT s.id, s.email, s.name, p.name AS publication_name, s.edition, s.last_period, s.gift_from_email, \
         s.gift_from_name, s.gift_remind_recipient \
         FROM subscriptions s JOIN publications p ON p.slug = s.publication \
         WHERE s.status = 'active' AND s.last_period >= $1 AND s.last_period <= $2 \
         AND NOT EXISTS (SELECT 1 FROM subscriptions r WHERE r.email_normalized = s.email_normalized \
             AND s.email_normalized <> '' \
             AND r.publication = s.publication AND r.edition = s.edition AND r.status = 'active' \
             AND r.first_period > s.last_period) \
         ORDER BY s.last_period, s.id LIMIT 500",
    )
    .bind(terms::period_at(now))
    .bind(terms::period_at(now + 30 * DAY))
    .fetch_all(&db.pool)
    .await?;
    let mut sent = 0;
    for due in candidates {
        let last_issue_date = terms::first_day(due.last_period);
        let Some(kind) = reminder_kind(last_issue_date - now) else { continue };
        let mut tx = db.begin_write().await?;
        let claimed = sqlx::query(
            "INSERT INTO renewal_reminders (subscription_id, kind, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (subscription_id, kind) DO NOTHING",
        )
        .bind(&due.id)
        .bind(kind)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            continue;
        }
        let days = (last_issue_date - now + DAY - 1) / DAY;
        let last_issue = terms::describe(due.last_period);
        let kind_name = format!("renewal_reminder_{kind}");
        let for_recipient = due.gift_from_email.is_none() || due.gift_remind_recipient != 0;
        if for_recipient && !due.email.is_empty() {
            let message = EmailMessage {
                subject: format!("Your {} subscription ends with the {last_issue} issue", due.publication_name),
                body: format!(
                    "Dear {},\n\nYour subscription to {}, {} edition, ends with the {last_issue} issue, in about \
                     {days} days. Nothing renews by itself: to keep reading, renew from your account:\n\n  \
                     {account_url}\n\n(Sign in there with this email address; we send you a link.)\n\nThank you \
                     for reading,\n{shop_name}\n",
                    due.name, due.publication_name, due.edition
                ),
            };
            email::enqueue(&mut tx, None, &kind_name, &due.email, &message, now).await?;
        }
        if let Some(buyer) = &due.gift_from_email {
            // The account page's address is the shop's base with /account; the subscribe page is beside it.
            let subscribe_url = format!("{}/subscribe", account_url.strip_suffix("/account").unwrap_or(account_url));
            let message = EmailMessage {
                subject: format!(
                    "The {} subscription you gave {} ends with the {last_issue} issue",
                    due.publication_name, due.name
                ),
                body: format!(
                    "Dear {},\n\nThe subscription to {}, {} edition, that you gave {} ends with the {last_issue} \
                     issue, in about {days} days. Nothing renews by itself: to give it again, choose \"Give as a \
                     gift\" beside a plan:\n\n  {subscribe_url}\n\nThank you for supporting the paper,\n{shop_name}\n",
                    due.gift_from_name.as_deref().unwrap_or("reader"),
                    due.publication_name,
                    due.edition,
                    due.name
                ),
            };
            email::enqueue(&mut tx, None, &format!("{kind_name}_gift"), buyer, &message, now).await?;
        }
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_then_seven_days_before_the_last_issue() {
        assert_eq!(reminder_kind(31 * DAY), None);
        assert_eq!(reminder_kind(30 * DAY), Some("30_days"));
        assert_eq!(reminder_kind(8 * DAY), Some("30_days"));
        assert_eq!(reminder_kind(7 * DAY), Some("7_days"));
        assert_eq!(reminder_kind(0), Some("7_days"));
        assert_eq!(reminder_kind(-1), None);
        assert_eq!(terms::first_day(terms::period(2027, 3)), 1_803_859_200, "1 March 2027, 00:00 UTC");
    }
}
