//! An issue's print run and its mailing labels: counts by zone, the labels PDF on both sheet
//! sizes (read back), the marks on a last issue, names in other scripts, and the CSV's note.

use masthead::{
    audit::Actor,
    clock,
    money::Currency,
    orders::{import::import_subscribers, terms},
    staff::accounts::Role,
};

use crate::{
    admin::sign_in_as,
    digital::text_of,
    on_both_databases,
    support::{visible_text, TestApp},
};

on_both_databases!(the_print_run_counts_by_zone_and_the_labels_mark_the_last_issue);

/// The issue after this month's: the first one whose mailing list is open (the demo catalog's
/// issues are years old), added unpublished so the admin can open its print run.
async fn next_issue(app: &TestApp) -> (String, i64) {
    let period = terms::period_at(clock::now());
    let (year, month) = terms::year_month(period);
    let sku = format!("sw-{year:04}-{month:02}");
    sqlx::query(
        "INSERT INTO issues (sku, publication, year, month, title, summary, price_amount, currency, published) \
         VALUES ($1, 'sw', $2, $3, 'Next', 'Coming', 250, 'USD', 0)",
    )
    .bind(&sku)
    .bind(year)
    .bind(month)
    .execute(&app.db.pool)
    .await
    .expect("the issue");
    (sku, period)
}

async fn the_print_run_counts_by_zone_and_the_labels_mark_the_last_issue(app: TestApp) {
    let (sku, period) = next_issue(&app).await;
    let month = |p: i64| {
        let (y, m) = terms::year_month(p);
        format!("{y:04}-{m:02}")
    };
    // 45 print subscribers: 40 in the US, 3 in Canada, 2 in Germany; one's term ends with this
    // issue, one's with the next; two names in other scripts.
    let mut file = String::from("email,name,line1,city,region,postal_code,country,publication,edition,last_issue\n");
    for n in 0..45 {
        let (country, postal) = match n {
            0..=39 => ("US", format!("606{n:02}")),
            40..=42 => ("CA", format!("M5H {n}")),
            _ => ("DE", format!("101{n:02}")),
        };
        let name = match n {
            7 => "Zoë Ångström".to_string(),
            41 => "Мария Иванова".to_string(),
            _ => format!("Reader {n:02}"),
        };
        let last = match n {
            3 => period,
            4 => period + 1,
            _ => period + 12,
        };
        file.push_str(&format!(
            "r{n}@example.org,{name},{n} Main St,Springfield,,{postal},{country},sw,print,{}\n",
            month(last)
        ));
    }
    let report =
        import_subscribers(&app.db, file.as_bytes(), false, Currency::Usd, &Actor::command_line(), clock::now())
            .await
            .expect("imported");
    assert!(report.problems.is_empty() && report.new == 45, "{report:?}");

    let staff = app.with_new_client();
    let token = sign_in_as(&staff, "boss@example.org", Role::Admin).await;
    let (status, page) = staff.page(&format!("/admin/issues/{sku}/print-run")).await;
    assert_eq!(status, 200);
    let text = visible_text(&page);
    assert!(text.contains("Subscribers, United States United States of America 40 40"), "{text}");
    assert!(text.contains("Subscribers, Canada and Mexico Canada 3 3"), "{text}");
    assert!(text.contains("Subscribers, Rest of the world Germany 2 2"), "{text}");
    assert!(text.contains("Total to print 45"), "{text}");
    assert!(text.contains("45 labels on 2 sheets of Avery 5160"), "{text}");
    assert!(text.contains("1 say \"LAST ISSUE\""), "{text}");

    // Avery 5160: 30 a sheet, so 2 pages; every name on them once, sorted by country (CA, DE, US).
    let pdf = staff.get(&format!("/admin/issues/{sku}/labels.pdf")).await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.expect("the PDF");
    // Kept for a person to look at, like the journeys' screenshots.
    let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&folder);
    let _ = std::fs::write(folder.join(format!("labels-{}.pdf", app.db.backend.name())), &pdf);
    let pages = text_of(&pdf);
    assert_eq!(pages.len(), 2);
    let all = pages.join("\n");
    for n in (0..45).filter(|n| ![7, 41].contains(n)) {
        assert_eq!(all.matches(&format!("Reader {n:02}")).count(), 1, "Reader {n:02} in\n{all}");
    }
    assert!(all.contains("Zoë Ångström") && all.contains("Мария Иванова"), "{all}");
    assert_eq!(all.matches("LAST ISSUE").count(), 1);
    assert_eq!(all.matches("RENEW NOW: 1 ISSUE LEFT").count(), 1);
    let last = all.find("LAST ISSUE").expect("marked");
    assert!(
        all[last..].trim_start_matches("LAST ISSUE").trim_start().starts_with("Reader 03"),
        "the mark is Reader 03's"
    );
    assert!(all.find("CANADA") < all.find("GERMANY") && all.find("GERMANY") < all.find("UNITED STATES"));

    // L7160: 21 a sheet, so 3 pages.
    let response = staff.post_form("/admin/settings/labels", &[("csrf_token", &token), ("label_sheet", "l7160")]).await;
    assert_eq!(response.status(), 303);
    let pdf = staff.get(&format!("/admin/issues/{sku}/labels.pdf")).await.bytes().await.expect("the PDF");
    assert_eq!(text_of(&pdf).len(), 3);
    let response = staff.post_form("/admin/settings/labels", &[("csrf_token", &token), ("label_sheet", "a5")]).await;
    assert_eq!(response.status(), 422, "an unknown sheet is refused");

    // The mail house's CSV carries the same note.
    let csv = staff.get(&format!("/admin/mailing-list/{sku}.csv")).await.text().await.expect("the CSV");
    assert!(csv.lines().next().expect("a header").ends_with(",order,note"));
    assert!(csv.lines().any(|l| l.starts_with("Reader 03,") && l.ends_with(",LAST ISSUE")), "{csv}");

    // Closing the list fixes the run: a subscriber imported afterwards starts with a later issue.
    let response = staff.post_form(&format!("/admin/mailing-list/{sku}/close"), &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    let late = "email,name,line1,city,postal_code,country,publication,edition,issues_remaining\n\
                late@example.org,Late Reader,1 Main St,Chicago,60601,US,sw,print,6\n";
    import_subscribers(&app.db, late.as_bytes(), false, Currency::Usd, &Actor::command_line(), clock::now())
        .await
        .expect("imported");
    let (_, page) = staff.page(&format!("/admin/issues/{sku}/print-run")).await;
    assert!(visible_text(&page).contains("Total to print 45"), "{}", visible_text(&page));
    let (first,): (i64,) = sqlx::query_as("SELECT first_period FROM subscriptions WHERE email = 'late@example.org'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the late term");
    assert_eq!(first, period + 1);
}
