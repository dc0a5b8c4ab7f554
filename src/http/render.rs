//! Templates: loading them once, and the context every page shares.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use axum::response::Html;
use tera::{Context, Template, Tera};

use super::AppState;

pub fn load_templates(site_dir: &Path) -> anyhow::Result<Tera> {
    let root = site_dir.join("templates");
    let mut files = super::static_files::files_under(&root)
        .with_context(|| format!("reading the templates in {}", root.display()))?;
    // An editor's swap or backup file is not a template.
    files.retain(|(name, _)| !name.rsplit('/').next().is_some_and(|file| file.starts_with('.')));
    // Reading and parsing is most of a start-up's work (Tera's parser takes ~17 ms for 150 KB):
    // two threads take the next file, largest first, until none is left; then the inheritance
    // chains are built.
    files.sort_by_cached_key(|(_, path)| std::cmp::Reverse(std::fs::metadata(path).map_or(0, |m| m.len())));
    let next = AtomicUsize::new(0);
    let parse_some = || -> anyhow::Result<Vec<(String, Template)>> {
        let mut parsed = Vec::new();
        while let Some((name, path)) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let template = Template::new(name, Some(path.to_string_lossy().into_owned()), &text)
                .with_context(|| format!("parsing the template {}", path.display()))?;
            parsed.push((name.clone(), template));
        }
        Ok(parsed)
    };
    let (mine, theirs) = std::thread::scope(|scope| {
        let other = scope.spawn(parse_some);
        (parse_some(), other.join())
    });
    let theirs = theirs.map_err(|_| anyhow::anyhow!("parsing the templates panicked"))?;
    let mut tera = Tera::default();
    tera.templates.extend(mine?.into_iter().chain(theirs?));
    tera.build_inheritance_chains()
        .and_then(|()| tera.check_macro_files())
        .with_context(|| format!("loading templates from {}", root.display()))?;
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
    use std::path::PathBuf;

    /// A site folder holding `templates/` with these files.
    fn site_with(files: &[(&str, &str)]) -> PathBuf {
        let site = std::env::temp_dir().join(format!("masthead-templates-{}", uuid::Uuid::new_v4().simple()));
        for (name, text) in files {
            let path = site.join("templates").join(name);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("made");
            std::fs::write(path, text).expect("written");
        }
        site
    }

    #[test]
    fn templates_in_folders_are_loaded_by_their_path_with_inheritance_and_macros() {
        let mut files = vec![
            ("base.html", "<title>{% block title %}{% endblock %}</title>{% block body %}{% endblock %}"),
            ("partials/forms.html", "{% macro field(name) %}<input name=\"{{ name }}\">{% endmacro %}"),
            ("admin/layout.html", "{% extends \"base.html\" %}{% block body %}<nav>staff</nav>{% block main %}{% endblock %}{% endblock %}"),
            (".page.html.swp", "{% not a template"),
        ];
        // Enough pages that both threads parse some.
        let pages: Vec<(String, String)> = (0..40)
            .map(|i| {
                (format!("admin/page{i}.html"), format!("{{% extends \"admin/layout.html\" %}}{{% import \"partials/forms.html\" as forms %}}{{% block title %}}Page {i}{{% endblock %}}{{% block main %}}{{{{ forms::field(name=\"n{i}\") }}}} {{{{ who }}}}{{% endblock %}}"))
            })
            .collect();
        files.extend(pages.iter().map(|(n, t)| (n.as_str(), t.as_str())));
        let site = site_with(&files);
        let tera = super::load_templates(&site).expect("loaded");
        assert_eq!(tera.get_template_names().count(), 43, "the swap file is not a template");
        let mut context = tera::Context::new();
        context.insert("who", "<Tom & Jerry's>");
        for i in [0, 17, 39] {
            let html = tera.render(&format!("admin/page{i}.html"), &context).expect("rendered");
            assert_eq!(
                html,
                format!("<title>Page {i}</title><nav>staff</nav><input name=\"n{i}\"> &lt;Tom &amp; Jerry&#x27;s&gt;")
            );
        }
        let _ = std::fs::remove_dir_all(site);
    }

    #[test]
    fn a_broken_template_stops_loading_and_says_which_file() {
        let site = site_with(&[("base.html", "ok"), ("catalog/home.html", "{% for x in %}")]);
        let error = format!("{:#}", super::load_templates(&site).expect_err("refused"));
        assert!(error.contains("catalog/home.html") && error.contains("parsing"), "{error}");
        let site_missing_parent = site_with(&[("child.html", "{% extends \"nowhere.html\" %}")]);
        let error = format!("{:#}", super::load_templates(&site_missing_parent).expect_err("refused"));
        assert!(error.contains("nowhere.html"), "{error}");
        let _ = std::fs::remove_dir_all(site);
        let _ = std::fs::remove_dir_all(site_missing_parent);
    }

    #[test]
    fn markup_is_escaped_but_urls_stay_readable() {
        assert_eq!(
            super::escape_markup(r#"<a href="x">Tom & Jerry's</a> https://shop.example/issues/sw"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#x27;s&lt;/a&gt; https://shop.example/issues/sw"
        );
    }
}
