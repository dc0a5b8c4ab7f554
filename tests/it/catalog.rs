//! The catalog and the archive: pages, feed, covers and the read API.

use serde_json::json;

use crate::{on_both_databases, support::TestApp};

on_both_databases!(
    home_page_shows_each_publications_latest_issue_and_offers,
    subscribe_page_lists_every_plan_with_its_price_per_year,
    archive_spans_two_years_grouped_by_publication_and_year,
    seed_issues_show_their_contents,
    bad_issue_addresses_get_the_sites_404,
    unpublished_issues_are_invisible,
    atom_feed_lists_published_issues,
    the_sitemap_and_shared_links_describe_the_issues,
    covers_are_drawn_for_each_issue,
    products_api_lists_plans_and_single_issues,
    issues_api_lists_filters_and_shows_one_issue,
    api_errors_have_the_json_shape,
    seeding_twice_changes_nothing,
);

async fn home_page_shows_each_publications_latest_issue_and_offers(app: TestApp) {
    let (status, body) = app.page("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Socialist Worker") && body.contains("International Socialist Review"));
    // The newest issue of each publication, linked to its page.
    assert!(body.contains("Solidarity Trumps Hate"));
    assert!(body.contains("href=\"/issues/sw/2017/01\""));
    assert!(body.contains("href=\"/issues/isr/2016/12\""));
    // The offers: ISR's cheapest year is the 4-year plan, $98.00 / 4.
    assert!(body.contains("$24.50"), "ISR from $24.50 a year");
    assert!(body.contains("$29.00") && body.contains("$58.00") && body.contains("$98.00"));
}

async fn subscribe_page_lists_every_plan_with_its_price_per_year(app: TestApp) {
    let (status, body) = app.page("/subscribe").await;
    assert_eq!(status, 200);
    for (sku, price, per_year) in [
        ("isr-print-1y", "$29.00", "$29.00 a year"),
        ("isr-print-2y", "$58.00", "$29.00 a year"),
        ("isr-print-4y", "$98.00", "$24.50 a year"),
        ("sw-print-4y", "$80.00", "$20.00 a year"),
        ("sw-digital-1y", "$15.00", "$15.00 a year"),
    ] {
        let row_start = body.find(&format!("id=\"{sku}\"")).unwrap_or_else(|| panic!("a row for {sku}"));
        let row = &body[row_start..row_start + body[row_start..].find("</tr>").expect("the row ends")];
        assert!(row.contains(price) && row.contains(per_year), "{sku}: {row}");
    }
    // Grouped by publication, then edition: Socialist Worker has both editions, ISR only print.
    let sw = body.find("id=\"h-sw\"").expect("SW section");
    let isr = body.find("id=\"h-isr\"").expect("ISR section");
    assert!(sw < isr);
    assert!(body.contains("id=\"h-sw-print\"") && body.contains("id=\"h-sw-digital\""));
    assert!(body.contains("id=\"h-isr-print\"") && !body.contains("id=\"h-isr-digital\""));
}

async fn archive_spans_two_years_grouped_by_publication_and_year(app: TestApp) {
    let (status, body) = app.page("/issues").await;
    assert_eq!(status, 200);
    for heading in ["id=\"h-sw-2017\"", "id=\"h-sw-2016\"", "id=\"h-sw-2015\"", "id=\"h-isr-2016\""] {
        assert!(body.contains(heading), "{heading}");
    }
    // Newest first within a publication.
    let jan_2017 = body.find("href=\"/issues/sw/2017/01\"").expect("January 2017");
    let dec_2016 = body.find("href=\"/issues/sw/2016/12\"").expect("December 2016");
    let jan_2015 = body.find("href=\"/issues/sw/2015/01\"").expect("January 2015");
    assert!(jan_2017 < dec_2016 && dec_2016 < jan_2015);
    assert!(body.contains("Sample content"), "sample issues are marked");

    let (status, body) = app.page("/issues/isr").await;
    assert_eq!(status, 200);
    assert!(body.contains("International Socialist Review: the archive"));
    assert!(!body.contains("href=\"/issues/sw/"), "only ISR issues");
}

async fn seed_issues_show_their_contents(app: TestApp) {
    let (status, body) = app.page("/issues/sw/2016/12").await;
    assert_eq!(status, 200);
    for title in [
        "The hate won't go unchallenged",
        "The election of Trump and the struggle ahead",
        "Now's the time for socialist organization",
        "Who's to blame for Trump's victory?",
        "How did this vile sexist win?",
        "We'll make campuses safe for immigrants",
    ] {
        assert!(body.contains(title), "{title}");
    }
    assert!(body.contains("Back page"));
    assert!(body.contains("src=\"/covers/sw-2016-12.svg?v="));
    assert!(body.contains("Buy this issue") && body.contains("$2.50"));
    assert!(body.contains("href=\"/subscribe#sw\""));
    assert!(!body.contains("Sample content"), "a real issue is not marked as a sample");

    let (status, body) = app.page("/issues/sw/2017/01").await;
    assert_eq!(status, 200);
    assert!(body.contains("Solidarity Trumps Hate") && body.contains("Pull-out poster"));
    assert!(body.contains("inauguration"));

    let (_, body) = app.page("/issues/sw/2015/03").await;
    assert!(body.contains("Sample content"));
}

async fn bad_issue_addresses_get_the_sites_404(app: TestApp) {
    for path in [
        "/issues/nope/2017/01",
        "/issues/sw/2017/13",
        "/issues/sw/2017/ab",
        "/issues/sw/99999/01",
        "/issues/sw/2017/1",
        "/issues/sw/2030/01",
        "/issues/SW/2017/01",
        "/issues/nope",
        "/issues/sw/2017/01/extra",
        "/no-such-page",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8", "{path}");
        let body = response.text().await.expect("a body");
        assert!(body.contains("Page not found") && body.contains("class=\"site-header\""), "{path}: {body}");
    }
}

/// February 2017, not published yet.
async fn add_unpublished_issue(app: &TestApp) {
    sqlx::query(
        "INSERT INTO issues (sku, publication, year, month, title, summary, price_amount, currency, published) \
         VALUES ('sw-2017-02', 'sw', 2017, 2, 'Embargoed front page', 'Not out yet', 250, 'USD', 0)",
    )
    .execute(&app.db.pool)
    .await
    .expect("an unpublished issue");
}

async fn unpublished_issues_are_invisible(app: TestApp) {
    add_unpublished_issue(&app).await;

    assert_eq!(app.get("/issues/sw/2017/02").await.status(), 404);
    assert_eq!(app.get("/api/v1/issues/sw/2017/02").await.status(), 404);
    assert_eq!(app.get("/covers/sw-2017-02.svg").await.status(), 404);
    for path in ["/", "/issues", "/issues/sw", "/issues.atom"] {
        let (_, body) = app.page(path).await;
        assert!(!body.contains("Embargoed"), "{path}");
    }
    let (_, products) = app.json("/api/v1/products").await;
    assert!(products.as_array().expect("an array").iter().all(|p| p["sku"] != "sw-2017-02"));
    let (_, issues) = app.json("/api/v1/issues").await;
    assert!(issues.as_array().expect("an array").iter().all(|i| i["sku"] != "sw-2017-02"));
}

async fn atom_feed_lists_published_issues(app: TestApp) {
    let response = app.get("/issues.atom").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/atom+xml; charset=utf-8");
    // Read as a feed reader would: URLs as written, not entity-encoded.
    let body = response.text().await.expect("a body");
    assert!(body.starts_with("<?xml"));
    assert!(body.contains("<link rel=\"self\" type=\"application/atom+xml\" href=\"http://shop.test/issues.atom\"/>"));
    assert!(body.contains("<id>http://shop.test/issues/sw/2016/12</id>"));
    assert!(body.contains("The hate won&#x27;t go unchallenged"), "text is still escaped");
    assert!(body.contains("<updated>2017-01-01T12:00:00Z</updated>"), "the feed is as new as its newest issue");
    let (_, issues) = app.json("/api/v1/issues").await;
    let published = issues.as_array().expect("an array").len();
    assert_eq!(body.matches("<entry>").count(), published.min(50));
}

async fn the_sitemap_and_shared_links_describe_the_issues(app: TestApp) {
    add_unpublished_issue(&app).await;
    let response = app.get("/sitemap.xml").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/xml; charset=utf-8");
    let body = response.text().await.expect("a body");
    for path in ["/", "/subscribe", "/issues", "/issues/sw", "/issues/isr", "/branches"] {
        assert!(body.contains(&format!("<loc>http://shop.test{path}</loc>")), "{path}: {body}");
    }
    assert!(body.contains("<url><loc>http://shop.test/issues/sw/2016/12</loc><lastmod>"), "{body}");
    let (_, issues) = app.json("/api/v1/issues").await;
    assert_eq!(body.matches("/issues/").count(), issues.as_array().expect("an array").len() + 2);
    assert!(!body.contains("2017/02"), "unpublished issues are not listed");

    // An issue page shared on social media shows the issue; every page has a description.
    let (_, page) = app.page("/issues/sw/2016/12").await;
    assert!(page.contains("<meta property=\"og:title\" content=\"Socialist Worker, December 2016:"), "{page}");
    assert!(page.contains("<meta property=\"og:url\" content=\"http://shop.test/issues/sw/2016/12\">"));
    assert!(page.contains("<meta name=\"twitter:card\" content=\"summary\">"), "a drawn (SVG) cover is no card image");
    let (summary,): (String,) = sqlx::query_as("SELECT summary FROM issues WHERE sku = 'sw-2016-12'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the summary");
    let start: String = summary.chars().take_while(|c| c.is_alphanumeric() || *c == ' ').collect();
    assert!(start.len() > 20, "{summary}");
    assert!(page.contains(&format!("<meta name=\"description\" content=\"{start}")), "{page}");
    sqlx::query("UPDATE issues SET cover_image = 'covers/sw-2016-12.jpg' WHERE sku = 'sw-2016-12'")
        .execute(&app.db.pool)
        .await
        .expect("a cover");
    let (_, page) = app.page("/issues/sw/2016/12").await;
    assert!(
        page.contains("<meta property=\"og:image\" content=\"http://shop.test/media/covers/sw-2016-12.jpg\">"),
        "{page}"
    );
    for path in ["/", "/subscribe", "/issues", "/branches"] {
        let (_, page) = app.page(path).await;
        assert_eq!(page.matches("<meta name=\"description\" content=\"").count(), 1, "{path}");
    }
}

async fn covers_are_drawn_for_each_issue(app: TestApp) {
    // Linked by a URL that changes with the cover, and kept a year by that URL (an hour by another).
    let (_, page) = app.page("/issues/sw/2016/12").await;
    let start = page.find("/covers/sw-2016-12.svg?v=").expect("the cover's URL");
    let url = page[start..page[start..].find('"').map(|end| start + end).expect("its end")].to_string();
    let response = app.get(&url).await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
    let response = app.get("/covers/sw-2016-12.svg?v=000000000000").await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    sqlx::query("UPDATE issues SET title = 'A new headline' WHERE sku = 'sw-2016-12'")
        .execute(&app.db.pool)
        .await
        .expect("retitled");
    let (_, page) = app.page("/issues/sw/2016/12").await;
    assert!(!page.contains(&url), "a changed cover has a new URL");
    sqlx::query("UPDATE issues SET title = $1 WHERE sku = 'sw-2016-12'")
        .bind("The hate won't go unchallenged")
        .execute(&app.db.pool)
        .await
        .expect("titled back");

    // Static files: linked with their content's hash, kept a year by it.
    let (_, page) = app.page("/").await;
    let start = page.find("/static/site.css?v=").expect("the stylesheet's URL");
    let css = page[start..page[start..].find('"').map(|end| start + end).expect("its end")].to_string();
    let response = app.get(&css).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
    let on_disk = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/site.css")).expect("css");
    assert_eq!(css, format!("/static/site.css?v={}", masthead::storage::short_hash(&on_disk)));
    let response = app.get("/static/site.css").await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600", "without the hash: an hour");

    let response = app.get("/covers/sw-2016-12.svg").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(response.headers()["content-security-policy"].to_str().expect("text").contains("sandbox"));
    let svg = super::support::html_text(&response.text().await.expect("a body"));
    assert!(
        svg.starts_with("<svg")
            && svg.contains("DECEMBER 2016")
            && svg.contains("The hate")
            && svg.contains("won't go")
            && svg.contains("unchallenged")
    );
    for path in ["/covers/sw-2016-12.png", "/covers/nope.svg", "/covers/..%2Fsecret.svg"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

async fn products_api_lists_plans_and_single_issues(app: TestApp) {
    let (status, products) = app.json("/api/v1/products").await;
    assert_eq!(status, 200);
    let products = products.as_array().expect("an array");
    let find = |sku: &str| products.iter().find(|p| p["sku"] == sku).cloned().unwrap_or_else(|| panic!("{sku}"));
    assert_eq!(
        find("isr-print-4y"),
        json!({
            "sku": "isr-print-4y",
            "name": "International Socialist Review, print edition, 4 years",
            "kind": "subscription",
            "publication": "isr",
            "edition": "print",
            "term_years": 4,
            "price": {"amount": 9800, "currency": "USD", "display": "$98.00"}
        })
    );
    assert_eq!(find("isr-print-1y")["price"]["amount"], 2900);
    assert_eq!(find("isr-print-2y")["price"]["amount"], 5800);
    let issue = find("sw-2017-01");
    assert_eq!(issue["kind"], "issue");
    assert_eq!(issue["term_years"], serde_json::Value::Null);
    assert_eq!(issue["price"]["display"], "$2.50");
    let plans = products.iter().filter(|p| p["kind"] == "subscription").count();
    assert_eq!(plans, 9, "SW print and digital, ISR print, each 1, 2 and 4 years");
}

async fn issues_api_lists_filters_and_shows_one_issue(app: TestApp) {
    let (status, all) = app.json("/api/v1/issues").await;
    assert_eq!(status, 200);
    let all = all.as_array().expect("an array");
    assert_eq!(all[0]["sku"], "sw-2017-01", "newest first");
    assert!(all.len() >= 25);

    let (status, isr) = app.json("/api/v1/issues?publication=isr").await;
    assert_eq!(status, 200);
    let isr = isr.as_array().expect("an array");
    assert!(!isr.is_empty() && isr.iter().all(|i| i["publication"] == "isr"));

    let (status, issue) = app.json("/api/v1/issues/sw/2016/12").await;
    assert_eq!(status, 200);
    assert_eq!(issue["title"], "The hate won't go unchallenged");
    assert_eq!(issue["url"], "/issues/sw/2016/12");
    assert_eq!(issue["label"], "December 2016");
    assert_eq!(issue["sample"], false);
    assert_eq!(issue["contents"].as_array().expect("contents").len(), 6);
    assert_eq!(issue["contents"][5]["title"], "We'll make campuses safe for immigrants");
}

async fn api_errors_have_the_json_shape(app: TestApp) {
    for (path, code) in [
        ("/api/v1/issues/sw/2017/13", "issue_not_found"),
        ("/api/v1/issues/sw/99999/01", "issue_not_found"),
        ("/api/v1/issues/nope/2017/01", "issue_not_found"),
        ("/api/v1/issues?publication=nope", "publication_not_found"),
        ("/api/v1/no-such-endpoint", "not_found"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.headers()["content-type"].to_str().expect("text").starts_with("application/json"));
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], code, "{path}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}");
    }
}

async fn seeding_twice_changes_nothing(app: TestApp) {
    let count = |sql: &'static str| {
        let pool = app.db.pool.clone();
        async move { sqlx::query_as::<_, (i64,)>(sql).fetch_one(&pool).await.expect("a count").0 }
    };
    let before = (count("SELECT COUNT(*) FROM issues").await, count("SELECT COUNT(*) FROM articles").await);
    let added = masthead::catalog::seed_demo_catalog(&app.db, masthead::money::Currency::Usd)
        .await
        .expect("seeding again works");
    assert_eq!(added, 0);
    let after = (count("SELECT COUNT(*) FROM issues").await, count("SELECT COUNT(*) FROM articles").await);
    assert_eq!(before, after);
}
