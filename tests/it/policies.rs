//! The policy pages: starting texts on a fresh shop, linked from every page, checkout and email;
//! edited by admins in Markdown (sanitised, audited); an empty page neither shown nor linked, on
//! every instance within a second.

use std::time::{Duration, Instant};

use masthead::staff::accounts::Role;

use crate::{admin::sign_in_as, checkout::checkout, on_both_databases, support::TestApp};

on_both_databases!(
    a_fresh_shop_has_its_policy_pages_linked_everywhere,
    admins_write_pages_in_markdown_and_an_empty_page_is_taken_down_everywhere,
);

const PAGES: [(&str, &str); 5] = [
    ("/contact", "Contact us"),
    ("/shipping", "Shipping and delivery"),
    ("/refunds", "Refunds and cancellations"),
    ("/privacy", "Privacy"),
    ("/terms", "Terms of sale"),
];

async fn a_fresh_shop_has_its_policy_pages_linked_everywhere(app: TestApp) {
    for (path, title) in PAGES {
        let (status, page) = app.page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains(&format!("<h1 id=\"policy-title\">{title}</h1>")), "{path}: {page}");
    }
    for path in ["/", "/subscribe", "/issues/sw/2016/12", "/cart", "/no-such-page"] {
        let (_, page) = app.page(path).await;
        for (link, _) in PAGES {
            assert!(page.contains(&format!("<a href=\"{link}\">")), "{path} links {link}");
        }
    }
    // The checkout page before paying, and the confirmation email after.
    let (status, answer) = checkout(&app, &["isr-print-1y"], None, "policy@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let (_, page) = app.page("/checkout").await;
    assert!(page.contains("Your cart is empty") || page.contains("/refunds"), "{page}");
    app.post_form("/cart/items", &[("sku", "sw-print-1y")]).await;
    let (_, page) = app.page("/checkout").await;
    assert!(page.contains("Before you pay:") && page.contains("<a href=\"/refunds\">"), "{page}");
    let order_id = answer["order_id"].as_str().expect("an order");
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert_eq!(response.status(), 303);
    let (body,): (String,) = sqlx::query_as("SELECT body FROM email_outbox WHERE kind = 'order_confirmation'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the confirmation");
    for (path, title) in PAGES {
        assert!(body.contains(&format!("{title}: http://shop.test{path}")), "{body}");
    }
}

async fn admins_write_pages_in_markdown_and_an_empty_page_is_taken_down_everywhere(app: TestApp) {
    let there = TestApp::start(app.config.clone()).await;
    let token = sign_in_as(&app, "boss@example.org", Role::Admin).await;

    // Markdown in, sanitised HTML out, audited.
    let markdown = "## Refunds within 30 days\r\n\r\nWrite to us: [contact](/contact).\r\n\r\n<script>alert(1)</script><img src=x onerror=alert(2)>";
    let response = app.post_form("/admin/pages/refunds", &[("csrf_token", &token), ("markdown", markdown)]).await;
    assert_eq!(response.status(), 303);
    let (_, page) = app.page("/refunds").await;
    assert!(page.contains("<h2>Refunds within 30 days</h2>") && page.contains("<a href=\"/contact\""), "{page}");
    assert!(!page.contains("<script>alert") && !page.contains("onerror"), "{page}");
    let (audited,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'policy.save' AND entity_id = 'refunds'")
            .fetch_one(&app.db.pool)
            .await
            .expect("counted");
    assert_eq!(audited, 1);

    // Refused: too long, or by a staff member who is not an admin. Nothing changes.
    let huge = "x".repeat(masthead::policies::MAX_CHARS + 1);
    let response = app.post_form("/admin/pages/refunds", &[("csrf_token", &token), ("markdown", &huge)]).await;
    assert_eq!(response.status(), 422);
    let clerk = app.with_new_client();
    let clerk_token = sign_in_as(&clerk, "clerk@example.org", Role::Staff).await;
    let response = clerk.post_form("/admin/pages/refunds", &[("csrf_token", &clerk_token), ("markdown", "")]).await;
    assert_eq!(response.status(), 403);
    let response = app.post_form("/admin/pages/about-us", &[("csrf_token", &token), ("markdown", "Hi")]).await;
    assert_eq!(response.status(), 404);
    let (_, page) = app.page("/refunds").await;
    assert!(page.contains("Refunds within 30 days"), "unchanged: {page}");

    // Emptied: gone here at once, and from the other instance's footer within a second.
    for instance in [&app, &there] {
        let (_, page) = instance.with_new_client().page("/").await;
        assert!(page.contains("<a href=\"/privacy\">"), "linked before");
    }
    let response = app.post_form("/admin/pages/privacy", &[("csrf_token", &token), ("markdown", "  \r\n ")]).await;
    assert_eq!(response.status(), 303);
    let changed = Instant::now();
    assert_eq!(app.with_new_client().get("/privacy").await.status(), 404);
    let (_, page) = app.with_new_client().page("/").await;
    assert!(!page.contains("<a href=\"/privacy\">") && page.contains("<a href=\"/terms\">"), "{page}");
    loop {
        let (_, page) = there.with_new_client().page("/subscribe").await;
        if !page.contains("<a href=\"/privacy\">") {
            break;
        }
        assert!(changed.elapsed() < Duration::from_secs(3), "the other instance still links the page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A restart does not bring the starting text back.
    let (_, page) = there.with_new_client().page("/").await;
    assert!(!page.contains("<a href=\"/privacy\">"));
    there.stop().await;
    let again = TestApp::start(app.config.clone()).await;
    assert_eq!(again.with_new_client().get("/privacy").await.status(), 404, "still taken down after a restart");
    again.stop().await;
}
