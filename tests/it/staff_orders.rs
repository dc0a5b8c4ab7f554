//! Orders taken by staff: a cheque order fulfilled once however often its form is sent, an
//! invoice marked paid later by two staff at once, a complimentary subscription on the print run,
//! and forms refused field by field with nothing written.

use masthead::{clock, money::Currency, orders, staff::accounts::Role};

use crate::{
    admin::sign_in_as,
    on_both_databases,
    support::{released_together, uses_of, visible_text, TestApp},
};

on_both_databases!(
    a_cheque_order_is_fulfilled_once_however_often_its_form_is_sent,
    an_invoice_is_marked_paid_later_once,
    a_complimentary_subscription_is_free_and_on_the_print_run,
    a_wrong_staff_order_is_refused_field_by_field_and_nothing_is_written,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

/// The form's fields for one journal subscription to Toronto.
fn form<'a>(token: &'a str, request: &'a str, method: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", token),
        ("request", request),
        ("email", "cheque@example.org"),
        ("name", "Chris Cheque"),
        ("line1", "10 Queen St"),
        ("city", "Toronto"),
        ("region", "ON"),
        ("postal_code", "M5H 2N2"),
        ("country", "CA"),
        ("sku_1", "isr-print-1y"),
        ("quantity_1", "1"),
        ("payment_method", method),
    ]
}

async fn a_cheque_order_is_fulfilled_once_however_often_its_form_is_sent(app: TestApp) {
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "office@example.org", Role::Staff).await;
    let mut fields = form(&token, "req-cheque-1", "cheque");
    fields.push(("coupon", "FTR 2016"));
    // Three submissions of the same form at once (a double click and a retry).
    let sends = (0..3)
        .map(|_| {
            let request = staff.client.post(staff.url("/admin/orders/new")).form(&fields);
            async move { request.send().await.expect("answered").status().as_u16() }
        })
        .collect();
    let statuses = released_together(sends).await;
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 1);
    // ISR for a year is $29, half with the code: $14.50; four quarterly copies to Canada at $1.50.
    let (status, total, method, source): (String, i64, String, String) =
        sqlx::query_as("SELECT status, total + postage, payment_method, source FROM orders")
            .fetch_one(&app.db.pool)
            .await
            .expect("the order");
    assert_eq!((status.as_str(), total, method.as_str(), source.as_str()), ("paid", 2050, "cheque", "staff"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM coupon_redemptions WHERE status = 'final'").await, 1);
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox WHERE recipient = 'cheque@example.org'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'order.create'").await, 1);
    // Sent again later: the same order, nothing new.
    let again = staff.post_form("/admin/orders/new", &fields).await;
    assert_eq!(again.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 1);
}

async fn an_invoice_is_marked_paid_later_once(app: TestApp) {
    let first = app.with_new_client();
    let token = sign_in_as(&first, "one@example.org", Role::Staff).await;
    let second = app.with_new_client();
    let second_token = sign_in_as(&second, "two@example.org", Role::Staff).await;
    let due = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    let due = format!("{:04}-{:02}-{:02}", due.year(), due.month() as u8, due.day());
    let mut fields = form(&token, "req-invoice-1", "invoice");
    fields.push(("invoice_due", &due));
    let response = first.post_form("/admin/orders/new", &fields).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().expect("a location").to_string();
    let id = location.trim_start_matches("/admin/orders/").to_string();
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM orders").fetch_one(&app.db.pool).await.expect("the order");
    assert_eq!(status, "pending");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 0, "nothing before it is paid");
    // The reconciliation job leaves an open invoice alone, even long after.
    let order = orders::find_order(&app.db, &id).await.expect("read").expect("the order");
    assert!(order.is_open_invoice());
    let provider = masthead::payments::PaymentProvider::TestMode;
    assert_eq!(masthead::payments::refresh(&app.db, &provider, &order).await.expect("asked"), None);
    let (_, page) = first.page(&format!("/admin/orders/{id}/invoice")).await;
    let page = visible_text(&page);
    assert!(page.contains("Total due $35.00"), "ISR $29 and $6 postage: {page}");
    assert!(
        page.contains(&format!("Due {}", masthead::clock::long_date(order.invoice_due.expect("a due date")))),
        "{page}"
    );

    // Two staff mark it paid at the same moment: fulfilled once.
    let paid = |staff: &TestApp, token: &str| {
        let request = staff
            .client
            .post(staff.url(&format!("/admin/orders/{id}/paid")))
            .form(&[("csrf_token", token.to_string()), ("reference", "cheque 1042".to_string())]);
        async move { request.send().await.expect("answered").status().as_u16() }
    };
    let statuses = released_together(vec![paid(&first, &token), paid(&second, &second_token)]).await;
    assert_eq!(statuses, [303, 303]);
    let (status, reference): (String, String) = sqlx::query_as("SELECT status, payment_reference FROM orders")
        .fetch_one(&app.db.pool)
        .await
        .expect("the order");
    assert_eq!((status.as_str(), reference.as_str()), ("paid", "invoice: cheque 1042"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'order.invoice_paid'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox").await, 1);
}

async fn a_complimentary_subscription_is_free_and_on_the_print_run(app: TestApp) {
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "office@example.org", Role::Staff).await;
    let mut fields = form(&token, "req-comp-1", "complimentary");
    fields.push(("complimentary_reason", "prisoner subscription"));
    let response = staff.post_form("/admin/orders/new", &fields).await;
    assert_eq!(response.status(), 303);
    let (status, subtotal, discount, charged): (String, i64, i64, i64) =
        sqlx::query_as("SELECT status, subtotal, discount, total + postage FROM orders")
            .fetch_one(&app.db.pool)
            .await
            .expect("the order");
    assert_eq!((status.as_str(), subtotal, discount, charged), ("paid", 2900, 2900, 0), "free, postage too");
    let (first,): (i64,) =
        sqlx::query_as("SELECT first_period FROM subscriptions").fetch_one(&app.db.pool).await.expect("the term");
    let (year, month) = orders::terms::year_month(first);
    let run = orders::print_run::print_run(&app.db, "isr", year, month, Currency::Usd).await.expect("the run");
    assert_eq!((run.complimentary, run.subscriber_copies, run.total), (1, 0, 1));
    let revenue = orders::reports::deferred_revenue(&app.db, orders::terms::period_at(clock::now()), first)
        .await
        .expect("report");
    assert!(revenue.iter().all(|r| r.received == 0 && r.earned == 0), "a free term earns nothing");
}

/// Fields changed from a good form, the id of the error it must show, and words of its message.
type WrongForm = (Vec<(&'static str, &'static str)>, &'static str, &'static str);

async fn a_wrong_staff_order_is_refused_field_by_field_and_nothing_is_written(app: TestApp) {
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "office@example.org", Role::Staff).await;
    let cases: Vec<WrongForm> = vec![
        (vec![("quantity_1", "-1")], "e-lines", "a whole number from 1 to 99"),
        (vec![("sku_1", "isr-print-9y")], "e-lines", "isr-print-9y is not a product on sale"),
        (vec![("sku_1", "")], "e-lines", "Add at least one subscription or issue"),
        (vec![("email", "not an email")], "e-email", ""),
        (vec![("payment_method", "barter")], "e-payment_method", "Choose how the order is paid"),
        (vec![("payment_method", "complimentary")], "e-complimentary_reason", "Say why it is free"),
        (vec![("payment_method", "invoice")], "e-invoice_due", "due date"),
        (vec![("payment_method", "invoice"), ("invoice_due", "2001-01-01")], "e-invoice_due", "today or later"),
        (vec![("coupon", "NOPE")], "e-coupon", "There is no coupon NOPE"),
        (vec![("country", "ZZ")], "e-country", ""),
    ];
    for (n, (changes, field, message)) in cases.into_iter().enumerate() {
        let request = format!("req-bad-{n}");
        let mut fields = form(&token, &request, "cash");
        for (key, value) in &changes {
            match fields.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value,
                None => fields.push((key, value)),
            }
        }
        let response = staff.post_form("/admin/orders/new", &fields).await;
        assert_eq!(response.status(), 422, "{changes:?}");
        let page = response.text().await.expect("a page");
        assert!(page.contains(&format!("id=\"{field}\"")), "{changes:?}: {page}");
        assert!(visible_text(&page).contains(message), "{changes:?}: {}", visible_text(&page));
        assert!(page.contains("value=\"Chris Cheque\""), "what was typed stays");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE entity = 'order'").await, 0);
}
