//! Black-box tests: the real shop over HTTP, on SQLite and on PostgreSQL.

mod support;

mod catalog;
mod operations;
