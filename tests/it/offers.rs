//! Offer pages: the publisher's FTR 2016 offer on a fresh shop, its buttons putting a plan in the
//! cart with the code applied (a POST; a GET changes nothing), an ended offer's link still
//! answering, and staff's editing.

use masthead::staff::accounts::Role;
use serde_json::Value;

use crate::{
    admin::{sign_in_as, token_in},
    on_both_databases,
    support::{released_together, save_coupon, test_coupon, TestApp},
};

on_both_databases!(
    the_offer_page_puts_a_plan_in_the_cart_with_its_code,
    an_ended_offer_still_answers_with_the_regular_plans,
    staff_publish_an_offer_page_for_a_coupon,
    offer_buttons_pressed_together_make_one_line_and_one_coupon,
);

fn cart_skus(cart: &Value) -> Vec<(String, i64)> {
    cart["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["sku"].as_str().expect("sku").to_string(), i["quantity"].as_i64().expect("quantity")))
        .collect()
}

async fn the_offer_page_puts_a_plan_in_the_cart_with_its_code(app: TestApp) {
    let (_, home) = app.page("/").await;
    assert!(home.contains("href=\"/offers/ftr-2016\""), "the home page shows the offer: {home}");
    let (status, page) = app.page("/offers/ftr-2016").await;
    assert_eq!(status, 200);
    assert!(page.contains("Arm yourself to fight the Right"), "{page}");
    for (sku, regular, offer) in [("isr-print-1y", "$29.00", "$14.50"), ("isr-print-4y", "$98.00", "$49.00")] {
        let row = &page[page.find(&format!("id=\"{sku}\"")).expect("the plan's row")..];
        let row = &row[..row.find("</tr>").expect("its end")];
        assert!(row.contains(&format!("{regular}</s>")) && row.contains(offer), "{sku}: {row}");
    }
    // Reading the page changed nothing: no cart, no session.
    assert_eq!(app.cart().await["items"], serde_json::json!([]));

    // Not in the offer (a single issue), not a plan at all: refused, nothing changed.
    for sku in ["sw-2016-12", "../etc", ""] {
        let response = app.post_form("/offers/ftr-2016/add", &[("sku", sku)]).await;
        assert_eq!(response.status(), 404, "{sku}");
    }
    assert_eq!(app.post_form("/offers/no-such-offer/add", &[("sku", "isr-print-4y")]).await.status(), 404);
    assert_eq!(app.get("/offers/no-such-offer").await.status(), 404);
    assert_eq!(app.cart().await["items"], serde_json::json!([]));

    let response = app.post_form("/offers/ftr-2016/add", &[("sku", "isr-print-4y")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/cart");
    let cart = app.cart().await;
    assert_eq!(cart_skus(&cart), [("isr-print-4y".to_string(), 1)]);
    assert_eq!(
        (cart["coupon"]["code"].as_str(), cart["total"]["display"].as_str()),
        (Some("FTR 2016"), Some("$49.00"))
    );
    let (_, page) = app.page("/cart").await;
    assert!(page.contains("Coupon FTR 2016 applied"), "{page}");

    // An unpublished offer is not found.
    sqlx::query("UPDATE offers SET published = 0").execute(&app.db.pool).await.expect("unpublished");
    assert_eq!(app.get("/offers/ftr-2016").await.status(), 404);
    let (_, home) = app.page("/").await;
    assert!(!home.contains("/offers/ftr-2016"));
}

async fn an_ended_offer_still_answers_with_the_regular_plans(app: TestApp) {
    let yesterday = masthead::clock::now() - 86_400;
    sqlx::query("UPDATE coupons SET ends_at = $1").bind(yesterday).execute(&app.db.pool).await.expect("ended");
    let (status, page) = app.page("/offers/ftr-2016").await;
    assert_eq!(status, 200, "a shared link keeps working");
    assert!(page.contains("This offer has ended"), "{page}");
    assert!(page.contains("action=\"/cart/items\"") && !page.contains("action=\"/offers/ftr-2016/add\""), "{page}");
    let (_, home) = app.page("/").await;
    assert!(!home.contains("/offers/ftr-2016"), "the home page shows only a live offer");
    // A button from a page opened before it ended: the plan at its regular price, said so.
    let response = app.post_form("/offers/ftr-2016/add", &[("sku", "isr-print-1y")]).await;
    assert_eq!(response.status(), 303);
    let cart = app.cart().await;
    assert_eq!(cart_skus(&cart), [("isr-print-1y".to_string(), 1)]);
    assert_eq!((cart["coupon"].clone(), cart["total"]["display"].as_str()), (Value::Null, Some("$29.00")));
    let (_, page) = app.page("/cart").await;
    assert!(page.contains("regular price"), "{page}");
}

async fn staff_publish_an_offer_page_for_a_coupon(app: TestApp) {
    save_coupon(&app, test_coupon("SPRING")).await;
    let (coupon,): (String,) = sqlx::query_as("SELECT id FROM coupons WHERE normalized_code = 'SPRING'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the coupon");
    let token = sign_in_as(&app, "clerk@example.org", Role::Staff).await;
    let path = format!("/admin/coupons/{coupon}/offer");
    let (status, form) = app.page(&path).await;
    assert_eq!(status, 200);
    assert_eq!(token_in(&form), token);
    // The address of FTR 2016's page is taken; a bad address and an empty headline are refused.
    for (slug, headline, says) in [
        ("ftr-2016", "Spring", "Another offer has this address"),
        ("Spring Sale!", "Spring", "lowercase letters"),
        ("spring", "  ", "Write a headline"),
    ] {
        let fields = [("csrf_token", token.as_str()), ("slug", slug), ("headline", headline), ("published", "on")];
        let response = app.post_form(&path, &fields).await;
        assert_eq!(response.status(), 422, "{slug}");
        let page = crate::support::html_text(&response.text().await.expect("a page"));
        assert!(page.contains(says), "{slug}: {page}");
    }
    assert_eq!(app.get("/offers/spring").await.status(), 404);
    let fields = [
        ("csrf_token", token.as_str()),
        ("slug", "spring"),
        ("headline", "Spring into reading"),
        ("body", "**Ten** off <script>alert(1)</script>"),
        ("published", "on"),
    ];
    assert_eq!(app.post_form(&path, &fields).await.status(), 303);
    let (status, page) = app.page("/offers/spring").await;
    assert_eq!(status, 200);
    assert!(page.contains("Spring into reading") && page.contains("<strong>Ten</strong>"), "{page}");
    assert!(!page.contains("<script>alert"), "{page}");
    let (audited,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'offer.save'")
        .fetch_one(&app.db.pool)
        .await
        .expect("counted");
    assert_eq!(audited, 1);
}

/// A double click, and two tabs pressing offer buttons at once: one line per plan, one coupon.
async fn offer_buttons_pressed_together_make_one_line_and_one_coupon(app: TestApp) {
    for round in 0..4 {
        let reader = app.with_new_client();
        // The session exists first (the reader has looked at the cart), as it would in a browser.
        reader.post_form("/cart/items", &[("sku", "sw-2016-12")]).await;
        let presses: Vec<_> = (0..4)
            .map(|i| {
                let (client, url) = (reader.client.clone(), reader.url("/offers/ftr-2016/add"));
                let sku = if i % 2 == 0 { "isr-print-4y" } else { "isr-print-2y" };
                async move { client.post(url).form(&[("sku", sku)]).send().await.expect("answered").status().as_u16() }
            })
            .collect();
        let statuses = released_together(presses).await;
        assert!(statuses.iter().all(|&s| s == 303), "round {round}: {statuses:?}");
        let cart = reader.cart().await;
        let skus = cart_skus(&cart);
        let isr: Vec<_> = skus.iter().filter(|(sku, _)| sku.starts_with("isr-")).collect();
        assert_eq!(isr.len(), 1, "round {round}: one term of a plan per cart: {skus:?}");
        assert_eq!(isr[0].1, 1, "round {round}");
        assert_eq!(cart["coupon"]["code"], "FTR 2016", "round {round}");
    }
}
