//! The font the shop's PDFs are set in: DejaVu Sans (Latin, Greek, Cyrillic and more; its licence
//! is beside it in `static/fonts`), and the one way they set a line of it.

use printpdf::{FontId, Mm, Op, ParsedFont, PdfFontHandle, Point, Pt, TextItem};

pub const DEJAVU_SANS: &[u8] = include_bytes!("../static/fonts/DejaVuSans.ttf");

/// DejaVu Sans, parsed for printpdf.
pub fn dejavu_sans() -> anyhow::Result<ParsedFont> {
    ParsedFont::from_bytes(DEJAVU_SANS, 0, &mut Vec::new())
        .ok_or_else(|| anyhow::anyhow!("the PDF font cannot be read"))
}

/// One line of `text` in `font` at `size` points, its baseline starting at (`left`, `baseline`) mm.
pub fn text_line(ops: &mut Vec<Op>, font: &FontId, text: String, size: f32, left: f32, baseline: f32) {
    ops.push(Op::StartTextSection);
    ops.push(Op::SetFont { font: PdfFontHandle::External(font.clone()), size: Pt(size) });
    ops.push(Op::SetTextCursor { pos: Point::new(Mm(left), Mm(baseline)) });
    ops.push(Op::ShowText { items: vec![TextItem::Text(text)] });
    ops.push(Op::EndTextSection);
}
