//! A subscriber's copy of an issue's PDF: the publisher's file byte for byte, followed by an
//! incremental update (ISO 32000-1, 7.5.6) that writes a line naming the reader at the foot of
//! every page.
//!
//! The update is the same for every reader but that line, so it is prepared once per file (a
//! `StampPlan`, made with lopdf) with a slot of fixed size for the line's content stream: nothing
//! after the slot moves whatever the line, so no offset in the update depends on it. A download is
//! then the stored file streamed as it is and the plan's few kilobytes with the slot filled: the
//! file is parsed once, not at every download, and never held whole in memory to be sent.

use std::{collections::VecDeque, future::Future, sync::Arc, sync::Mutex};

use lopdf::{
    content::{Content, Operation},
    dictionary, Document, IncrementalDocument, Object, Stream,
};

use crate::error::{Error, Result};

/// The bytes kept for the line's content stream; a longer line is shortened to fit.
const SLOT_LEN: usize = 1024;
/// How the empty slot begins (a comment, should it ever be read), to find it in the update.
const SLOT_MARK: &[u8] = b"%masthead-stamp-slot";
/// Plans kept: the issues being downloaded now (each a few hundred bytes a page).
const KEPT_PLANS: usize = 16;
/// Files prepared at once: each is held whole and parsed while it is, so a rush of first
/// downloads queues here instead of growing the process by a file's size for every one.
const PREPARED_AT_ONCE: usize = 2;

/// The update a PDF takes to be stamped, with the line left out.
#[derive(Debug)]
pub struct StampPlan {
    /// The size of the file it follows.
    original_len: u64,
    /// What follows the file, the slot blank.
    update: Vec<u8>,
    /// Where the line's content stream goes in `update`.
    slot: usize,
}

impl StampPlan {
    /// Plans the stamp of `pdf`. Fails for a file lopdf cannot read, an encrypted one, or one whose
    /// cross-reference table had to be rebuilt (an update needs to say where the last one is).
    pub fn prepare(pdf: Vec<u8>) -> anyhow::Result<StampPlan> {
        let original_len = pdf.len();
        let previous = Document::load_mem(&pdf)?;
        anyhow::ensure!(!previous.is_encrypted(), "the PDF is encrypted");
        anyhow::ensure!(previous.xref_start != 0, "the PDF's cross-reference table is broken");
        let mut doc = IncrementalDocument::create_from(pdf, previous);
        let font = doc.new_document.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
        });
        let open = doc.new_document.add_object(Stream::new(dictionary! {}, b"q\n".to_vec()));
        let mut blank = SLOT_MARK.to_vec();
        blank.resize(SLOT_LEN, b' ');
        let stamp = doc.new_document.add_object(Stream::new(dictionary! {}, blank.clone()));
        let pages: Vec<_> = doc.get_prev_documents().get_pages().into_values().collect();
        for page in pages {
            // The page's own resources (or a copy of those it inherits) gain the stamp's font.
            let resources = doc.get_or_create_resources(page)?.as_dict_mut()?;
            let fonts_elsewhere = match resources.get(b"Font").ok().cloned() {
                Some(Object::Reference(id)) => Some(id),
                Some(Object::Dictionary(mut fonts)) => {
                    fonts.set("MastheadStamp", font);
                    resources.set("Font", fonts);
                    None
                }
                _ => {
                    resources.set("Font", dictionary! { "MastheadStamp" => font });
                    None
                }
            };
            if let Some(id) = fonts_elsewhere {
                doc.opt_clone_object_to_new_document(id)?;
                doc.new_document.get_object_mut(id)?.as_dict_mut()?.set("MastheadStamp", font);
            }
            // The page's own content is left as it is (never decoded): it is wrapped in q ... Q, so
            // whatever state it leaves cannot move the stamp, and the stamp comes after it in a
            // stream of its own.
            let mut contents = match doc.new_document.get_dictionary(page)?.get(b"Contents") {
                Ok(Object::Array(streams)) => streams.clone(),
                // One stream, or an array kept as an object of its own.
                Ok(Object::Reference(id)) => match doc.get_prev_documents().get_object(*id) {
                    Ok(Object::Array(streams)) => streams.clone(),
                    _ => vec![Object::Reference(*id)],
                },
                _ => Vec::new(),
            };
            contents.insert(0, Object::Reference(open));
            contents.push(Object::Reference(stamp));
            doc.new_document.get_object_mut(page)?.as_dict_mut()?.set("Contents", contents);
        }
        let mut update = After { skip: original_len, kept: Vec::new() };
        doc.save_to(&mut update)?;
        let update = update.kept;
        let slot =
            find_once(&update, &blank).ok_or_else(|| anyhow::anyhow!("the stamp's slot is not in the update"))?;
        Ok(StampPlan { original_len: original_len as u64, update, slot })
    }

    /// The size of the file the update follows.
    pub fn original_len(&self) -> u64 {
        self.original_len
    }

    /// What follows the file in the copy stamped with `line`.
    pub fn update_for(&self, line: &str) -> Vec<u8> {
        let mut update = self.update.clone();
        update[self.slot..self.slot + SLOT_LEN].copy_from_slice(&stamp_stream(line));
        update
    }
}

/// The content stream writing `line` at the foot of a page, padded to the slot's size.
fn stamp_stream(line: &str) -> Vec<u8> {
    // WinAnsi is Latin-1 for the letters names use; anything else prints as "?".
    let mut text: Vec<u8> =
        line.chars().take(SLOT_LEN / 2).map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
    loop {
        let content = Content {
            operations: vec![
                Operation::new("Q", vec![]),
                Operation::new("q", vec![]),
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["MastheadStamp".into(), 7.into()]),
                Operation::new("Td", vec![18.into(), 8.into()]),
                Operation::new("Tj", vec![Object::string_literal(text.clone())]),
                Operation::new("ET", vec![]),
                Operation::new("Q", vec![]),
            ],
        };
        // Encoding operators and a string never fails; were it to, the page keeps its own state.
        let mut encoded = content.encode().unwrap_or_else(|_| b"Q q Q".to_vec());
        if encoded.len() <= SLOT_LEN {
            encoded.resize(SLOT_LEN, b' ');
            return encoded;
        }
        // Escapes can make a string longer than its letters: shorten until it fits.
        text.truncate(text.len().saturating_sub(16));
    }
}

/// Where `needle` is in `haystack`, if it is there exactly once.
fn find_once(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut found = haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(at, _)| at);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// A writer that drops the first `skip` bytes (the original file, which lopdf writes first).
struct After {
    skip: usize,
    kept: Vec<u8>,
}

impl std::io::Write for After {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let skipped = bytes.len().min(self.skip);
        self.skip -= skipped;
        self.kept.extend_from_slice(&bytes[skipped..]);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The plans of the PDFs downloaded lately, by storage key (what a key names never changes: an
/// upload's key has a random part).
#[derive(Debug)]
pub struct StampPlans {
    kept: Mutex<VecDeque<(String, Arc<StampPlan>)>>,
    preparing: tokio::sync::Semaphore,
}

impl Default for StampPlans {
    fn default() -> Self {
        StampPlans { kept: Mutex::default(), preparing: tokio::sync::Semaphore::new(PREPARED_AT_ONCE) }
    }
}

impl StampPlans {
    /// The plan of the file under `key`, prepared from what `read` gives if none is kept.
    pub async fn plan_for<Read>(&self, key: &str, read: impl FnOnce() -> Read) -> Result<Arc<StampPlan>>
    where
        Read: Future<Output = Result<Vec<u8>>>,
    {
        if let Some(plan) = self.kept(key) {
            return Ok(plan);
        }
        let _turn = self.preparing.acquire().await.map_err(|e| Error::Internal(e.into()))?;
        // Another download may have prepared it while this one waited.
        if let Some(plan) = self.kept(key) {
            return Ok(plan);
        }
        let pdf = read().await?;
        let plan = tokio::task::spawn_blocking(move || StampPlan::prepare(pdf))
            .await
            .map_err(|e| Error::Internal(e.into()))?
            .map_err(|e| Error::Internal(e.context(format!("preparing the stamp of the PDF {key}"))))?;
        let plan = Arc::new(plan);
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= KEPT_PLANS {
                kept.pop_front();
            }
            kept.push_back((key.to_owned(), plan.clone()));
        }
        Ok(plan)
    }

    fn kept(&self, key: &str) -> Option<Arc<StampPlan>> {
        let kept = self.kept.lock().ok()?;
        kept.iter().find(|(k, _)| k == key).map(|(_, plan)| plan.clone())
    }
}

#[cfg(test)]
mod tests {
    use lopdf::{content::Content, dictionary, Document, Object, Stream};

    use super::StampPlan;

    fn stamped(pdf: &[u8], line: &str) -> Vec<u8> {
        let plan = StampPlan::prepare(pdf.to_vec()).expect("a plan");
        [pdf, &plan.update_for(line)].concat()
    }

    /// Two pages: one whose content scales everything and never restores it, one whose content is
    /// an array of two streams kept as an object of its own; the second inherits its resources.
    fn awkward_doc() -> Document {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Times-Roman" });
        let stream =
            |doc: &mut Document, ops: &str| doc.add_object(Stream::new(dictionary! {}, ops.as_bytes().to_vec()));
        let scaled = stream(&mut doc, "4 0 0 4 0 0 cm BT /F1 12 Tf 10 10 Td (Scaled) Tj ET");
        let first = stream(&mut doc, "BT /F1 12 Tf 72 700 Td (First half) Tj ET");
        let second = stream(&mut doc, "BT /F1 12 Tf 72 600 Td (Second half) Tj ET");
        let array = doc.add_object(Object::Array(vec![first.into(), second.into()]));
        let own_resources = dictionary! { "Font" => dictionary! { "F1" => font } };
        let mut kids = Vec::new();
        for (contents, resources) in [(scaled, Some(own_resources.clone())), (array, None)] {
            let mut page = dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => contents };
            if let Some(resources) = resources {
                page.set("Resources", resources);
            }
            kids.push(Object::from(doc.add_object(page)));
        }
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => 2, "Resources" => own_resources,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        doc
    }

    fn awkward_pdf() -> Vec<u8> {
        let mut bytes = Vec::new();
        awkward_doc().save_to(&mut bytes).expect("saved");
        bytes
    }

    /// Each page's content streams, decoded to text.
    fn contents_of(doc: &Document, page: lopdf::ObjectId) -> Vec<String> {
        doc.get_page_contents(page)
            .iter()
            .map(|id| {
                let stream = doc.get_object(*id).and_then(Object::as_stream).expect("a stream");
                String::from_utf8_lossy(&stream.content).into_owned()
            })
            .collect()
    }

    fn assert_stamped(stamped: &[u8], line: &str) {
        let doc = Document::load_mem(stamped).expect("a readable PDF");
        assert_eq!(doc.get_pages().len(), 2);
        for (number, page) in doc.get_pages() {
            let decoded = contents_of(&doc, page);
            // First a save of the state, last the stamp after restoring it; the page's own streams
            // in between, byte for byte.
            assert_eq!(decoded.first().map(|s| s.trim()), Some("q"), "page {number}: {decoded:?}");
            let stamp = Content::decode(decoded.last().expect("a stamp").as_bytes()).expect("the stamp's operations");
            let operators: Vec<&str> = stamp.operations.iter().map(|o| o.operator.as_str()).collect();
            assert_eq!(operators, ["Q", "q", "BT", "Tf", "Td", "Tj", "ET", "Q"], "page {number}");
            let own = &decoded[1..decoded.len() - 1];
            match number {
                1 => assert_eq!(own, ["4 0 0 4 0 0 cm BT /F1 12 Tf 10 10 Td (Scaled) Tj ET"]),
                _ => assert_eq!(
                    own,
                    ["BT /F1 12 Tf 72 700 Td (First half) Tj ET", "BT /F1 12 Tf 72 600 Td (Second half) Tj ET"]
                ),
            }
            let text = doc.extract_text(&[number]).expect("its text");
            assert!(text.contains(line), "page {number}: {text}");
            // The page's own font is still there beside the stamp's.
            let fonts = doc.get_page_fonts(page).expect("its fonts");
            assert!(
                fonts.contains_key(b"F1".as_slice()) && fonts.contains_key(b"MastheadStamp".as_slice()),
                "page {number}"
            );
        }
    }

    #[test]
    fn the_stamp_follows_each_pages_own_content_untouched_and_undoes_its_state() {
        let original = awkward_pdf();
        let copy = stamped(&original, "Downloaded by Ada Reader (order 1234abcd)");
        assert!(copy.starts_with(&original), "the publisher's file comes first, byte for byte");
        assert_stamped(&copy, "Downloaded by Ada Reader (order 1234abcd)");
    }

    #[test]
    fn a_file_with_a_cross_reference_stream_takes_the_stamp_too() {
        let mut original = Vec::new();
        awkward_doc().save_modern(&mut original).expect("saved with object streams");
        let copy = stamped(&original, "Downloaded by Bo Reader (order 9f8e7d6c)");
        assert!(copy.starts_with(&original));
        assert_stamped(&copy, "Downloaded by Bo Reader (order 9f8e7d6c)");
    }

    #[test]
    fn one_plan_makes_each_readers_copy_and_a_long_or_awkward_line_still_fits() {
        let original = awkward_pdf();
        let plan = StampPlan::prepare(original.clone()).expect("a plan");
        let ada = [original.as_slice(), &plan.update_for("Downloaded by Ada (order 1)")].concat();
        let bo = [original.as_slice(), &plan.update_for("Downloaded by Bo (order 2)")].concat();
        assert_eq!(ada.len(), bo.len(), "the line never moves what follows it");
        assert_stamped(&ada, "Downloaded by Ada (order 1)");
        assert_stamped(&bo, "Downloaded by Bo (order 2)");
        // Parentheses and backslashes are escaped; a line longer than the slot is shortened.
        let awkward = format!("Downloaded by O'Brien (\\) {}", "(".repeat(2000));
        let copy = [original.as_slice(), &plan.update_for(&awkward)].concat();
        assert_eq!(copy.len(), ada.len());
        let doc = Document::load_mem(&copy).expect("a readable PDF");
        let text = doc.extract_text(&[1]).expect("its text");
        assert!(text.contains("Downloaded by O'Brien (\\) (((("), "{text}");
    }

    #[test]
    fn a_file_that_is_not_a_pdf_has_no_plan() {
        assert!(StampPlan::prepare(b"%PDF-1.7\nnot really".to_vec()).is_err());
    }
}
