//! masthead: a self-hosted storefront for periodical publishers.

pub mod accounts;
pub mod address;
pub mod app;
pub mod attempts;
pub mod audit;
pub mod branches;
pub mod cart;
pub mod catalog;
pub mod cli;
pub mod client_address;
pub mod clock;
pub mod config;
pub mod coupons;
pub mod db;
pub mod email;
pub mod error;
pub mod http;
pub mod money;
pub mod orders;
pub mod payments;
pub mod policies;
pub mod postage;
pub mod sample_data;
pub mod settings;
pub mod staff;
pub mod storage;
