//! Templates: loading them once, and the context every page shares.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use anyhow::Context as _;
use axum::response::Html;
use tera::{Context, Template, Tera};

use super::{static_files::StaticHashes, AppState};

/// The site's templates. The shop's are parsed before it opens; the staff admin's (over half of
/// the text, and no reader waits for them) at their first use or just after opening
/// (`Templates::admin`), so parsing them is not part of starting. A broken shop template stops
/// the start; a broken admin template is logged then and answers its pages with an error.
pub struct Templates {
    shop: Tera,
    admin_files: Vec<(String, PathBuf)>,
    admin: OnceLock<Result<Tera, String>>,
    static_hashes: StaticHashes,
}

/// The shop's templates parsed, the admin's found (see `Templates`).
pub struct ShopTemplates {
    shop: Vec<(String, Template)>,
    admin_files: Vec<(String, PathBuf)>,
    root: PathBuf,
}

/// Reads and parses the shop's templates under `site_dir/templates` and lists the admin's.
pub fn load_templates(site_dir: &Path) -> anyhow::Result<ShopTemplates> {
    let root = site_dir.join("templates");
    let mut files = super::static_files::files_under(&root)
        .with_context(|| format!("reading the templates in {}", root.display()))?;
    // An editor's swap or backup file is not a template.
    files.retain(|(name, _)| !name.rsplit('/').next().is_some_and(|file| file.starts_with('.')));
    let (admin_files, shop_files) = files.into_iter().partition(|(name, _)| name.starts_with("admin/"));
    Ok(ShopTemplates { shop: parse_all(shop_files)?, admin_files, root })
}

impl Templates {
    /// The shop's templates made ready to render, `static_url` answering from `static_hashes`.
    pub fn new(loaded: ShopTemplates, static_hashes: StaticHashes) -> anyhow::Result<Templates> {
        let ShopTemplates { shop, admin_files, root } = loaded;
        let shop =
            assemble(shop, &static_hashes).with_context(|| format!("loading templates from {}", root.display()))?;
        Ok(Templates { shop, admin_files, admin: OnceLock::new(), static_hashes })
    }

    pub fn render(&self, template: &str, context: &Context) -> anyhow::Result<String> {
        let tera = match template.starts_with("admin/") {
            true => self.admin()?,
            false => &self.shop,
        };
        Ok(tera.render(template, context)?)
    }

    /// The admin's templates (with the shop's they reach, `shared_with_admin`), parsed once.
    pub fn admin(&self) -> anyhow::Result<&Tera> {
        let parsed = self.admin.get_or_init(|| {
            parse_all(self.admin_files.clone())
                .and_then(|mut admin| {
                    admin.extend(self.shared_with_admin(&admin));
                    assemble(admin, &self.static_hashes)
                })
                .map_err(|e| format!("loading the admin's templates: {e:#}"))
        });
        parsed.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The shop's templates an admin page can reach: those the admin's extend or import, each
    /// with its own parents and imports, and every partial (a page includes partials by name,
    /// which only rendering resolves). Copies, so the shop's stay as they are.
    fn shared_with_admin(&self, admin: &[(String, Template)]) -> Vec<(String, Template)> {
        let references = |t: &Template| -> Vec<String> {
            t.parent.iter().cloned().chain(t.imported_macro_files.iter().map(|(file, _)| file.clone())).collect()
        };
        let mut wanted: Vec<String> = admin.iter().flat_map(|(_, t)| references(t)).collect();
        wanted.extend(self.shop.templates.keys().filter(|name| name.starts_with("partials/")).cloned());
        let mut shared: Vec<(String, Template)> = Vec::new();
        while let Some(name) = wanted.pop() {
            if shared.iter().any(|(have, _)| *have == name) {
                continue;
            }
            if let Some(template) = self.shop.templates.get(&name) {
                wanted.extend(references(template));
                shared.push((name, template.clone()));
            }
        }
        shared
    }
}

/// Reads and parses `files`. Tera's parser is most of a start-up's work (~17 ms for 150 KB): two
/// threads take the next file, largest first, until none is left.
fn parse_all(mut files: Vec<(String, PathBuf)>) -> anyhow::Result<Vec<(String, Template)>> {
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
    Ok(mine?.into_iter().chain(theirs?).collect())
}

/// One Tera of these parsed templates: inheritance chains built, macros checked, escaping set.
fn assemble(templates: Vec<(String, Template)>, static_hashes: &StaticHashes) -> anyhow::Result<Tera> {
    let mut tera = Tera::default();
    tera.templates.extend(templates);
    tera.build_inheritance_chains()?;
    tera.check_macro_files()?;
    tera.autoescape_on(vec![".html", ".xml", ".svg"]);
    tera.set_escape_fn(escape_markup);
    super::static_files::register(&mut tera, static_hashes.clone());
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
            ("catalog/home.html", "{% extends \"base.html\" %}{% block title %}Home{% endblock %}"),
        ];
        // Enough pages that both threads parse some.
        let pages: Vec<(String, String)> = (0..40)
            .map(|i| {
                (format!("admin/page{i}.html"), format!("{{% extends \"admin/layout.html\" %}}{{% import \"partials/forms.html\" as forms %}}{{% block title %}}Page {i}{{% endblock %}}{{% block main %}}{{{{ forms::field(name=\"n{i}\") }}}} {{{{ who }}}}{{% endblock %}}"))
            })
            .collect();
        files.extend(pages.iter().map(|(n, t)| (n.as_str(), t.as_str())));
        let site = site_with(&files);
        let templates = load(&site).expect("loaded");
        let admin = templates.admin().expect("the admin's parsed");
        assert_eq!(
            admin.get_template_names().count(),
            43,
            "the admin's 41, the base and the partial they reach; not the swap file, not the shop's page"
        );
        let home = templates.render("catalog/home.html", &tera::Context::new()).expect("the shop's page");
        assert_eq!(home, "<title>Home</title>");
        let mut context = tera::Context::new();
        context.insert("who", "<Tom & Jerry's>");
        for i in [0, 17, 39] {
            let html = templates.render(&format!("admin/page{i}.html"), &context).expect("rendered");
            assert_eq!(
                html,
                format!("<title>Page {i}</title><nav>staff</nav><input name=\"n{i}\"> &lt;Tom &amp; Jerry&#x27;s&gt;")
            );
        }
        let _ = std::fs::remove_dir_all(site);
    }

    fn load(site: &std::path::Path) -> anyhow::Result<super::Templates> {
        super::Templates::new(super::load_templates(site)?, Default::default())
    }

    #[test]
    fn a_broken_shop_template_stops_loading_and_says_which_file() {
        let site = site_with(&[("base.html", "ok"), ("catalog/home.html", "{% for x in %}")]);
        let error = format!("{:#}", load(&site).err().expect("refused"));
        assert!(error.contains("catalog/home.html") && error.contains("parsing"), "{error}");
        let site_missing_parent = site_with(&[("child.html", "{% extends \"nowhere.html\" %}")]);
        let error = format!("{:#}", load(&site_missing_parent).err().expect("refused"));
        assert!(error.contains("nowhere.html"), "{error}");
        let _ = std::fs::remove_dir_all(site);
        let _ = std::fs::remove_dir_all(site_missing_parent);
    }

    #[test]
    fn a_broken_admin_template_fails_the_admins_pages_only() {
        let site = site_with(&[
            ("base.html", "shop {% block body %}{% endblock %}"),
            ("admin/layout.html", "{% extends \"base.html\" %}{% block body %}staff{% endblock %}"),
            ("admin/orders.html", "{% for x in %}"),
        ]);
        let templates = load(&site).expect("the shop opens");
        assert_eq!(templates.render("base.html", &tera::Context::new()).expect("a shop page"), "shop ");
        for _ in 0..2 {
            let error =
                format!("{:#}", templates.render("admin/layout.html", &tera::Context::new()).expect_err("no admin"));
            assert!(error.contains("admin/orders.html") && error.contains("parsing"), "{error}");
        }
        let _ = std::fs::remove_dir_all(site);
    }

    #[test]
    fn markup_is_escaped_but_urls_stay_readable() {
        assert_eq!(
            super::escape_markup(r#"<a href="x">Tom & Jerry's</a> https://shop.example/issues/sw"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#x27;s&lt;/a&gt; https://shop.example/issues/sw"
        );
    }
}
