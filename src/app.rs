//! Builds the shop from its configuration and serves it until SIGTERM or SIGINT.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    admin, attempts,
    audit::Actor,
    cart, catalog, clock,
    config::Config,
    coupons,
    db::Db,
    email::{self, Mailer},
    http,
    payments::{self, PaymentProvider, StripeGateway},
    settings,
};

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("masthead=info,tower_http=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
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
        if catalog::catalog_is_empty(&db).await? {
            let added = catalog::seed_demo_catalog(&db, config.currency).await?;
            coupons::seed_demo_coupons(&db, config.currency, clock::now()).await?;
            tracing::info!(issues = added, "loaded the demo catalog and coupons into an empty database");
        }
        Ok(())
    })
    .await?;
    Ok(db)
}

/// Housekeeping every instance may run at once (each statement is safe to repeat): expired
/// sessions, carts untouched for 30 days, coupon failures too old to count.
fn spawn_maintenance(db: Db) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
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
    let templates = http::render::load_templates(&config.site_dir)?;
    let payments = match &config.stripe_secret_key {
        Some(key) => {
            PaymentProvider::Stripe(Arc::new(StripeGateway::new(key.expose(), config.stripe_api_base.as_deref())?))
        }
        None => PaymentProvider::TestMode,
    };
    Ok(http::AppState { db, config: Arc::new(config), templates: Arc::new(templates), payments })
}

/// The background work of an instance: delivering the email outbox, reconciling payments
/// whose webhook never came, and housekeeping. Every instance may run them at once.
pub fn spawn_workers(state: &http::AppState) -> anyhow::Result<()> {
    let smtp = state.config.smtp_url.as_ref().map(|s| s.expose().to_string());
    let mailer = Mailer::new(smtp.as_deref(), &state.config.outbox_dir())?;
    let (db, from) = (state.db.clone(), state.config.email_from.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            if let Err(e) = email::deliver_due(&db, &mailer, &from, clock::now()).await {
                tracing::warn!(error = %e, "email outbox");
            }
        }
    });
    let (db, payments) = (state.db.clone(), state.payments.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match payments::reconcile(&db, &payments).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "reconciliation settled overdue orders"),
                Err(e) => tracing::warn!(error = %e, "reconciliation"),
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
    let router = http::router(state);
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!("starting masthead: {}", config.describe());
    let db = prepare(&config).await?;
    let listener = TcpListener::bind(config.addr).await.with_context(|| format!("binding {}", config.addr))?;
    tracing::info!("the shop is open at {}", config.base_url);
    let state = build_state(config, db.clone()).await?;
    spawn_workers(&state)?;
    serve_on(listener, state, shutdown_signal()).await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    prepare_without_demo(config).await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Migrations, the session table and the currency, without the demo catalog.
async fn prepare_without_demo(config: &Config) -> anyhow::Result<Db> {
    let db = connect(config).await?;
    db.with_setup_lock(async {
        db.migrate().await?;
        db.migrate_sessions().await?;
        settings::fix_currency(&db, config.currency).await
    })
    .await?;
    Ok(db)
}

pub async fn seed(config: &Config) -> anyhow::Result<()> {
    let db = prepare_without_demo(config).await?;
    let added = db
        .with_setup_lock(async {
            let added = catalog::seed_demo_catalog(&db, config.currency).await?;
            coupons::seed_demo_coupons(&db, config.currency, clock::now()).await?;
            Ok(added)
        })
        .await?;
    tracing::info!(issues = added, "demo catalog and coupons loaded");
    Ok(())
}

/// `masthead staff add`: the password comes from standard input (the first line), or a link is printed.
pub async fn staff_add(config: &Config, email: &str, admin: bool) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal};
    let db = prepare_without_demo(config).await?;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Password for {email} (at least 12 characters; leave empty for a one-time link):");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']);
    let role = if admin { admin::staff::Role::Admin } else { admin::staff::Role::Staff };
    let password = Some(password).filter(|p| !p.is_empty());
    let (staff, token) = admin::staff::add(&db, email, role, password, &Actor::command_line(), clock::now())
        .await
        .map_err(operator_error)?;
    println!("created {} ({})", staff.email, staff.role.as_str());
    if let Some(token) = token {
        println!("set the password within a day at {}/admin/set-password/{token}", config.base());
    }
    Ok(())
}

pub async fn staff_list(config: &Config) -> anyhow::Result<()> {
    let db = prepare_without_demo(config).await?;
    for s in admin::staff::list(&db).await? {
        println!(
            "{}\t{}\t{}{}",
            s.email,
            s.role.as_str(),
            if s.disabled { "disabled" } else { "active" },
            if s.two_factor { "\ttwo-factor" } else { "" }
        );
    }
    Ok(())
}

pub async fn staff_disable(config: &Config, email: &str) -> anyhow::Result<()> {
    let db = prepare_without_demo(config).await?;
    let staff = admin::staff::set_disabled(&db, email, true, &Actor::command_line(), clock::now())
        .await
        .map_err(operator_error)?;
    println!("disabled {}", staff.email);
    Ok(())
}

/// The operator at the command line sees the real cause of a failure (a reader would get only
/// the public sentence).
fn operator_error(error: crate::error::Error) -> anyhow::Error {
    match error {
        crate::error::Error::Internal(cause) => cause,
        crate::error::Error::Unavailable(cause) => anyhow::anyhow!("the database is unavailable: {cause}"),
        other => anyhow::anyhow!(other.public_message()),
    }
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
