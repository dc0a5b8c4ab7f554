//! Black-box tests: the real shop over HTTP, on SQLite and on PostgreSQL.

mod support;

mod accessibility;
mod account;
mod addresses;
mod admin;
mod backup;
mod branches;
mod cart;
mod catalog;
mod checkout;
mod deployment;
mod digital;
mod donations;
mod email;
mod erasure;
mod faults;
mod gifts;
mod health;
mod import;
mod journey;
mod media_storage;
mod offers;
mod operations;
mod page_cache;
mod policies;
mod postage;
mod print_run;
mod races;
mod rates;
mod reminders;
mod reports;
mod staff_orders;
mod storefront;
mod stripe;
mod transfer;
