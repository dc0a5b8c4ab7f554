//! Gift subscriptions: bought for someone else beside the buyer's own plan and a donation, the
//! recipient's subscription from the chosen issue on that mailing list, the notice sent
//! once on its day (two instances delivering at once), the buyer's account, "new subscribers
//! only" judged by the recipient, and bad gifts refused beside their fields.

use masthead::{clock, email, orders::terms};
use serde_json::{json, Value};

use crate::{
    on_both_databases,
    support::{released_together, visible_text, TestApp},
};

on_both_databases!(
    a_gift_a_sustainer_term_and_a_donation_in_one_checkout,
    the_coupon_for_new_subscribers_is_judged_by_the_recipient,
    bad_gifts_are_refused_beside_the_field_and_change_nothing,
    gifts_sit_beside_the_buyers_own_plan_and_are_never_ordered_unseen,
);

const DAY: i64 = 86_400;

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

/// The first issues the gift form offers for `sku` (yyyy-mm), the next one first.
async fn start_choices(app: &TestApp, sku: &str) -> Vec<String> {
    let (status, page) = app.page(&format!("/gifts/new?sku={sku}")).await;
    assert_eq!(status, 200, "{page}");
    let select = page.split("id=\"f-first_issue\"").nth(1).expect("the first issue list");
    let select = &select[..select.find("</select>").expect("the list ends")];
    select
        .split("value=\"")
        .skip(1)
        .map(|v| v[..v.find('"').expect("a value")].to_string())
        .filter(|v| v != "next")
        .collect()
}

pub fn gift_fields<'a>(sku: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("sku", sku),
        ("recipient_name", "Bo Recipient"),
        ("recipient_email", "bo@example.org"),
        ("line1", "9 Elm Road"),
        ("city", "Toronto"),
        ("region", "ON"),
        ("postal_code", "M5V 2T6"),
        ("country", "CA"),
        ("message", "For the year ahead. Solidarity!"),
        ("first_issue", "next"),
        ("notify", "now"),
    ];
    for (key, value) in overrides {
        fields.retain(|(k, _)| k != key);
        fields.push((key, value));
    }
    fields
}

fn checkout_body(email: &str) -> Value {
    json!({"email": email, "name": "Ada Giver", "shipping_address": crate::checkout::address()})
}

async fn pay(app: &TestApp, order_id: &str) {
    let response = app.post_form(&format!("/checkout/test-payment/{order_id}/pay"), &[]).await;
    assert!(response.status().is_redirection(), "{}", response.status());
}

async fn a_gift_a_sustainer_term_and_a_donation_in_one_checkout(app: TestApp) {
    let buyer = app.with_new_client();
    // A 1-year print gift starting three issues after the next, told on a day ten days from now.
    let choices = start_choices(&buyer, "sw-print-1y").await;
    let chosen = choices[2].clone();
    let notice_day = clock::day(clock::now() + 10 * DAY);
    let fields =
        gift_fields("sw-print-1y", &[("first_issue", &chosen), ("notify", "date"), ("notify_on", &notice_day)]);
    let response = buyer.post_form("/cart/gifts", &fields).await;
    assert_eq!(response.status(), 303);
    // The buyer's own journal at the sustainer rate, and $10 for the paper.
    buyer.post_form("/cart/items", &[("sku", "isr-print-1y"), ("rate", "sustainer"), ("amount", "60")]).await;
    buyer.post_form("/cart/donation", &[("preset", "10")]).await;
    let (_, page) = buyer.page("/cart").await;
    let text = visible_text(&page);
    let month = terms::describe(terms::parse_month(&chosen).expect("a month"));
    assert!(text.contains(&format!("Gift for Bo Recipient, from the {month} issue; we email them on")), "{text}");
    assert!(
        text.contains("Postage to Canada: 12 copies at $1.50 (gift for Bo Recipient), added at checkout $18.00"),
        "{text}"
    );
    let cart = buyer.cart().await;
    assert_eq!(cart["total"]["amount"], 2500 + 6000 + 1000, "{cart}");

    let (status, answer) = buyer.send_json("POST", "/api/v1/checkout", checkout_body("ada@example.org")).await;
    assert_eq!(status, 201, "{answer}");
    let order_id = answer["order_id"].as_str().expect("an order id").to_string();
    // Postage: the buyer's journal to the US is included; the gift's 12 copies to Canada cost $1.50 each.
    let (paid, gift_postage): (i64, i64) =
        sqlx::query_as("SELECT total + postage + gift_postage + donation, gift_postage FROM orders WHERE id = $1")
            .bind(&order_id)
            .fetch_one(&app.db.pool)
            .await
            .expect("the order");
    assert_eq!((paid, gift_postage), (2500 + 6000 + 1000 + 1800, 1800));
    pay(&buyer, &order_id).await;

    // The recipient's subscription: theirs, from the chosen issue, mailed to their address.
    let (email, name, first, country, from): (String, String, i64, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT email, name, first_period, ship_country, gift_from_email FROM subscriptions \
         WHERE order_id = $1 AND publication = 'sw'",
    )
    .bind(&order_id)
    .fetch_one(&app.db.pool)
    .await
    .expect("the gift's subscription");
    let chosen_period = terms::parse_month(&chosen).expect("a month");
    assert_eq!(
        (email.as_str(), name.as_str(), first, country.as_deref(), from.as_deref()),
        ("bo@example.org", "Bo Recipient", chosen_period, Some("CA"), Some("ada@example.org"))
    );
    let (year, month_number) = terms::year_month(chosen_period);
    let list = masthead::orders::mailing_list::mailing_list(&app.db, "sw", year, month_number).await.expect("the list");
    let entry = list.entries.iter().find(|e| e.name == "Bo Recipient").expect("Bo on the chosen issue's list");
    assert_eq!((entry.city.as_deref(), entry.country.as_deref()), (Some("Toronto"), Some("CA")));
    let (y, m) = terms::year_month(chosen_period - 1);
    let before = masthead::orders::mailing_list::mailing_list(&app.db, "sw", y, m).await.expect("the list");
    assert!(before.entries.iter().all(|e| e.name != "Bo Recipient"), "not on the issue before");
    // The buyer's own term is at the sustainer rate, in their name.
    let (own_email, own_price): (String, i64) = sqlx::query_as(
        "SELECT s.email, l.unit_price FROM subscriptions s JOIN order_lines l ON l.order_id = s.order_id \
         AND l.position = s.order_position WHERE s.order_id = $1 AND s.publication = 'isr'",
    )
    .bind(&order_id)
    .fetch_one(&app.db.pool)
    .await
    .expect("the buyer's term");
    assert_eq!((own_email.as_str(), own_price), ("ada@example.org", 6000));

    // The notice waits for its day, then goes out once though two instances deliver at once.
    let mailer = email::Mailer::new(None, &app.config.outbox_dir()).expect("a mailer");
    let notice = "SELECT COUNT(*) FROM email_outbox WHERE kind LIKE 'gift_notice_%' AND status = 'sent'";
    email::deliver_due(&app.db, &mailer, &app.config.email_from, clock::now() + 2 * DAY).await.expect("delivered");
    assert_eq!(count(&app, notice).await, 0, "not before its day");
    let other = TestApp::start(app.config.clone()).await;
    let day = clock::day_start(&notice_day).expect("the day") + 60;
    let runs = [app.db.clone(), other.db.clone()]
        .into_iter()
        .map(|db| {
            let (mailer, from) = (mailer.clone(), app.config.email_from.clone());
            async move { email::deliver_due(&db, &mailer, &from, day).await.expect("delivered") }
        })
        .collect();
    released_together(runs).await;
    email::deliver_due(&app.db, &mailer, &app.config.email_from, day + DAY).await.expect("delivered again");
    assert_eq!(count(&app, notice).await, 1, "sent once");
    let (recipient, body): (String, String) =
        sqlx::query_as("SELECT recipient, body FROM email_outbox WHERE kind LIKE 'gift_notice_%'")
            .fetch_one(&app.db.pool)
            .await
            .expect("the notice");
    assert_eq!(recipient, "bo@example.org");
    assert!(body.contains("Ada Giver has given you a gift") && body.contains("Solidarity!"), "{body}");
    other.stop().await;

    // The buyer's account shows the gift and its card; the receipt names the recipient.
    let (_, account) = buyer.page("/account").await;
    let account_text = visible_text(&account);
    assert!(account_text.contains("Gifts you gave") && account_text.contains("for Bo Recipient"), "{account_text}");
    let card_url =
        account.split("href=\"/account/gifts/").nth(1).map(|rest| rest[..rest.find('"').expect("ends")].to_string());
    let card = buyer.get(&format!("/account/gifts/{}", card_url.expect("a card link"))).await;
    assert_eq!(card.headers()["content-type"], "application/pdf");
    assert!(card.bytes().await.expect("the card").starts_with(b"%PDF"));
    let (_, receipt) = buyer.page(&format!("/account/orders/{order_id}")).await;
    let receipt = visible_text(&receipt);
    assert!(receipt.contains("Socialist Worker, print edition, 1 year (gift for Bo Recipient)"), "{receipt}");
    assert!(receipt.contains("Donation to support the paper $10.00"), "{receipt}");
    // The subscription is the recipient's: they sign in with their email and find it, with their address.
    let recipient = app.with_new_client();
    let link = crate::account::ask_for_link(&recipient, "bo@example.org").await.expect("a link for the recipient");
    recipient.post_form(&link, &[]).await;
    let (_, theirs) = recipient.page("/account").await;
    let theirs = visible_text(&theirs);
    assert!(theirs.contains("Socialist Worker, print edition") && theirs.contains("9 Elm Road"), "{theirs}");
    assert!(!theirs.contains("Gifts you gave"), "{theirs}");
    // Nobody else gets the card.
    let stranger = app.with_new_client();
    let response = stranger.get(&format!("/checkout/gift-card?order={order_id}&position=0")).await;
    assert_eq!(response.status(), 404);
}

async fn the_coupon_for_new_subscribers_is_judged_by_the_recipient(app: TestApp) {
    // The buyer already subscribes to the journal.
    let buyer = app.with_new_client();
    buyer.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y"})).await;
    let (_, answer) = buyer.send_json("POST", "/api/v1/checkout", checkout_body("sub@example.org")).await;
    pay(&buyer, answer["order_id"].as_str().expect("an order")).await;

    // A gift of the journal to someone new takes FTR 2016; the donation beside it does not.
    let buyer = app.with_new_client();
    let fields = gift_fields("isr-print-1y", &[("recipient_email", "new@example.org")]);
    assert_eq!(buyer.post_form("/cart/gifts", &fields).await.status(), 303);
    buyer.send_json("PUT", "/api/v1/cart/donation", json!({"amount": 10})).await;
    let (status, cart) = buyer.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!((cart["discount"]["amount"].as_i64(), cart["donation"]["amount"].as_i64()), (Some(1450), Some(1000)));
    let (status, answer) =
        buyer.send_json("POST", "/api/v1/checkout", json!({"email": "sub@example.org", "name": "Ada"})).await;
    assert_eq!(status, 201, "the buyer's own subscription does not matter: {answer}");
    pay(&buyer, answer["order_id"].as_str().expect("an order")).await;
    let (beneficiary, discount): (String, i64) =
        sqlx::query_as("SELECT l.beneficiary, l.discount FROM order_lines l WHERE l.order_id = $1")
            .bind(answer["order_id"].as_str())
            .fetch_one(&app.db.pool)
            .await
            .expect("the gift line");
    assert_eq!((beneficiary.as_str(), discount), ("new@example.org", 1450));

    // The same recipient again (now a subscriber), or the buyer-subscriber as recipient: refused.
    for recipient in ["new@example.org", "sub@example.org"] {
        let buyer = app.with_new_client();
        let fields = gift_fields("isr-print-1y", &[("recipient_email", recipient)]);
        buyer.post_form("/cart/gifts", &fields).await;
        buyer.send_json("POST", "/api/v1/cart/coupon", json!({"code": "FTR 2016"})).await;
        let (status, answer) =
            buyer.send_json("POST", "/api/v1/checkout", json!({"email": "third@example.org", "name": "Cy"})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("coupon_new_subscribers_only")), "{answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("Bo Recipient")), "{answer}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE email = 'third@example.org'").await, 0);
}

async fn bad_gifts_are_refused_beside_the_field_and_change_nothing(app: TestApp) {
    let buyer = app.with_new_client();
    buyer.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-digital-1y"})).await;
    let before = buyer.cart().await;
    let choices = start_choices(&buyer, "sw-print-1y").await;
    let too_far = {
        let last = terms::parse_month(choices.last().expect("a choice")).expect("a month") + 1;
        let (y, m) = terms::year_month(last);
        format!("{y:04}-{m:02}")
    };
    let past = {
        let (y, m) = terms::year_month(terms::period_at(clock::now()) - 2);
        format!("{y:04}-{m:02}")
    };
    let yesterday = clock::day(clock::now() - DAY);
    // (plan, fields changed, the field in error, its message)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        ("sw-print-1y", vec![("recipient_name", " ")], "recipient_name", "Enter the name of the person"),
        (
            "sw-print-1y",
            vec![("line1", ""), ("city", ""), ("postal_code", ""), ("country", "")],
            "shipping_address",
            "A print gift needs the recipient's mailing address.",
        ),
        ("sw-print-1y", vec![("first_issue", past.as_str())], "first_issue", "That issue is already out"),
        ("sw-print-1y", vec![("first_issue", too_far.as_str())], "first_issue", "up to 12 months ahead"),
        (
            "sw-print-1y",
            vec![("notify", "date"), ("notify_on", yesterday.as_str())],
            "notify_on",
            "That day has passed",
        ),
        ("sw-digital-1y", vec![("recipient_email", "")], "recipient_email", "A digital gift is read by signing in"),
        ("sw-print-1y", vec![("recipient_email", "not-an-email")], "recipient_email", ""),
    ];
    for (sku, overrides, field, message) in cases {
        let fields = gift_fields(sku, &overrides);
        let response = buyer.post_form("/cart/gifts", &fields).await;
        assert_eq!(response.status(), 422, "{overrides:?}");
        let page = crate::support::html_text(&response.text().await.expect("the form"));
        let beside = page.split(&format!("id=\"e-{field}\"")).nth(1).unwrap_or_default();
        assert!(!beside.is_empty() && beside.contains(message), "{overrides:?}: beside {field}: {page}");
        assert!(page.contains("For the year ahead. Solidarity!"), "what was typed stays");
        assert_eq!(buyer.cart().await, before, "{overrides:?} changed nothing");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM cart_gifts").await, 0);
    // A single issue cannot be given; an unknown plan is not found.
    assert_eq!(buyer.post_form("/cart/gifts", &gift_fields("sw-2016-12", &[])).await.status(), 404);
    assert_eq!(buyer.post_form("/cart/gifts", &gift_fields("nope-print-1y", &[])).await.status(), 404);
}

async fn gifts_sit_beside_the_buyers_own_plan_and_are_never_ordered_unseen(app: TestApp) {
    let buyer = app.with_new_client();
    buyer.send_json("POST", "/api/v1/cart/items", json!({"sku": "sw-print-1y"})).await;
    for name in ["Bo One", "Cy Two"] {
        let fields = gift_fields("sw-print-1y", &[("recipient_name", name)]);
        assert_eq!(buyer.post_form("/cart/gifts", &fields).await.status(), 303);
    }
    let cart = buyer.cart().await;
    assert_eq!(cart["items"].as_array().map(Vec::len), Some(3), "{cart}");
    // Marking the buyer's own line a gift moves it: two gifts of one plan and one more.
    let fields = {
        let mut f = gift_fields("sw-print-1y", &[("recipient_name", "Di Three")]);
        f.push(("from_cart", "1"));
        f
    };
    assert_eq!(buyer.post_form("/cart/gifts", &fields).await.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM cart_items").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM cart_gifts").await, 3);

    // Another tab changes a gift's recipient after the page was shown: nothing is ordered.
    let shown = buyer.cart().await;
    let gift_id: (String,) = sqlx::query_as("SELECT id FROM cart_gifts WHERE recipient_name = 'Cy Two'")
        .fetch_one(&app.db.pool)
        .await
        .expect("a gift");
    let edit = gift_fields("sw-print-1y", &[("recipient_name", "Cy Renamed")]);
    assert_eq!(buyer.post_form(&format!("/cart/gifts/{}", gift_id.0), &edit).await.status(), 303);
    let body = json!({"cart_version": shown["version"], "email": "ada@example.org", "name": "Ada"});
    let (status, answer) = buyer.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("cart_changed")), "{answer}");

    // Changes at once from several tabs (add, edit, remove) leave a cart the checkout prices whole.
    for round in 0..4 {
        let tab = buyer.clone_session();
        let shown = tab.cart().await;
        let mut shown_names: Vec<String> = shown["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["gift"]["recipient_name"].as_str().expect("a gift").to_string())
            .collect();
        shown_names.sort();
        let (add, remove) = (buyer.clone_session(), buyer.clone_session());
        let gift_id: (String,) = sqlx::query_as("SELECT id FROM cart_gifts ORDER BY added_at, id LIMIT 1")
            .fetch_one(&app.db.pool)
            .await
            .expect("a gift");
        let checkout = Box::pin(async move {
            let body =
                json!({"cart_version": shown["version"], "email": format!("round{round}@example.org"), "name": "Ada"});
            tab.send_json("POST", "/api/v1/checkout", body).await.0
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = u16> + Send>>;
        let adding = Box::pin(async move {
            add.post_form("/cart/gifts", &gift_fields("sw-print-1y", &[("recipient_name", "Ed Four")]))
                .await
                .status()
                .as_u16()
        });
        let removing = Box::pin(async move {
            remove.post_form(&format!("/cart/gifts/{}/remove", gift_id.0), &[]).await.status().as_u16()
        });
        let statuses = released_together(vec![checkout, adding, removing]).await;
        assert!(matches!(statuses[0], 201 | 409), "round {round}: {statuses:?}");
        if statuses[0] == 201 {
            let names: Vec<(String,)> = sqlx::query_as(
                "SELECT g.recipient_name FROM order_gifts g JOIN orders o ON o.id = g.order_id \
                 WHERE o.email = $1 ORDER BY g.recipient_name",
            )
            .bind(format!("round{round}@example.org"))
            .fetch_all(&app.db.pool)
            .await
            .expect("the order's gifts");
            let mut names: Vec<String> = names.into_iter().map(|(n,)| n).collect();
            names.sort();
            assert_eq!(names, shown_names, "round {round}: the order is the cart shown");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_gives_a_print_subscription_in_a_browser_sqlite() {
    gift_journey(crate::support::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_gives_a_print_subscription_in_a_browser_postgres() {
    gift_journey(crate::support::Backend::Postgres).await;
}

/// The subscribe page's "Give as a gift", the form filled as a person would (a mistake first),
/// the buyer's own sustainer term and a donation beside it, one checkout, the gift on the success
/// page and in the account.
async fn gift_journey(backend: crate::support::Backend) {
    use crate::journey::{choose, click, expect_path, expect_text, find, save_screenshot};
    let Some(app) = TestApp::spawn_reachable(backend).await else { return };
    let Some(browser) = crate::support::browser::Browser::start().await else { return };
    let page = &browser.client;
    page.goto(&app.url("/subscribe")).await.expect("the subscribe page");
    click(page, "a.gift-link[href='/gifts/new?sku=sw-print-1y']").await;
    expect_path(page, "/gifts/new").await;
    find(page, "#f-recipient_email").await.send_keys("bo@example.org").await.expect("typed");
    click(page, ".gift-form .pay-row button").await;
    expect_text(page, ".error-summary", "Enter the name of the person").await;
    for (field, value) in [
        ("#f-recipient_name", "Bo Recipient"),
        ("#f-line1", "9 Elm Road"),
        ("#f-city", "Toronto"),
        ("#f-postal_code", "M5V 2T6"),
        ("#f-message", "Happy birthday!"),
    ] {
        find(page, field).await.send_keys(value).await.expect("typed");
    }
    choose(page, "#f-country", "CA").await;
    let third = find(page, "#f-first_issue option:nth-child(4)").await;
    let chosen = third.text().await.expect("an option");
    third.click().await.expect("chosen");
    click(page, "input[name=notify][value=never]").await;
    save_screenshot(page, &format!("gift-form-{}", app.db.backend.name())).await;
    click(page, ".gift-form .pay-row button").await;
    expect_path(page, "/cart").await;
    expect_text(page, ".cart-table", &format!("Gift for Bo Recipient, from the {chosen} issue")).await;

    page.goto(&app.url("/subscribe")).await.expect("the subscribe page");
    click(page, "form:has(#amount-isr-print-1y) button").await;
    click(page, ".donation-presets button[value='10']").await;
    expect_text(page, ".grand-total", "$85.00").await;
    save_screenshot(page, &format!("gift-cart-{}", app.db.backend.name())).await;
    click(page, "a[href='/checkout']").await;
    for (field, value) in [
        ("#f-email", "ada@example.org"),
        ("#f-name", "Ada Giver"),
        ("#f-line1", "1 Main St"),
        ("#f-city", "Chicago"),
        ("#f-postal_code", "60601"),
    ] {
        find(page, field).await.send_keys(value).await.expect("typed");
    }
    choose(page, "#f-country", "US").await;
    click(page, ".pay-row button").await;
    expect_text(page, "main", "Postage to Canada: 12 copies at $1.50 (gift for Bo Recipient)").await;
    click(page, "form[action$='/pay'] button").await;
    expect_path(page, "/checkout/success").await;
    expect_text(page, "main", "for Bo Recipient").await;
    expect_text(page, "main", "Print the gift card and hand it over.").await;
    save_screenshot(page, &format!("gift-success-{}", app.db.backend.name())).await;
    page.goto(&app.url("/account")).await.expect("the account");
    expect_text(page, "main", "Gifts you gave").await;
    save_screenshot(page, &format!("gift-account-{}", app.db.backend.name())).await;
    let (first,): (i64,) = sqlx::query_as("SELECT first_period FROM subscriptions WHERE name = 'Bo Recipient'")
        .fetch_one(&app.db.pool)
        .await
        .expect("Bo's subscription");
    assert_eq!(terms::describe(first), chosen);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM email_outbox WHERE kind LIKE 'gift_notice_%'").await,
        0,
        "a card, no email"
    );
    browser.close().await;
}

on_both_databases!(a_gift_ending_reminds_the_buyer_and_the_recipient_only_when_asked);

async fn a_gift_ending_reminds_the_buyer_and_the_recipient_only_when_asked(app: TestApp) {
    for (recipient, remind) in [("quiet@example.org", None), ("told@example.org", Some("on"))] {
        let buyer = app.with_new_client();
        let mut overrides = vec![("recipient_email", recipient), ("recipient_name", "Bo Recipient")];
        overrides.extend(remind.map(|r| ("remind_recipient", r)));
        buyer.post_form("/cart/gifts", &gift_fields("sw-digital-1y", &overrides)).await;
        let (status, answer) = buyer
            .send_json("POST", "/api/v1/checkout", json!({"email": "giver@example.org", "name": "Ada Giver"}))
            .await;
        assert_eq!(status, 201, "{answer}");
        pay(&buyer, answer["order_id"].as_str().expect("an order")).await;
    }
    // Both terms end next month.
    let ending = terms::period_at(clock::now()) + 1;
    sqlx::query("UPDATE subscriptions SET last_period = $1, first_period = $1 - 11")
        .bind(ending)
        .execute(&app.db.pool)
        .await
        .expect("moved");
    let at = terms::first_day(ending) - 20 * DAY;
    let sent =
        masthead::orders::reminders::send_due_reminders(&app.db, "Test Shop", "http://shop.test/account", at).await;
    assert_eq!(sent.expect("ran"), 2);
    let mails: Vec<(String, String)> = sqlx::query_as(
        "SELECT recipient, subject FROM email_outbox WHERE kind LIKE 'renewal_reminder%' ORDER BY recipient, subject",
    )
    .fetch_all(&app.db.pool)
    .await
    .expect("reminders");
    let to: Vec<&str> = mails.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(to, ["giver@example.org", "giver@example.org", "told@example.org"], "{mails:?}");
    assert!(mails[0].1.contains("you gave Bo Recipient"), "{mails:?}");
}

on_both_databases!(erasing_a_giver_or_a_recipient_leaves_no_trace_of_them_in_the_gift);

async fn erasing_a_giver_or_a_recipient_leaves_no_trace_of_them_in_the_gift(app: TestApp) {
    let buyer = app.with_new_client();
    buyer.post_form("/cart/gifts", &gift_fields("sw-print-1y", &[])).await;
    let (_, answer) =
        buyer.send_json("POST", "/api/v1/checkout", json!({"email": "giver@example.org", "name": "Ada Giver"})).await;
    pay(&buyer, answer["order_id"].as_str().expect("an order")).await;
    let actor = masthead::audit::Actor::command_line();
    masthead::accounts::erase(&app.db, "bo@example.org", &actor, clock::now()).await.expect("the recipient erased");
    let held = "SELECT COUNT(*) FROM order_gifts WHERE recipient_name = 'Bo Recipient' OR message IS NOT NULL \
                OR ship_city IS NOT NULL OR recipient_email IS NOT NULL";
    assert_eq!(count(&app, held).await, 0, "the giver's order keeps nothing of the recipient");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM order_lines WHERE beneficiary = 'bo@example.org'").await, 0);
    masthead::accounts::erase(&app.db, "giver@example.org", &actor, clock::now()).await.expect("the giver erased");
    let named = "SELECT COUNT(*) FROM subscriptions WHERE gift_from_email_normalized = 'giver@example.org' \
                 OR gift_from_name = 'Ada Giver'";
    assert_eq!(count(&app, named).await, 0, "the gift no longer names its giver");
}

on_both_databases!(a_line_made_a_gift_keeps_its_rate_until_the_rate_is_withdrawn);

async fn a_line_made_a_gift_keeps_its_rate_until_the_rate_is_withdrawn(app: TestApp) {
    let buyer = app.with_new_client();
    buyer.send_json("POST", "/api/v1/cart/items", json!({"sku": "isr-print-1y", "rate": "reduced"})).await;
    let mut fields = gift_fields("isr-print-1y", &[]);
    fields.push(("from_cart", "1"));
    assert_eq!(buyer.post_form("/cart/gifts", &fields).await.status(), 303);
    let cart = buyer.cart().await;
    let line = &cart["items"][0];
    assert_eq!((line["rate"].as_str(), line["unit_price"]["amount"].as_i64()), (Some("reduced"), Some(1900)), "{cart}");
    assert!(line["gift"]["recipient_name"] == "Bo Recipient", "{cart}");

    let staff = app.with_new_client();
    let token = crate::admin::sign_in_as(&staff, "admin@example.org", masthead::staff::accounts::Role::Admin).await;
    let response = staff
        .post_form(
            "/admin/plans/isr-print-1y",
            &[("csrf_token", token.as_str()), ("sustainer_minimum", "40"), ("sustainer_suggested", "50")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let (_, cart) = buyer.json("/api/v1/cart").await;
    assert_eq!(cart["notices"][0]["code"], "rate_withdrawn", "{cart}");
    assert_eq!(cart["total"]["amount"], 2900);
    let body = json!({"cart_version": cart["version"], "email": "ada@example.org", "name": "Ada"});
    let (status, answer) = buyer.send_json("POST", "/api/v1/checkout", body).await;
    assert_eq!(status, 201, "the cart as shown after the notice is ordered: {answer}");
}
