//! A shop of realistic size, for benchmarks and for trying the admin with real volumes:
//! `masthead sample-data` adds ten years of issues of both publications up to this month (8-12
//! articles each; the monthly's last year with a PDF), 200 coupons, 20,000 paid orders and 50,000
//! subscriptions, with their readers, to a demo shop. The rows are made up but shaped like the real
//! ones (the same columns the checkout and settlement write), and the numbers are the same on
//! every run (a fixed pseudo-random sequence).

use anyhow::Context;

use crate::{
    db::Db,
    orders::terms,
    storage::{FileKind, MediaStore},
};

/// How much `generate` adds.
pub const ORDERS: usize = 20_000;
pub const SUBSCRIPTIONS: usize = 50_000;
pub const COUPONS: usize = 200;
const YEARS: i64 = 10;
/// The monthly's issues of the last this many months have a PDF (one sample file for all).
const MONTHS_WITH_PDF: i64 = 12;
/// Pages of the sample PDF.
const PDF_PAGES: usize = 16;
/// Rows per INSERT: well under SQLite's limit of bound values.
const BATCH: usize = 200;

/// A small fixed pseudo-random sequence (xorshift), so two runs make the same shop.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// What one row binds, in column order.
enum Value {
    Int(i64),
    Text(String),
    Null,
}

/// Inserts `rows` into `table` (`columns` in order), `BATCH` rows per statement.
async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            let placeholders: Vec<String> = (0..columns.len())
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            sql.push_str(&format!("{}({})", if i > 0 { ", " } else { "" }, placeholders.join(", ")));
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        let mut query = sqlx::query(&sql);
        for row in chunk {
            for value in row {
                query = match value {
                    Value::Int(v) => query.bind(*v),
                    Value::Text(v) => query.bind(v.clone()),
                    Value::Null => query.bind(None::<String>),
                };
            }
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds the sample rows, unless a previous run did (its first coupon is there): answers whether it did.
pub async fn generate(db: &Db, media: &MediaStore, currency: &str, now: i64) -> anyhow::Result<bool> {
    let (existing,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM coupons WHERE normalized_code = 'SAMPLE0001'").fetch_one(&db.pool).await?;
    if existing > 0 {
        return Ok(false);
    }
    let pdf_key = store_sample_pdf(media).await?;
    let mut random = Sequence(0x9e37_79b9_7f4a_7c15);
    let mut tx = db.begin_write().await?;
    let current = terms::period_at(now);

    // Issues: ten years up to this month, the monthly every month and the quarterly in March, June,
    // September and December; the demo's own issues stay as they are.
    let (mut issues, mut articles) = (Vec::new(), Vec::new());
    for (publication, step, price, title) in [("sw", 1, 250, "Socialist Worker"), ("isr", 3, 1000, "ISR")] {
        for period in current - YEARS * 12 + 1..=current {
            let (year, month) = terms::year_month(period);
            if month % step != 0 {
                continue;
            }
            let sku = crate::catalog::issue_sku(publication, year, month);
            let pdf = if publication == "sw" && period > current - MONTHS_WITH_PDF {
                Value::Text(pdf_key.clone())
            } else {
                Value::Null
            };
            issues.push(vec![
                Value::Text(sku.clone()),
                Value::Text(publication.into()),
                Value::Int(year),
                Value::Int(month),
                Value::Text(format!("{title} {}", terms::describe(period))),
                Value::Text("Sample issue: news, analysis and reports from the struggles of working people.".into()),
                Value::Int(price),
                Value::Text(currency.into()),
                Value::Int(1),
                Value::Int(terms::first_day(period)),
                pdf,
            ]);
            for position in 0..(8 + random.next(5) as i64) {
                articles.push(vec![
                    Value::Text(sku.clone()),
                    Value::Int(position),
                    Value::Text(["Front page", "Inside", "Analysis", "Reviews"][position as usize % 4].into()),
                    Value::Text(format!("Sample article {} of {}", position + 1, terms::describe(period))),
                    Value::Text(format!("Sample author {}", random.next(40) + 1)),
                ]);
            }
        }
    }
    let issue_columns = [
        "sku",
        "publication",
        "year",
        "month",
        "title",
        "summary",
        "price_amount",
        "currency",
        "published",
        "published_at",
        "pdf_file",
    ];
    insert_rows(&mut tx, "issues", &issue_columns, issues).await?;
    insert_rows(&mut tx, "articles", &["issue_sku", "position", "section", "title", "author"], articles).await?;

    let coupons = (1..=COUPONS)
        .map(|n| {
            vec![
                Value::Text(format!("sample-coupon-{n}")),
                Value::Text(format!("SAMPLE{n:04}")),
                Value::Text(format!("SAMPLE{n:04}")),
                Value::Text(format!("Sample coupon {n}")),
                Value::Text("percent".into()),
                Value::Int(500 * (1 + random.next(10) as i64)),
                Value::Text(currency.into()),
                Value::Text("everything".into()),
                Value::Int(now),
            ]
        })
        .collect();
    let coupon_columns =
        ["id", "code", "normalized_code", "description", "kind", "percent_bp", "currency", "applies_to", "created_at"];
    insert_rows(&mut tx, "coupons", &coupon_columns, coupons).await?;

    // Orders with two or three subscriptions each (50,000 in all), as settlement leaves them.
    let plans = [("sw", "print", 1, 2500, 1), ("sw", "digital", 2, 2700, 1), ("isr", "print", 1, 2900, 3)];
    let (mut orders, mut lines, mut subscriptions, mut readers) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut left = SUBSCRIPTIONS;
    for n in 0..ORDERS {
        let count = if left > 2 * (ORDERS - n) { 3 } else { 2 }.min(left);
        left -= count;
        let id = format!("sample-order-{n:05}");
        let email = format!("reader{n}@example.org");
        let created = now - 86_400 * random.next(3 * 365) as i64;
        let chosen = &plans[..count];
        // Settlement records each buyer as a reader who can sign in.
        readers.push(vec![Value::Text(email.clone()), Value::Int(created), Value::Int(created)]);
        let total: i64 = chosen.iter().map(|p| p.3).sum();
        orders.push(vec![
            Value::Text(id.clone()),
            Value::Text(email.clone()),
            Value::Text(email.clone()),
            Value::Text(format!("Sample Reader {n}")),
            Value::Text(format!("{} Sample St", n + 1)),
            Value::Text("Chicago".into()),
            Value::Text("IL".into()),
            Value::Text(format!("606{:02}", n % 100)),
            Value::Text("US".into()),
            Value::Text(currency.into()),
            Value::Int(total),
            Value::Int(0),
            Value::Int(total),
            Value::Text("paid".into()),
            Value::Text("test".into()),
            Value::Int(created + 3600),
            Value::Int(created),
            Value::Int(created),
        ]);
        let start = terms::period_at(created) + 1;
        for (position, (publication, edition, years, price, step)) in chosen.iter().enumerate() {
            lines.push(vec![
                Value::Text(id.clone()),
                Value::Int(position as i64),
                Value::Text(format!("{publication}-{edition}-{years}y")),
                Value::Text(format!("{publication} {edition}, {years} year")),
                Value::Text("subscription".into()),
                Value::Text((*publication).into()),
                Value::Text((*edition).into()),
                Value::Int(*years),
                Value::Int(1),
                Value::Int(*price),
                Value::Int(*price),
                Value::Int(0),
            ]);
            let last = start + (12 / step) * years * step - step;
            let print = *edition == "print";
            let text_if_print = |text: String| if print { Value::Text(text) } else { Value::Null };
            subscriptions.push(vec![
                Value::Text(format!("sample-sub-{n:05}-{position}")),
                Value::Text(id.clone()),
                Value::Int(position as i64),
                Value::Text(email.clone()),
                Value::Text(email.clone()),
                Value::Text(format!("Sample Reader {n}")),
                Value::Text((*publication).into()),
                Value::Text((*edition).into()),
                Value::Int(*years),
                Value::Int(start),
                Value::Int(last),
                text_if_print(format!("{} Sample St", n + 1)),
                text_if_print("Chicago".into()),
                text_if_print(format!("606{:02}", n % 100)),
                text_if_print("US".into()),
                Value::Text(if last >= current { "active" } else { "ended" }.into()),
                Value::Int(created),
            ]);
        }
    }
    let order_columns = [
        "id",
        "email",
        "email_normalized",
        "name",
        "ship_line1",
        "ship_city",
        "ship_region",
        "ship_postal_code",
        "ship_country",
        "currency",
        "subtotal",
        "discount",
        "total",
        "status",
        "provider",
        "expires_at",
        "created_at",
        "paid_at",
    ];
    insert_rows(&mut tx, "orders", &order_columns, orders).await?;
    let line_columns = [
        "order_id",
        "position",
        "sku",
        "name",
        "kind",
        "publication",
        "edition",
        "term_years",
        "quantity",
        "unit_price",
        "line_total",
        "discount",
    ];
    insert_rows(&mut tx, "order_lines", &line_columns, lines).await?;
    let subscription_columns = [
        "id",
        "order_id",
        "order_position",
        "email",
        "email_normalized",
        "name",
        "publication",
        "edition",
        "term_years",
        "first_period",
        "last_period",
        "ship_line1",
        "ship_city",
        "ship_postal_code",
        "ship_country",
        "status",
        "created_at",
    ];
    insert_rows(&mut tx, "subscriptions", &subscription_columns, subscriptions).await?;
    insert_rows(&mut tx, "readers", &["email_normalized", "created_at", "updated_at"], readers).await?;
    tx.commit().await?;
    Ok(true)
}

/// Stores the sample issue PDF in the media store: its key.
async fn store_sample_pdf(media: &MediaStore) -> anyhow::Result<String> {
    let pdf = sample_pdf()?;
    let mut upload = media.begin_upload("pdfs", "sample-issue", pdf.len() as u64, |kind| kind == FileKind::Pdf)?;
    if let Err(error) = upload.write(&pdf).await {
        upload.abort().await;
        return Err(anyhow::Error::new(error).context("storing the sample PDF"));
    }
    let (key, _) = upload.finish().await.context("storing the sample PDF")?;
    Ok(key)
}

/// A tabloid-sized issue of `PDF_PAGES` pages of text: a stand-in for a real edition's PDF.
fn sample_pdf() -> anyhow::Result<Vec<u8>> {
    use crate::fonts::text_line;
    use printpdf::{Mm, PdfDocument, PdfPage, PdfSaveOptions};
    let mut doc = PdfDocument::new("Sample issue");
    let font = doc.add_font(&crate::fonts::dejavu_sans()?);
    let pages = (1..=PDF_PAGES)
        .map(|number| {
            let mut ops = Vec::new();
            text_line(&mut ops, &font, format!("Sample issue, page {number}"), 24.0, 15.0, 400.0);
            for line in 0..60 {
                let words = "News, analysis and reports from the struggles of working people.";
                text_line(&mut ops, &font, format!("{}. {words}", line + 1), 10.0, 15.0, 380.0 - 6.0 * line as f32);
            }
            PdfPage::new(Mm(280.0), Mm(430.0), ops)
        })
        .collect();
    Ok(doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut Vec::new()))
}
