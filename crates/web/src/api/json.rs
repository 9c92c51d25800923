//! The JSON body of an API request, refused in the API's own error shape.
//!
//! axum's `Json` reads every body through `serde_path_to_error`, which keeps the path of each
//! value as it goes, and answers a bad body in plain text. Here the body is read by `serde_json`
//! alone; only when that fails is it read again with the path kept, so the error can name the
//! field: `{"code": "invalid", "field": "items[3].person", …}`.

use crate::error::ErrorBody;
use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, Request},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

/// A request body of JSON (`Content-Type: application/json` or `application/…+json`).
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        if !is_json(req.headers()) {
            return Err(refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON, with the header Content-Type: application/json".into(),
                None,
            ));
        }
        // Reading the body keeps its limit (413 above it).
        let bytes = Bytes::from_request(req, state).await.map_err(|e| refusal(e.status(), e.body_text(), None))?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(ApiJson(value)),
            Err(_) => Err(explain::<T>(&bytes)),
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    // Compared without a lower-cased copy: this runs on every scan. `to_str` let only visible
    // ASCII through, so the byte slices below fall on characters.
    let essence = value.split(';').next().unwrap_or_default().trim();
    let (start, end) = ("application/", "+json");
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > start.len() + end.len()
            && essence[..start.len()].eq_ignore_ascii_case(start)
            && essence[essence.len() - end.len()..].eq_ignore_ascii_case(end))
}

/// Why `bytes` is not a `T`: read again, keeping the path, to name the field at fault.
fn explain<T: DeserializeOwned>(bytes: &[u8]) -> Response {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_data() {
                let field = (path != ".").then_some(path);
                return refusal(StatusCode::UNPROCESSABLE_ENTITY, inner.to_string(), field);
            }
            inner
        }
        // Only what follows the value can be wrong now (`from_slice` refused the body).
        Ok(_) => match de.end() {
            Err(e) => e,
            Ok(()) => return refusal(StatusCode::BAD_REQUEST, "the body is not JSON".into(), None),
        },
    };
    refusal(StatusCode::BAD_REQUEST, format!("the body is not JSON: {error}"), None)
}

fn refusal(status: StatusCode, message: String, field: Option<String>) -> Response {
    (status, Json(ErrorBody { code: "invalid", message, field })).into_response()
}
