//! A fake Stripe API on a real HTTP server (wiremock): it creates, retrieves and expires Checkout
//! Sessions the way Stripe does, keeps them so a test can mark one paid, and signs webhooks.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path, path_regex},
    Mock, MockServer, Request, Respond, ResponseTemplate,
};

use masthead::config::{Config, Secret};

pub const WEBHOOK_SECRET: &str = "whsec_test_masthead_fixture_secret";
const SESSION_TEMPLATE: &str = include_str!("../fixtures/checkout_session.json");
const EVENT_TEMPLATE: &str = include_str!("../fixtures/event.json");

type Sessions = Arc<Mutex<HashMap<String, Value>>>;

pub struct FakeStripe {
    pub server: MockServer,
    sessions: Sessions,
}

/// The form Stripe's API takes, as (key, value) pairs in order.
pub fn form_pairs(request: &Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).unwrap_or_default()
}

pub fn form_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

struct CreateSession(Sessions);

impl Respond for CreateSession {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let pairs = form_pairs(request);
        let mut total = 0i64;
        for i in 0.. {
            let amount = form_value(&pairs, &format!("line_items[{i}][price_data][unit_amount]"));
            let quantity = form_value(&pairs, &format!("line_items[{i}][quantity]"));
            match (amount, quantity) {
                (Some(a), Some(q)) => total += a.parse::<i64>().unwrap_or(0) * q.parse::<i64>().unwrap_or(0),
                _ => break,
            }
        }
        let mut sessions = self.0.lock().expect("the sessions");
        let id = format!("cs_test_{:04}", sessions.len() + 1);
        let mut session: Value = serde_json::from_str(SESSION_TEMPLATE).expect("the session fixture");
        session["id"] = json!(id);
        session["amount_subtotal"] = json!(total);
        session["amount_total"] = json!(total);
        session["currency"] = json!(form_value(&pairs, "line_items[0][price_data][currency]").unwrap_or("usd"));
        session["client_reference_id"] = json!(form_value(&pairs, "client_reference_id"));
        session["customer_email"] = json!(form_value(&pairs, "customer_email"));
        session["metadata"] = json!({"order_id": form_value(&pairs, "metadata[order_id]")});
        session["success_url"] = json!(form_value(&pairs, "success_url"));
        session["cancel_url"] = json!(form_value(&pairs, "cancel_url"));
        session["expires_at"] = json!(form_value(&pairs, "expires_at").and_then(|v| v.parse::<i64>().ok()));
        session["url"] = json!(format!("https://checkout.stripe.test/c/pay/{id}"));
        sessions.insert(id, session.clone());
        ResponseTemplate::new(200).set_body_json(session)
    }
}

struct GetSession(Sessions);

impl Respond for GetSession {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id =
            request.url.path().trim_start_matches("/v1/checkout/sessions/").trim_end_matches("/expire").to_string();
        let mut sessions = self.0.lock().expect("the sessions");
        let Some(session) = sessions.get_mut(&id) else {
            return ResponseTemplate::new(404).set_body_json(
                json!({"error": {"type": "invalid_request_error", "message": "No such checkout.session"}}),
            );
        };
        if request.url.path().ends_with("/expire") && session["status"] == "open" {
            session["status"] = json!("expired");
        }
        ResponseTemplate::new(200).set_body_json(session.clone())
    }
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let server = MockServer::start().await;
        let sessions: Sessions = Arc::default();
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(CreateSession(sessions.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/v1/checkout/sessions/[^/]+$"))
            .respond_with(GetSession(sessions.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex("^/v1/checkout/sessions/[^/]+/expire$"))
            .respond_with(GetSession(sessions.clone()))
            .mount(&server)
            .await;
        FakeStripe { server, sessions }
    }

    /// Points the shop at this server.
    pub fn configure(&self, config: &mut Config) {
        config.stripe_secret_key = Some(Secret("sk_test_masthead".into()));
        config.stripe_webhook_secret = Some(Secret(WEBHOOK_SECRET.into()));
        config.stripe_api_base = Some(self.server.uri());
    }

    /// The session Stripe holds for this order.
    pub fn session_for(&self, order_id: &str) -> Value {
        let sessions = self.sessions.lock().expect("the sessions");
        sessions.values().find(|s| s["client_reference_id"] == order_id).cloned().expect("a session for the order")
    }

    /// Changes a session as Stripe would (paid, expired, …).
    pub fn update_session(&self, id: &str, change: impl FnOnce(&mut Value)) -> Value {
        let mut sessions = self.sessions.lock().expect("the sessions");
        let session = sessions.get_mut(id).expect("the session");
        change(session);
        session.clone()
    }

    pub async fn requests_to(&self, wanted_path: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == wanted_path)
            .collect()
    }
}

/// A Stripe event wrapping a session, as its JSON text.
pub fn event(id: &str, event_type: &str, session: &Value) -> String {
    let mut event: Value = serde_json::from_str(EVENT_TEMPLATE).expect("the event fixture");
    event["id"] = json!(id);
    event["type"] = json!(event_type);
    event["data"]["object"] = session.clone();
    event.to_string()
}

/// The `Stripe-Signature` header Stripe would send for this body at this time.
pub fn signature(body: &str, secret: &str, timestamp: i64) -> String {
    stripe_webhook::Webhook::generate_test_header(body, secret, Some(timestamp))
}
