//! Branches: a standing order, a changed draw, a return and a shortage, a payment, the statement
//! (page and CSV), the bundles in the print run, the public list, and returns refused when larger
//! than the copies sent.

use masthead::{money::Currency, orders, staff::accounts::Role};

use crate::{
    admin::sign_in_as,
    on_both_databases,
    support::{visible_text, TestApp},
};

on_both_databases!(
    a_standing_order_and_its_returns_reach_the_statement_and_the_print_run,
    returns_larger_than_the_copies_sent_are_refused_and_nothing_is_recorded,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

/// Signs in staff and creates a branch with a standing order of 10 copies of the paper at $1.25
/// from December 2016; answers the staff client, its token and the branch's page.
async fn branch_with_standing_order(app: &TestApp, listed: bool) -> (TestApp, String, String) {
    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "office@example.org", Role::Staff).await;
    let mut fields = vec![
        ("csrf_token", token.as_str()),
        ("name", "Queens ISO"),
        ("city", "New York"),
        ("meeting_place", "Queens Pride House, 76-11 37th Ave, Wednesdays 7pm"),
        ("contact", "queens@example.org"),
    ];
    if listed {
        fields.push(("listed", "on"));
    }
    let response = staff.post_form("/admin/branches", &fields).await;
    assert_eq!(response.status(), 303);
    let page = response.headers()["location"].to_str().expect("a location").to_string();
    let response = staff
        .post_form(
            &format!("{page}/standing-orders"),
            &[
                ("csrf_token", &token),
                ("publication", "sw"),
                ("copies", "10"),
                ("price_per_copy", "1.25"),
                ("from", "2016-12"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    (staff, token, page)
}

async fn a_standing_order_and_its_returns_reach_the_statement_and_the_print_run(app: TestApp) {
    let (staff, token, page) = branch_with_standing_order(&app, true).await;
    // December's draw was 12; of January's 10, 3 came back and 1 never arrived; $10 was paid.
    for fields in [
        vec![("issue", "sw-2016-12"), ("copies", "12")],
        vec![("issue", "sw-2017-01"), ("returned", "3"), ("short", "1")],
    ] {
        let mut form = fields.clone();
        form.push(("csrf_token", &token));
        assert_eq!(staff.post_form(&format!("{page}/issues"), &form).await.status(), 303, "{fields:?}");
    }
    let paid = [
        ("csrf_token", token.as_str()),
        ("amount", "10"),
        ("received_on", "2017-01-20"),
        ("reference", "cash at the meeting"),
    ];
    assert_eq!(staff.post_form(&format!("{page}/payments"), &paid).await.status(), 303);

    let (status, statement) = staff.page(&format!("{page}/statement?from=2016-12&to=2017-01")).await;
    assert_eq!(status, 200);
    let text = visible_text(&statement);
    assert!(text.contains("December 2016 sw 12 0 0 12 $15.00"), "{text}");
    assert!(text.contains("January 2017 sw 10 3 1 6 $7.50"), "{text}");
    assert!(text.contains("Owed $22.50, paid $10.00: balance $12.50"), "{text}");
    let csv = staff.get(&format!("{page}/statement.csv?from=2016-12&to=2017-01")).await.text().await.expect("the CSV");
    assert!(csv.contains("January 2017,sw,10,3,1,6,7.50"), "{csv}");
    assert!(csv.trim_end().ends_with("balance,,,,,,12.50"), "{csv}");
    assert_eq!(staff.get(&format!("{page}/statement?from=2017-13&to=2017-01")).await.status(), 400);

    // The bundles count in the print run: January's standing 10 (the draw was changed only for December).
    let run = orders::print_run::print_run(&app.db, "sw", 2017, 1, Currency::Usd).await.expect("the run");
    assert_eq!(run.branch_bundles, 10);
    let december = orders::print_run::print_run(&app.db, "sw", 2016, 12, Currency::Usd).await.expect("the run");
    assert_eq!(december.branch_bundles, 12);
    assert_eq!(december.total, december.subscriber_copies + december.single_copies + december.complimentary + 12);

    // The public list and the issue page name it (the page cache is emptied by the admin's changes).
    let visitor = app.with_new_client();
    let (_, list) = visitor.page("/branches").await;
    assert!(
        visible_text(&list).contains(
            "New York Queens ISO Queens Pride House, 76-11 37th Ave, Wednesdays 7pm Contact: queens@example.org"
        ),
        "{}",
        visible_text(&list)
    );
    let (_, issue) = visitor.page("/issues/sw/2017/01").await;
    assert!(visible_text(&issue).contains("Also sold at 1 local branch."), "{}", visible_text(&issue));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE entity = 'branch'").await, 5);
}

async fn returns_larger_than_the_copies_sent_are_refused_and_nothing_is_recorded(app: TestApp) {
    let (staff, token, page) = branch_with_standing_order(&app, false).await;
    let before = count(&app, "SELECT COUNT(*) FROM audit_log").await;
    for (fields, message) in [
        (
            vec![("issue", "sw-2017-01"), ("returned", "11")],
            "Returns (11) and shortages (0) are more than the 10 copies sent.",
        ),
        (
            vec![("issue", "sw-2017-01"), ("returned", "6"), ("short", "5")],
            "Returns (6) and shortages (5) are more than the 10 copies sent.",
        ),
        (
            vec![("issue", "sw-2017-01"), ("copies", "2"), ("returned", "3")],
            "Returns (3) and shortages (0) are more than the 2 copies sent.",
        ),
        (vec![("issue", "sw-2017-01"), ("returned", "-1")], "Returns is a whole number from 0 to 100000."),
    ] {
        let mut form = fields.clone();
        form.push(("csrf_token", &token));
        let response = staff.post_form(&format!("{page}/issues"), &form).await;
        assert_eq!(response.status(), 422, "{fields:?}");
        let text = response.text().await.expect("a page");
        assert!(text.contains("id=\"e-issue-returned\""), "{fields:?}");
        assert!(visible_text(&text).contains(message), "{message}: {}", visible_text(&text));
    }
    for (fields, field) in [
        (vec![("publication", "sw"), ("copies", "-3"), ("price_per_copy", "1"), ("from", "2017-01")], "copies"),
        (vec![("publication", "sw"), ("copies", "3"), ("price_per_copy", "-1"), ("from", "2017-01")], "price_per_copy"),
        (
            vec![
                ("publication", "sw"),
                ("copies", "3"),
                ("price_per_copy", "1"),
                ("from", "2017-05"),
                ("to", "2017-01"),
            ],
            "to",
        ),
    ] {
        let mut form = fields.clone();
        form.push(("csrf_token", &token));
        let response = staff.post_form(&format!("{page}/standing-orders"), &form).await;
        assert_eq!(response.status(), 422, "{fields:?}");
        assert!(response.text().await.expect("a page").contains(&format!("id=\"e-standing-{field}\"")), "{fields:?}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM branch_issues").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM standing_orders").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log").await, before);
    // Not listed: not on the public page.
    let (_, list) = app.with_new_client().page("/branches").await;
    assert!(!list.contains("Queens ISO"));
}
