//! Importing the publisher's existing subscriber list: a dry run, a real run, a re-run, bad files,
//! the admin's upload, and two imports of one file at once.

use masthead::{
    audit::Actor,
    clock,
    money::Currency,
    orders::{self, import::import_subscribers, terms},
    staff::accounts::Role,
};

use crate::{
    admin::{sign_in_as, token_in},
    on_both_databases,
    support::{released_together, visible_text, TestApp},
};

on_both_databases!(
    a_dry_run_changes_nothing_and_a_real_run_imports_once,
    imported_terms_reach_mailing_lists_and_accounts,
    a_bad_file_is_reported_line_by_line_and_nothing_is_imported,
    the_admin_checks_and_imports_an_upload,
    two_imports_of_one_file_at_once_import_it_once,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

const HEADER: &str = "email,name,line1,line2,city,region,postal_code,country,publication,edition,last_issue,issues_remaining,first_issue,external_id,donor_email,notes";

/// Three subscribers: a print term to a last issue, a digital term by issues remaining (a gift),
/// and a print journal in Canada with the issue its term began.
fn good_file() -> String {
    format!(
        "{HEADER}\n\
         rosa@example.org,Rosa Luxemburg,1 Main St,,Chicago,IL,60601,us,sw,print,2030-06,,,OLD-1,,paid by cheque\n\
         karl@example.org,Karl Marx,,,,,,,SW,Digital,,6,,,friedrich@example.org,\n\
         \"Clara, Z\"@example.org,\"Zetkin, Clara\",10 Queen St,Apt 2,Toronto,ON,M5H 2N2,CA,isr,print,2030-06,,2024-03,OLD-3,,\n"
    )
    .replace("\"Clara, Z\"@example.org", "clara@example.org")
}

async fn import(app: &TestApp, file: &str, dry_run: bool) -> orders::import::ImportReport {
    import_subscribers(&app.db, file.as_bytes(), dry_run, Currency::Usd, &Actor::command_line(), clock::now())
        .await
        .expect("an import report")
}

/// Counts of what an import writes.
async fn written(app: &TestApp) -> [i64; 5] {
    [
        count(app, "SELECT COUNT(*) FROM orders").await,
        count(app, "SELECT COUNT(*) FROM order_lines").await,
        count(app, "SELECT COUNT(*) FROM subscriptions").await,
        count(app, "SELECT COUNT(*) FROM readers").await,
        count(app, "SELECT COUNT(*) FROM audit_log").await,
    ]
}

/// A subscription's email, publication, edition, first and last period, country, and its order's email.
type ImportedTerm = (String, String, String, i64, i64, Option<String>, String);

async fn a_dry_run_changes_nothing_and_a_real_run_imports_once(app: TestApp) {
    let before = written(&app).await;
    let report = import(&app, &good_file(), true).await;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!((report.rows, report.new, report.already_imported, report.imported), (3, 3, 0, false));
    assert_eq!(written(&app).await, before, "a dry run writes nothing");

    let report = import(&app, &good_file(), false).await;
    assert_eq!((report.rows, report.new, report.already_imported, report.imported), (3, 3, 0, true));
    let after = written(&app).await;
    assert_eq!(after, [before[0] + 3, before[1] + 3, before[2] + 3, before[3] + 4, before[4] + 1]);

    // The terms are the file's: Rosa to June 2030; Karl six monthly issues from the next one;
    // Clara from March 2024 to June 2030, in Toronto.
    let terms: Vec<ImportedTerm> = sqlx::query_as(
        "SELECT s.email, s.publication, s.edition, s.first_period, s.last_period, s.ship_country, o.email \
         FROM subscriptions s JOIN orders o ON o.id = s.order_id ORDER BY s.email",
    )
    .fetch_all(&app.db.pool)
    .await
    .expect("the subscriptions");
    let next = terms::period_at(clock::now()); // no issue published this month in the demo: the next is this month's
    assert_eq!(terms[0].0, "clara@example.org");
    assert_eq!((terms[0].3, terms[0].4), (terms::period(2024, 3), terms::period(2030, 6)));
    assert_eq!(terms[0].5.as_deref(), Some("CA"));
    assert_eq!(terms[1].0, "karl@example.org");
    assert_eq!((terms[1].1.as_str(), terms[1].2.as_str()), ("sw", "digital"));
    assert_eq!(terms[1].4 - terms[1].3, 5, "six monthly issues");
    assert!(terms[1].3 >= next, "from the next issue");
    assert_eq!(terms[1].6, "friedrich@example.org", "the gift's order is the donor's");
    assert_eq!(terms[2].4, terms::period(2030, 6));
    let (source, notes, total): (String, Option<String>, i64) =
        sqlx::query_as("SELECT source, notes, total FROM orders WHERE import_key = 'id:OLD-1'")
            .fetch_one(&app.db.pool)
            .await
            .expect("Rosa's order");
    assert_eq!((source.as_str(), notes.as_deref(), total), ("import", Some("paid by cheque"), 0));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox").await, 0, "no email is sent");

    // The same file again: every key is known, nothing changes.
    let report = import(&app, &good_file(), false).await;
    assert_eq!((report.new, report.already_imported, report.imported), (0, 3, false));
    assert_eq!(written(&app).await, after);
}

async fn imported_terms_reach_mailing_lists_and_accounts(app: TestApp) {
    import(&app, &good_file(), false).await;
    let next = terms::period_at(clock::now());
    let (year, month) = terms::year_month(next);
    let list = orders::mailing_list::mailing_list(&app.db, "sw", year, month).await.expect("the list");
    assert!(list.entries.iter().any(|e| e.name == "Rosa Luxemburg" && e.country.as_deref() == Some("US")));
    assert!(!list.entries.iter().any(|e| e.name == "Karl Marx"), "digital is not mailed");

    let overview = masthead::accounts::overview(&app.db, "rosa@example.org", clock::now()).await.expect("an account");
    assert_eq!(overview.subscriptions.len(), 1);
    assert_eq!(overview.subscriptions[0].last_issue, "June 2030");
    assert!(overview.orders.is_empty(), "the import's $0 order is not shown as a purchase");
    let clara = masthead::accounts::overview(&app.db, "clara@example.org", clock::now()).await.expect("an account");
    assert_eq!(clara.subscriptions[0].renew_sku, "isr-print-1y", "an imported six-year term renews as a plan on sale");
}

async fn a_bad_file_is_reported_line_by_line_and_nothing_is_imported(app: TestApp) {
    let before = written(&app).await;
    let file = format!(
        "{HEADER}\n\
         ok@example.org,Ok Reader,1 Main St,,Chicago,IL,60601,US,sw,print,2030-06,,,,,\n\
         a@example.org,A Reader,1 Main St,,Chicago,IL,60601,US,nyt,print,2030-06,,,,,\n\
         b@example.org,B Reader,1 Main St,,Chicago,IL,60601,US,sw,print,2030-13,,,,,\n\
         c@example.org,C Reader,1 Main St,,Chicago,IL,60601,US,isr,print,2030-05,,,,,\n\
         d@example.org,=HYPERLINK(\"http://x\"),1 Main St,,Chicago,IL,60601,US,sw,print,2030-06,,,,,\n\
         e@example.org,E Reader,,,,,,,sw,print,2030-06,,,,,\n\
         not-an-email,F Reader,,,,,,,sw,digital,2030-06,,,,,\n\
         ok@example.org,Ok Again,1 Main St,,Chicago,IL,60601,US,sw,print,2030-06,,,,,\n\
         g@example.org,G Reader,,,,,,,sw,digital,2030-06,4,,,,\n\
         h@example.org,H Reader,,,,,,,sw,digital,2001-01,,,,,\n\
         i@example.org,I Reader,,,,,,,isr,digital,2030-06,,,,,\n"
    );
    for dry_run in [true, false] {
        let report = import(&app, &file, dry_run).await;
        let lines: Vec<(u64, Option<&str>)> = report.problems.iter().map(|p| (p.line, p.column.as_deref())).collect();
        assert_eq!(
            lines,
            [
                (3, Some("publication")),
                (4, Some("last_issue")),
                (5, Some("last_issue")),
                (6, Some("name")),
                (7, Some("line1")),
                (7, Some("city")),
                (7, Some("postal_code")),
                (7, Some("country")),
                (8, Some("email")),
                (9, None),
                (10, Some("issues_remaining")),
                (11, Some("last_issue")),
                (12, Some("edition")),
            ],
            "{:#?}",
            report.problems
        );
        let message = |line: u64| &report.problems.iter().find(|p| p.line == line).expect("a problem").message;
        assert!(message(3).contains("Unknown publication \"nyt\""), "{}", message(3));
        assert!(message(5).contains("No issue of International Socialist Review comes out in 2030-05: it comes out in March, June, September, December"), "{}", message(5));
        assert!(message(6).contains("spreadsheet formula"));
        assert!(message(9).contains("repeats line 2"));
        assert!(message(11).contains("nothing is left to send"));
        assert!(!report.imported);
        assert_eq!(written(&app).await, before, "nothing imported, not even the good rows");
    }

    // Files that are wrong as a whole.
    let latin1: Vec<u8> = format!("{HEADER}\nm@example.org,Ren")
        .into_bytes()
        .into_iter()
        .chain([0xe9]) // é in Latin-1
        .chain(b",,,,,,,sw,digital,2030-06,,,,,\n".iter().copied())
        .collect();
    let report = import_subscribers(&app.db, &latin1[..], false, Currency::Usd, &Actor::command_line(), clock::now())
        .await
        .expect("a report");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].message.contains("not UTF-8"));
    for (file, expected) in [
        ("email,name,edition\nx@example.org,X,print\n", "The column publication is missing."),
        (
            "email,name,publication,edition\nx@example.org,X,sw,print\n",
            "a column last_issue (yyyy-mm) or issues_remaining",
        ),
        ("email,name,publication,edition,last_issue,postcode\n", "Unknown column \"postcode\""),
        (&format!("{HEADER}\n"), "a header but no rows"),
        ("", "The column email is missing."),
    ] {
        let report = import(&app, file, false).await;
        assert!(report.problems.iter().any(|p| p.message.contains(expected)), "{expected}: {:?}", report.problems);
        assert_eq!(written(&app).await, before);
    }
    // More rows than an import takes: refused whole.
    let mut big = String::from("email,name,publication,edition,issues_remaining\n");
    for n in 0..=orders::import::MAX_ROWS {
        big.push_str(&format!("r{n}@example.org,R {n},sw,digital,3\n"));
    }
    let report = import(&app, &big, false).await;
    assert!(report.problems.iter().any(|p| p.message.contains("more than 100000 rows")), "{:?}", report.problems);
    assert_eq!(written(&app).await, before);
}

async fn upload(app: &TestApp, token: &str, file: &str, mode: &str) -> (u16, String) {
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::text(file.to_string()).file_name("subscribers.csv"))
        .text("mode", mode.to_string());
    let response = app
        .client
        .post(app.url(&format!("/admin/import?csrf_token={token}")))
        .multipart(form)
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, visible_text(&response.text().await.expect("a page")))
}

async fn the_admin_checks_and_imports_an_upload(app: TestApp) {
    let admin = app.with_new_client();
    let token = sign_in_as(&admin, "boss@example.org", Role::Admin).await;
    let before = written(&app).await;
    let (status, page) = upload(&admin, &token, &good_file(), "check").await;
    assert_eq!(status, 200);
    assert!(page.contains("The file is ready to import 3 rows read. Would import 3"), "{page}");
    assert_eq!(written(&app).await, before);

    let bad = good_file().replace("2030-06,,,OLD-1", "2030-13,,,OLD-1");
    let (status, page) = upload(&admin, &token, &bad, "import").await;
    assert_eq!(status, 422);
    assert!(page.contains("Nothing imported: 1 problem"), "{page}");
    assert!(page.contains("2 last_issue \"2030-13\" is not a month"), "{page}");
    assert_eq!(written(&app).await, before);

    let (status, page) = upload(&admin, &token, &good_file(), "import").await;
    assert_eq!(status, 200);
    assert!(page.contains("Imported 3 rows read. Imported 3; already imported before: 0."), "{page}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'subscribers.import'").await, 1);

    // Staff who are not admins, and a form without the token, import nothing.
    let clerk = app.with_new_client();
    let clerk_token = sign_in_as(&clerk, "clerk@example.org", Role::Staff).await;
    let other = good_file().replace("OLD-1", "OLD-9").replace("rosa@", "rosa2@");
    assert_eq!(upload(&clerk, &clerk_token, &other, "import").await.0, 403);
    assert_eq!(upload(&admin, "forged", &other, "import").await.0, 403);
    let (_, page) = admin.page("/admin/import").await;
    token_in(&page);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, before[2] + 3);
}

async fn two_imports_of_one_file_at_once_import_it_once(app: TestApp) {
    for round in 0..4 {
        let file = good_file().replace("OLD-", &format!("R{round}-")).replace("karl@", &format!("karl{round}@"));
        let db = app.db.clone();
        let runs = (0..2)
            .map(|_| {
                let (db, file) = (db.clone(), file.clone());
                async move {
                    import_subscribers(&db, file.as_bytes(), false, Currency::Usd, &Actor::command_line(), clock::now())
                        .await
                        .expect("a report")
                }
            })
            .collect();
        let reports = released_together(runs).await;
        let new: usize = reports.iter().map(|r| r.new).sum();
        assert_eq!(new, 3, "round {round}: {reports:?}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 3 * (round + 1));
    }
}
