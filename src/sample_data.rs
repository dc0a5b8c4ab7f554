//! A shop of realistic size, for benchmarks and for trying the admin with real volumes:
//! `masthead sample-data` adds ten years of issues of both publications (8-12 articles each),
//! 200 coupons, 20,000 paid orders and 50,000 subscriptions to a demo shop. The rows are made up
//! but shaped like the real ones (the same columns the checkout and settlement write), and the
//! numbers are the same on every run (a fixed pseudo-random sequence).

use crate::{db::Db, orders::terms};

/// How much `generate` adds.
pub const ORDERS: usize = 20_000;
pub const SUBSCRIPTIONS: usize = 50_000;
pub const COUPONS: usize = 200;
const YEARS: i64 = 10;
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
pub async fn generate(db: &Db, currency: &str, now: i64) -> anyhow::Result<bool> {
    let (existing,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM coupons WHERE normalized_code = 'SAMPLE0001'").fetch_one(&db.pool).await?;
    if existing > 0 {
        return Ok(false);
    }
    let mut random = Sequence(0x9e37_79b9_7f4a_7c15);
    let mut tx = db.begin_write().await?;
    let current = terms::period_at(now);

    // Issues: ten years up to the demo catalog's newest, monthly and quarterly; the demo's own stay.
    let (mut issues, mut articles) = (Vec::new(), Vec::new());
    let newest = terms::period(2016, 12);
    for (publication, step, price, title) in [("sw", 1, 250, "Socialist Worker"), ("isr", 3, 1000, "ISR")] {
        let mut period = newest - YEARS * 12 + 1;
        while period <= newest {
            let (year, month) = terms::year_month(period);
            let sku = crate::catalog::issue_sku(publication, year, month);
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
            period += step;
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
    let (mut orders, mut lines, mut subscriptions) = (Vec::new(), Vec::new(), Vec::new());
    let mut left = SUBSCRIPTIONS;
    for n in 0..ORDERS {
        let count = if left > 2 * (ORDERS - n) { 3 } else { 2 }.min(left);
        left -= count;
        let id = format!("sample-order-{n:05}");
        let email = format!("reader{n}@example.org");
        let created = now - 86_400 * random.next(3 * 365) as i64;
        let chosen = &plans[..count];
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
    tx.commit().await?;
    Ok(true)
}
