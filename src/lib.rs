//! masthead: a self-hosted storefront for periodical publishers.

pub mod app;
pub mod catalog;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod money;
