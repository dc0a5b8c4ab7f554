// The migrations are compiled into the binary (`sqlx::migrate!`): without this, adding a migration
// file does not make Cargo build the shop again, and the new migration is silently left out.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
