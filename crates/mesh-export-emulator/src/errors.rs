//! The service's JSON error bodies (`{"error":{code,message,details}}`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mesh_export_client::types::{ErrorDetail, ErrorResponse, ServiceError};
use serde::Serialize;

/// A JSON response with `content-type: application/json`.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).expect("response types serialize");
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An error in the service's shape.
pub(crate) fn service_error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Vec<ErrorDetail>,
) -> Response {
    let body = ErrorResponse {
        error: ServiceError {
            code: code.to_owned(),
            message: message.to_owned(),
            target: None,
            // The service leaves `details` out when there are none.
            details: (!details.is_empty()).then_some(details),
        },
    };
    json(status, &body)
}

/// One `details` entry.
pub(crate) fn detail(code: &str, message: impl Into<String>, target: &str) -> ErrorDetail {
    ErrorDetail {
        code: code.to_owned(),
        message: message.into(),
        target: Some(target.to_owned()),
    }
}

/// 422 `InvalidMeshExportRequest` naming the bad parameter.
pub(crate) fn invalid_parameter(target: &str, message: impl Into<String>) -> Response {
    service_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "InvalidMeshExportRequest",
        "The request is invalid.",
        vec![detail("InvalidParameter", message, target)],
    )
}

/// 422 of start-export, in the QA portal's words: the body is refused as a whole
/// ("Cannot create export job.") with an `InvalidRequestBody` detail naming the field.
pub(crate) fn invalid_start_body(target: &str, message: impl Into<String>) -> Response {
    service_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "InvalidMeshExportRequest",
        "Cannot create export job.",
        vec![detail("InvalidRequestBody", message, target)],
    )
}

/// 404 `IModelNotFound`: start-export of an iModel the service does not have.
pub(crate) fn imodel_not_found() -> Response {
    service_error(
        StatusCode::NOT_FOUND,
        "IModelNotFound",
        "Requested iModel is not available.",
        Vec::new(),
    )
}

/// 404 `ExportNotFound`.
pub(crate) fn export_not_found() -> Response {
    service_error(
        StatusCode::NOT_FOUND,
        "ExportNotFound",
        "Requested export is not available.",
        Vec::new(),
    )
}

/// 429 `RateLimitExceeded` with `retry-after`, in the portal's words.
pub(crate) fn rate_limit_exceeded(retry_after_secs: u64) -> Response {
    let mut response = service_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RateLimitExceeded",
        "The client sent more requests than allowed by this API for the current tier of the client.",
        Vec::new(),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}
