//! The Atom feed of published issues, for feed readers and for the publisher's other sites, and
//! the sitemap for search engines.

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use serde::Serialize;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{
    error::PageError,
    render::{page_context, render},
    AppState,
};
use crate::catalog;

pub fn router() -> Router<AppState> {
    Router::new().route("/issues.atom", get(issues_feed)).route("/sitemap.xml", get(sitemap))
}

/// The public pages and every published issue, for search engines.
async fn sitemap(State(state): State<AppState>) -> Result<impl IntoResponse, PageError> {
    let base = state.config.base();
    let mut urls: Vec<(String, Option<String>)> =
        ["/", "/subscribe", "/issues", "/branches"].iter().map(|p| (format!("{base}{p}"), None)).collect();
    for publication in catalog::publications(&state.db).await? {
        urls.push((format!("{base}/issues/{}", publication.slug), None));
    }
    for issue in catalog::published_issues(&state.db, None).await? {
        let modified = issue.published_at.map(|t| rfc3339(t)[..10].to_string());
        urls.push((format!("{base}{}", issue.path), modified));
    }
    let mut context = page_context(&state, "Sitemap");
    context.insert("urls", &urls);
    let xml = render(&state, "feed/sitemap.xml", &context)?;
    Ok(([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], xml.0))
}

#[derive(Serialize)]
struct Entry {
    id: String,
    url: String,
    title: String,
    updated: String,
    summary: String,
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

async fn issues_feed(State(state): State<AppState>) -> Result<impl IntoResponse, PageError> {
    let issues = catalog::published_issues(&state.db, None).await?;
    let base = state.config.base();
    let updated = issues.iter().filter_map(|i| i.published_at).max().unwrap_or(0);
    let entries: Vec<Entry> = issues
        .iter()
        .take(50)
        .map(|issue| Entry {
            id: format!("{base}{}", issue.path.clone()),
            url: format!("{base}{}", issue.path.clone()),
            title: format!("{}: {}", issue.name(), issue.title),
            updated: rfc3339(issue.published_at.unwrap_or(0)),
            summary: issue.summary.clone(),
        })
        .collect();

    let mut context = page_context(&state, "Issues");
    context.insert("feed_url", &format!("{base}/issues.atom"));
    context.insert("updated", &rfc3339(updated));
    context.insert("entries", &entries);
    let xml = render(&state, "feed/issues.atom.xml", &context)?;
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], xml.0))
}
