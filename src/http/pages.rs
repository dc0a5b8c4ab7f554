//! The catalog's public pages: home, subscribe, the archive and one issue.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};
use futures_util::StreamExt;
use serde::Serialize;

use super::{
    error::PageError,
    extract::{reader_context, reader_parts, visitor_context, Visitor},
    page_cache::ReaderParts,
    render::render,
    AppState,
};
use crate::{
    accounts,
    catalog::{self, Edition, Issue, IssueRef, Plan, Publication},
    error::Error,
    money::Money,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/subscribe", get(subscribe))
        .route("/branches", get(branches_page))
        .route("/issues", get(archive))
        .route("/issues/{publication}", get(publication_archive))
        .route("/issues/{publication}/{year}/{month}", get(issue_page))
        .route("/issues/{publication}/{year}/{month}/pdf", get(issue_pdf))
        .route("/contact", get(policy_page))
        .route("/shipping", get(policy_page))
        .route("/refunds", get(policy_page))
        .route("/privacy", get(policy_page))
        .route("/terms", get(policy_page))
}

/// A policy page, rendered from its Markdown; "not found" while it has no text.
async fn policy_page(State(state): State<AppState>, visitor: Visitor, uri: axum::http::Uri) -> Page {
    let not_found = || Error::not_found("page_not_found", "There is no such page.");
    let policy = crate::policies::Policy::parse(uri.path().trim_start_matches('/')).ok_or_else(not_found)?;
    let page = crate::policies::page(&state.db, policy).await?;
    if page.markdown.trim().is_empty() {
        return Err(not_found().into());
    }
    let mut context = visitor_context(&state, &visitor, policy.title()).await;
    context.insert("description", &format!("{}: {}", state.config.shop_name, policy.title()));
    context.insert("page_html", &crate::markdown::to_html(&page.markdown));
    context.insert("policy", &page);
    if policy == crate::policies::Policy::Contact {
        context.insert("contact", &crate::settings::shop_contact(&state.db).await?);
    }
    Ok(render(&state, "catalog/policy.html", &context)?)
}

type Page = Result<Html<String>, PageError>;
/// A page kept rendered for readers with the same parts (`PageCache::rendered`).
type RenderedPage = Result<Html<Bytes>, PageError>;

#[derive(Serialize)]
struct EditionPlans {
    edition: Edition,
    plans: Vec<Plan>,
    /// The lowest price per year among the edition's terms.
    from_per_year: Option<Money>,
}

#[derive(Serialize)]
struct PublicationOffer {
    publication: Publication,
    editions: Vec<EditionPlans>,
    latest_issue: Option<Issue>,
}

fn editions_of(publication: &Publication, plans: &[Plan]) -> Vec<EditionPlans> {
    publication
        .editions
        .iter()
        .map(|&edition| {
            let plans: Vec<Plan> =
                plans.iter().filter(|p| p.publication == publication.slug && p.edition == edition).cloned().collect();
            let from_per_year = plans.iter().map(|p| p.price_per_year).min_by_key(|m| m.amount);
            EditionPlans { edition, plans, from_per_year }
        })
        .filter(|e| !e.plans.is_empty())
        .collect()
}

async fn offers(state: &AppState, with_latest_issue: bool) -> Result<Vec<PublicationOffer>, Error> {
    let plans = catalog::plans(&state.db).await?;
    let mut offers = Vec::new();
    for publication in catalog::publications(&state.db).await? {
        let latest_issue =
            if with_latest_issue { catalog::latest_issue(&state.db, &publication.slug).await? } else { None };
        offers.push(PublicationOffer { editions: editions_of(&publication, &plans), publication, latest_issue });
    }
    Ok(offers)
}

/// What the home page shows every reader alike.
struct HomeCatalog {
    offers: Vec<PublicationOffer>,
    featured: Option<crate::offers::FeaturedOffer>,
}

async fn home(State(state): State<AppState>, visitor: Visitor) -> RenderedPage {
    let state = &state;
    let parts = reader_parts(state, &visitor).await;
    let html = state
        .page_cache
        .rendered("home", parts, |parts| async move {
            let catalog = state
                .page_cache
                .shared("home", || async {
                    Ok(HomeCatalog {
                        offers: offers(state, true).await?,
                        featured: crate::offers::featured_offer(&state.db, crate::clock::now()).await?,
                    })
                })
                .await?;
            let mut context = reader_context(state, "Home", parts);
            context.insert("offers", &catalog.offers);
            context.insert("featured", &catalog.featured);
            Ok(render(state, "catalog/home.html", &context)?.0)
        })
        .await?;
    Ok(Html(html))
}

/// Each plan's facts (issues, price per issue, first issue if paid now), by SKU.
async fn facts_of(
    state: &AppState,
    editions: &[&EditionPlans],
) -> Result<std::collections::HashMap<String, crate::orders::plan_facts::PlanFacts>, Error> {
    let plans: Vec<&Plan> = editions.iter().flat_map(|e| e.plans.iter()).collect();
    crate::orders::plan_facts::plan_facts(&state.db, &plans, crate::clock::now()).await
}

async fn subscribe(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    subscribe_page(&state, &visitor, StatusCode::OK, None).await
}

/// What the subscribe page shows every reader alike.
struct SubscribeCatalog {
    offers: Vec<PublicationOffer>,
    facts: std::collections::HashMap<String, crate::orders::plan_facts::PlanFacts>,
    postage_zones: Vec<crate::postage::Zone>,
}

/// A rate the subscribe page refused (a sustainer's amount), to show beside its plan's field.
#[derive(Serialize)]
pub(super) struct RateAttempt {
    pub sku: String,
    pub message: String,
    pub amount: String,
}

pub(super) async fn subscribe_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    refused: Option<RateAttempt>,
) -> Result<Response, PageError> {
    let parts = reader_parts(state, visitor).await;
    let html = match refused {
        // A refused amount is this reader's own: that page is made for them alone.
        Some(refused) => Bytes::from(render_subscribe(state, parts, Some(refused)).await?),
        None => state.page_cache.rendered("subscribe", parts, |parts| render_subscribe(state, parts, None)).await?,
    };
    let mut response = Html(html).into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn render_subscribe(state: &AppState, parts: ReaderParts, refused: Option<RateAttempt>) -> Result<String, Error> {
    let catalog = state
        .page_cache
        .shared("subscribe", || async {
            let offers = offers(state, false).await?;
            let editions: Vec<&EditionPlans> = offers.iter().flat_map(|o| o.editions.iter()).collect();
            Ok(SubscribeCatalog {
                facts: facts_of(state, &editions).await?,
                postage_zones: crate::postage::zones(&state.db, state.currency()).await?,
                offers,
            })
        })
        .await?;
    let mut context = reader_context(state, "Subscribe", parts);
    context.insert("facts", &catalog.facts);
    context.insert("offers", &catalog.offers);
    context.insert("postage_zones", &catalog.postage_zones);
    context.insert(
        "description",
        "Prepaid subscriptions for 1, 2 or 4 years, in print or digital, with the price per year and where print is mailed.",
    );
    context.insert("refused", &refused);
    Ok(render(state, "catalog/subscribe.html", &context)?.0)
}

#[derive(Serialize)]
struct ArchiveYear {
    year: i64,
    issues: Vec<Issue>,
}

#[derive(Serialize)]
struct PublicationArchive {
    publication: Publication,
    years: Vec<ArchiveYear>,
}

/// Groups issues (newest first) by year, keeping their order.
fn by_year(issues: Vec<Issue>) -> Vec<ArchiveYear> {
    let mut years: Vec<ArchiveYear> = Vec::new();
    for issue in issues {
        match years.last_mut() {
            Some(last) if last.year == issue.year => last.issues.push(issue),
            _ => years.push(ArchiveYear { year: issue.year, issues: vec![issue] }),
        }
    }
    years
}

async fn archive(State(state): State<AppState>, visitor: Visitor) -> Page {
    let mut archives = Vec::new();
    for publication in catalog::publications(&state.db).await? {
        let issues = catalog::published_issues(&state.db, Some(&publication.slug)).await?;
        archives.push(PublicationArchive { years: by_year(issues), publication });
    }
    let mut context = visitor_context(&state, &visitor, "Issue archive").await;
    context.insert("archives", &archives);
    Ok(render(&state, "catalog/archive.html", &context)?)
}

fn no_such_publication() -> Error {
    Error::not_found("publication_not_found", "There is no publication at this address.")
}

async fn publication_archive(State(state): State<AppState>, visitor: Visitor, Path(slug): Path<String>) -> Page {
    let publication = match catalog::is_slug(&slug) {
        true => catalog::find_publication(&state.db, &slug).await?.ok_or_else(no_such_publication)?,
        false => return Err(no_such_publication().into()),
    };
    let issues = catalog::published_issues(&state.db, Some(&publication.slug)).await?;
    let mut context = visitor_context(&state, &visitor, &format!("{}: issue archive", publication.name)).await;
    context.insert("archives", &[PublicationArchive { years: by_year(issues), publication }]);
    Ok(render(&state, "catalog/archive.html", &context)?)
}

async fn issue_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, year, month)): Path<(String, String, String)>,
) -> RenderedPage {
    let not_found = || Error::not_found("issue_not_found", "There is no such issue in the archive.");
    let issue_ref = IssueRef::parse(&slug, &year, &month).ok_or_else(not_found)?;
    let page = state
        .page_cache
        .shared(&format!("issue:{}", issue_ref.sku()), || async {
            let issue = catalog::find_published_issue(&state.db, &issue_ref).await?.ok_or_else(not_found)?;
            let publication = catalog::find_publication(&state.db, &issue.publication).await?.ok_or_else(not_found)?;
            let editions = editions_of(&publication, &catalog::plans(&state.db).await?);
            Ok(IssueCatalog {
                facts: facts_of(&state, &editions.iter().collect::<Vec<_>>()).await?,
                subscribe_from: editions.iter().filter_map(|e| e.from_per_year).min_by_key(|m| m.amount),
                branches: crate::branches::listed_branches(&state.db).await?.len(),
                editions,
                publication,
                issue,
            })
        })
        .await?;
    let reader = visitor.reader().await?;
    let pdf = accounts::pdf_access(&state.db, reader.as_deref(), &page.issue, crate::clock::now()).await?;
    let parts = ReaderParts { pdf: Some(pdf), ..reader_parts(&state, &visitor).await };
    let (state, page) = (&state, &page);
    let html = state
        .page_cache
        .rendered(&format!("issue:{}", issue_ref.sku()), parts, |parts| async move {
            let issue = &page.issue;
            let mut context = reader_context(state, &issue.name(), parts);
            context.insert("facts", &page.facts);
            context.insert("editions", &page.editions);
            context.insert("issues_per_year", &page.publication.frequency.issues_per_year());
            context.insert("subscribe_from", &page.subscribe_from);
            context.insert("publication", &page.publication);
            context.insert("description", &issue.summary);
            context.insert("issue", issue);
            context.insert("branches", &page.branches);
            Ok(render(state, "catalog/issue.html", &context)?.0)
        })
        .await?;
    Ok(Html(html))
}

/// What an issue's page shows every reader alike (the PDF link is the reader's own).
struct IssueCatalog {
    issue: Issue,
    publication: Publication,
    editions: Vec<EditionPlans>,
    facts: std::collections::HashMap<String, crate::orders::plan_facts::PlanFacts>,
    subscribe_from: Option<Money>,
    branches: usize,
}

/// The branches that sell the paper and agreed to be listed.
async fn branches_page(State(state): State<AppState>, visitor: Visitor) -> Page {
    let mut context = visitor_context(&state, &visitor, "Where to buy a copy").await;
    context.insert("description", "The local branches that sell the paper: where they meet and whom to contact.");
    context.insert("branches", &crate::branches::listed_branches(&state.db).await?);
    Ok(render(&state, "catalog/branches.html", &context)?)
}

/// An issue's PDF, as a download: to everyone when free, else to a signed-in reader whose digital
/// subscription covers it (303 to sign in for a stranger, 403 for a reader it does not cover).
/// Private and never cached: no URL works for anyone else, or for ever.
async fn issue_pdf(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, year, month)): Path<(String, String, String)>,
) -> Result<axum::response::Response, PageError> {
    use axum::{
        http::{header, HeaderValue},
        response::IntoResponse,
    };
    let not_found = || Error::not_found("pdf_not_found", "This issue has no PDF.");
    let issue_ref = IssueRef::parse(&slug, &year, &month).ok_or_else(not_found)?;
    let issue = catalog::find_published_issue(&state.db, &issue_ref).await?.ok_or_else(not_found)?;
    let reader = visitor.reader().await?;
    let access = accounts::pdf_access(&state.db, reader.as_deref(), &issue, crate::clock::now()).await?;
    match access {
        accounts::PdfAccess::Free | accounts::PdfAccess::Covered => {}
        accounts::PdfAccess::NoPdf => return Err(not_found().into()),
        accounts::PdfAccess::SignInNeeded => return Ok(super::redirect::to("/account/login").into_response()),
        accounts::PdfAccess::NotCovered => {
            return Err(Error::Forbidden {
                code: "pdf_not_covered",
                message: format!(
                    "Your subscriptions do not cover the {} issue of {}. A digital subscription gives you every \
                     issue of its term as a PDF.",
                    issue.label, issue.publication_name
                ),
            }
            .into())
        }
    }
    let key = catalog::pdf_key(&state.db, &issue.sku).await?.ok_or_else(not_found)?;
    let mut response = match (access, reader) {
        // A subscriber's copy carries their name and order number on every page.
        (accounts::PdfAccess::Covered, Some(reader)) => {
            let line = accounts::stamp_line(&state.db, &reader, &issue, &state.config.shop_name)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("no covering subscription for a covered reader")))?;
            stamped_copy(&state, &key, &line, not_found).await?
        }
        _ => super::media::stream(super::media::open_stored(&state, &key, not_found).await?),
    };
    let file_name = format!("{}-{}-{:02}.pdf", issue.publication, issue.year, issue.month);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The stored PDF under `key` streamed as it is, then the update that stamps it with `line`.
async fn stamped_copy(state: &AppState, key: &str, line: &str, missing: fn() -> Error) -> Result<Response, Error> {
    let read = || async {
        let pdf = state.media.read(key).await.map_err(super::media::storage_unreachable)?;
        pdf.map(Vec::from).ok_or_else(missing)
    };
    let plan = state.stamp_plans.plan_for(key, read).await?;
    let file = super::media::open_stored(state, key, missing).await?;
    if file.size != plan.original_len() {
        let sizes = format!("{} bytes stored, {} planned", file.size, plan.original_len());
        return Err(Error::Internal(anyhow::anyhow!("the PDF {key} changed under its key: {sizes}")));
    }
    let update = plan.update_for(line);
    let length = file.size + update.len() as u64;
    let update = futures_util::stream::once(async move { Ok(Bytes::from(update)) });
    let mut response = axum::body::Body::from_stream(file.stream.chain(update)).into_response();
    response.headers_mut().insert(axum::http::header::CONTENT_LENGTH, length.into());
    Ok(response)
}
