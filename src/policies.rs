//! The shop's policy pages: contact, shipping and delivery, refunds and cancellations, privacy,
//! and terms. Staff write them in Markdown (`markdown::to_html`); a fresh shop starts with texts
//! to adapt. A page with no text is neither shown nor linked.

use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::{
    audit::{self, Actor},
    db::Db,
    error::{FieldError, Result},
};

/// The longest page staff may save, in characters.
pub const MAX_CHARS: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Policy {
    Contact,
    Shipping,
    Refunds,
    Privacy,
    Terms,
}

impl Policy {
    pub const ALL: [Policy; 5] = [Policy::Contact, Policy::Shipping, Policy::Refunds, Policy::Privacy, Policy::Terms];

    pub fn parse(slug: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.slug() == slug)
    }

    /// Its address is `/{slug}`.
    pub fn slug(self) -> &'static str {
        match self {
            Policy::Contact => "contact",
            Policy::Shipping => "shipping",
            Policy::Refunds => "refunds",
            Policy::Privacy => "privacy",
            Policy::Terms => "terms",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Policy::Contact => "Contact us",
            Policy::Shipping => "Shipping and delivery",
            Policy::Refunds => "Refunds and cancellations",
            Policy::Privacy => "Privacy",
            Policy::Terms => "Terms of sale",
        }
    }

    /// The text a fresh shop starts with, for staff to adapt.
    pub fn starting_text(self) -> &'static str {
        match self {
            Policy::Contact => include_str!("../fixtures/policies/contact.md"),
            Policy::Shipping => include_str!("../fixtures/policies/shipping.md"),
            Policy::Refunds => include_str!("../fixtures/policies/refunds.md"),
            Policy::Privacy => include_str!("../fixtures/policies/privacy.md"),
            Policy::Terms => include_str!("../fixtures/policies/terms.md"),
        }
    }
}

/// A page as stored.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyPage {
    pub slug: &'static str,
    pub title: &'static str,
    pub markdown: String,
    /// 0 while it is the starting text no one has saved yet.
    pub updated_at: i64,
}

/// A link to a page with text, as footers and emails list them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyLink {
    pub path: String,
    pub title: &'static str,
}

/// Gives each page its starting text unless it has one already (a page staff emptied stays
/// empty). Safe to run on every start, by every instance.
pub async fn seed_starting_texts(db: &Db) -> Result<()> {
    for policy in Policy::ALL {
        sqlx::query(
            "INSERT INTO policy_pages (slug, body, updated_at) VALUES ($1, $2, 0) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(policy.slug())
        .bind(policy.starting_text())
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

pub async fn page(db: &Db, policy: Policy) -> Result<PolicyPage> {
    let row: Option<(String, i64)> = sqlx::query_as("SELECT body, updated_at FROM policy_pages WHERE slug = $1")
        .bind(policy.slug())
        .fetch_optional(&db.pool)
        .await?;
    let (markdown, updated_at) = row.unwrap_or_default();
    Ok(PolicyPage { slug: policy.slug(), title: policy.title(), markdown, updated_at })
}

pub async fn pages(db: &Db) -> Result<Vec<PolicyPage>> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT slug, body, updated_at FROM policy_pages").fetch_all(&db.pool).await?;
    Ok(Policy::ALL
        .into_iter()
        .map(|policy| {
            let (markdown, updated_at) = rows
                .iter()
                .find(|(slug, _, _)| slug == policy.slug())
                .map(|(_, body, at)| (body.clone(), *at))
                .unwrap_or_default();
            PolicyPage { slug: policy.slug(), title: policy.title(), markdown, updated_at }
        })
        .collect())
}

/// The pages that have text, in their order, on any connection (emails are written inside the
/// transaction of what they report).
pub async fn links(conn: &mut sqlx::AnyConnection) -> Result<Vec<PolicyLink>> {
    let with_text: Vec<(String,)> =
        sqlx::query_as("SELECT slug FROM policy_pages WHERE body <> ''").fetch_all(&mut *conn).await?;
    Ok(Policy::ALL
        .into_iter()
        .filter(|p| with_text.iter().any(|(slug,)| slug == p.slug()))
        .map(|p| PolicyLink { path: format!("/{}", p.slug()), title: p.title() })
        .collect())
}

/// Saves a page's Markdown (empty: the page is taken down) with its audit entry.
pub async fn save(
    db: &Db,
    policy: Policy,
    markdown: &str,
    actor: &Actor,
    now: i64,
) -> std::result::Result<(), crate::error::Error> {
    // Line ends as typed in a browser (CRLF) are kept as LF; trailing blank space goes.
    let markdown = markdown.replace("\r\n", "\n").trim_end().to_string();
    if markdown.chars().count() > MAX_CHARS {
        return Err(crate::error::Error::Fields(vec![FieldError::new(
            "markdown",
            format!("A page is at most {MAX_CHARS} characters."),
        )]));
    }
    let before = page(db, policy).await?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO policy_pages (slug, body, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (slug) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(policy.slug())
    .bind(&markdown)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let change = audit::Change {
        action: "policy.save",
        entity: "policy_page",
        entity_id: policy.slug(),
        before: Some(serde_json::json!({ "markdown": before.markdown })),
        after: Some(serde_json::json!({ "markdown": markdown })),
    };
    audit::record(&mut tx, actor, change, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The linked pages, kept in memory for every page's footer and refreshed each second, so a
/// page staff publish or take down shows in every instance's footer within a second.
#[derive(Clone, Default)]
pub struct LinkCache {
    links: Arc<RwLock<Vec<PolicyLink>>>,
}

impl LinkCache {
    pub fn get(&self) -> Vec<PolicyLink> {
        self.links.read().map(|links| links.clone()).unwrap_or_default()
    }

    pub async fn refresh(&self, db: &Db) -> Result<()> {
        let mut conn = db.pool.acquire().await?;
        let fresh = links(&mut conn).await?;
        if let Ok(mut links) = self.links.write() {
            *links = fresh;
        }
        Ok(())
    }

    /// Refreshes every second for as long as the server runs; a database away keeps the last list.
    pub async fn follow_changes(self, db: Db) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = self.refresh(&db).await {
                tracing::debug!(error = %error, "policy links: not refreshed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_has_a_starting_text_and_a_slug_that_parses_back() {
        for policy in Policy::ALL {
            assert!(!policy.starting_text().trim().is_empty(), "{policy:?}");
            assert_eq!(Policy::parse(policy.slug()), Some(policy));
        }
        assert_eq!(Policy::parse("admin"), None);
    }
}
