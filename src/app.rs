//! Builds the shop from its configuration and serves it until SIGTERM or SIGINT.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{catalog, config::Config, db::Db, http};

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("masthead=info,tower_http=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Connects, migrates, and loads the demo catalog when the database is empty.
pub async fn prepare(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    if catalog::catalog_is_empty(&db).await? {
        let added = catalog::seed_demo_catalog(&db).await?;
        tracing::info!(issues = added, "loaded the demo catalog into an empty database");
    }
    Ok(db)
}

pub async fn build_state(config: Config, db: Db) -> anyhow::Result<http::AppState> {
    let templates = http::render::load_templates(&config.site_dir)?;
    Ok(http::AppState { db, config: Arc::new(config), templates: Arc::new(templates) })
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
    serve_on(listener, state, shutdown_signal()).await?;
    db.pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    tracing::info!("migrations applied");
    Ok(())
}

pub async fn seed(config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let added = catalog::seed_demo_catalog(&db).await?;
    tracing::info!(issues = added, "demo catalog loaded");
    Ok(())
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
