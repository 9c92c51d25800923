//! Errors at the HTTP boundary.
//!
//! Policy: services return [`AppError`]; the API turns it into JSON `{"code", "message"}` with a
//! status, pages into an HTML page with a way back. User errors are not logged; internal errors
//! are logged once, here, without personal data, and shown to users only as "internal error".

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bulwark_app::AppError;
use serde::Serialize;

/// An API error: JSON with a stable code and a message.
#[derive(Debug)]
pub(crate) struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

/// The body of every API error.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// Stable, machine-readable: `unauthenticated`, `forbidden`, `not_found`, `invalid`,
    /// `conflict`, `too_many_attempts`, `unavailable`, `internal`; `no_cjk_font` (a PDF asked of
    /// a server without a font that draws Chinese).
    pub code: &'static str,
    pub message: String,
    /// For `invalid`: the field (or file column) at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub(crate) fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::KeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::MissingKey => StatusCode::BAD_REQUEST,
        AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What users may see of an error.
pub(crate) fn public_message(e: &AppError) -> String {
    match e {
        AppError::Internal(detail) => {
            tracing::error!(error.detail = %detail, "internal error");
            "internal error".into()
        }
        AppError::Unavailable(detail) => {
            tracing::error!(error.detail = %detail, "storage unavailable");
            "the service cannot take this request now; nothing was changed".into()
        }
        AppError::Invalid { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let field = match &self.0 {
            AppError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        let body = ErrorBody { code: self.0.code(), message: public_message(&self.0), field };
        let mut response = (status, Json(body)).into_response();
        if let AppError::TooManyAttempts { retry_after_secs } = self.0
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
