//! Markdown that staff write (policy pages, offer pages), rendered with pulldown-cmark and
//! sanitised with ammonia, so a page can never carry a script.

/// Markdown as HTML safe to put in a page: whatever staff type (raw HTML included) comes out
/// without scripts, event handlers, styles or frames.
pub fn to_html(markdown: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
    let mut unsafe_html = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut unsafe_html, parser);
    ammonia::clean(&unsafe_html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_scripts_are_dropped() {
        let html = to_html(
            "## Refunds\n\nWithin **14 days**: [write to us](/contact).\n\n<script>alert(1)</script>\n\
             <a href=\"javascript:alert(2)\" onclick=\"alert(3)\">x</a><img src=x onerror=alert(4)>",
        );
        assert!(html.contains("<h2>Refunds</h2>") && html.contains("<strong>14 days</strong>"), "{html}");
        assert!(html.contains(r#"<a href="/contact""#), "{html}");
        for bad in ["<script", "javascript:", "onclick", "onerror", "alert(1)"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }
}
