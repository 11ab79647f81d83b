//! The upstream's answer on its way back to the caller: its headers filtered (`headers.rs`), its
//! body frames and trailers passed through unchanged, and a gRPC status wherever the upstream gave
//! none (an answer that is not gRPC, a body that breaks off or ends without trailers).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode, Version};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;

use super::headers::returned_response_header;
use super::is_grpc;

/// The upstream's answer, made ready to go back: its headers minus the dropped ones, its body and
/// trailers as they come. An answer that is not gRPC (a proxy's error page, say) becomes the gRPC
/// status its HTTP status stands for (the gRPC spec's mapping).
pub(super) fn answer(origin: &str, response: Response<Body>) -> Result<Response<Body>, Status> {
    let (mut parts, body) = response.into_parts();
    let trailers_only = parts.headers.contains_key("grpc-status");
    if !trailers_only {
        if parts.status != StatusCode::OK {
            return Err(Status::new(
                code_for_http_status(parts.status),
                format!(
                    "the upstream {origin} answered HTTP {} without a gRPC status",
                    parts.status.as_u16()
                ),
            ));
        }
        if !is_grpc(&parts.headers) {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .chars()
                .take(100)
                .collect::<String>();
            return Err(Status::unknown(format!(
                "the upstream {origin} answered with content-type {content_type:?}, not gRPC"
            )));
        }
    }
    let upstream_headers = std::mem::take(&mut parts.headers);
    for (name, value) in &upstream_headers {
        if returned_response_header(name, &upstream_headers) {
            parts.headers.append(name.clone(), value.clone());
        }
    }
    parts.version = Version::default();
    parts.extensions = http::Extensions::new();
    let body = if trailers_only {
        body
    } else {
        Body::new(UpstreamBody {
            inner: body,
            done: false,
        })
    };
    Ok(Response::from_parts(parts, body))
}

/// The gRPC code for an HTTP status that came without one (gRPC's "HTTP to gRPC status code
/// mapping").
fn code_for_http_status(status: StatusCode) -> tonic::Code {
    match status.as_u16() {
        400 => tonic::Code::Internal,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::Unimplemented,
        429 | 502 | 503 | 504 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    }
}

pin_project_lite::pin_project! {
    /// The upstream's response body, passed through frame by frame; if it breaks off (the
    /// connection drops) or ends without trailers, a trailers frame with the status saying so is
    /// added, so that the caller gets a gRPC error instead of a cut-off answer.
    struct UpstreamBody {
        #[pin]
        inner: Body,
        done: bool,
    }
}

impl HttpBody for UpstreamBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match std::task::ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => {
                if frame.is_trailers() {
                    *this.done = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(error)) => {
                *this.done = true;
                let status = Status::unavailable(format!(
                    "the upstream's answer broke off: {}",
                    error.message()
                ));
                Poll::Ready(Some(Ok(Frame::trailers(status_trailers(&status)))))
            }
            None => {
                *this.done = true;
                let status = Status::internal("the upstream's answer ended without a gRPC status");
                Poll::Ready(Some(Ok(Frame::trailers(status_trailers(&status)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn status_trailers(status: &Status) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    if status.add_header(&mut trailers).is_err() {
        trailers.insert("grpc-status", HeaderValue::from(status.code() as i32));
    }
    trailers
}
