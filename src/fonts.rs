//! The font the shop's PDFs are set in: DejaVu Sans (Latin, Greek, Cyrillic and more; its licence
//! is beside it in `static/fonts`).

pub const DEJAVU_SANS: &[u8] = include_bytes!("../static/fonts/DejaVuSans.ttf");
