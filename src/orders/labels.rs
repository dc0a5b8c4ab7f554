//! Mailing labels for a print run, as a PDF of label sheets: Avery 5160 (US Letter, 30 a sheet)
//! or L7160 (A4, 21 a sheet). Sorted by country, then postal code. A subscription's last issue
//! says so on its label. Each address is set in DejaVu Sans (Latin, Greek, Cyrillic and more) at
//! the largest size at which every line fits its label; an address that would not fit even at
//! the smallest size is reported, never cut silently.

use printpdf::{Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, TextItem};
use serde::Serialize;

use super::mailing_list::MailingEntry;

const LARGEST_PT: f32 = 10.0;
const SMALLEST_PT: f32 = 5.0;
const LINE_SPACING: f32 = 1.2;
const PADDING_MM: f32 = 3.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LabelSheet {
    /// US Letter, 3 across and 10 down, 2⅝ × 1 inch.
    Avery5160,
    /// A4, 3 across and 7 down, 63.5 × 38.1 mm.
    L7160,
}

/// A sheet's geometry in millimetres.
struct Geometry {
    page: (f32, f32),
    columns: usize,
    rows: usize,
    label: (f32, f32),
    /// The top-left label's top-left corner, from the page's top-left.
    origin: (f32, f32),
    /// From one label's corner to the next one's.
    pitch: (f32, f32),
}

const INCH: f32 = 25.4;

impl LabelSheet {
    pub fn parse(text: &str) -> Option<LabelSheet> {
        match text {
            "avery-5160" => Some(LabelSheet::Avery5160),
            "l7160" => Some(LabelSheet::L7160),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LabelSheet::Avery5160 => "avery-5160",
            LabelSheet::L7160 => "l7160",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            LabelSheet::Avery5160 => "Avery 5160 (US Letter, 30 labels a sheet)",
            LabelSheet::L7160 => "Avery L7160 (A4, 21 labels a sheet)",
        }
    }

    pub fn per_sheet(self) -> usize {
        let g = self.geometry();
        g.columns * g.rows
    }

    fn geometry(self) -> Geometry {
        match self {
            LabelSheet::Avery5160 => Geometry {
                page: (8.5 * INCH, 11.0 * INCH),
                columns: 3,
                rows: 10,
                label: (2.625 * INCH, 1.0 * INCH),
                origin: (0.1875 * INCH, 0.5 * INCH),
                pitch: (2.75 * INCH, 1.0 * INCH),
            },
            LabelSheet::L7160 => Geometry {
                page: (210.0, 297.0),
                columns: 3,
                rows: 7,
                label: (63.5, 38.1),
                origin: (7.2, 15.15),
                pitch: (66.04, 38.1),
            },
        }
    }
}

/// One label: the address lines, and a mark above them when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub mark: Option<String>,
    pub lines: Vec<String>,
}

/// The labels of a print run's entries for the issue of `period` (a publication with an issue
/// every `step` months), sorted by country, then postal code, then name.
pub fn labels_for(entries: &[MailingEntry], period: i64, step: i64) -> Vec<Label> {
    let mut sorted: Vec<&MailingEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        (a.country.as_deref(), a.postal_code.as_deref(), &a.name).cmp(&(
            b.country.as_deref(),
            b.postal_code.as_deref(),
            &b.name,
        ))
    });
    sorted
        .into_iter()
        .map(|e| {
            let mut lines = vec![e.name.clone()];
            if e.copies > 1 {
                lines[0] = format!("{} ({} copies)", e.name, e.copies);
            }
            lines.extend(e.line1.clone());
            lines.extend(e.line2.clone());
            let place = [e.city.as_deref(), e.region.as_deref(), e.postal_code.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            lines.push(place);
            if let Some(country) = &e.country {
                lines.push(crate::postage::country_name(country).to_uppercase());
            }
            Label { mark: e.mark(period, step).map(str::to_string), lines }
        })
        .collect()
}

/// Measures text in the label font.
struct Measure {
    font: ParsedFont,
}

impl Measure {
    fn new() -> anyhow::Result<Measure> {
        Ok(Measure { font: crate::fonts::dejavu_sans()? })
    }

    /// Width in millimetres of `text` at `size` points.
    fn width_mm(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text
            .chars()
            .map(|c| {
                let glyph = self.font.lookup_glyph_index(c as u32).unwrap_or(0);
                u32::from(self.font.get_glyph_width(glyph).unwrap_or(self.font.units_per_em / 2))
            })
            .sum();
        let points = units as f32 / f32::from(self.font.units_per_em.max(1)) * size;
        points * INCH / 72.0
    }

    /// The largest size (in half points) at which every line fits the label; none when even the
    /// smallest does not.
    fn fitting_size(&self, label: &Label, sheet: LabelSheet) -> Option<f32> {
        let g = sheet.geometry();
        let (width, height) = (g.label.0 - 2.0 * PADDING_MM, g.label.1 - 2.0 * PADDING_MM);
        let count = label.lines.len() + usize::from(label.mark.is_some());
        let mut size = LARGEST_PT;
        while size >= SMALLEST_PT {
            let tall = count as f32 * size * LINE_SPACING * INCH / 72.0;
            let wide = label.lines.iter().chain(&label.mark).all(|line| self.width_mm(line, size) <= width);
            if tall <= height && wide {
                return Some(size);
            }
            size -= 0.5;
        }
        None
    }
}

/// The labels whose address does not fit even at the smallest size: their first line, to show
/// staff before they print.
pub fn too_long(labels: &[Label], sheet: LabelSheet) -> anyhow::Result<Vec<String>> {
    let measure = Measure::new()?;
    Ok(labels
        .iter()
        .filter(|l| measure.fitting_size(l, sheet).is_none())
        .map(|l| l.lines.first().cloned().unwrap_or_default())
        .collect())
}

/// The sheets as a PDF. An address too long for its label is set at the smallest size and runs
/// past it (`too_long` names those beforehand).
pub fn labels_pdf(labels: &[Label], sheet: LabelSheet, title: &str) -> anyhow::Result<Vec<u8>> {
    let measure = Measure::new()?;
    let mut doc = PdfDocument::new(title);
    let font = doc.add_font(&measure.font);
    let g = sheet.geometry();
    let pages = labels
        .chunks(sheet.per_sheet())
        .map(|sheet_labels| {
            let mut ops = Vec::new();
            for (index, label) in sheet_labels.iter().enumerate() {
                let (column, row) = (index % g.columns, index / g.columns);
                let size = measure.fitting_size(label, sheet).unwrap_or(SMALLEST_PT);
                let left = g.origin.0 + column as f32 * g.pitch.0 + PADDING_MM;
                let top = g.page.1 - (g.origin.1 + row as f32 * g.pitch.1 + PADDING_MM);
                ops.push(Op::StartTextSection);
                ops.push(Op::SetFont { font: PdfFontHandle::External(font.clone()), size: Pt(size) });
                ops.push(Op::SetLineHeight { lh: Pt(size * LINE_SPACING) });
                // The first baseline sits one font size below the label's padded top.
                ops.push(Op::SetTextCursor { pos: Point::new(Mm(left), Mm(top - size * INCH / 72.0)) });
                for (n, line) in label.mark.iter().chain(&label.lines).enumerate() {
                    if n > 0 {
                        ops.push(Op::AddLineBreak);
                    }
                    ops.push(Op::ShowText { items: vec![TextItem::Text(line.clone())] });
                }
                ops.push(Op::EndTextSection);
            }
            PdfPage::new(Mm(g.page.0), Mm(g.page.1), ops)
        })
        .collect();
    Ok(doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(lines: &[&str]) -> Label {
        Label { mark: None, lines: lines.iter().map(|l| l.to_string()).collect() }
    }

    #[test]
    fn a_long_address_is_shrunk_and_one_too_long_is_named() {
        let measure = Measure::new().expect("the font");
        let short = label(&["Ada Reader", "1 Main St", "Chicago IL 60601", "UNITED STATES OF AMERICA"]);
        assert_eq!(
            measure.fitting_size(&short, LabelSheet::Avery5160),
            Some(LARGEST_PT),
            "a usual address at full size"
        );
        let long =
            label(&["Ada Reader", "Apartment 1234, The Very Long Building Name On The Corner", "Chicago IL 60601"]);
        let size = measure.fitting_size(&long, LabelSheet::Avery5160).expect("fits when shrunk");
        assert!(size < 8.0, "{size}");
        let endless = label(&["Ada Reader", &"Very Long Street Name ".repeat(8)]);
        assert_eq!(measure.fitting_size(&endless, LabelSheet::Avery5160), None);
        let named = too_long(&[short, endless], LabelSheet::Avery5160).expect("measured");
        assert_eq!(named, ["Ada Reader"]);
    }

    #[test]
    fn sheets_hold_30_or_21_labels() {
        assert_eq!(LabelSheet::Avery5160.per_sheet(), 30);
        assert_eq!(LabelSheet::L7160.per_sheet(), 21);
        for sheet in [LabelSheet::Avery5160, LabelSheet::L7160] {
            let g = sheet.geometry();
            // The last column and row end inside the page.
            assert!(g.origin.0 + (g.columns - 1) as f32 * g.pitch.0 + g.label.0 <= g.page.0);
            assert!(g.origin.1 + (g.rows - 1) as f32 * g.pitch.1 + g.label.1 <= g.page.1 + 0.01);
            assert_eq!(LabelSheet::parse(sheet.as_str()), Some(sheet));
        }
    }
}
