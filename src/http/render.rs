//! Templates: loading them once, and the context every page shares.

use std::path::Path;

use anyhow::Context as _;
use axum::response::Html;
use tera::{Context, Tera};

use super::AppState;

pub fn load_templates(site_dir: &Path) -> anyhow::Result<Tera> {
    let pattern = site_dir.join("templates").join("**").join("*");
    let pattern = pattern.to_str().context("the site folder's path is not UTF-8")?;
    // Tera keeps the useful part (which template, which line) in the error's sources.
    let mut tera = Tera::new(pattern).map_err(|e| {
        let mut message = format!("{e} ({:?})", e.kind);
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        anyhow::anyhow!("loading templates from {pattern}: {message}")
    })?;
    tera.autoescape_on(vec![".html", ".xml", ".svg"]);
    tera.set_escape_fn(escape_markup);
    Ok(tera)
}

/// Escapes what HTML and XML (the Atom feed, SVG covers) both need escaped, and nothing else:
/// Tera's own escaper also writes `/` as `&#x2F;`, which makes every URL in a feed unreadable.
fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// What the base layout needs on every page.
pub fn page_context(state: &AppState, title: &str) -> Context {
    let mut context = Context::new();
    context.insert("title", title);
    context.insert("shop_name", &state.config.shop_name);
    context.insert("base_url", state.config.base());
    context.insert("test_mode", &state.payments.is_test_mode());
    context.insert("policy_links", &state.policy_links.get());
    context
}

pub fn render(state: &AppState, template: &str, context: &Context) -> anyhow::Result<Html<String>> {
    let html = state.templates.render(template, context).with_context(|| format!("rendering {template}"))?;
    Ok(Html(html))
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_escaped_but_urls_stay_readable() {
        assert_eq!(
            super::escape_markup(r#"<a href="x">Tom & Jerry's</a> https://shop.example/issues/sw"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#x27;s&lt;/a&gt; https://shop.example/issues/sw"
        );
    }
}
