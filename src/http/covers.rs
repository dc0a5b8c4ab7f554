//! Covers the shop draws itself (SVG) for issues that have no uploaded cover image.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use super::{
    error::PageError,
    render::{page_context, render},
    AppState,
};
use crate::{catalog, error::Error};

pub fn router() -> Router<AppState> {
    Router::new().route("/covers/{file}", get(cover))
}

#[derive(serde::Deserialize)]
struct CoverQuery {
    v: Option<String>,
}

/// A drawn cover: kept a year when asked for by its current URL (`Issue::cover_url`, which
/// changes with the cover), an hour otherwise.
async fn cover(
    State(state): State<AppState>,
    Path(file): Path<String>,
    axum::extract::Query(query): axum::extract::Query<CoverQuery>,
) -> Result<Response, PageError> {
    let not_found = || Error::not_found("cover_not_found", "There is no such cover.");
    let sku = file.strip_suffix(".svg").filter(|s| catalog::is_well_formed_sku(s)).ok_or_else(not_found)?;
    let issue = catalog::find_published_issue_by_sku(&state.db, sku).await?.ok_or_else(not_found)?;

    let mut context = page_context(&state, &issue.name());
    context.insert("issue", &issue);
    // 13 characters of bold serif at 28px fit the cover's 256px text column even in a wide fallback font.
    context.insert("headline_lines", &wrap(&issue.title, 13, 6));
    context.insert("theme", if issue.publication == "sw" { "red" } else { "ink" });
    let svg = render(&state, "covers/cover.svg", &context)?;
    let current = query.v.is_some_and(|v| issue.cover_url.ends_with(&format!("?v={v}")));
    let cache_control = if current { super::static_files::IMMUTABLE } else { "public, max-age=3600" };
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, cache_control),
            // An SVG opened on its own must not run script, whatever it holds.
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; sandbox"),
        ],
        svg.0,
    )
        .into_response())
}

/// Breaks a headline into at most `max_lines` lines of about `width` characters, on spaces.
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn headlines_wrap_on_spaces() {
        assert_eq!(super::wrap("The hate won't go unchallenged", 13, 6), vec!["The hate", "won't go", "unchallenged"]);
        assert_eq!(super::wrap("a b c d e f", 1, 3), vec!["a", "b", "c…"]);
    }
}
