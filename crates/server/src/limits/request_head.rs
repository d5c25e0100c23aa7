//! Refuses request heads larger than `--max-header-bytes` with a JSON 431.
//! actix itself stops reading at 128 KiB or 96 headers (431, without a body);
//! this is the configurable, tighter limit below that.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy)]
pub struct MaxHeadBytes(pub usize);

/// The request line and headers, in bytes, roughly as sent.
fn head_size(req: &ServiceRequest) -> usize {
    let target = req
        .uri()
        .path_and_query()
        .map_or(1, |target| target.as_str().len());
    let line = req.method().as_str().len() + target + 12; // spaces, version, CRLF
    req.headers().iter().fold(line, |size, (name, value)| {
        size + name.as_str().len() + value.len() + 4
    })
}

pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let max = req
        .app_data::<actix_web::web::Data<MaxHeadBytes>>()
        .map_or(usize::MAX, |max| max.0);
    let size = head_size(&req);
    if size > max {
        let error = ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request line and headers must be at most {max} bytes (--max-header-bytes); these are {size}"),
        );
        // Outside the request log and before the stream's route: reported
        // here, as nobody else sees it.
        crate::refusal_log::record(req.request(), &error);
        let response = error.error_response().map_into_right_body();
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_left_body())
}
