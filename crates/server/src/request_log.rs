//! The request log (target `pulseboard::http`, off at the default level) and
//! the refusal log's view of every response but the stream's.
//!
//! It replaces actix's `Logger`, which wrote the request line as sent: a
//! token in a query string (`?token=…`) reached the log, and so did anything
//! else a client put there. Here the path is logged with every query value
//! replaced by `<redacted>` (a parameter without `=` is all value), and
//! everything from the request is escaped ([`Escaped`]).
//!
//! One line per request: method, path, status, bytes sent and time taken,
//! written when the body is done (as `Logger` did). Refused requests get
//! theirs at debug only: the refusal log (`refusal_log.rs`) already reports
//! them, in a volume a client cannot drive up, so `RUST_LOG=info` is not a
//! way to flood the log either.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, Uri};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use tracing::Level;

use crate::error::ApiError;
use crate::log_text::Escaped;
use crate::refusal_log;

const TARGET: &str = "pulseboard::http";

/// What stands for a query value in the log.
pub const REDACTED: &str = "<redacted>";

/// The middleware: logs the request, and hands any API error it was
/// answered with to the refusal log.
pub async fn log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Built only when it will be logged: at the default level, this
    // middleware costs a level check and the refusal log's bookkeeping.
    let line = tracing::enabled!(target: TARGET, Level::INFO).then(|| RequestLine {
        method: req.method().to_string(),
        target: redacted_target(req.uri()),
        started: Instant::now(),
    });
    let response = next.call(req).await?;
    let refused = record_refusal(&response);
    let Some(line) = line else {
        return Ok(response.map_into_left_body());
    };
    let status = response.status();
    Ok(response.map_body(move |_, body| {
        EitherBody::right(LoggedBody {
            body: body.boxed(),
            bytes: 0,
            line: Some((line, status, refused)),
        })
    }))
}

/// Tells the refusal log about an error response; whether it was one.
fn record_refusal<B>(response: &ServiceResponse<B>) -> bool {
    let Some(error) = response.response().error() else {
        return false;
    };
    let req = response.request();
    match error.as_error::<ApiError>() {
        Some(error) => refusal_log::record(req, error),
        // actix's own errors (a malformed request an extractor refused):
        // refusals too, under one code.
        None => {
            let status = response.status();
            if status.is_success() {
                return false;
            }
            refusal_log::record_with(req, status, "other", &error.to_string());
        }
    }
    true
}

/// The request's path and query, each query value replaced by
/// [`REDACTED`]: `/api/events?token=<redacted>&topics=<redacted>`. Not yet
/// escaped.
pub fn redacted_target(uri: &Uri) -> String {
    let mut target = uri.path().to_owned();
    let Some(query) = uri.query() else {
        return target;
    };
    target.push('?');
    for (i, part) in query.split('&').enumerate() {
        if i > 0 {
            target.push('&');
        }
        match part.split_once('=') {
            Some((key, _)) => {
                target.push_str(key);
                target.push('=');
                target.push_str(REDACTED);
            }
            None if part.is_empty() => {}
            None => target.push_str(REDACTED),
        }
    }
    target
}

struct RequestLine {
    method: String,
    target: String,
    started: Instant,
}

/// The response body, counting what is sent; logs the line when dropped
/// (sent in full, or the client went away).
struct LoggedBody {
    body: BoxBody,
    bytes: u64,
    /// The request, the status, and whether it was refused.
    line: Option<(RequestLine, StatusCode, bool)>,
}

impl MessageBody for LoggedBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            this.bytes += chunk.len() as u64;
        }
        next
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        let Some((line, status, refused)) = self.line.take() else {
            return;
        };
        let millis = line.started.elapsed().as_secs_f64() * 1000.0;
        let (method, target) = (Escaped(&line.method), Escaped(&line.target));
        let status = status.as_u16();
        let bytes = self.bytes;
        if refused {
            tracing::debug!(target: TARGET, "{method} {target} {status} {bytes}B {millis:.1}ms");
        } else {
            tracing::info!(target: TARGET, "{method} {target} {status} {bytes}B {millis:.1}ms");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str) -> String {
        redacted_target(&uri.parse().unwrap())
    }

    #[test]
    fn query_values_are_redacted() {
        assert_eq!(target("/api/widgets"), "/api/widgets");
        assert_eq!(
            target("/api/events?token=s3cret&topics=a,b"),
            "/api/events?token=<redacted>&topics=<redacted>"
        );
        assert_eq!(target("/x?s3cret"), "/x?<redacted>");
        assert_eq!(target("/x?a=&&b==s3cret"), "/x?a=<redacted>&&b=<redacted>");
        assert_eq!(target("/x?"), "/x?");
        assert!(!target("/x?k=s3cret%0A&s3cret").contains("s3cret"));
    }
}
