//! Builds the shop from its configuration and serves it until SIGTERM or SIGINT.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    attempts, cart, catalog, clock,
    config::Config,
    coupons,
    db::Db,
    email::{self, Mailer},
    http, orders,
    payments::{self, PaymentProvider, StripeGateway},
    policies, settings,
};

/// Logs as text, or as JSON lines (`MASTHEAD_LOG_FORMAT=json`: one object a line, with the
/// request's id and route from its span).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("masthead=info,tower_http=info"));
    let json = std::env::var("MASTHEAD_LOG_FORMAT").is_ok_and(|f| f.trim().eq_ignore_ascii_case("json"));
    let _ = match json {
        true => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        false => tracing_subscriber::fmt().with_env_filter(filter).try_init(),
    };
}

async fn connect(config: &Config) -> anyhow::Result<Db> {
    Db::connect(&config.database_url, config.db_acquire_timeout).await
}

/// Connects, migrates, fixes the shop's currency on first start (and refuses to start in another
/// one later), and loads the demo catalog when the database is empty. Instances starting together
/// on one PostgreSQL do this one after another, under the set-up lock.
pub async fn prepare(config: &Config) -> anyhow::Result<Db> {
    let db = connect(config).await?;
    db.with_setup_lock(async {
        db.migrate().await?;
        db.migrate_sessions().await?;
        settings::fix_currency(&db, config.currency).await?;
        settings::record_base_url(&db, config.base(), &config.shop_name).await?;
        policies::seed_starting_texts(&db).await?;
        if catalog::catalog_is_empty(&db).await? {
            let added = catalog::seed_demo_catalog(&db, config.currency).await?;
            coupons::seed_demo_coupons(&db, config.currency, clock::now()).await?;
            crate::offers::seed_demo_offers(&db, clock::now()).await?;
            tracing::info!(issues = added, "loaded the demo catalog and coupons into an empty database");
        }
        Ok(())
    })
    .await?;
    Ok(db)
}

/// A worker's clock: its first turn comes a second after the shop opens, so an instance answers
/// its first requests before its housekeeping runs.
fn after_opening_every(seconds: u64) -> tokio::time::Interval {
    let first = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    tokio::time::interval_at(first, std::time::Duration::from_secs(seconds))
}

/// Housekeeping every instance may run at once (each statement is safe to repeat): expired
/// sessions, carts untouched for 30 days, coupon failures too old to count.
fn spawn_maintenance(db: Db) {
    tokio::spawn(async move {
        let mut every_hour = after_opening_every(3600);
        loop {
            every_hour.tick().await;
            let now = clock::now();
            if let Err(e) = db.delete_expired_sessions().await {
                tracing::warn!(error = format!("{e:#}"), "maintenance: sessions");
            }
            if let Err(e) = cart::purge_abandoned_carts(&db, now).await {
                tracing::warn!(error = %e, "maintenance: carts");
            }
            for limit in [attempts::COUPON_CODES, attempts::STAFF_SIGN_IN] {
                if let Err(e) = limit.purge(&db, now).await {
                    tracing::warn!(error = %e, kind = limit.kind, "maintenance: failures");
                }
            }
        }
    });
}

pub async fn build_state(config: Config, db: Db) -> anyhow::Result<http::AppState> {
    let site = SiteFiles::read(&config.site_dir)?;
    build_state_with(config, db, site)
}

/// What the shop serves from its site folder: the templates, parsed, and the static files' hashes.
struct SiteFiles {
    templates: http::render::Templates,
    static_hashes: http::static_files::StaticHashes,
}

impl SiteFiles {
    fn read(site_dir: &std::path::Path) -> anyhow::Result<SiteFiles> {
        let static_dir = site_dir.join("static");
        let (templates, static_hashes) = std::thread::scope(|scope| {
            let hashes = scope.spawn(|| http::static_files::StaticHashes::scan(&static_dir));
            (http::render::load_templates(site_dir), hashes.join())
        });
        let static_hashes = static_hashes
            .map_err(|_| anyhow::anyhow!("reading the static files panicked"))?
            .context("reading the static files")?;
        let templates = http::render::Templates::new(templates?, static_hashes.clone())?;
        Ok(SiteFiles { templates, static_hashes })
    }
}

/// The state, with the site's files read already (`serve` reads them while the database is prepared).
fn build_state_with(config: Config, db: Db, site: SiteFiles) -> anyhow::Result<http::AppState> {
    let SiteFiles { templates, static_hashes } = site;
    let payments = match &config.stripe_secret_key {
        Some(key) => {
            PaymentProvider::Stripe(Arc::new(StripeGateway::new(key.expose(), config.stripe_api_base.as_deref())?))
        }
        None => PaymentProvider::TestMode,
    };
    let page_cache = http::page_cache::PageCache::new(config.page_cache);
    let media = crate::storage::MediaStore::open(&config.media, &config.data_dir).context("opening the media store")?;
    // The metrics recorder, before the first request is counted.
    crate::health::metrics_handle();
    Ok(http::AppState::new(http::Services {
        db,
        config: Arc::new(config),
        templates: Arc::new(templates),
        payments,
        page_cache,
        policy_links: Default::default(),
        static_hashes,
        media,
        stamp_plans: Arc::default(),
    }))
}

/// The background work of an instance: delivering the email outbox, reconciling payments
/// whose webhook never came, and housekeeping. Every instance may run them at once.
pub fn spawn_workers(state: &http::AppState) -> anyhow::Result<()> {
    let smtp = state.config.smtp_url.as_ref().map(|s| s.expose().to_string());
    let mailer = Mailer::new(smtp.as_deref(), &state.config.outbox_dir())?;
    let (db, from) = (state.db.clone(), state.config.email_from.clone());
    tokio::spawn(async move {
        let mut tick = after_opening_every(2);
        loop {
            tick.tick().await;
            if let Err(e) = email::deliver_due(&db, &mailer, &from, clock::now()).await {
                tracing::warn!(error = %e, "email outbox");
            }
        }
    });
    let (db, payments) = (state.db.clone(), state.payments.clone());
    tokio::spawn(async move {
        let mut tick = after_opening_every(60);
        loop {
            tick.tick().await;
            match payments::reconcile(&db, &payments).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "reconciliation settled overdue orders"),
                Err(e) => tracing::warn!(error = %e, "reconciliation"),
            }
        }
    });
    let (db, shop_name) = (state.db.clone(), state.config.shop_name.clone());
    let account_url = format!("{}/account", state.config.base());
    tokio::spawn(async move {
        let mut tick = after_opening_every(600);
        loop {
            tick.tick().await;
            match orders::reminders::send_due_reminders(&db, &shop_name, &account_url, clock::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(reminders = n, "renewal reminders written to the outbox"),
                Err(e) => tracing::warn!(error = %e, "renewal reminders"),
            }
        }
    });
    spawn_maintenance(state.db.clone());
    Ok(())
}

/// Serves on an already bound listener until `shutdown` completes (tests pass a listener on port 0).
pub async fn serve_on(
    listener: TcpListener,
    state: http::AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // The page cache follows the content version for as long as this server runs.
    let follower = tokio::spawn(state.page_cache.clone().follow_changes(state.db.clone()));
    // So do the footer's policy links, read once before the first page is served.
    if let Err(error) = state.policy_links.refresh(&state.db).await {
        tracing::warn!(error = %error, "policy links not read at start; retrying every second");
    }
    let links = tokio::spawn(state.policy_links.clone().follow_changes(state.db.clone()));
    let checkpoints = tokio::spawn(state.db.clone().checkpoint_continually(std::time::Duration::from_millis(250)));
    let router = http::router(state);
    let served = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving");
    follower.abort();
    links.abort();
    checkpoints.abort();
    served
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!("starting masthead: {}", config.describe());
    // Parsing the templates takes about as long as preparing the database: both at once. So
    // does making the metrics recorder (its clock calibrates itself by spinning for some ms).
    std::thread::spawn(crate::health::metrics_handle);
    let site_dir = config.site_dir.clone();
    let site = tokio::task::spawn_blocking(move || SiteFiles::read(&site_dir));
    let db = prepare(&config).await?;
    let site = site.await.context("reading the site's files")??;
    let listener = TcpListener::bind(config.addr).await.with_context(|| format!("binding {}", config.addr))?;
    let state = build_state_with(config, db.clone(), site)?;
    tracing::info!("the shop is open at {}", state.config.base_url);
    // The admin's templates a second after opening, like the workers' first turn (or at the
    // first admin page, if that comes sooner).
    let templates = state.templates.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(1));
        if let Err(error) = templates.admin() {
            tracing::error!(error = format!("{error:#}"), "the staff admin's pages cannot be shown");
        }
    });
    spawn_workers(&state)?;
    serve_on(listener, state, shutdown_signal()).await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Migrations, the session table and the currency, without the demo catalog.
pub async fn prepare_without_demo(config: &Config) -> anyhow::Result<Db> {
    let db = connect(config).await?;
    db.with_setup_lock(async {
        db.migrate().await?;
        db.migrate_sessions().await?;
        settings::fix_currency(&db, config.currency).await?;
        policies::seed_starting_texts(&db).await?;
        Ok(())
    })
    .await?;
    Ok(db)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM, so in-flight requests finish before the process ends.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
