//! `/admin/reports`: circulation and deferred revenue, each also as a CSV
//! (`/admin/reports/{report}.csv`). The figures come from `orders::reports`.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};

use super::{admin_context, StaffContext};
use crate::{
    clock,
    error::Error,
    http::{error::PageError, render::render, routes::RecordingRouter, AppState},
    money::Money,
    orders::{reports, terms},
};

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes.get("/reports", reports_page).get("/reports/{file}", report_csv)
}

/// The months the page shows: renewals over the last twelve, revenue from eleven months back to
/// twelve ahead (what will be earned as the coming issues come out).
fn months() -> (i64, (i64, i64), (i64, i64)) {
    let now = terms::period_at(clock::now());
    (now, (now - 12, now - 1), (now - 11, now + 12))
}

async fn reports_page(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    let (now, renewals, revenue) = months();
    let currency = state.currency();
    let money = |cents: i64| Money::new(cents, currency).display();
    let mut context = admin_context(&state, &ctx, "Reports").await;
    context.insert("by_zone", &reports::subscriptions_by_zone(&state.db, now).await?);
    context.insert("expiring", &reports::expiring(&state.db, now).await?);
    context.insert("renewals", &reports::renewal_rate(&state.db, renewals.0, renewals.1).await?);
    let revenue: Vec<_> = reports::deferred_revenue(&state.db, revenue.0, revenue.1)
        .await?
        .into_iter()
        .map(|r| (r.month, money(r.received), money(r.earned), money(r.deferred), money(r.donations)))
        .collect();
    context.insert("revenue", &revenue);
    context.insert("this_month", &terms::describe(now));
    Ok(render(&state, "admin/reports.html", &context)?.into_response())
}

async fn report_csv(
    State(state): State<AppState>,
    _ctx: StaffContext,
    Path(file): Path<String>,
) -> Result<Response, PageError> {
    let (now, renewals, revenue) = months();
    let amount = |cents: i64| Money::new(cents, state.currency()).to_decimal().to_string();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let written: csv::Result<()> =
        match file.as_str() {
            "subscriptions-by-zone.csv" => {
                let rows = reports::subscriptions_by_zone(&state.db, now).await?;
                std::iter::once(writer.write_record(["publication", "edition", "zone", "subscriptions"]))
                    .chain(rows.iter().map(|r| {
                        writer.write_record([&r.publication, &r.edition, &r.zone, &r.subscriptions.to_string()])
                    }))
                    .collect()
            }
            "expiring.csv" => {
                let rows = reports::expiring(&state.db, now).await?;
                std::iter::once(writer.write_record([
                    "publication",
                    "edition",
                    "next_issue",
                    "next_3_issues",
                    "next_6_issues",
                ]))
                .chain(rows.iter().map(|r| {
                    writer.write_record([
                        r.publication.clone(),
                        r.edition.clone(),
                        r.next_1.to_string(),
                        r.next_3.to_string(),
                        r.next_6.to_string(),
                    ])
                }))
                .collect()
            }
            "renewals.csv" => {
                let rows = reports::renewal_rate(&state.db, renewals.0, renewals.1).await?;
                std::iter::once(writer.write_record(["month", "ended", "renewed", "rate_percent"]))
                    .chain(rows.iter().map(|r| {
                        writer.write_record([
                            r.month.clone(),
                            r.ended.to_string(),
                            r.renewed.to_string(),
                            r.rate_percent.map(|p| p.to_string()).unwrap_or_default(),
                        ])
                    }))
                    .collect()
            }
            "deferred-revenue.csv" => {
                let rows = reports::deferred_revenue(&state.db, revenue.0, revenue.1).await?;
                std::iter::once(writer.write_record(["month", "received", "earned", "deferred", "donations"]))
                    .chain(rows.iter().map(|r| {
                        writer.write_record([
                            r.month.clone(),
                            amount(r.received),
                            amount(r.earned),
                            amount(r.deferred),
                            amount(r.donations),
                        ])
                    }))
                    .collect()
            }
            _ => return Err(PageError(Error::not_found("unknown_report", "There is no such report."))),
        };
    written.map_err(|e| Error::Internal(e.into()))?;
    let bytes = writer.into_inner().map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        bytes,
    )
        .into_response())
}
