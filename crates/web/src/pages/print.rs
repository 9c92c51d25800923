//! Printable A4 sheets: personal QR codes (3 × 8 a page) for residents without a phone, and
//! Code 128 tube labels (4 × 10 a page). The SVGs come from `bulwark-printables`; a QR code
//! holds an opaque token, and the sheet shows the name and the household address, never the ID
//! number.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::AppState;
use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use bulwark_app::AppError;
use bulwark_domain::access::Operation;
use bulwark_printables::{PrintError, TubeSeries, code128_svg, qr_svg};
use serde::Deserialize;

/// Personal QR codes on one A4 page: 3 columns × 8 rows.
pub(crate) const QR_PER_PAGE: usize = 24;
/// Tube labels on one A4 page: 4 columns × 10 rows.
pub(crate) const LABELS_PER_PAGE: usize = 40;
/// The most tube labels one request prints (25 pages).
pub(crate) const MAX_LABELS: u32 = 1_000;

fn print_error(e: PrintError) -> AppError {
    let field = match e {
        PrintError::SheetSize { .. } => "count",
        PrintError::SeriesPrefix => "prefix",
        PrintError::SeriesWidth { .. } => "width",
        PrintError::SeriesCode(_) => "prefix",
        PrintError::QrTooLong { .. } | PrintError::Code128Length { .. } | PrintError::Code128Character(_) => "code",
    };
    AppError::invalid(field, e)
}

pub(crate) struct QrCell {
    pub svg: String,
    pub name: String,
    pub address: String,
}

#[derive(Template)]
#[template(path = "print_qr.html")]
struct QrSheet {
    chrome: Chrome,
    area: String,
    pages: Vec<Vec<QrCell>>,
    total: usize,
}

#[derive(Deserialize)]
pub(crate) struct QrQuery {
    area: Option<String>,
}

/// `GET /print/qr?area=GRIDCODE`: the residents' personal QR codes (each one an audited read).
pub(crate) async fn qr(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<QrQuery>,
) -> Result<Response, PageError> {
    let lang = caller.lang;
    let area = q.area.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let codes =
        bulwark_app::testing::printables::qr_codes(state.store.as_ref(), &caller.actor, area, state.clock.now())
            .await
            .or_page(lang)?;
    let total = codes.len();
    let mut cells = Vec::with_capacity(total);
    for (person, token) in codes {
        cells.push(QrCell {
            svg: qr_svg(&token).map_err(print_error).or_page(lang)?,
            name: person.name,
            address: person.address.unwrap_or_default(),
        });
    }
    let mut pages = Vec::new();
    let mut cells = cells.into_iter().peekable();
    while cells.peek().is_some() {
        pages.push(cells.by_ref().take(QR_PER_PAGE).collect());
    }
    let area = area.map(str::to_string).unwrap_or_default();
    Ok(render(&QrSheet { chrome: caller.chrome(), area, pages, total }))
}

#[derive(Deserialize)]
pub(crate) struct TubeQuery {
    prefix: Option<String>,
    start: Option<String>,
    count: Option<String>,
    width: Option<String>,
}

#[derive(Template)]
#[template(path = "print_tubes.html")]
struct TubeSheet {
    chrome: Chrome,
    prefix: String,
    start: u64,
    count: u32,
    width: usize,
    pages: Vec<Vec<String>>,
    first: String,
    last: String,
}

fn number<T: std::str::FromStr>(field: &str, raw: Option<&str>, default: T, what: &str) -> Result<T, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| AppError::invalid(field, what)),
    }
}

/// `GET /print/tubes?prefix=EP&start=1&count=100&width=6`: a sheet of Code 128 tube labels,
/// `EP000001` to `EP000100`. Nobody's data is on it, but printing is still a role's right.
pub(crate) async fn tubes(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<TubeQuery>,
) -> Result<Response, PageError> {
    let lang = caller.lang;
    caller.actor.authorize(state.store.as_ref(), Operation::PrintablesRead, state.clock.now()).await.or_page(lang)?;
    let prefix = q.prefix.as_deref().map(|p| p.trim().to_ascii_uppercase()).unwrap_or_else(|| "EP".into());
    let start = number("start", q.start.as_deref(), 1u64, "a number, 0 or more").or_page(lang)?;
    let count = number("count", q.count.as_deref(), 100u32, "a number of labels, 1 to 1000").or_page(lang)?;
    let width = number("width", q.width.as_deref(), 6usize, "a number of digits").or_page(lang)?;
    if count == 0 || count > MAX_LABELS {
        return Err(AppError::invalid("count", format!("1 to {MAX_LABELS} labels a sheet"))).or_page(lang);
    }
    let codes =
        TubeSeries { prefix: prefix.clone(), start, count, width }.codes().map_err(print_error).or_page(lang)?;
    let mut labels = Vec::with_capacity(codes.len());
    for code in &codes {
        labels.push(code128_svg(code.as_str()).map_err(print_error).or_page(lang)?);
    }
    let first = codes.first().map(|c| c.as_str().to_string()).unwrap_or_default();
    let last = codes.last().map(|c| c.as_str().to_string()).unwrap_or_default();
    let pages = labels.chunks(LABELS_PER_PAGE).map(<[String]>::to_vec).collect();
    Ok(render(&TubeSheet { chrome: caller.chrome(), prefix, start, count, width, pages, first, last }))
}
