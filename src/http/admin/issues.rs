//! Issues in the admin: create and edit (contents one article per line, in reading order),
//! upload a cover or the digital edition's PDF, publish and unpublish.

use crate::http::redirect;
use axum::{
    extract::{DefaultBodyLimit, Multipart, Path, State},
    handler::Handler,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{admin_context, StaffContext};
use crate::{
    catalog::{
        self,
        editing::{self, IssueDraft},
        Article,
    },
    clock,
    error::{Error, FieldError},
    http::{
        error::PageError,
        extract::FormBody,
        media::{open_stored, storage_unreachable, stream},
        render::render,
        routes::RecordingRouter,
        AppState,
    },
    money::Money,
    storage::{FileKind, UploadError},
};

const MAX_COVER_BYTES: usize = 5 * 1024 * 1024;
const MAX_PDF_BYTES: usize = 200 * 1024 * 1024;
/// An upload may take this long (a large PDF over a slow line); other requests get 30 seconds.
pub const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The routes that take uploads, for the timeout above.
pub const UPLOAD_ROUTES: [&str; 2] = ["/admin/issues/{sku}/cover", "/admin/issues/{sku}/pdf"];

pub fn routes(routes: RecordingRouter) -> RecordingRouter {
    routes
        .get("/issues", list)
        .get("/issues/new", new_form)
        .post("/issues", create)
        .get("/issues/{sku}", edit_form)
        .post("/issues/{sku}", update)
        .post("/issues/{sku}/publish", publish)
        .post("/issues/{sku}/unpublish", unpublish)
        .post("/issues/pdf-embargo", set_embargo)
        .post("/issues/{sku}/pdf-free", make_pdf_free)
        .post("/issues/{sku}/pdf-subscribers", make_pdf_for_subscribers)
        .post("/issues/{sku}/cover", upload_cover.layer(DefaultBodyLimit::max(MAX_COVER_BYTES + 64 * 1024)))
        .post("/issues/{sku}/pdf", upload_pdf.layer(DefaultBodyLimit::max(MAX_PDF_BYTES + 64 * 1024)))
        .get("/issues/{sku}/pdf", download_pdf)
}

async fn list(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    let mut context = admin_context(&state, &ctx, "Issues").await;
    context.insert("issues", &catalog::all_issues(&state.db).await?);
    context.insert("embargo_months", &crate::settings::pdf_embargo_months(&state.db).await?);
    Ok(render(&state, "admin/issues.html", &context)?.into_response())
}

#[derive(Deserialize)]
struct EmbargoForm {
    #[serde(default)]
    months: String,
}

/// Back issues' PDFs free after so many months (empty: never).
async fn set_embargo(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<EmbargoForm>,
) -> Result<Response, PageError> {
    let months = match form.months.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(n @ 1..=600) => Some(n),
            _ => {
                return Err(PageError(Error::invalid(
                    "invalid_embargo",
                    "Type a number of months from 1 to 600, or leave it empty so back issues stay for subscribers.",
                )))
            }
        },
    };
    crate::settings::set_pdf_embargo_months(&state.db, months, &ctx.actor(), clock::now()).await?;
    ctx.flash(match months {
        Some(n) => format!("Back issues' PDFs are now free {n} months after their issue."),
        None => "Back issues' PDFs stay for subscribers.".to_string(),
    })
    .await;
    Ok(redirect::to("/admin/issues"))
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct IssueForm {
    #[serde(default)]
    publication: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    /// One article a line: `Section | Title | Author` (the section may be left out).
    #[serde(default)]
    contents: String,
    #[serde(default)]
    price: String,
}

impl IssueForm {
    fn draft(&self, state: &AppState) -> Result<IssueDraft, Vec<FieldError>> {
        let mut problems = Vec::new();
        let number = |text: &str| text.trim().parse::<i64>().unwrap_or(0);
        let price = match self.price.trim() {
            "" => None,
            text => match Money::parse(text, state.currency()) {
                Ok(m) => Some(m),
                Err(_) => {
                    problems.push(FieldError::new("price", "Type a price such as 2.50, or leave it empty."));
                    None
                }
            },
        };
        let articles = Article::parse_contents(&self.contents);
        let draft = IssueDraft {
            publication: self.publication.trim().to_string(),
            year: number(&self.year),
            month: number(&self.month),
            title: self.title.clone(),
            summary: self.summary.clone(),
            articles,
            price,
        };
        match problems.is_empty() {
            true => Ok(draft),
            false => Err(problems),
        }
    }

    fn from_issue(issue: &catalog::Issue) -> IssueForm {
        IssueForm {
            publication: issue.publication.clone(),
            year: issue.year.to_string(),
            month: issue.month.to_string(),
            title: issue.title.clone(),
            summary: issue.summary.clone(),
            contents: Article::format_contents(&issue.articles),
            price: issue.price.map(|p| p.to_decimal().to_string()).unwrap_or_default(),
        }
    }
}

async fn form_page(
    state: &AppState,
    ctx: &StaffContext,
    status: StatusCode,
    form: &IssueForm,
    issue: Option<&catalog::Issue>,
    problems: &[FieldError],
) -> Result<Response, PageError> {
    let title = issue.map(|i| format!("{} {}", i.publication_name, i.label)).unwrap_or_else(|| "New issue".into());
    let mut context = admin_context(state, ctx, &title).await;
    context.insert("form", form);
    context.insert("issue", &issue);
    context.insert("publications", &catalog::publications(&state.db).await?);
    context.insert(
        "errors",
        &problems.iter().map(|p| (p.field, p.message.clone())).collect::<std::collections::HashMap<_, _>>(),
    );
    let mut response = render(state, "admin/issue_form.html", &context)?.into_response();
    *response.status_mut() = status;
    Ok(response)
}

async fn new_form(State(state): State<AppState>, ctx: StaffContext) -> Result<Response, PageError> {
    form_page(&state, &ctx, StatusCode::OK, &IssueForm::default(), None, &[]).await
}

async fn create(
    State(state): State<AppState>,
    ctx: StaffContext,
    FormBody(form): FormBody<IssueForm>,
) -> Result<Response, PageError> {
    let draft = match form.draft(&state) {
        Ok(draft) => draft,
        Err(problems) => {
            return form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, None, &problems).await
        }
    };
    match editing::create_issue(&state.db, &draft, state.currency(), &ctx.actor(), clock::now()).await {
        Ok(sku) => {
            ctx.flash("Issue saved, not yet published.").await;
            Ok(redirect::to(&format!("/admin/issues/{sku}")))
        }
        Err(Error::Fields(problems)) => {
            form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, None, &problems).await
        }
        Err(other) => Err(PageError(other)),
    }
}

async fn existing(state: &AppState, sku: &str) -> Result<catalog::Issue, Error> {
    let not_found = || Error::not_found("issue_not_found", "There is no such issue.");
    if !catalog::is_well_formed_sku(sku) {
        return Err(not_found());
    }
    catalog::issue_any(&state.db, sku).await?.ok_or_else(not_found)
}

async fn edit_form(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    let issue = existing(&state, &sku).await?;
    form_page(&state, &ctx, StatusCode::OK, &IssueForm::from_issue(&issue), Some(&issue), &[]).await
}

async fn update(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
    FormBody(form): FormBody<IssueForm>,
) -> Result<Response, PageError> {
    let issue = existing(&state, &sku).await?;
    let draft = match form.draft(&state) {
        Ok(draft) => draft,
        Err(problems) => {
            return form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(&issue), &problems).await
        }
    };
    match editing::update_issue(&state.db, &sku, &draft, &ctx.actor(), clock::now()).await {
        Ok(()) => {
            ctx.flash("Issue saved.").await;
            Ok(redirect::to(&format!("/admin/issues/{sku}")))
        }
        Err(Error::Fields(problems)) => {
            form_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(&issue), &problems).await
        }
        Err(other) => Err(PageError(other)),
    }
}

async fn set_published(
    state: &AppState,
    ctx: &StaffContext,
    sku: &str,
    published: bool,
) -> Result<Response, PageError> {
    existing(state, sku).await?;
    editing::set_published(&state.db, sku, published, &ctx.actor(), clock::now()).await?;
    ctx.flash(if published {
        "Published: the issue is on the site."
    } else {
        "Unpublished: readers no longer see it."
    })
    .await;
    Ok(redirect::to(&format!("/admin/issues/{sku}")))
}

async fn publish(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    set_published(&state, &ctx, &sku, true).await
}

async fn unpublish(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    set_published(&state, &ctx, &sku, false).await
}

async fn set_pdf_free(state: &AppState, ctx: &StaffContext, sku: &str, free: bool) -> Result<Response, PageError> {
    existing(state, sku).await?;
    editing::set_pdf_free(&state.db, sku, free, &ctx.actor(), clock::now()).await?;
    ctx.flash(if free { "The PDF is now free for everyone." } else { "The PDF is now for digital subscribers only." })
        .await;
    Ok(redirect::to(&format!("/admin/issues/{sku}")))
}

async fn make_pdf_free(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    set_pdf_free(&state, &ctx, &sku, true).await
}

async fn make_pdf_for_subscribers(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    set_pdf_free(&state, &ctx, &sku, false).await
}

fn upload_problem(error: UploadError, pdf: bool) -> Error {
    match error {
        UploadError::TooLarge(limit) => Error::PayloadTooLarge {
            code: "file_too_large",
            message: format!("The file is larger than {} MiB.", limit / (1024 * 1024)),
        },
        UploadError::WrongKind => Error::invalid(
            "wrong_file_type",
            if pdf { "That file is not a PDF." } else { "A cover must be a PNG, JPEG, WebP or SVG image." },
        ),
        UploadError::Empty => Error::invalid("no_file", "Choose a file to upload."),
        UploadError::Storage(cause) => storage_unreachable(cause),
    }
}

fn unreadable(error: axum::extract::multipart::MultipartError, limit: u64) -> Error {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        upload_problem(UploadError::TooLarge(limit), true)
    } else {
        Error::bad_request("bad_upload", "The upload could not be read.")
    }
}

/// Streams the form's `file` field into the media store, chunk by chunk, under the upload's own
/// size limit. The issue changes only once the file is stored whole.
async fn upload(
    state: &AppState,
    ctx: &StaffContext,
    sku: &str,
    mut multipart: Multipart,
    pdf: bool,
) -> Result<Response, PageError> {
    existing(state, sku).await?;
    let limit = if pdf { MAX_PDF_BYTES } else { MAX_COVER_BYTES } as u64;
    let mut stored = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| unreadable(e, limit))? {
        if field.name() != Some("file") {
            continue;
        }
        let accept: fn(FileKind) -> bool = if pdf { |k| k == FileKind::Pdf } else { |k| k != FileKind::Pdf };
        let mut upload = state
            .media
            .begin_upload(if pdf { "pdfs" } else { "covers" }, sku, limit, accept)
            .map_err(Error::Internal)?;
        let written = async {
            while let Some(chunk) = field.chunk().await.map_err(|e| unreadable(e, limit))? {
                upload.write(&chunk).await.map_err(|e| upload_problem(e, pdf))?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(problem) = written {
            upload.abort().await;
            return Err(problem.into());
        }
        stored = Some(upload.finish().await.map_err(|e| upload_problem(e, pdf))?);
        break;
    }
    let (key, _) = stored.ok_or_else(|| upload_problem(UploadError::Empty, pdf))?;
    editing::set_file(&state.db, sku, pdf, &key, &ctx.actor(), clock::now()).await?;
    ctx.flash(if pdf { "PDF uploaded." } else { "Cover uploaded." }).await;
    Ok(redirect::to(&format!("/admin/issues/{sku}")))
}

async fn upload_cover(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    upload(&state, &ctx, &sku, multipart, false).await
}

async fn upload_pdf(
    State(state): State<AppState>,
    ctx: StaffContext,
    Path(sku): Path<String>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    upload(&state, &ctx, &sku, multipart, true).await
}

async fn download_pdf(
    State(state): State<AppState>,
    _ctx: StaffContext,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    let not_found = || Error::not_found("pdf_not_found", "This issue has no PDF.");
    let key = catalog::pdf_key(&state.db, &sku).await?.ok_or_else(not_found)?;
    let mut response = stream(open_stored(&state, &key, not_found).await?);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{sku}.pdf\"")).map_err(|e| Error::Internal(e.into()))?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}
