//! The catalog: publications, the subscription plans they are sold on, and their issues.
//!
//! SKUs are stable: a plan is `{publication}-{edition}-{n}y` (`isr-print-4y`),
//! a single back issue is `{publication}-{yyyy}-{mm}` (`sw-2017-01`).

pub mod editing;
pub mod rates;
mod seed;
mod store;

use serde::Serialize;

use crate::money::Money;

pub use seed::{is_empty as catalog_is_empty, seed_demo_catalog};
pub use store::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Journal,
    Newspaper,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Monthly,
    Quarterly,
}

impl Frequency {
    pub fn issues_per_year(self) -> i64 {
        match self {
            Frequency::Monthly => 12,
            Frequency::Quarterly => 4,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Edition {
    Print,
    Digital,
}

impl Edition {
    pub fn parse(text: &str) -> Option<Edition> {
        match text {
            "print" => Some(Edition::Print),
            "digital" => Some(Edition::Digital),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Print => "print",
            Edition::Digital => "digital",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Publication {
    pub slug: String,
    pub name: String,
    pub kind: Kind,
    pub frequency: Frequency,
    pub tagline: String,
    pub description: String,
    pub editions: Vec<Edition>,
}

/// A prepaid subscription term of one edition of a publication.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub sku: String,
    /// "International Socialist Review, print edition, 4 years".
    pub name: String,
    pub publication: String,
    /// The publication's: how many copies a term mails.
    #[serde(skip)]
    pub frequency: Frequency,
    pub edition: Edition,
    pub term_years: i64,
    pub price: Money,
    pub price_per_year: Money,
    /// Rates beside the standard price, when the publisher offers them.
    pub rates: rates::PlanRates,
}

#[derive(Clone, Debug, Serialize)]
pub struct Article {
    pub section: Option<String>,
    pub title: String,
    pub author: String,
}

impl Article {
    /// An issue's contents as staff type them: one article a line, in reading order, as
    /// `Section | Title | Author` or `Title | Author` (a line without `|` is a title alone).
    pub fn parse_contents(text: &str) -> Vec<Article> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let parts: Vec<&str> = line.split('|').map(str::trim).collect();
                match parts.as_slice() {
                    [section, title, author] => Article {
                        section: Some(section.to_string()),
                        title: title.to_string(),
                        author: author.to_string(),
                    },
                    [title, author] => Article { section: None, title: title.to_string(), author: author.to_string() },
                    _ => Article { section: None, title: line.trim().to_string(), author: String::new() },
                }
            })
            .collect()
    }

    /// The contents written back in the format `parse_contents` reads.
    pub fn format_contents(articles: &[Article]) -> String {
        articles
            .iter()
            .map(|a| match &a.section {
                Some(section) => format!("{section} | {} | {}", a.title, a.author),
                None => format!("{} | {}", a.title, a.author),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Issue {
    pub sku: String,
    pub publication: String,
    pub publication_name: String,
    pub year: i64,
    pub month: i64,
    /// "December 2016".
    pub label: String,
    /// The public page of the issue, `/issues/sw/2017/01`.
    pub path: String,
    pub title: String,
    pub summary: String,
    /// The site path of the cover image: an uploaded file, or the cover the shop draws.
    pub cover_url: String,
    pub has_pdf: bool,
    /// Staff made the PDF free for everyone.
    pub pdf_free: bool,
    /// The price of a single copy; `None` when the issue is not sold singly.
    pub price: Option<Money>,
    pub published: bool,
    /// Unix seconds.
    pub published_at: Option<i64>,
    pub is_sample: bool,
    /// Empty unless loaded with its contents.
    pub articles: Vec<Article>,
}

impl Issue {
    /// "Socialist Worker, January 2017".
    pub fn name(&self) -> String {
        format!("{}, {}", self.publication_name, self.label)
    }

    /// The public page of the issue, `/issues/sw/2017/01`.
    pub fn path(&self) -> String {
        issue_path(&self.publication, self.year, self.month)
    }
}

pub fn issue_path(publication: &str, year: i64, month: i64) -> String {
    format!("/issues/{publication}/{year:04}/{month:02}")
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub fn month_name(month: i64) -> &'static str {
    usize::try_from(month - 1).ok().and_then(|i| MONTHS.get(i)).copied().unwrap_or("?")
}

/// Something the shop sells: a plan, or a single copy of an issue.
#[derive(Clone, Debug)]
pub enum Product {
    Plan(Plan),
    Issue(Issue),
}

impl Product {
    pub fn sku(&self) -> &str {
        match self {
            Product::Plan(plan) => &plan.sku,
            Product::Issue(issue) => &issue.sku,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Product::Plan(plan) => plan.name.clone(),
            Product::Issue(issue) => issue.name(),
        }
    }

    pub fn publication(&self) -> &str {
        match self {
            Product::Plan(plan) => &plan.publication,
            Product::Issue(issue) => &issue.publication,
        }
    }

    /// Single copies are print copies (mailed, or picked up at a branch).
    pub fn edition(&self) -> Edition {
        match self {
            Product::Plan(plan) => plan.edition,
            Product::Issue(_) => Edition::Print,
        }
    }

    pub fn term_years(&self) -> Option<i64> {
        match self {
            Product::Plan(plan) => Some(plan.term_years),
            Product::Issue(_) => None,
        }
    }

    /// Products returned by the catalog are on sale, so they have a price.
    pub fn price(&self) -> Option<Money> {
        match self {
            Product::Plan(plan) => Some(plan.price),
            Product::Issue(issue) => issue.price,
        }
    }
}

/// A reference to one issue as it appears in URLs: `sw`, `2017`, `01`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRef {
    pub publication: String,
    pub year: i64,
    pub month: i64,
}

impl IssueRef {
    /// The issue a single-issue SKU names: `sw-2017-01`.
    pub fn from_sku(sku: &str) -> Option<IssueRef> {
        let (rest, month) = sku.rsplit_once('-')?;
        let (publication, year) = rest.rsplit_once('-')?;
        IssueRef::parse(publication, year, month)
    }

    /// Accepts exactly a slug, a four-digit year and a two-digit month from 01 to 12.
    pub fn parse(publication: &str, year: &str, month: &str) -> Option<IssueRef> {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !is_slug(publication) || !digits(year, 4) || !digits(month, 2) {
            return None;
        }
        let (year, month) = (year.parse().ok()?, month.parse().ok()?);
        ((1900..=9999).contains(&year) && (1..=12).contains(&month)).then(|| IssueRef {
            publication: publication.to_string(),
            year,
            month,
        })
    }

    pub fn sku(&self) -> String {
        issue_sku(&self.publication, self.year, self.month)
    }
}

pub fn issue_sku(publication: &str, year: i64, month: i64) -> String {
    format!("{publication}-{year:04}-{month:02}")
}

pub fn plan_sku(publication: &str, edition: Edition, term_years: i64) -> String {
    format!("{publication}-{}-{term_years}y", edition.as_str())
}

/// A publication slug: lowercase letters, digits and hyphens, starting with a letter.
pub fn is_slug(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// True when the text has the shape of a SKU the shop could sell (not that it exists).
pub fn is_well_formed_sku(text: &str) -> bool {
    (3..=64).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_refs_accept_only_real_months() {
        assert_eq!(
            IssueRef::parse("sw", "2017", "01"),
            Some(IssueRef { publication: "sw".into(), year: 2017, month: 1 })
        );
        assert_eq!(IssueRef::parse("sw", "2017", "01").map(|r| r.sku()), Some("sw-2017-01".into()));
        for (publication, year, month) in [
            ("sw", "2017", "13"),
            ("sw", "2017", "ab"),
            ("sw", "2017", "00"),
            ("sw", "2017", "1"),
            ("sw", "99999", "01"),
            ("sw", "0999", "01"),
            ("sw", "+201", "01"),
            ("SW", "2017", "01"),
            ("", "2017", "01"),
            ("s/w", "2017", "01"),
        ] {
            assert_eq!(IssueRef::parse(publication, year, month), None, "{publication} {year} {month}");
        }
    }

    #[test]
    fn skus_follow_the_documented_shapes() {
        assert_eq!(plan_sku("isr", Edition::Print, 4), "isr-print-4y");
        assert_eq!(plan_sku("sw", Edition::Digital, 1), "sw-digital-1y");
        assert_eq!(issue_sku("sw", 2017, 1), "sw-2017-01");
        assert!(is_well_formed_sku("isr-print-4y"));
        assert!(!is_well_formed_sku("ISR print"));
        assert!(!is_well_formed_sku("../etc/passwd"));
    }

    #[test]
    fn month_names() {
        assert_eq!(month_name(1), "January");
        assert_eq!(month_name(12), "December");
        assert_eq!(month_name(13), "?");
        assert_eq!(month_name(0), "?");
    }
}
