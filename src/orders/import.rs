//! Bringing a publisher's existing subscriber list in from a CSV file (`masthead import
//! subscribers FILE.csv`, the admin's `/admin/import`).
//!
//! The file is read as a stream and checked whole before anything is written: every row's
//! problems are reported with their line numbers and nothing is imported; a file without
//! problems is imported in one transaction, all or nothing. Each row becomes a subscription with
//! the term the file gives (its last issue, or the issues still owed), on an order of its own
//! (source `import`, nothing paid through the shop) keyed by the row's external id, or by email +
//! publication + edition: importing the same file again finds every key and changes nothing.
//! No email is sent.

use std::collections::HashMap;

use serde::Serialize;

use super::{mailing_list, terms, BindAddress};
use crate::{
    address::{Address, AddressInput},
    audit::{self, Actor},
    catalog::{self, Edition, Frequency},
    db::Db,
    email::EmailAddress,
    error::Result,
    money::Currency,
};

/// The columns a file may have; the first five (and one of `last_issue` / `issues_remaining`)
/// are required, and the address for print.
pub const COLUMNS: [&str; 16] = [
    "email",
    "name",
    "publication",
    "edition",
    "last_issue",
    "issues_remaining",
    "first_issue",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "external_id",
    "donor_email",
    "notes",
];

/// A list bigger than this is refused whole (split it): it bounds the memory an import takes.
pub const MAX_ROWS: usize = 100_000;
/// Problems reported at most; the count says how many more there were.
const MAX_PROBLEMS_SHOWN: usize = 500;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RowProblem {
    /// The line of the file (the header is line 1); 0 for the file as a whole.
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: usize,
    /// Rows that are (or, in a dry run, would be) new subscriptions.
    pub new: usize,
    /// Rows whose key was imported before: left as they are.
    pub already_imported: usize,
    pub problems: Vec<RowProblem>,
    /// Problems beyond those listed.
    pub more_problems: usize,
    pub dry_run: bool,
    /// True when the rows were written.
    pub imported: bool,
}

/// One row, checked.
#[derive(Clone, Debug)]
struct Row {
    key: String,
    email: EmailAddress,
    name: String,
    publication: String,
    publication_name: String,
    edition: Edition,
    first_period: i64,
    last_period: i64,
    term_years: i64,
    address: Option<Address>,
    donor: Option<EmailAddress>,
    notes: Option<String>,
}

/// What rows are checked against: the publications and where print can be mailed.
struct Facts {
    publications: HashMap<String, (String, Frequency, Vec<Edition>, i64)>,
    zone_countries: Vec<String>,
    catch_all: bool,
}

impl Facts {
    async fn load(db: &Db, currency: Currency, now: i64) -> Result<Facts> {
        let mut publications = HashMap::new();
        let mut conn = db.pool.acquire().await?;
        for publication in catalog::publications(db).await? {
            // A term with no first issue given starts with the next issue whose mailing list is open.
            let schedule = mailing_list::schedule(db, &publication.slug).await?;
            let next = mailing_list::next_open_issue(&mut conn, &schedule, &publication.slug, now).await?;
            publications.insert(
                publication.slug.clone(),
                (publication.name.clone(), publication.frequency, publication.editions.clone(), next),
            );
        }
        let zones = crate::postage::zones(db, currency).await?;
        Ok(Facts {
            zone_countries: zones.iter().flat_map(|z| z.countries.clone()).collect(),
            catch_all: zones.iter().any(|z| z.every_other_country),
            publications,
        })
    }
}

/// Reads the file and, unless `dry_run` or a row has a problem, imports it.
pub async fn import_subscribers(
    db: &Db,
    file: impl std::io::Read,
    dry_run: bool,
    currency: Currency,
    actor: &Actor,
    now: i64,
) -> Result<ImportReport> {
    let facts = Facts::load(db, currency, now).await?;
    let (rows, mut report) = read_rows(file, &facts);
    report.dry_run = dry_run;
    if !report.problems.is_empty() {
        return Ok(report);
    }
    let mut tx = db.begin_write().await?;
    for row in &rows {
        if insert_row(&mut tx, row, currency, now).await? {
            report.new += 1;
        } else {
            report.already_imported += 1;
        }
    }
    if dry_run || report.new == 0 {
        // A dry run writes in a transaction it never commits: it counts exactly what a real run would.
        tx.rollback().await?;
        return Ok(report);
    }
    let change = audit::Change {
        action: "subscribers.import",
        entity: "import",
        entity_id: &uuid::Uuid::new_v4().simple().to_string(),
        before: None,
        after: Some(serde_json::json!({
            "rows": report.rows, "new": report.new, "already_imported": report.already_imported,
        })),
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    report.imported = true;
    Ok(report)
}

/// Parses and checks every row, keeping the good ones; stops at `MAX_ROWS`.
fn read_rows(file: impl std::io::Read, facts: &Facts) -> (Vec<Row>, ImportReport) {
    let mut report = ImportReport::default();
    let problem = |report: &mut ImportReport, line: u64, column: Option<&str>, message: String| {
        if report.problems.len() < MAX_PROBLEMS_SHOWN {
            report.problems.push(RowProblem { line, column: column.map(str::to_string), message });
        } else {
            report.more_problems += 1;
        }
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let headers = match reader.byte_headers() {
        Ok(headers) => headers.clone(),
        Err(e) => {
            problem(&mut report, 1, None, format!("The file cannot be read as CSV: {e}."));
            return (vec![], report);
        }
    };
    let mut columns: HashMap<&'static str, usize> = HashMap::new();
    for (index, raw) in headers.iter().enumerate() {
        let Ok(name) = std::str::from_utf8(raw) else {
            problem(&mut report, 1, None, not_utf8());
            return (vec![], report);
        };
        let name = name.trim_start_matches('\u{feff}').trim();
        match COLUMNS.iter().find(|c| c.eq_ignore_ascii_case(name)) {
            Some(known) if columns.insert(known, index).is_some() => {
                problem(&mut report, 1, Some(known), format!("The column {known} appears twice."))
            }
            Some(_) => {}
            None => problem(
                &mut report,
                1,
                Some(name),
                format!("Unknown column \"{name}\". The columns are: {}.", COLUMNS.join(", ")),
            ),
        }
    }
    for required in ["email", "name", "publication", "edition"] {
        if !columns.contains_key(required) {
            problem(&mut report, 1, Some(required), format!("The column {required} is missing."));
        }
    }
    if !columns.contains_key("last_issue") && !columns.contains_key("issues_remaining") {
        problem(&mut report, 1, None, "The file needs a column last_issue (yyyy-mm) or issues_remaining.".into());
    }
    if !report.problems.is_empty() {
        return (vec![], report);
    }
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problem(&mut report, line, None, format!("This line cannot be read as CSV: {e}."));
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        report.rows += 1;
        if report.rows > MAX_ROWS {
            problem(
                &mut report,
                line,
                None,
                format!("The file has more than {MAX_ROWS} rows: split it and import the parts one after another."),
            );
            break;
        }
        if record.iter().all(|cell| cell.iter().all(u8::is_ascii_whitespace)) {
            report.rows -= 1; // a blank line
            continue;
        }
        let Ok(text) = csv::StringRecord::from_byte_record(record.clone()) else {
            problem(&mut report, line, None, not_utf8());
            continue;
        };
        let cells = Cells { columns: &columns, record: &text };
        match check_row(&cells, facts) {
            Ok(row) => {
                if let Some(first) = seen.insert(row.key.clone(), line) {
                    problem(&mut report, line, None, format!("This row repeats line {first} (the same subscription)."));
                } else {
                    rows.push(row);
                }
            }
            Err(problems) => {
                for (column, message) in problems {
                    problem(&mut report, line, Some(column), message);
                }
            }
        }
    }
    if report.rows == 0 && report.problems.is_empty() {
        problem(&mut report, 0, None, "The file has a header but no rows.".into());
    }
    (rows, report)
}

fn not_utf8() -> String {
    "The file is not UTF-8 text. Save it as \"CSV UTF-8\" (in Excel or LibreOffice) and upload it again.".into()
}

/// A cell a spreadsheet would run as a formula: refused rather than stored and exported again.
fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '@']) || (text.starts_with('-') && text.len() > 1 && !text[1..].starts_with(' '))
}

/// One row's cells by column name.
struct Cells<'a> {
    columns: &'a HashMap<&'static str, usize>,
    record: &'a csv::StringRecord,
}

impl<'a> Cells<'a> {
    /// The cell trimmed; empty when the column or the cell is missing.
    fn get(&self, name: &str) -> &'a str {
        self.columns.get(name).and_then(|&i| self.record.get(i)).map(str::trim).unwrap_or("")
    }
}

fn check_row(cells: &Cells<'_>, facts: &Facts) -> std::result::Result<Row, Vec<(&'static str, String)>> {
    let cell = |name: &str| cells.get(name);
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    for column in ["email", "name", "line1", "line2", "city", "region", "postal_code", "notes", "external_id"] {
        if looks_like_formula(cell(column)) {
            problems
                .push((column, "This cell starts like a spreadsheet formula (=, +, @ or -): remove that sign.".into()));
        }
    }
    let email = EmailAddress::parse(cell("email")).map_err(|e| problems.push(("email", e.public_message()))).ok();
    let name = cell("name").split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 200 {
        problems.push(("name", "Give the subscriber's name (up to 200 characters).".into()));
    }
    let publication = cell("publication").to_ascii_lowercase();
    let facts_of = facts.publications.get(&publication);
    if facts_of.is_none() {
        let known: Vec<&str> = facts.publications.keys().map(String::as_str).collect();
        problems.push((
            "publication",
            format!("Unknown publication \"{}\": use one of {}.", cell("publication"), known.join(", ")),
        ));
    }
    let edition = Edition::parse(&cell("edition").to_ascii_lowercase());
    match (edition, facts_of) {
        (None, _) => problems.push(("edition", "The edition is print or digital.".into())),
        (Some(e), Some((name, _, editions, _))) if !editions.contains(&e) => {
            problems.push(("edition", format!("{name} has no {} edition.", e.as_str())))
        }
        _ => {}
    }
    let frequency = facts_of.map(|f| f.1);
    let step = frequency.map_or(1, |f| 12 / f.issues_per_year());
    let next_issue = facts_of.map(|f| f.3);
    let on_schedule = |period: i64| next_issue.is_none_or(|next| (period - next).rem_euclid(step) == 0);
    let off_schedule = |text: &str| match (next_issue, facts_of) {
        (Some(next), Some((name, ..))) if step > 1 => {
            let mut months: Vec<i64> = (0..12 / step).map(|k| terms::year_month(next + k * step).1).collect();
            months.sort();
            let names: Vec<&str> = months.iter().map(|&m| catalog::month_name(m)).collect();
            format!("No issue of {name} comes out in {text}: it comes out in {}.", names.join(", "))
        }
        _ => format!("No issue of this publication comes out in {text}."),
    };
    let first_given = match cell("first_issue") {
        "" => None,
        text => match terms::parse_month(text) {
            Some(period) if on_schedule(period) => Some(period),
            Some(_) => {
                problems.push(("first_issue", off_schedule(text)));
                None
            }
            None => {
                problems.push(("first_issue", format!("\"{text}\" is not a month written yyyy-mm, such as 2017-03.")));
                None
            }
        },
    };
    let first = first_given.or(next_issue).unwrap_or(0);
    let last = match (cell("last_issue"), cell("issues_remaining")) {
        ("", "") => {
            problems.push(("last_issue", "Give the last issue (yyyy-mm) or the number of issues remaining.".into()));
            None
        }
        (text, "") => match terms::parse_month(text) {
            Some(period) if !on_schedule(period) => {
                problems.push(("last_issue", off_schedule(text)));
                None
            }
            Some(period) => Some(period),
            None => {
                problems.push(("last_issue", format!("\"{text}\" is not a month written yyyy-mm, such as 2018-12.")));
                None
            }
        },
        ("", count) => match count.parse::<i64>() {
            Ok(n @ 1..=500) => Some(first + (n - 1) * step),
            _ => {
                problems.push(("issues_remaining", format!("\"{count}\" is not a number of issues from 1 to 500.")));
                None
            }
        },
        _ => {
            problems.push(("issues_remaining", "Give the last issue or the issues remaining, not both.".into()));
            None
        }
    };
    if let (Some(last), Some(next)) = (last, next_issue) {
        if last < next {
            problems.push((
                "last_issue",
                format!(
                    "The term ended with {}: nothing is left to send (the next issue is {}).",
                    terms::describe(last),
                    terms::describe(next)
                ),
            ));
        } else if last < first {
            problems.push(("first_issue", "The first issue comes after the last.".into()));
        }
    }
    let address = match edition {
        Some(Edition::Print) => {
            let input = AddressInput {
                line1: cell("line1").into(),
                line2: Some(cell("line2").to_string()),
                city: cell("city").into(),
                region: Some(cell("region").to_string()),
                postal_code: cell("postal_code").into(),
                country: cell("country").into(),
            };
            match Address::parse(&input) {
                Ok(address) => {
                    if !facts.catch_all && !facts.zone_countries.contains(&address.country) {
                        problems.push((
                            "country",
                            format!(
                                "No postage zone takes {}: add it to a zone in the admin's Postage first.",
                                crate::postage::country_name(&address.country)
                            ),
                        ));
                    }
                    Some(address)
                }
                Err(address_problems) => {
                    problems.extend(address_problems.into_iter().map(|p| (p.field, p.message)));
                    None
                }
            }
        }
        _ => None,
    };
    let donor = match cell("donor_email") {
        "" => None,
        text => EmailAddress::parse(text).map_err(|e| problems.push(("donor_email", e.public_message()))).ok(),
    };
    let notes = Some(cell("notes").to_string()).filter(|n| !n.is_empty());
    if notes.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        problems.push(("notes", "Notes are at most 1,000 characters.".into()));
    }
    let external_id = cell("external_id");
    if external_id.chars().count() > 100 {
        problems.push(("external_id", "An external id is at most 100 characters.".into()));
    }
    let (Some(email), Some(edition), Some(last), true) = (email, edition, last, problems.is_empty()) else {
        return Err(problems);
    };
    let key = if external_id.is_empty() {
        format!("{}|{publication}|{}", email.normalized(), edition.as_str())
    } else {
        format!("id:{external_id}")
    };
    let issues = (last - first) / step + 1;
    let issues_per_year = frequency.map_or(12, |f| f.issues_per_year());
    Ok(Row {
        key,
        email,
        name,
        publication_name: facts_of.map(|f| f.0.clone()).unwrap_or_default(),
        publication,
        edition,
        first_period: first,
        last_period: last,
        term_years: (issues + issues_per_year - 1) / issues_per_year,
        address,
        donor,
        notes,
    })
}

/// Writes one row: false when its key was imported before (nothing written).
async fn insert_row(conn: &mut sqlx::AnyConnection, row: &Row, currency: Currency, now: i64) -> Result<bool> {
    let order_id = format!("import-{}", uuid::Uuid::new_v4().simple());
    let buyer = row.donor.as_ref().unwrap_or(&row.email);
    let address = row.address.as_ref();
    // The key's unique index decides, also against another import running at the same moment.
    let inserted = sqlx::query(
        "INSERT INTO orders (id, email, email_normalized, name, ship_line1, ship_line2, ship_city, ship_region, \
         ship_postal_code, ship_country, currency, subtotal, discount, total, status, provider, expires_at, \
         created_at, paid_at, source, notes, import_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $14, \
         0, 0, 0, 'paid', 'none', $11, $11, $11, 'import', $12, $13) ON CONFLICT (import_key) DO NOTHING",
    )
    .bind(&order_id)
    .bind(buyer.as_str())
    .bind(buyer.normalized())
    .bind(&row.name)
    .bind_address(address)
    .bind(now)
    .bind(&row.notes)
    .bind(&row.key)
    .bind(currency.code())
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    for email in [Some(&row.email), row.donor.as_ref()].into_iter().flatten() {
        sqlx::query(
            "INSERT INTO readers (email_normalized, created_at, updated_at) VALUES ($1, $2, $2) \
             ON CONFLICT (email_normalized) DO NOTHING",
        )
        .bind(email.normalized())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    let title = format!(
        "{}, {} edition, to the {} issue (brought over from our earlier list)",
        row.publication_name,
        row.edition.as_str(),
        terms::describe(row.last_period)
    );
    sqlx::query(
        "INSERT INTO order_lines (order_id, position, sku, name, kind, publication, edition, term_years, quantity, \
         unit_price, line_total, discount) VALUES ($1, 0, $2, $3, 'subscription', $4, $5, $6, 1, 0, 0, 0)",
    )
    .bind(&order_id)
    .bind(format!("{}-{}-import", row.publication, row.edition.as_str()))
    .bind(&title)
    .bind(&row.publication)
    .bind(row.edition.as_str())
    .bind(row.term_years)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO subscriptions (id, order_id, order_position, email, email_normalized, name, publication, edition, \
         term_years, first_period, last_period, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, \
         ship_country, status, created_at) \
         VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'active', $17)",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(&order_id)
    .bind(row.email.as_str())
    .bind(row.email.normalized())
    .bind(&row.name)
    .bind(&row.publication)
    .bind(row.edition.as_str())
    .bind(row.term_years)
    .bind(row.first_period)
    .bind(row.last_period)
    .bind_address(address)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_written_yyyy_mm() {
        assert_eq!(terms::parse_month("2017-03"), Some(terms::period(2017, 3)));
        for bad in ["2017-13", "2017-3", "17-03", "2017/03", "march", "2017-00", ""] {
            assert_eq!(terms::parse_month(bad), None, "{bad}");
        }
    }

    #[test]
    fn formulas_are_told_from_names() {
        for formula in ["=HYPERLINK(\"x\")", "+1", "@SUM(A1)", "-2+3"] {
            assert!(looks_like_formula(formula), "{formula}");
        }
        for text in ["Ada Lovelace", "- call first", "", "12 Main St"] {
            assert!(!looks_like_formula(text), "{text}");
        }
    }
}
