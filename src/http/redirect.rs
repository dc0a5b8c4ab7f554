//! Every `Location` the shop sends is built here, from a path judged by one rule: a path on this
//! shop (a single leading `/`, no scheme, no backslash, no control character), so no redirect can
//! leave the shop or break its header (`%0d%0a` in a `next=` parameter arrives decoded).

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

/// A path on this shop, safe to send in a `Location` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    pub fn parse(text: &str) -> Option<LocalPath> {
        let local = text.starts_with('/') && !text.starts_with("//") && !text.contains("://");
        let clean = !text.contains('\\') && !text.chars().any(char::is_control) && text.len() <= 2048;
        (local && clean && HeaderValue::from_str(text).is_ok()).then(|| LocalPath(text.to_string()))
    }

    /// Where to go after signing in to the admin: an admin page, or the dashboard.
    pub fn admin_next(next: &str) -> LocalPath {
        LocalPath::parse(next)
            .filter(|p| p.0 == "/admin" || p.0.starts_with("/admin/") || p.0.starts_with("/admin?"))
            .unwrap_or_else(|| LocalPath("/admin".into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 303 See Other to a path of the shop's. A path that breaks the rule (only a bug of the shop's
/// own can make one) goes to the home page instead, never a 500.
pub fn to(path: &str) -> Response {
    let target = LocalPath::parse(path).unwrap_or_else(|| {
        tracing::error!("refused to redirect to a path that is not the shop's own");
        LocalPath("/".into())
    });
    see_other(&target)
}

/// 303 See Other to the payment provider's page (or the shop's own test-payment page, given as an
/// absolute URL): an `https://` or `http://` URL without control characters, as the provider gave it.
pub fn to_payment_page(url: &str) -> Response {
    let absolute = url.starts_with("https://") || url.starts_with("http://");
    match HeaderValue::from_str(url) {
        Ok(value) if absolute && !url.chars().any(char::is_control) => see_other_to(value),
        _ => {
            tracing::error!("refused to redirect to a payment page that is not an http(s) URL");
            to("/cart")
        }
    }
}

pub fn see_other(target: &LocalPath) -> Response {
    match HeaderValue::from_str(target.as_str()) {
        Ok(value) => see_other_to(value),
        // `LocalPath::parse` already checked it makes a header value.
        Err(_) => StatusCode::SEE_OTHER.into_response(),
    }
}

fn see_other_to(location: HeaderValue) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_shop_without_control_characters_pass() {
        assert!(LocalPath::parse("/admin/orders?q=a%20b").is_some());
        for bad in
            ["//evil.example", "https://evil.example", "/admin\r\nSet-Cookie: x=1", "/admin\0", "/a\\b", "admin", "/\t"]
        {
            assert_eq!(LocalPath::parse(bad), None, "{bad:?}");
        }
        assert_eq!(LocalPath::admin_next("/admin\r\nX: y").as_str(), "/admin");
        assert_eq!(LocalPath::admin_next("/cart").as_str(), "/admin");
        assert_eq!(LocalPath::admin_next("/administrator").as_str(), "/admin");
        assert_eq!(LocalPath::admin_next("/admin/coupons").as_str(), "/admin/coupons");
    }
}
