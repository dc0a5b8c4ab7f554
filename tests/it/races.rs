//! Money paths under real parallel requests: a coupon changed in another tab during checkout,
//! one reader's two checkouts or two payments at the same moment, a coupon made stricter while
//! orders wait for payment. Each race runs several rounds, its requests released together.

use masthead::coupons::CouponValue;
use serde_json::{json, Value};

use crate::{
    checkout::address,
    on_both_databases,
    support::{new_browser, released_together, save_coupon, test_coupon, uses_of, TestApp},
};

on_both_databases!(
    a_coupon_changed_in_another_tab_never_parts_an_order_from_its_discount,
    one_reader_gets_the_new_subscriber_discount_once_from_two_checkouts_at_once,
    a_paid_order_whose_new_subscriber_discount_was_used_meanwhile_goes_to_review,
    two_payments_for_one_reader_at_once_make_terms_that_follow_each_other,
    a_line_changed_in_another_tab_is_never_ordered_unseen,
    checkouts_through_two_instances_at_once_spend_a_limited_coupon_and_a_new_subscriber_discount_once,
    a_limit_given_to_a_coupon_in_use_counts_exactly_what_checkouts_and_cancellations_left,
);

const ROUNDS: usize = 8;

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.db.pool).await.expect("a count").0
}

/// A browser whose cart holds these SKUs and, when given, this coupon.
async fn browser_with(app: &TestApp, skus: &[&str], coupon: Option<&str>) -> reqwest::Client {
    let browser = new_browser();
    for sku in skus {
        let (status, body) = post(&browser, app.url("/api/v1/cart/items"), json!({"sku": sku})).await;
        assert_eq!(status, 200, "{body}");
    }
    if let Some(code) = coupon {
        let (status, body) = post(&browser, app.url("/api/v1/cart/coupon"), json!({"code": code})).await;
        assert_eq!(status, 200, "{body}");
    }
    browser
}

fn checkout_body(email: &str) -> Value {
    json!({"email": email, "name": "Ada Reader", "shipping_address": address()})
}

async fn a_coupon_changed_in_another_tab_never_parts_an_order_from_its_discount(app: TestApp) {
    save_coupon(
        &app,
        masthead::coupons::NewCoupon {
            value: CouponValue::Percent(masthead::coupons::Percent::from_basis_points(1000).expect("in range")),
            ..test_coupon("TEN OFF")
        },
    )
    .await;
    for round in 0..ROUNDS {
        // The reader's first tab checks out with FTR 2016 while the second swaps or drops it.
        let tab = browser_with(&app, &["isr-print-1y"], Some("FTR 2016")).await;
        let other_tab = tab.clone();
        let checkout_url = app.url("/api/v1/checkout");
        let coupon_url = app.url("/api/v1/cart/coupon");
        let email = format!("tabs{round}@example.org");
        let checkout = Box::pin(async move { post(&tab, checkout_url, checkout_body(&email)).await });
        let change = Box::pin(async move {
            if round % 2 == 0 {
                post(&other_tab, coupon_url, json!({"code": "ten off"})).await
            } else {
                let response = other_tab.delete(coupon_url).send().await.expect("answered");
                (response.status().as_u16(), Value::Null)
            }
        });
        let outcomes = released_together::<
            (u16, Value),
            std::pin::Pin<Box<dyn std::future::Future<Output = (u16, Value)> + Send>>,
        >(vec![checkout, change])
        .await;
        let (status, answer) = &outcomes[0];
        assert!(
            *status == 201 || (*status == 409 && answer["error"]["code"] == "cart_changed"),
            "round {round}: {status} {answer}"
        );
    }
    // Which of the two wins a round is up to timing (on SQLite the writers queue in arrival order,
    // so the short coupon change often wins every round): one more round where the checkout is
    // first and the other tab changes the coupon right after makes sure an order is judged below.
    let tab = browser_with(&app, &["isr-print-1y"], Some("FTR 2016")).await;
    let (status, answer) = post(&tab, app.url("/api/v1/checkout"), checkout_body("first@example.org")).await;
    assert_eq!(status, 201, "{answer}");
    let (status, _) = post(&tab, app.url("/api/v1/cart/coupon"), json!({"code": "ten off"})).await;
    assert!(status == 200 || status == 409, "{status}");
    // Every order carries exactly the discount of the coupon it records, and that coupon's reservation.
    let orders: Vec<(String, i64, i64, Option<String>)> =
        sqlx::query_as("SELECT o.id, o.subtotal, o.discount, c.normalized_code FROM orders o LEFT JOIN coupons c ON c.id = o.coupon_id")
            .fetch_all(&app.db.pool)
            .await
            .expect("orders");
    assert!(!orders.is_empty());
    for (id, subtotal, discount, code) in &orders {
        let expected = match code.as_deref() {
            Some("FTR2016") => subtotal / 2,
            Some("TENOFF") => subtotal / 10,
            None => 0,
            Some(other) => panic!("unexpected coupon {other}"),
        };
        assert_eq!(*discount, expected, "order {id} with {code:?}");
        let reserved = count(&app, &format!("SELECT COUNT(*) FROM coupon_redemptions r JOIN orders o ON o.id = r.order_id AND o.coupon_id = r.coupon_id WHERE r.order_id = '{id}'")).await;
        assert_eq!(reserved, i64::from(code.is_some()), "order {id}: its coupon is reserved, and only its coupon");
    }
    for code in ["FTR2016", "TENOFF"] {
        let used = count(&app, &uses_of(code)).await;
        let orders = count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM orders o JOIN coupons c ON c.id = o.coupon_id WHERE c.normalized_code = '{code}'"
            ),
        )
        .await;
        assert_eq!(used, orders, "{code}: one redemption per order that carries it");
    }
}

async fn one_reader_gets_the_new_subscriber_discount_once_from_two_checkouts_at_once(app: TestApp) {
    for round in 0..ROUNDS {
        // Two browsers (or two tabs with separate carts), one email, the half-price code in both.
        let first = browser_with(&app, &["isr-print-1y"], Some("FTR 2016")).await;
        let second = browser_with(&app, &["isr-print-2y"], Some("FTR 2016")).await;
        let email = format!("Twice.{round}@Example.org");
        let checkouts = [first, second]
            .into_iter()
            .enumerate()
            .map(|(i, browser)| {
                let url = app.url("/api/v1/checkout");
                // The same address, typed differently.
                let typed = if i == 0 { email.clone() } else { email.to_lowercase() };
                async move { post(&browser, url, checkout_body(&typed)).await }
            })
            .collect();
        let outcomes = released_together(checkouts).await;
        let placed = outcomes.iter().filter(|(s, _)| *s == 201).count();
        let refused =
            outcomes.iter().filter(|(s, a)| *s == 422 && a["error"]["code"] == "coupon_new_subscribers_only").count();
        assert_eq!((placed, refused), (1, 1), "round {round}: {outcomes:?}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, ROUNDS as i64);
    assert_eq!(count(&app, &uses_of("FTR2016")).await, ROUNDS as i64);
}

async fn pay(browser: &reqwest::Client, app: &TestApp, order_id: &str) -> u16 {
    let url = app.url(&format!("/checkout/test-payment/{order_id}/pay"));
    browser.post(url).send().await.expect("answered").status().as_u16()
}

async fn order_status(app: &TestApp, id: &str) -> String {
    sqlx::query_as::<_, (String,)>("SELECT status FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .expect("the order")
        .0
}

async fn a_paid_order_whose_new_subscriber_discount_was_used_meanwhile_goes_to_review(app: TestApp) {
    // Two orders wait for payment with a plain 10% coupon; staff then make it new-subscribers-only.
    save_coupon(&app, test_coupon("WELCOME")).await;
    let mut orders = Vec::new();
    for sku in ["isr-print-1y", "isr-print-2y"] {
        let browser = browser_with(&app, &[sku], Some("welcome")).await;
        let (status, answer) = post(&browser, app.url("/api/v1/checkout"), checkout_body("early@example.org")).await;
        assert_eq!(status, 201, "{answer}");
        orders.push((browser, answer["order_id"].as_str().expect("an id").to_string()));
    }
    sqlx::query("UPDATE coupons SET new_subscribers_only = 1 WHERE normalized_code = 'WELCOME'")
        .execute(&app.db.pool)
        .await
        .expect("made stricter");
    // Both are paid at the same moment: one keeps its discount, the other is put aside for staff.
    let payments = orders.iter().map(|(browser, id)| {
        let (browser, url) = (browser.clone(), app.url(&format!("/checkout/test-payment/{id}/pay")));
        async move { browser.post(url).send().await.expect("answered").status().as_u16() }
    });
    let statuses = released_together(payments.collect()).await;
    assert_eq!(statuses, [303, 303]);
    let mut states = vec![order_status(&app, &orders[0].1).await, order_status(&app, &orders[1].1).await];
    states.sort();
    assert_eq!(states, ["paid", "review"]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1, "only the paid order's term");
    let reason: (String,) = sqlx::query_as("SELECT review_reason FROM orders WHERE status = 'review'")
        .fetch_one(&app.db.pool)
        .await
        .expect("a reason");
    assert!(reason.0.contains("new-subscriber"), "{}", reason.0);
    // Paying again changes nothing.
    assert_eq!(pay(&orders[0].0, &app, &orders[0].1).await, 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscriptions").await, 1);
}

async fn two_payments_for_one_reader_at_once_make_terms_that_follow_each_other(app: TestApp) {
    for round in 0..ROUNDS {
        let email = format!("prepaid{round}@example.org");
        let mut orders = Vec::new();
        for sku in ["sw-print-1y", "sw-print-2y"] {
            let browser = browser_with(&app, &[sku], None).await;
            let (status, answer) = post(&browser, app.url("/api/v1/checkout"), checkout_body(&email)).await;
            assert_eq!(status, 201, "{answer}");
            orders.push((browser, answer["order_id"].as_str().expect("an id").to_string()));
        }
        let payments = orders.iter().map(|(browser, id)| {
            let (browser, url) = (browser.clone(), app.url(&format!("/checkout/test-payment/{id}/pay")));
            async move { browser.post(url).send().await.expect("answered").status().as_u16() }
        });
        assert_eq!(released_together(payments.collect()).await, [303, 303]);
        let terms: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT first_period, last_period FROM subscriptions WHERE email_normalized = $1 ORDER BY first_period",
        )
        .bind(&email)
        .fetch_all(&app.db.pool)
        .await
        .expect("terms");
        assert_eq!(terms.len(), 2, "round {round}");
        assert_eq!(
            terms[1].0,
            terms[0].1 + 1,
            "round {round}: the later term starts the month after the earlier ends: {terms:?}"
        );
    }
}

/// The lines of an order, as (SKU, quantity), sorted.
async fn order_lines(app: &TestApp, order_id: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT sku, quantity FROM order_lines WHERE order_id = $1 ORDER BY sku")
        .bind(order_id)
        .fetch_all(&app.db.pool)
        .await
        .expect("lines")
}

/// The reader's checkout tab sends the cart version it showed while another tab adds a line or
/// changes a quantity: the order is placed for exactly the cart shown, or refused (409) and not
/// placed at all. A version already stale is always refused, changing nothing.
async fn a_line_changed_in_another_tab_is_never_ordered_unseen(app: TestApp) {
    let tab = browser_with(&app, &["isr-print-1y", "sw-2016-12"], None).await;
    let shown = tab.get(app.url("/api/v1/cart")).send().await.expect("the cart").json::<Value>().await.expect("JSON");
    post(&tab, app.url("/api/v1/cart/items"), json!({"sku": "sw-2017-01"})).await;
    let stale = json!({"cart_version": shown["version"], "email": "stale@example.org", "name": "Ada", "shipping_address": address()});
    let (status, answer) = post(&tab, app.url("/api/v1/checkout"), stale).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("cart_changed")), "{answer}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders").await, 0, "nothing placed");

    let mut placed = 0;
    for round in 0..ROUNDS {
        let tab = browser_with(&app, &["isr-print-1y", "sw-2016-12"], None).await;
        let cart =
            tab.get(app.url("/api/v1/cart")).send().await.expect("the cart").json::<Value>().await.expect("JSON");
        let mut seen: Vec<(String, i64)> = cart["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| (i["sku"].as_str().expect("a sku").to_string(), i["quantity"].as_i64().expect("a quantity")))
            .collect();
        seen.sort();
        let other_tab = tab.clone();
        let email = format!("lines{round}@example.org");
        let body =
            json!({"cart_version": cart["version"], "email": email, "name": "Ada", "shipping_address": address()});
        let checkout_url = app.url("/api/v1/checkout");
        let (items_url, line_url) = (app.url("/api/v1/cart/items"), app.url("/api/v1/cart/items/sw-2016-12"));
        let checkout = Box::pin(async move { post(&tab, checkout_url, body).await });
        let change = Box::pin(async move {
            if round % 2 == 0 {
                post(&other_tab, items_url, json!({"sku": "sw-2017-01"})).await
            } else {
                let response = other_tab.patch(line_url).json(&json!({"quantity": 3})).send().await.expect("answered");
                (response.status().as_u16(), Value::Null)
            }
        });
        let outcomes = released_together::<
            (u16, Value),
            std::pin::Pin<Box<dyn std::future::Future<Output = (u16, Value)> + Send>>,
        >(vec![checkout, change])
        .await;
        let (status, answer) = &outcomes[0];
        match status {
            201 => {
                placed += 1;
                let id = answer["order_id"].as_str().expect("an order id");
                assert_eq!(order_lines(&app, id).await, seen, "round {round}: the order is the cart shown");
            }
            409 => {
                assert_eq!(answer["error"]["code"], "cart_changed", "round {round}");
                let orders = format!("SELECT COUNT(*) FROM orders WHERE email = '{email}'");
                assert_eq!(count(&app, &orders).await, 0, "round {round}: refused, nothing placed");
            }
            other => panic!("round {round}: {other} {answer}"),
        }
        assert!(outcomes[1].0 == 200, "round {round}: the other tab's change: {:?}", outcomes[1]);
    }
    eprintln!("{placed} of {ROUNDS} rounds placed an order before the other tab's change");
}

/// One checkout of `browser`'s cart as `email` (one future type for `released_together`).
async fn checkout_as(browser: reqwest::Client, url: String, email: String) -> (u16, Value) {
    post(&browser, url, checkout_body(&email)).await
}

/// Checkouts released together through two instances on one database: a coupon limited to three
/// is reserved three times in all, and a reader checking out on both instances at once gets the
/// new-subscriber discount once; every order placed is whole (its line and reservation), and a
/// refused one leaves nothing.
async fn checkouts_through_two_instances_at_once_spend_a_limited_coupon_and_a_new_subscriber_discount_once(
    app: TestApp,
) {
    let there = TestApp::start(app.config.clone()).await;
    for round in 0..3 {
        let code = format!("THREE {round}");
        save_coupon(&app, masthead::coupons::NewCoupon { max_redemptions: Some(3), ..test_coupon(&code) }).await;
        let mut checkouts = Vec::new();
        for n in 0..12 {
            let instance = if n % 2 == 0 { &app } else { &there };
            let browser = browser_with(instance, &["isr-print-1y"], Some(&code)).await;
            checkouts.push(checkout_as(
                browser,
                instance.url("/api/v1/checkout"),
                format!("three-{round}-{n}@example.org"),
            ));
        }
        for (instance, sku) in [(&app, "isr-print-1y"), (&there, "isr-print-2y")] {
            let browser = browser_with(instance, &[sku], Some("FTR 2016")).await;
            checkouts.push(checkout_as(
                browser,
                instance.url("/api/v1/checkout"),
                format!("twice-{round}@example.org"),
            ));
        }
        let outcomes = released_together(checkouts).await;
        let (limited, twice) = outcomes.split_at(12);
        let placed = limited.iter().filter(|(s, _)| *s == 201).count();
        let used_up = limited
            .iter()
            .filter(|(s, a)| {
                *s == 422
                    && ["coupon_used_up", "coupon_no_longer_applies"]
                        .contains(&a["error"]["code"].as_str().unwrap_or(""))
            })
            .count();
        assert_eq!((placed, used_up), (3, 9), "round {round}: {limited:?}");
        let refused =
            twice.iter().filter(|(s, a)| *s == 422 && a["error"]["code"] == "coupon_new_subscribers_only").count();
        assert_eq!((twice.iter().filter(|(s, _)| *s == 201).count(), refused), (1, 1), "round {round}: {twice:?}");
        let normalized = format!("THREE{round}");
        let reserved = format!(
            "SELECT COUNT(*) FROM coupon_redemptions r JOIN coupons c ON c.id = r.coupon_id \
             JOIN orders o ON o.id = r.order_id WHERE c.normalized_code = '{normalized}' AND r.status = 'reserved'"
        );
        assert_eq!(count(&app, &reserved).await, 3);
        let used = format!("SELECT redemptions_used FROM coupons WHERE normalized_code = '{normalized}'");
        assert_eq!(count(&there, &used).await, 3);
        let orders = format!("SELECT COUNT(*) FROM orders WHERE email LIKE 'three-{round}-%'");
        assert_eq!(count(&app, &orders).await, 3, "a refused checkout places no order");
        let lines = format!(
            "SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.email LIKE 'three-{round}-%'"
        );
        assert_eq!(count(&app, &lines).await, 3, "each order with its line");
    }
    assert_eq!(count(&app, &uses_of("FTR2016")).await, 3);
    there.stop().await;
}

/// What one party to `a_limit_given_to_a_coupon_in_use_...` got.
enum Step {
    Checkout(u16, Value),
    Cancel(u16),
    Limit(Result<(), String>),
}

type StepFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Step> + Send>>;

/// A coupon without a limit keeps no count of its uses (so its checkouts never wait for each
/// other). Staff giving it a limit while checkouts through two instances and cancellations run,
/// all released together, count its uses at that moment: afterwards its count is exactly its
/// reserved and final redemptions and within the limit, or the limit was refused as lower than
/// the uses already made and the coupon is as it was. Every order placed carries a reservation.
async fn a_limit_given_to_a_coupon_in_use_counts_exactly_what_checkouts_and_cancellations_left(app: TestApp) {
    let there = TestApp::start(app.config.clone()).await;
    let (mut limits_given, mut limits_refused) = (0, 0);
    for round in 0..4 {
        let code = format!("OPEN {round}");
        let now = masthead::clock::now();
        let coupon = masthead::coupons::create_coupon(&app.db, &test_coupon(&code), None, now).await.expect("saved");
        // Four orders waiting for payment with it; two of them are cancelled in the race.
        let mut waiting = Vec::new();
        for n in 0..4 {
            let browser = browser_with(&app, &["isr-print-1y"], Some(&code)).await;
            let email = format!("open-{round}-waiting-{n}@example.org");
            let (status, answer) = post(&browser, app.url("/api/v1/checkout"), checkout_body(&email)).await;
            assert_eq!(status, 201, "{answer}");
            waiting.push((browser, answer["order_id"].as_str().expect("an id").to_string()));
        }
        let mut steps: Vec<StepFuture> = Vec::new();
        for n in 0..10 {
            let instance = if n % 2 == 0 { &app } else { &there };
            let browser = browser_with(instance, &["isr-print-1y"], Some(&code)).await;
            let (url, email) = (instance.url("/api/v1/checkout"), format!("open-{round}-{n}@example.org"));
            steps.push(Box::pin(async move {
                let (status, answer) = post(&browser, url, checkout_body(&email)).await;
                Step::Checkout(status, answer)
            }));
        }
        for (browser, order_id) in waiting.into_iter().take(2) {
            let url = there.url(&format!("/checkout/test-payment/{order_id}/cancel"));
            steps.push(Box::pin(async move {
                Step::Cancel(browser.post(url).send().await.expect("answered").status().as_u16())
            }));
        }
        let (db, id) = (app.db.clone(), coupon.id.clone());
        let limited = masthead::coupons::NewCoupon { max_redemptions: Some(9), ..test_coupon(&code) };
        // Given at once, or a little later, so that it lands before, among and after the checkouts.
        let delay = std::time::Duration::from_millis([0, 10, 30, 80][round]);
        steps.push(Box::pin(async move {
            tokio::time::sleep(delay).await;
            let actor = masthead::audit::Actor::command_line();
            let outcome = masthead::coupons::update_coupon(&db, &id, &limited, &actor, masthead::clock::now()).await;
            Step::Limit(outcome.map(|_| ()).map_err(|e| format!("{e:?}")))
        }));
        let outcomes = released_together(steps).await;

        let mut placed = 0;
        let mut seen = Vec::new();
        for outcome in &outcomes {
            if let Step::Checkout(status, answer) = outcome {
                seen.push(format!("{status} {}", answer["error"]["code"].as_str().unwrap_or("")));
            }
            match outcome {
                Step::Checkout(201, _) => placed += 1,
                Step::Checkout(status, answer) => {
                    let code = answer["error"]["code"].as_str().unwrap_or("");
                    assert!(
                        [(422, "coupon_used_up"), (422, "coupon_no_longer_applies"), (409, "coupon_changed")]
                            .contains(&(*status, code)),
                        "round {round}: {status} {answer}"
                    );
                }
                Step::Cancel(status) => assert_eq!(*status, 303, "round {round}: cancelled"),
                Step::Limit(Ok(())) => limits_given += 1,
                Step::Limit(Err(e)) => {
                    assert!(e.contains("max_redemptions"), "round {round}: refused only as too low: {e}");
                    limits_refused += 1;
                }
            }
        }
        eprintln!("round {round}: {seen:?}");
        let normalized = format!("OPEN{round}");
        let uses = count(&app, &uses_of(&normalized)).await;
        assert_eq!(uses, 2 + placed, "round {round}: two waiting, {placed} placed, two cancelled");
        let carried = format!(
            "SELECT COUNT(*) FROM orders o JOIN coupons c ON c.id = o.coupon_id \
             WHERE c.normalized_code = '{normalized}' AND o.status = 'pending'"
        );
        assert_eq!(count(&app, &carried).await, uses, "round {round}: one reservation per order waiting");
        let stored = masthead::coupons::find_coupon(&app.db, &coupon.id).await.expect("read").expect("the coupon");
        match stored.max_redemptions {
            Some(limit) => {
                assert_eq!(limit, 9);
                assert_eq!(stored.redemptions_used, uses, "round {round}: the count is the uses");
                assert!(uses <= limit, "round {round}: {uses} uses for a limit of {limit}");
            }
            None => assert!(matches!(outcomes.last(), Some(Step::Limit(Err(_)))), "round {round}: limit refused"),
        }
    }
    eprintln!("limits given: {limits_given}, refused as too low: {limits_refused}");
    there.stop().await;
}
