//! A router that remembers the method and path of each of its routes, so tests can walk them:
//! every API route must be in the OpenAPI document, every admin route must refuse strangers.

use axum::{
    handler::Handler,
    routing::{delete, get, patch, post, put},
    Router,
};

use super::AppState;

pub struct RecordingRouter {
    pub router: Router<AppState>,
    prefix: &'static str,
    /// (method, full path as OpenAPI writes it: `/api/v1/cart/items/{sku}`).
    pub routes: Vec<(&'static str, String)>,
}

macro_rules! recorded_method {
    ($name:ident, $method:literal) => {
        pub fn $name<H, T>(mut self, path: &str, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.router = self.router.route(path, $name(handler));
            // A nested "/" is the prefix itself (`/admin`, not `/admin/`).
            let full = if path == "/" { self.prefix.to_string() } else { format!("{}{path}", self.prefix) };
            self.routes.push(($method, full));
            self
        }
    };
}

impl RecordingRouter {
    /// Routes that will be nested under `prefix`.
    pub fn new(prefix: &'static str) -> RecordingRouter {
        RecordingRouter { router: Router::new(), prefix, routes: Vec::new() }
    }

    recorded_method!(get, "GET");
    recorded_method!(post, "POST");
    recorded_method!(patch, "PATCH");
    recorded_method!(delete, "DELETE");
    recorded_method!(put, "PUT");
}
