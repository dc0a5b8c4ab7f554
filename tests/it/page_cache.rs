//! The cache of public pages: never a reader's parts in another's page, and a staff change seen
//! at once on its own instance and within a second on another sharing the database.

use std::time::{Duration, Instant};

use masthead::{orders::terms, staff::accounts::Role};
use serde_json::json;

use crate::{admin::sign_in_as, on_both_databases, support::TestApp};

on_both_databases!(
    cached_pages_never_carry_a_readers_parts,
    a_readers_home_page_shares_the_catalog_never_the_cart,
    a_staff_change_shows_here_at_once_and_on_another_instance_within_a_second,
    a_readers_subscribe_and_issue_pages_share_the_catalog_never_the_cart,
    readers_asking_at_once_each_get_their_own_parts_of_kept_pages,
);

/// The app again, with the page cache on.
async fn with_cache(app: TestApp) -> TestApp {
    let mut config = app.stop().await;
    config.page_cache = true;
    let app = TestApp::start(config).await;
    // The cache serves nothing until its first look at the content version.
    tokio::time::sleep(Duration::from_millis(50)).await;
    app
}

/// The January 2017 issue of the paper gets a PDF (behind the admin's back).
async fn give_january_a_pdf(app: &TestApp) {
    let folder = app.config.data_dir.join("media").join("pdfs");
    std::fs::create_dir_all(&folder).expect("a folder");
    std::fs::write(folder.join("january.pdf"), crate::digital::two_page_pdf()).expect("written");
    sqlx::query("UPDATE issues SET pdf_file = 'pdfs/january.pdf' WHERE sku = 'sw-2017-01'")
        .execute(&app.db.pool)
        .await
        .expect("the PDF recorded");
}

async fn cached_pages_never_carry_a_readers_parts(app: TestApp) {
    let app = with_cache(app).await;
    give_january_a_pdf(&app).await;
    let page = "/issues/sw/2017/01";

    // A reader with a cart and a digital term covering the issue asks first, then a stranger.
    let covering = Some((terms::period(2016, 6), terms::period(2017, 5)));
    let reader = crate::digital::reader_with(&app, "cached@example.org", "sw-digital-1y", covering).await;
    reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y"})).await;
    for _ in 0..2 {
        let (status, html) = reader.page(page).await;
        assert_eq!(status, 200);
        assert!(html.contains("Download the PDF") && html.contains("class=\"cart-count\">1<"), "{html}");
    }
    let stranger = app.with_new_client();
    let (_, first) = stranger.page(page).await;
    let (_, second) = stranger.page(page).await;
    for html in [&first, &second] {
        assert!(!html.contains("Download the PDF") && !html.contains("cart-count"), "{html}");
        assert!(html.contains("Sign in</a> to read it"), "{html}");
        assert!(!html.contains("cached@example.org"));
    }
    assert_eq!(first, second);

    // The stranger's copy is kept (a change behind the admin's back does not show for a while);
    // the reader's page is made afresh with their own parts from the same kept catalog data.
    sqlx::query("UPDATE issues SET title = 'Changed behind the admin' WHERE sku = 'sw-2017-01'")
        .execute(&app.db.pool)
        .await
        .expect("changed");
    let (_, html) = stranger.page(page).await;
    assert!(!html.contains("Changed behind the admin"), "served from the cache");
    let (_, html) = reader.page(page).await;
    assert!(!html.contains("Changed behind the admin"), "the kept catalog data");
    assert!(html.contains("Download the PDF") && html.contains("class=\"cart-count\">1<"), "{html}");
    // Once the shop hears of a change (its poll, within a second), both see it.
    masthead::http::page_cache::bump_version(&app.db).await.expect("the version bumped");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for client in [&reader, &stranger] {
        assert!(client.page(page).await.1.contains("Changed behind the admin"));
    }
    // A page that starts a session (a cart for a new visitor) is never kept.
    let newcomer = app.with_new_client();
    newcomer.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y"})).await;
    let (_, html) = newcomer.page(page).await;
    assert!(html.contains("class=\"cart-count\">1<"), "the newcomer's own cart");
    let (_, html) = app.with_new_client().page(page).await;
    assert!(!html.contains("cart-count"));
}

async fn a_staff_change_shows_here_at_once_and_on_another_instance_within_a_second(app: TestApp) {
    let here = with_cache(app).await;
    let there = TestApp::start(here.config.clone()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let page = "/issues/sw/2016/12";
    for instance in [&here, &there] {
        for _ in 0..2 {
            assert_eq!(instance.with_new_client().get(page).await.status(), 200);
        }
    }
    let staff = here.with_new_client();
    let token = sign_in_as(&staff, "staff@example.org", Role::Staff).await;
    let response = staff.post_form("/admin/issues/sw-2016-12/unpublish", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    let changed = Instant::now();
    assert_eq!(here.with_new_client().get(page).await.status(), 404, "at once where it was made");
    let (_, archive) = here.with_new_client().page("/issues").await;
    assert!(!archive.contains("/issues/sw/2016/12\""), "the archive too");
    // The other instance polls once a second; allow for a slow machine.
    loop {
        if there.with_new_client().get(page).await.status() == 404 {
            break;
        }
        assert!(changed.elapsed() < Duration::from_secs(3), "the other instance still serves the old page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    there.stop().await;
}

/// The shop with the page cache on, a second instance on its database, and two readers with carts
/// of one and two items (the browsers' cookies reach both instances).
async fn two_instances_two_readers(app: TestApp) -> (TestApp, TestApp, TestApp, TestApp) {
    let here = with_cache(app).await;
    let there = TestApp::start(here.config.clone()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let one = here.with_new_client();
    one.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y"})).await;
    let two = here.with_new_client();
    for sku in ["sw-print-1y", "isr-print-1y"] {
        two.send_json("POST", "/api/v1/cart/items", json!({"sku": sku})).await;
    }
    (here, there, one, two)
}

async fn a_readers_home_page_shares_the_catalog_never_the_cart(app: TestApp) {
    let (here, there, one, two) = two_instances_two_readers(app).await;
    let home = |reader: &TestApp, instance: &TestApp| {
        let request = reader.client.get(instance.url("/"));
        async move { crate::support::html_text(&request.send().await.expect("answered").text().await.expect("HTML")) }
    };
    for _ in 0..3 {
        for (reader, count) in [(&one, 1), (&two, 2)] {
            for instance in [&here, &there] {
                let html = home(reader, instance).await;
                assert!(html.contains(&format!("class=\"cart-count\">{count}<")), "each reader's own cart: {html}");
                assert!(html.contains("Solidarity Trumps Hate"), "the latest issue");
            }
        }
    }
    // A staff change: the readers' home pages show it here at once, there within a second.
    let staff = here.with_new_client();
    let token = sign_in_as(&staff, "staff@example.org", Role::Staff).await;
    let response = staff.post_form("/admin/issues/sw-2017-01/unpublish", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    let changed = Instant::now();
    let html = home(&one, &here).await;
    assert!(!html.contains("Solidarity Trumps Hate") && html.contains("The hate won't go unchallenged"), "{html}");
    loop {
        let html = home(&two, &there).await;
        if !html.contains("Solidarity Trumps Hate") {
            assert!(html.contains("class=\"cart-count\">2<"));
            break;
        }
        assert!(changed.elapsed() < Duration::from_secs(3), "the other instance still shows the old catalog");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    there.stop().await;
}

/// Waits (a second's poll, allowing for a slow machine) until `seen` holds of what `page` answers.
async fn eventually(
    changed: Instant,
    what: &str,
    mut page: impl AsyncFnMut() -> (u16, String),
    seen: fn(u16, &str) -> bool,
) {
    loop {
        let (status, html) = page().await;
        if seen(status, &html) {
            return;
        }
        assert!(changed.elapsed() < Duration::from_secs(3), "the other instance still shows the old {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_readers_subscribe_and_issue_pages_share_the_catalog_never_the_cart(app: TestApp) {
    let (here, there, one, two) = two_instances_two_readers(app).await;
    let page = |reader: &TestApp, instance: &TestApp, path: &str| {
        let request = reader.client.get(instance.url(path));
        async move {
            let response = request.send().await.expect("answered");
            (response.status().as_u16(), response.text().await.expect("HTML"))
        }
    };
    let issue = "/issues/sw/2016/12";
    for _ in 0..3 {
        for (reader, count) in [(&one, 1), (&two, 2)] {
            for instance in [&here, &there] {
                for path in ["/subscribe", issue] {
                    let (status, html) = page(reader, instance, path).await;
                    assert_eq!(status, 200);
                    assert!(html.contains(&format!("class=\"cart-count\">{count}<")), "{path}: the reader's own cart");
                }
            }
        }
    }
    // An admin adds a reduced rate, then unpublishes the issue: the readers see each at once
    // here and within a second there, each still with their own cart.
    let admin = here.with_new_client();
    let token = sign_in_as(&admin, "admin@example.org", Role::Admin).await;
    let fields = [("reduced_price", "9"), ("reduced_wording", "Students and the unwaged")];
    assert_eq!(crate::rates::set_rates(&admin, "sw-digital-1y", &fields).await.status(), 303);
    let changed = Instant::now();
    let (_, html) = page(&one, &here, "/subscribe").await;
    assert!(html.contains("Students and the unwaged") && html.contains("class=\"cart-count\">1<"), "{html}");
    eventually(
        changed,
        "rates",
        async || page(&two, &there, "/subscribe").await,
        |_, html| html.contains("Students and the unwaged") && html.contains("class=\"cart-count\">2<"),
    )
    .await;
    let response = admin.post_form("/admin/issues/sw-2016-12/unpublish", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), 303);
    let changed = Instant::now();
    assert_eq!(page(&one, &here, issue).await.0, 404, "at once where it was made");
    eventually(changed, "issue", async || page(&two, &there, issue).await, |status, _| status == 404).await;
    there.stop().await;
}

/// Readers with different carts and PDF rights ask for the same pages at once, on two instances,
/// round after round, their carts growing between rounds: every page shows its own reader's count
/// and PDF link, never another's (kept renderings are shared only by readers with the same parts).
async fn readers_asking_at_once_each_get_their_own_parts_of_kept_pages(app: TestApp) {
    let here = with_cache(app).await;
    let there = TestApp::start(here.config.clone()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    give_january_a_pdf(&here).await;
    let covering = Some((terms::period(2016, 6), terms::period(2017, 5)));
    let elsewhere = Some((terms::period(2018, 1), terms::period(2018, 12)));
    let readers = [
        (crate::digital::reader_with(&here, "kept-a@example.org", "sw-digital-1y", covering).await, "Download the PDF"),
        (
            crate::digital::reader_with(&here, "kept-b@example.org", "sw-digital-1y", elsewhere).await,
            "do not cover this issue's PDF",
        ),
        (here.with_new_client(), "Sign in</a> to read it"),
        (here.with_new_client(), "Sign in</a> to read it"),
    ];
    // Reader n starts with n copies of a back issue in their cart; all but the first add one a round.
    let mut counts = [0, 1, 2, 3];
    for (n, (reader, _)) in readers.iter().enumerate() {
        for _ in 0..n {
            assert_eq!(reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-2016-12"})).await.0, 200);
        }
    }
    for _ in 0..3 {
        let instances = [&here, &there];
        let paths = ["/", "/subscribe", "/issues/sw/2017/01"];
        let asks: Vec<_> = readers
            .iter()
            .zip(counts)
            .flat_map(|(reader, count)| {
                instances.into_iter().flat_map(move |instance| paths.map(move |path| (reader, count, instance, path)))
            })
            .collect();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(asks.len()));
        let pages = asks.into_iter().map(|((reader, pdf_words), count, instance, path)| {
            let (barrier, request) = (barrier.clone(), reader.client.get(instance.url(path)));
            async move {
                barrier.wait().await;
                let response = request.send().await.expect("answered");
                assert_eq!(response.status(), 200);
                let html = response.text().await.expect("HTML");
                match count {
                    0 => assert!(!html.contains("cart-count"), "{path}: no cart count for an empty cart"),
                    _ => assert!(html.contains(&format!("class=\"cart-count\">{count}<")), "{path}: count {count}"),
                }
                if path.starts_with("/issues") {
                    assert!(html.contains(pdf_words), "{path}: the reader's own PDF link ({pdf_words})");
                    let others = ["Download the PDF", "do not cover this issue's PDF", "Sign in</a> to read it"];
                    for other in others.iter().filter(|w| *w != pdf_words) {
                        assert!(!html.contains(other), "{path}: another reader's PDF link ({other})");
                    }
                }
            }
        });
        futures_util::future::join_all(pages).await;
        for (n, (reader, _)) in readers.iter().enumerate().skip(1) {
            assert_eq!(reader.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-2016-12"})).await.0, 200);
            counts[n] += 1;
        }
    }
    there.stop().await;
}
