//! The catalog's read API: products and the archive of issues.

use axum::{
    extract::{Path, Query, State},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    catalog::{self, Article, Issue, IssueRef, Product},
    error::Error,
    http::{error::ApiError, AppState},
    money::{Money, MoneyJson},
};

#[derive(Serialize, ToSchema)]
pub struct ProductJson {
    #[schema(example = "isr-print-4y")]
    pub sku: String,
    #[schema(example = "International Socialist Review, print edition, 4 years")]
    pub name: String,
    /// `subscription` or `issue` (a single back issue).
    #[schema(example = "subscription")]
    pub kind: &'static str,
    #[schema(example = "isr")]
    pub publication: String,
    /// `print` or `digital`; single issues are print copies.
    #[schema(example = "print")]
    pub edition: &'static str,
    /// The term of a subscription; null for a single issue.
    #[schema(example = 4)]
    pub term_years: Option<i64>,
    /// The standard price.
    #[schema(value_type = MoneyJson)]
    pub price: Money,
    /// A subscription's other rates, when offered: add the plan with `rate` (and a sustainer's
    /// `amount`) to choose one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rates: Option<RatesJson>,
}

#[derive(Serialize, ToSchema)]
pub struct RatesJson {
    /// `{"price", "wording"}`: on the honour system, for those the wording names.
    #[schema(value_type = Option<Object>)]
    pub reduced: Option<crate::catalog::rates::ReducedRate>,
    /// `{"minimum", "suggested"}`: the reader pays any amount from the minimum up.
    #[schema(value_type = Option<Object>)]
    pub sustainer: Option<crate::catalog::rates::SustainerRate>,
}

impl ProductJson {
    fn from_product(product: &Product) -> Option<ProductJson> {
        Some(ProductJson {
            sku: product.sku().to_string(),
            name: product.name(),
            kind: if product.term_years().is_some() { "subscription" } else { "issue" },
            publication: product.publication().to_string(),
            edition: product.edition().as_str(),
            term_years: product.term_years(),
            price: product.price()?,
            rates: match product {
                Product::Plan(plan) if !plan.rates.is_empty() => {
                    Some(RatesJson { reduced: plan.rates.reduced.clone(), sustainer: plan.rates.sustainer.clone() })
                }
                _ => None,
            },
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct ArticleJson {
    pub section: Option<String>,
    pub title: String,
    pub author: String,
}

#[derive(Serialize, ToSchema)]
pub struct IssueJson {
    #[schema(example = "sw-2017-01")]
    pub sku: String,
    #[schema(example = "sw")]
    pub publication: String,
    pub publication_name: String,
    #[schema(example = 2017)]
    pub year: i64,
    #[schema(example = 1)]
    pub month: i64,
    #[schema(example = "January 2017")]
    pub label: String,
    pub title: String,
    pub summary: String,
    /// The issue's page on the site.
    #[schema(example = "/issues/sw/2017/01")]
    pub url: String,
    pub cover_url: String,
    /// The price of a single copy; null when the issue is not sold singly.
    #[schema(value_type = Option<MoneyJson>)]
    pub price: Option<Money>,
    /// True for demo content that is not a real issue.
    pub sample: bool,
    /// The table of contents; empty in lists.
    pub contents: Vec<ArticleJson>,
}

impl From<Issue> for IssueJson {
    fn from(issue: Issue) -> IssueJson {
        IssueJson {
            contents: issue
                .articles
                .into_iter()
                .map(|Article { section, title, author }| ArticleJson { section, title, author })
                .collect(),
            url: issue.path,
            sku: issue.sku,
            publication: issue.publication,
            publication_name: issue.publication_name,
            year: issue.year,
            month: issue.month,
            label: issue.label,
            title: issue.title,
            summary: issue.summary,
            cover_url: issue.cover_url,
            price: issue.price,
            sample: issue.is_sample,
        }
    }
}

/// Everything on sale: subscription plans and single back issues.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog",
    responses((status = 200, body = [ProductJson])))]
pub async fn list_products(State(state): State<AppState>) -> Result<Json<Vec<ProductJson>>, ApiError> {
    let products = catalog::products(&state.db).await?;
    Ok(Json(products.iter().filter_map(ProductJson::from_product).collect()))
}

#[derive(Deserialize, IntoParams)]
pub struct IssueFilter {
    /// Only this publication's issues (a slug such as `sw`).
    publication: Option<String>,
}

/// Published issues, newest first.
#[utoipa::path(get, path = "/api/v1/issues", tag = "catalog", params(IssueFilter),
    responses((status = 200, body = [IssueJson]), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn list_issues(
    State(state): State<AppState>,
    Query(filter): Query<IssueFilter>,
) -> Result<Json<Vec<IssueJson>>, ApiError> {
    if let Some(slug) = &filter.publication {
        if !catalog::is_slug(slug) || catalog::find_publication(&state.db, slug).await?.is_none() {
            return Err(Error::not_found("publication_not_found", "There is no such publication.").into());
        }
    }
    let issues = catalog::published_issues(&state.db, filter.publication.as_deref()).await?;
    Ok(Json(issues.into_iter().map(IssueJson::from).collect()))
}

/// One published issue with its table of contents.
#[utoipa::path(get, path = "/api/v1/issues/{publication}/{year}/{month}", tag = "catalog",
    params(
        ("publication" = String, Path, example = "sw"),
        ("year" = String, Path, description = "Four digits", example = "2017"),
        ("month" = String, Path, description = "Two digits, 01 to 12", example = "01"),
    ),
    responses((status = 200, body = IssueJson), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn get_issue(
    State(state): State<AppState>,
    Path((slug, year, month)): Path<(String, String, String)>,
) -> Result<Json<IssueJson>, ApiError> {
    let not_found = || Error::not_found("issue_not_found", "There is no such issue in the archive.");
    let issue_ref = IssueRef::parse(&slug, &year, &month).ok_or_else(not_found)?;
    let issue = catalog::find_published_issue(&state.db, &issue_ref).await?.ok_or_else(not_found)?;
    Ok(Json(issue.into()))
}
