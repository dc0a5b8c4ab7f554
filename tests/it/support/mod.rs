//! Starts the real application on an ephemeral port against a fresh database,
//! SQLite or PostgreSQL, and gives the test a client for it.

pub mod browser;
pub mod postgres;
pub mod s3;
pub mod stripe;

use std::{net::SocketAddr, path::PathBuf, sync::OnceLock};

use masthead::{app, config::Config, db::Db};
use sqlx::{Connection, Executor};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` twice: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await;
                super::$name(app.expect("SQLite is always there")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await {
                    super::$name(app).await;
                }
            }
        }
    )+};
}

/// A program of that name on PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// One folder for everything this test process writes, removed by a watchdog after it exits.
fn scratch_root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("masthead-tests-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("a temporary folder");
        postgres::after_exit(&format!("rm -rf '{}'", root.display()));
        root
    })
}

/// Runs each named `async fn(TestApp, FakeStripe)` on both databases, the shop configured for Stripe
/// against a fake Stripe server of its own.
#[macro_export]
macro_rules! on_both_databases_with_stripe {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use $crate::support::{stripe::FakeStripe, Backend, TestApp};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let stripe = FakeStripe::start().await;
                let app = TestApp::spawn_with(Backend::Sqlite, |c| stripe.configure(c)).await;
                super::$name(app.expect("SQLite is always there"), stripe).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let stripe = FakeStripe::start().await;
                if let Some(app) = TestApp::spawn_with(Backend::Postgres, |c| stripe.configure(c)).await {
                    super::$name(app, stripe).await;
                }
            }
        }
    )+};
}

/// A fresh, empty database of the given kind; `None` when PostgreSQL is skipped on this machine.
pub async fn fresh_database(backend: Backend) -> Option<(String, PathBuf)> {
    let dir = scratch_root().join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    match backend {
        Backend::Sqlite => Some((format!("sqlite://{}?mode=rwc", dir.join("shop.db").display()), dir)),
        Backend::Postgres => match postgres::server_url() {
            Ok(server) => {
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut admin = sqlx::PgConnection::connect(&server).await.expect("connecting to the test PostgreSQL");
                admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("CREATE DATABASE");
                let base = server.rsplit_once('/').map(|(base, _)| base).unwrap_or(&server);
                Some((format!("{base}/{name}"), dir))
            }
            Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL is required when CI=true, but: {why}")
            }
            Err(why) => {
                eprintln!("PostgreSQL variant skipped: {why}");
                None
            }
        },
    }
}

/// The token test shops want on `/metrics`.
pub const METRICS_TOKEN: &str = "test-metrics-token";

pub fn test_config(database_url: &str, data_dir: PathBuf) -> Config {
    Config {
        database_url: database_url.to_string(),
        addr: "127.0.0.1:0".parse().expect("an address"),
        base_url: "http://shop.test".into(),
        data_dir,
        site_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        currency: masthead::money::Currency::Usd,
        shop_name: "Test Shop".into(),
        stripe_secret_key: None,
        stripe_webhook_secret: None,
        stripe_api_base: None,
        smtp_url: None,
        email_from: "Test Shop <shop@example.org>".into(),
        db_acquire_timeout: std::time::Duration::from_millis(2000),
        trusted_proxies: Default::default(),
        // Tests change the catalog with SQL behind the admin's back; tests/it/page_cache.rs turns it on.
        page_cache: false,
        home_country: "US".into(),
        max_donation: masthead::money::Money::new(100_000, masthead::money::Currency::Usd),
        metrics_token: Some(masthead::config::Secret(METRICS_TOKEN.into())),
        media: masthead::config::MediaLocation::DataDir,
    }
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// A fresh shop with its configuration changed first.
    pub async fn spawn_with(backend: Backend, change: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let (url, dir) = fresh_database(backend).await?;
        let mut config = test_config(&url, dir);
        change(&mut config);
        Some(TestApp::start(config).await)
    }

    /// A fresh shop whose base URL is its own address, so that a real browser can follow every
    /// link and redirect it makes (the payment page among them).
    pub async fn spawn_reachable(backend: Backend) -> Option<TestApp> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr: SocketAddr = listener.local_addr().expect("an address");
        let (url, dir) = fresh_database(backend).await?;
        let mut config = test_config(&url, dir);
        config.base_url = format!("http://{addr}");
        Some(TestApp::start_on(config, listener).await)
    }

    /// Starts the shop on an existing database (as a restart would).
    pub async fn start(config: Config) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        TestApp::start_on(config, listener).await
    }

    /// Starts the shop, or says why it would not start.
    pub async fn try_start(config: Config) -> anyhow::Result<TestApp> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let db = app::prepare(&config).await?;
        Ok(TestApp::serve_prepared(config, listener, db).await)
    }

    async fn start_on(config: Config, listener: TcpListener) -> TestApp {
        let db = app::prepare(&config).await.expect("the database is prepared");
        TestApp::serve_prepared(config, listener, db).await
    }

    async fn serve_prepared(config: Config, listener: TcpListener, db: Db) -> TestApp {
        let state = app::build_state(config.clone(), db.clone()).await.expect("the state is built");
        let addr: SocketAddr = listener.local_addr().expect("an address");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app::serve_on(listener, state, async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("a client");
        TestApp { address: format!("http://{addr}"), client, db, config, shutdown: Some(tx), server: Some(server) }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> Config {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task").expect("the server stopped cleanly");
        }
        self.db.close().await;
        self.config.clone()
    }

    /// Another browser on the same shop: its own cookies, no server of its own.
    pub fn with_new_client(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .expect("a client"),
            db: self.db.clone(),
            config: self.config.clone(),
            shutdown: None,
            server: None,
        }
    }

    /// Another tab of the same browser: the same cookies (so the same session and cart).
    pub fn clone_session(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            client: self.client.clone(),
            db: self.db.clone(),
            config: self.config.clone(),
            shutdown: None,
            server: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("the request is answered")
    }

    /// GET a page and return its status and body with HTML entities decoded.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, html_text(&response.text().await.expect("a body")))
    }

    /// Sends a JSON body with the given method; answers the status and the JSON answer.
    pub async fn send_json(&self, method: &str, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let response = self.client.request(method, self.url(path)).json(&body).send().await.expect("answered");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Posts an HTML form; answers the response (redirects are not followed).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(path)).form(fields).send().await.expect("answered")
    }

    /// The cart as the API shows it, without its notices (which describe the last request).
    pub async fn cart(&self) -> serde_json::Value {
        let (status, mut cart) = self.json("/api/v1/cart").await;
        assert_eq!(status, 200);
        cart.as_object_mut().expect("an object").remove("notices");
        cart
    }

    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }
}

/// Undoes the escaping the templates apply, so tests can look for text as a reader sees it.
pub fn html_text(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The words of a page as a reader sees them: tags dropped, runs of white space made one space.
pub fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    html_text(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" .", ".")
        .replace(" ,", ",")
        .replace(" :", ":")
}

/// A plain 10%-off coupon for everything, to change with struct update syntax.
pub fn test_coupon(code: &str) -> masthead::coupons::NewCoupon {
    use masthead::{
        coupons::{AppliesTo, CouponValue, NewCoupon},
        money::Currency,
    };
    NewCoupon {
        currency: Currency::Usd,
        code: code.into(),
        description: format!("Test coupon {code}"),
        value: CouponValue::Percent(masthead::coupons::Percent::from_basis_points(1000).expect("in range")),
        applies_to: AppliesTo::Everything,
        new_subscribers_only: false,
        covers_postage: false,
        applies_to_reduced: false,
        applies_to_sustainer: false,
        starts_at: None,
        ends_at: None,
        max_redemptions: None,
        per_customer_limit: None,
        min_subtotal: None,
        active: true,
    }
}

/// Saves a coupon straight into the shop's database.
pub async fn save_coupon(app: &TestApp, coupon: masthead::coupons::NewCoupon) {
    masthead::coupons::create_coupon(&app.db, &coupon, None, masthead::clock::now())
        .await
        .expect("a valid coupon, saved");
}

/// The statement counting a coupon's uses: its reserved and final redemptions. (Only a coupon with
/// a limit keeps a count of them, `redemptions_used`.)
pub fn uses_of(normalized_code: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM coupon_redemptions r JOIN coupons c ON c.id = r.coupon_id \
         WHERE c.normalized_code = '{normalized_code}' AND r.status IN ('reserved', 'final')"
    )
}

/// Runs the futures at once: each is spawned and waits at a barrier until all are ready, so they
/// reach the shop together rather than one after another. Answers their outputs in order.
pub async fn released_together<T, F>(futures: Vec<F>) -> Vec<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(futures.len()));
    let handles: Vec<_> = futures
        .into_iter()
        .map(|future| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                future.await
            })
        })
        .collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("a task released together"));
    }
    outputs
}

/// A browser of its own: cookies kept, redirects not followed.
pub fn new_browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().expect("a client")
}
