//! The printable gift card a buyer hands over when the shop is not to tell the recipient: one A5
//! landscape page (folds into a card, prints on A4 or Letter at "fit to page").

use printpdf::{Mm, Op, PdfDocument, PdfPage, PdfSaveOptions};

use super::GiftWords;

const PAGE: (f32, f32) = (210.0, 148.0);
const MARGIN: f32 = 16.0;
/// Characters a line of the message holds at the body size (DejaVu Sans at 11 pt on this page).
const WRAP: usize = 78;
const MESSAGE_LINES: usize = 8;

/// The card as a PDF.
pub fn gift_card_pdf(words: &GiftWords<'_>) -> anyhow::Result<Vec<u8>> {
    let mut doc = PdfDocument::new(&format!("A gift for {}", words.recipient_name));
    let font = doc.add_font(&crate::fonts::dejavu_sans()?);
    let mut ops = Vec::new();
    let mut top = PAGE.1 - MARGIN;
    let write = |ops: &mut Vec<Op>, text: &str, size: f32, top: &mut f32| {
        *top -= size * 0.3528 * 1.35;
        crate::fonts::text_line(ops, &font, text.to_string(), size, MARGIN, *top);
    };
    write(&mut ops, words.shop_name, 10.0, &mut top);
    top -= 4.0;
    write(&mut ops, &format!("A gift for {}", words.recipient_name), 22.0, &mut top);
    top -= 3.0;
    write(&mut ops, &format!("from {}", words.from_name), 13.0, &mut top);
    top -= 5.0;
    write(&mut ops, words.title, 12.0, &mut top);
    write(
        &mut ops,
        &format!("From the {} issue to the {} issue.", words.first_issue, words.last_issue),
        11.0,
        &mut top,
    );
    if let Some(message) = words.message {
        top -= 4.0;
        for line in wrap(message).into_iter().take(MESSAGE_LINES) {
            write(&mut ops, &line, 11.0, &mut top);
        }
    }
    top -= 4.0;
    let how = if words.digital {
        format!(
            "Each issue is a PDF: sign in at {} with your email address to download it.",
            words.sign_in_url.as_deref().unwrap_or("our website")
        )
    } else {
        "The copies come by post. Paid in full: nothing renews by itself.".to_string()
    };
    for line in wrap(&how) {
        write(&mut ops, &line, 9.0, &mut top);
    }
    let page = PdfPage::new(Mm(PAGE.0), Mm(PAGE.1), ops);
    Ok(doc.with_pages(vec![page]).save(&PdfSaveOptions::default(), &mut Vec::new()))
}

/// The text in lines of at most `WRAP` characters, broken between words (a word longer than a
/// line is cut).
fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let word: String = word.chars().take(WRAP).collect();
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WRAP {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_is_a_pdf_and_long_messages_wrap() {
        let message = "Happy birthday! ".repeat(20);
        let words = GiftWords {
            recipient_name: "Bo Reader",
            from_name: "Ada Giver",
            title: "International Socialist Review, print edition, 1 year",
            first_issue: "March 2027".into(),
            last_issue: "December 2027".into(),
            message: Some(message.trim()),
            digital: false,
            sign_in_url: None,
            shop_name: "Socialist Worker Subscriptions",
        };
        let pdf = gift_card_pdf(&words).expect("a card");
        assert!(pdf.starts_with(b"%PDF"));
        let doc = lopdf::Document::load_mem(&pdf).expect("a readable PDF");
        assert_eq!(doc.get_pages().len(), 1);
        let lines = wrap(&"word ".repeat(40));
        assert!(lines.len() > 1 && lines.iter().all(|l| l.chars().count() <= WRAP), "{lines:?}");
    }
}
