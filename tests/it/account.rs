//! Reader accounts: signing in by an emailed link, the account page, signing out.

use serde_json::json;

use crate::{
    checkout::checkout,
    on_both_databases,
    support::{html_text, new_browser, released_together, TestApp},
};

on_both_databases!(
    a_reader_signs_in_by_the_emailed_link_and_sees_their_subscription,
    the_answer_is_the_same_for_known_and_unknown_addresses,
    a_link_works_once_for_fifteen_minutes_and_a_newer_one_replaces_it,
    signing_in_keeps_the_cart_and_renews_the_session,
    asking_for_links_is_limited,
    signing_out_ends_the_session_on_the_server,
    a_reader_sees_only_their_own_orders,
    a_buyer_is_signed_in_by_their_paid_order,
    a_subscriber_renews_from_the_account_without_the_new_subscriber_discount,
    links_asked_for_at_once_leave_one_that_works,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

/// A reader who bought a one-year print subscription to the journal, paid.
async fn a_subscriber(app: &TestApp, email: &str) {
    let buyer = app.with_new_client();
    let (status, answer) = checkout(&buyer, &["isr-print-1y"], None, email).await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    let response = buyer.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert_eq!(response.status(), 303);
}

async fn link_emails(app: &TestApp, email: &str) -> Vec<String> {
    let bodies: Vec<(String,)> =
        sqlx::query_as("SELECT body FROM email_outbox WHERE kind = 'sign_in_link' AND lower(recipient) = lower($1)")
            .bind(email)
            .fetch_all(&app.db.pool)
            .await
            .expect("the outbox");
    bodies.into_iter().map(|(b,)| b).collect()
}

/// Asks for a link on this browser; answers the path of the link this request sent, if any.
pub async fn ask_for_link(app: &TestApp, email: &str) -> Option<String> {
    let before = link_emails(app, email).await;
    let response = app.post_form("/account/login", &[("email", email)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/account/login");
    let body = link_emails(app, email).await.into_iter().find(|b| !before.contains(b))?;
    let start = body.find("http://shop.test/account/sign-in/")? + "http://shop.test".len();
    let end = start + body[start..].find(char::is_whitespace)?;
    Some(body[start..end].to_string())
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("masthead_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
}

async fn a_reader_signs_in_by_the_emailed_link_and_sees_their_subscription(app: TestApp) {
    a_subscriber(&app, "Reader@Example.org").await;
    assert_eq!(app.get("/account").await.headers()["location"], "/account/login", "strangers are sent to sign in");
    let (status, answer) = app.json("/api/v1/account").await;
    assert_eq!((status, answer["error"]["code"].as_str()), (401, Some("not_signed_in")));
    let link = ask_for_link(&app, "reader@example.org").await.expect("a link was sent");
    let (_, page) = app.page("/account/login").await;
    assert!(page.contains("If we know reader@example.org, a sign-in link is on its way"), "{page}");

    // Opening the link (as a mail scanner would, twice) signs nobody in and spends nothing.
    for _ in 0..2 {
        let (status, page) = app.page(&link).await;
        assert_eq!(status, 200);
        assert!(page.contains("Press the button to sign in"));
    }
    assert_eq!(app.get("/account").await.status(), 303, "a GET signed nobody in");

    let response = app.post_form(&link, &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/account");
    let (status, page) = app.page("/account").await;
    assert_eq!(status, 200);
    assert!(page.contains("Signed in as <span class=\"email\">reader@example.org</span>"), "{page}");
    assert!(page.contains("International Socialist Review, print edition"), "{page}");
    assert!(page.contains("4 issues left") && page.contains("1 Main St, Chicago IL 60601, US"), "{page}");
    assert!(page.contains("Total $29.00"), "{page}");
    let (status, answer) = app.json("/api/v1/account").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["email"], "reader@example.org");
    assert_eq!(answer["subscriptions"][0]["issues_left"], 4);
    assert_eq!(answer["orders"][0]["total"]["display"], "$29.00");
    // Everything held about the reader, as a download.
    let response = app.get("/account/data.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"my-data.json\"");
    let data: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(data["email"], "reader@example.org");
    assert_eq!(data["orders"][0]["order"]["email"], "Reader@Example.org");
    assert_eq!(data["orders"][0]["lines"][0]["sku"], "isr-print-1y");
    assert_eq!(data["subscriptions"][0]["ship_city"], "Chicago");
    assert_eq!(app.with_new_client().get("/account/data.json").await.status(), 303);
    assert_eq!(app.get("/account/login").await.headers()["location"], "/account", "already signed in");
    // Once delivered, the shop keeps no copy of a sign-in link (the other mail stays as it was).
    let token = link.rsplit('/').next().expect("a token").to_string();
    let files = masthead::email::Mailer::new(None, &app.config.outbox_dir()).expect("a mailer");
    masthead::email::deliver_due(&app.db, &files, &app.config.email_from, masthead::clock::now() + 1)
        .await
        .expect("sent");
    assert!(link_emails(&app, "reader@example.org").await.iter().all(|b| !b.contains(&token)));
    let (confirmations,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM email_outbox WHERE kind = 'order_confirmation' AND body LIKE '%Total paid%'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("counted");
    assert_eq!(confirmations, 1);
}

async fn the_answer_is_the_same_for_known_and_unknown_addresses(app: TestApp) {
    a_subscriber(&app, "known@example.org").await;
    let mut pages = Vec::new();
    for email in ["known@example.org", "stranger@example.org"] {
        let browser = app.with_new_client();
        let response = browser.post_form("/account/login", &[("email", email)]).await;
        assert_eq!(
            (response.status().as_u16(), response.headers()["location"].to_str().ok()),
            (303, Some("/account/login"))
        );
        let (status, page) = browser.page("/account/login").await;
        pages.push((status, page.replace(email, "EMAIL")));
    }
    assert_eq!(pages[0], pages[1], "nothing tells a known address from an unknown one");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM email_outbox WHERE kind = 'sign_in_link'").await,
        1,
        "only the known one gets mail"
    );
    // A malformed address is said beside the field, and nothing is sent.
    let response = app.post_form("/account/login", &[("email", "not an address")]).await;
    assert_eq!(response.status(), 422);
    assert!(
        html_text(&response.text().await.expect("a page")).contains("Enter an email address such as name@example.org.")
    );
}

async fn a_link_works_once_for_fifteen_minutes_and_a_newer_one_replaces_it(app: TestApp) {
    a_subscriber(&app, "once@example.org").await;
    let first = ask_for_link(&app, "once@example.org").await.expect("a link");
    let second = ask_for_link(&app, "once@example.org").await.expect("a newer link");
    assert_ne!(first, second);
    for (browser, link) in [(app.with_new_client(), &first)] {
        assert_eq!(browser.get(link).await.status(), 404, "the older link was replaced");
        assert_eq!(browser.post_form(link, &[]).await.status(), 404);
        assert_eq!(browser.get("/account").await.status(), 303);
    }
    // Two presses of the button at once: one signs in, the other finds the link spent.
    let browsers = [new_browser(), new_browser()];
    let presses = browsers
        .iter()
        .map(|b| {
            let request = b.post(app.url(&second));
            async move { request.send().await.expect("answered").status().as_u16() }
        })
        .collect();
    let mut statuses = released_together(presses).await;
    statuses.sort();
    assert_eq!(statuses, [303, 404]);
    // An expired link: a clear page, nothing changed.
    let third = ask_for_link(&app, "once@example.org").await.expect("a third link");
    sqlx::query("UPDATE sign_in_links SET expires_at = expires_at - 901 WHERE used_at IS NULL")
        .execute(&app.db.pool)
        .await
        .expect("aged");
    let browser = app.with_new_client();
    let (status, page) = browser.page(&third).await;
    assert_eq!(status, 404);
    assert!(page.contains("has expired, has been used, or was replaced"), "{page}");
    assert_eq!(browser.post_form(&third, &[]).await.status(), 404);
    for bad in
        ["/account/sign-in/..%2F..%2Fetc", "/account/sign-in/x", &format!("/account/sign-in/{}", "a".repeat(300))]
    {
        assert_eq!(browser.post_form(bad, &[]).await.status(), 404, "{bad}");
    }
    // The table keeps only hashes.
    let token = third.rsplit('/').next().expect("a token");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM sign_in_links WHERE token_hash = '{token}'")).await, 0);
}

async fn signing_in_keeps_the_cart_and_renews_the_session(app: TestApp) {
    a_subscriber(&app, "cart@example.org").await;
    let (status, _) = app.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-2016-12", "quantity": 2})).await;
    assert_eq!(status, 200);
    let cart_before = app.cart().await;
    let before = session_cookie(&app.get("/cart").await);
    let link = ask_for_link(&app, "cart@example.org").await.expect("a link");
    let response = app.post_form(&link, &[]).await;
    let after = session_cookie(&response).expect("a new session cookie");
    assert_ne!(Some(after), before, "the session id is renewed at sign-in");
    assert_eq!(app.cart().await, cart_before, "the cart is kept");
    // A forged sign-in from another site is refused, and the link stays usable.
    let other = app.with_new_client();
    let link = ask_for_link(&other, "cart@example.org").await.expect("a link");
    let response = other.client.post(app.url(&link)).header("sec-fetch-site", "cross-site").send().await.expect("sent");
    assert_eq!(response.status(), 403);
    assert_eq!(other.post_form(&link, &[]).await.status(), 303);
}

async fn asking_for_links_is_limited(app: TestApp) {
    a_subscriber(&app, "many@example.org").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let browser = app.with_new_client();
        statuses.push(browser.post_form("/account/login", &[("email", "many@example.org")]).await.status().as_u16());
    }
    assert_eq!(statuses, [303, 303, 303, 303, 303, 429]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM email_outbox WHERE kind = 'sign_in_link'").await, 5);
}

async fn signing_out_ends_the_session_on_the_server(app: TestApp) {
    a_subscriber(&app, "out@example.org").await;
    let link = ask_for_link(&app, "out@example.org").await.expect("a link");
    let response = app.post_form(&link, &[]).await;
    let cookie = session_cookie(&response).expect("the signed-in session");
    assert_eq!(app.get("/account").await.status(), 200);
    let response = app.post_form("/account/logout", &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.get("/account").await.status(), 303);
    // The old cookie, replayed, is worth nothing: the session is gone from the server.
    let replay = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let response = replay.get(app.url("/account")).header("cookie", cookie).send().await.expect("sent");
    assert_eq!(response.status(), 303);
}

async fn a_reader_sees_only_their_own_orders(app: TestApp) {
    a_subscriber(&app, "ada@example.org").await;
    a_subscriber(&app, "bo@example.org").await;
    let link = ask_for_link(&app, "ada@example.org").await.expect("a link");
    app.post_form(&link, &[]).await;
    let (_, page) = app.page("/account").await;
    assert!(page.contains("ada@example.org") && !page.contains("bo@example.org"));
    assert_eq!(page.matches("class=\"account-card\"").count(), 2, "one subscription and one order: {page}");
    // Her receipt, printable; Bo's order, or a guessed id, is not found.
    let ids: Vec<(String, String)> =
        sqlx::query_as("SELECT id, email_normalized FROM orders").fetch_all(&app.db.pool).await.expect("orders");
    let (ada, bo) = (
        &ids.iter().find(|(_, e)| e == "ada@example.org").expect("Ada's").0,
        &ids.iter().find(|(_, e)| e == "bo@example.org").expect("Bo's").0,
    );
    let (status, receipt) = app.page(&format!("/account/orders/{ada}")).await;
    assert_eq!(status, 200);
    assert!(
        receipt.contains(ada.as_str())
            && receipt.contains("Total")
            && receipt.contains("$29.00")
            && receipt.contains("Test Shop"),
        "{receipt}"
    );
    for other in [bo.as_str(), "0000", "../../etc/passwd"] {
        assert_eq!(app.get(&format!("/account/orders/{other}")).await.status(), 404, "{other}");
    }
    assert_eq!(
        app.with_new_client().get(&format!("/account/orders/{ada}")).await.status(),
        303,
        "strangers sign in first"
    );
}

async fn a_buyer_is_signed_in_by_their_paid_order(app: TestApp) {
    // An earlier order of the same email, from another browser.
    a_subscriber(&app, "buyer@example.org").await;
    let (status, answer) = checkout(&app, &["sw-digital-1y"], None, "Buyer@example.org").await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id").to_string();
    // Before the payment the address is not proven: this order alone.
    let (status, page) = app.page("/account").await;
    assert_eq!(status, 200);
    assert!(page.contains("waiting for its payment") && page.contains(&order_id[..8]), "{page}");
    assert_eq!(page.matches("class=\"account-card\"").count(), 1, "nothing of the earlier order: {page}");
    assert!(!page.contains("International Socialist Review"), "{page}");
    // Paid: the buyer is signed in, and sees everything of that email.
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert_eq!(response.status(), 303);
    let (status, page) = app.page("/account").await;
    assert_eq!(status, 200);
    assert!(page.contains("Signed in as <span class=\"email\">buyer@example.org</span>"), "{page}");
    assert!(
        page.contains("International Socialist Review") && page.contains("Socialist Worker, digital edition"),
        "{page}"
    );
    // A stranger's browser sees none of it.
    assert_eq!(app.with_new_client().get("/account").await.status(), 303);
}

async fn a_subscriber_renews_from_the_account_without_the_new_subscriber_discount(app: TestApp) {
    a_subscriber(&app, "renew@example.org").await;
    let link = ask_for_link(&app, "renew@example.org").await.expect("a link");
    app.post_form(&link, &[]).await;
    let (_, page) = app.page("/account").await;
    assert!(page.contains("name=\"sku\" value=\"isr-print-1y\""), "a renew button: {page}");
    let response = app.post_form("/account/renew", &[("sku", "isr-print-1y")]).await;
    assert_eq!((response.status().as_u16(), response.headers()["location"].to_str().ok()), (303, Some("/cart")));
    let cart = app.cart().await;
    assert_eq!(cart["items"][0]["sku"], "isr-print-1y");
    // The half-price code is for new subscribers: the cart says so now, not after an address is typed.
    let (_, answer) = app.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(answer["error"]["code"], "coupon_not_for_renewals", "{answer}");
    let (_, page) = app.page("/cart").await;
    assert!(page.contains("renewal"), "{page}");
    // Someone else's plan, or an issue, cannot be "renewed".
    for sku in ["sw-print-1y", "sw-2016-12", "nonsense"] {
        assert_eq!(app.post_form("/account/renew", &[("sku", sku)]).await.status(), 404, "{sku}");
    }
    // Paid, the renewal starts with the issue after the running term's last.
    let (status, answer) = app
        .send_json(
            "POST",
            "/api/v1/checkout",
            json!({"email": "renew@example.org", "name": "Ada", "shipping_address": crate::checkout::address()}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an id");
    assert_eq!(app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await.status(), 303);
    let terms: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT first_period, last_period FROM subscriptions WHERE email_normalized = 'renew@example.org' ORDER BY first_period",
    )
    .fetch_all(&app.db.pool)
    .await
    .expect("terms");
    assert_eq!(terms.len(), 2);
    assert_eq!(terms[1].0, terms[0].1 + 3, "the next quarterly issue after the running term");
}

async fn links_asked_for_at_once_leave_one_that_works(app: TestApp) {
    // Behind a trusted proxy, so each request is its own client and the per-address limit does not
    // end the race early.
    let mut config = app.stop().await;
    config.trusted_proxies = masthead::client_address::TrustedProxies::parse("127.0.0.1").expect("networks");
    let app = TestApp::start(config).await;
    for round in 0..6 {
        let email = format!("rush{round}@example.org");
        a_subscriber(&app, &email).await;
        // Four browsers ask for a link at the same moment.
        let requests = (0..4)
            .map(|i| {
                let request = new_browser()
                    .post(app.url("/account/login"))
                    .header("x-forwarded-for", format!("198.51.100.{}", round * 4 + i + 1))
                    .form(&[("email", email.as_str())]);
                async move { request.send().await.expect("answered").status().as_u16() }
            })
            .collect();
        assert_eq!(released_together(requests).await, [303; 4], "round {round}");
        let (unspent,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM sign_in_links WHERE email_normalized = $1 AND used_at IS NULL")
                .bind(&email)
                .fetch_one(&app.db.pool)
                .await
                .expect("counted");
        assert_eq!(unspent, 1, "round {round}: only the newest link works");
    }
    app.stop().await;
}
