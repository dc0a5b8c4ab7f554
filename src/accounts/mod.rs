//! Reader accounts: signing in by a link sent to the reader's email (`sign_in.rs`, no passwords)
//! and what a signed-in reader sees of their subscriptions and orders (`overview.rs`). A reader is
//! their normalised email address: the `readers` row that checkout creates.

mod digital;
mod erasure;
mod export;
mod overview;
mod sign_in;
mod stamp;

pub use digital::{pdf_access, stamp_line, PdfAccess};
pub use erasure::{erase, warning as erasure_warning, Erased, ErasureWarning, ERASED_NAME};
pub use export::{export, export_for_staff, ReaderData};
pub use overview::{
    can_renew, latest_order_of_cart, overview, overview_of_order, AccountOrder, AccountSubscription, Overview,
};
pub use sign_in::{link_is_usable, request_link, sign_in, LINK_LIFETIME_SECS, SIGN_IN_LINKS};
pub use stamp::{StampPlan, StampPlans};
