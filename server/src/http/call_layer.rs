//! Around every gRPC call (plain or, once tonic-web has translated it, gRPC-web): authenticate the
//! caller, hand it to the service in the request's extensions, and log one line when the call ends,
//! with the status from the response headers (an error) or trailers (a finished response).
//!
//! It also reads the request body and checks its framing (one uncompressed message, at most
//! [`MAX_REQUEST_BYTES`]) before tonic sees it, so that an empty, truncated, compressed or
//! oversized body is a clear INVALID_ARGUMENT or OUT_OF_RANGE rather than tonic's INTERNAL (which
//! clients would retry).
//!
//! In gateway mode ([`CallLayer::gateway`]) there is no store to authenticate against: the upstream
//! does that. The layer then only reads the body (the same size limit, so the gateway never holds
//! more than that per call; the framing is the upstream's to judge) and logs the call.
//!
//! Both modes count the calls answered UNAUTHENTICATED per client and token id (the local server's
//! own answers, or the upstream's through a gateway; the client is the peer, or what a trusted
//! proxy says in `X-Forwarded-For`, `client_addr::client_address`) and refuse past the limit
//! (`throttle.rs`), before looking at credentials or forwarding anything: a failure is reserved
//! before the check and given back on success, so check and count are one step. Request bodies
//! are read under a budget shared by all calls (`--max-buffered-body-bytes`).
//!
//! Requests that are not gRPC pass through untouched (CORS preflight is answered further out).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use modal_secrets_core::Code;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

use crate::http::client_addr::{ProxyList, client_address};
use crate::http::throttle::{self, Reservation, Throttle};
use crate::limits::{DEFAULT_MAX_BUFFERED_BODY_BYTES, MAX_REQUEST_BYTES};
use crate::local::auth::{Auth, TOKEN_ID_HEADER};
use crate::log;

const SERVICE_PREFIX: &str = "/modal.client.ModalClient/";

#[derive(Clone)]
pub struct CallLayer {
    /// `None` in gateway mode.
    auth: Option<Arc<Auth>>,
    throttle: Arc<Throttle>,
    shared: Arc<Shared>,
}

/// What every call of one server shares besides authentication.
struct Shared {
    /// Proxies whose `X-Forwarded-For` is believed.
    trusted: ProxyList,
    /// Bytes of request bodies that may be held at once, one permit a byte.
    bodies: Arc<Semaphore>,
    budget: usize,
}

impl CallLayer {
    /// The local server: authenticate every call against the store.
    pub fn new(auth: Arc<Auth>, throttle: Arc<Throttle>) -> CallLayer {
        CallLayer {
            auth: Some(auth),
            throttle,
            shared: Shared::new(ProxyList::default(), DEFAULT_MAX_BUFFERED_BODY_BYTES),
        }
    }

    /// The gateway: no authentication here (the upstream's), only the failed-authentication
    /// limit, the body limit and the log.
    pub fn gateway(throttle: Arc<Throttle>) -> CallLayer {
        CallLayer {
            auth: None,
            throttle,
            shared: Shared::new(ProxyList::default(), DEFAULT_MAX_BUFFERED_BODY_BYTES),
        }
    }

    /// Believe `X-Forwarded-For` from `trusted`, and hold at most `body_budget` bytes of request
    /// bodies at once.
    pub fn with_limits(mut self, trusted: ProxyList, body_budget: usize) -> CallLayer {
        self.shared = Shared::new(trusted, body_budget);
        self
    }
}

impl Shared {
    fn new(trusted: ProxyList, budget: usize) -> Arc<Shared> {
        let budget = budget.clamp(HEADER + MAX_REQUEST_BYTES, Semaphore::MAX_PERMITS);
        Arc::new(Shared {
            trusted,
            bodies: Arc::new(Semaphore::new(budget)),
            budget,
        })
    }
}

impl<S> Layer<S> for CallLayer {
    type Service = CallService<S>;

    fn layer(&self, inner: S) -> CallService<S> {
        CallService {
            inner,
            auth: self.auth.clone(),
            throttle: Arc::clone(&self.throttle),
            shared: Arc::clone(&self.shared),
        }
    }
}

#[derive(Clone)]
pub struct CallService<S> {
    inner: S,
    auth: Option<Arc<Auth>>,
    throttle: Arc<Throttle>,
    shared: Arc<Shared>,
}

type ReqBody = tonic::body::Body;

impl<S, ResBody> Service<Request<ReqBody>> for CallService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ResBody: Default,
{
    type Response = Response<LoggedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // Call the instance that was polled ready; leave a fresh clone for the next request.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let auth = self.auth.clone();
        let throttle = Arc::clone(&self.throttle);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            if !is_grpc(request.headers()) {
                return Ok(inner.call(request).await?.map(LoggedBody::plain));
            }
            let mut log = CallLog::start(request.uri().path(), auth.is_none());
            let peer = request
                .extensions()
                .get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr)
                .map(|addr| addr.ip());
            if let Some(peer) = peer {
                let client = client_address(peer, request.headers(), &shared.trusted);
                let token_id = request
                    .headers()
                    .get(TOKEN_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .trim();
                // Check and count in one step: a failure is reserved before the credentials are
                // looked at, and given back if they hold.
                match throttle.reserve(client.ip, token_id).await {
                    Ok(reservation) => log.reservation = Some(reservation),
                    Err(wait) => {
                        let status = throttle::refusal(wait);
                        log.finish(status.code() as i32);
                        return Ok(status.into_http::<ResBody>().map(LoggedBody::plain));
                    }
                }
                request.extensions_mut().insert(client);
            }
            if let Some(auth) = &auth {
                match auth.authenticate(request.headers()).await {
                    Ok(caller) => {
                        log.workspace = Some(Arc::clone(&caller.workspace.name));
                        request.extensions_mut().insert(caller);
                        if let Some(reservation) = log.reservation.take() {
                            reservation.succeeded();
                        }
                    }
                    Err(status) => {
                        log.finish(status.code() as i32);
                        return Ok(status.into_http::<ResBody>().map(LoggedBody::plain));
                    }
                }
            }
            let (parts, body) = request.into_parts();
            let read = match auth {
                Some(_) => read_frame(body, &shared).await,
                None => read_body(body, &shared).await,
            };
            let body = match read {
                Ok((bytes, permit)) => {
                    log.permit = permit;
                    bytes
                }
                Err(status) => {
                    log.finish(status.code() as i32);
                    return Ok(status.into_http::<ResBody>().map(LoggedBody::plain));
                }
            };
            let request = Request::from_parts(parts, ReqBody::new(Full::new(body)));
            let response = inner.call(request).await?;
            // An error answer is trailers-only: its status is in the headers.
            if let Some(code) = grpc_status(response.headers()) {
                log.finish(code);
                return Ok(response.map(LoggedBody::plain));
            }
            Ok(response.map(|body| LoggedBody::logged(body, log)))
        })
    }
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

const HEADER: usize = 5;

/// How long a request body may take to arrive, once its headers have.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole body of a request, if it is no longer than one frame of the largest message, with
/// the share of the body budget it holds (one permit a byte, taken as the bytes arrive). Past the
/// budget: RESOURCE_EXHAUSTED with a retry policy, and nothing more is read.
async fn read_body(
    body: ReqBody,
    shared: &Shared,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Status> {
    let mut body = std::pin::pin!(body);
    let hint = body.size_hint().exact().unwrap_or(0);
    let mut buf = BytesMut::with_capacity(
        usize::try_from(hint)
            .unwrap_or(0)
            .min(HEADER + MAX_REQUEST_BYTES),
    );
    let mut held: Option<OwnedSemaphorePermit> = None;
    let deadline = tokio::time::Instant::now() + BODY_READ_TIMEOUT;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(Status::deadline_exceeded(format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                return Err(Status::cancelled("the request body could not be read"));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > HEADER + MAX_REQUEST_BYTES {
            return Err(too_large(None));
        }
        let n = u32::try_from(data.len()).map_err(|_| too_large(None))?;
        match Arc::clone(&shared.bodies).try_acquire_many_owned(n) {
            Ok(permit) => match &mut held {
                Some(held) => held.merge(permit),
                None => held = Some(permit),
            },
            Err(_) => return Err(over_budget(shared.budget)),
        }
        buf.extend_from_slice(&data);
    }
    Ok((buf.freeze(), held))
}

/// RESOURCE_EXHAUSTED: the bodies held at once would pass `--max-buffered-body-bytes`.
fn over_budget(budget: usize) -> Status {
    throttle::exhausted_retry_after(
        format!(
            "the server is holding as many request bodies as it may ({budget} bytes, \
             --max-buffered-body-bytes); try again in 1 s"
        ),
        1,
    )
}

/// The whole body of a unary request, checked to be exactly one uncompressed message frame.
async fn read_frame(
    body: ReqBody,
    shared: &Shared,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Status> {
    let (bytes, permit) = read_body(body, shared).await?;
    let Some((header, message)) = bytes.split_first_chunk::<HEADER>() else {
        return Err(Status::invalid_argument(if bytes.is_empty() {
            "empty request body: a unary call sends one message frame".to_owned()
        } else {
            format!(
                "truncated request: a frame header needs 5 bytes, got {}",
                bytes.len()
            )
        }));
    };
    let announced = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let len = usize::try_from(announced).unwrap_or(usize::MAX);
    if header[0] & 1 != 0 {
        return Err(Status::invalid_argument(
            "compressed request messages are not supported; send them uncompressed",
        ));
    }
    if header[0] != 0 {
        return Err(Status::invalid_argument(format!(
            "unknown frame flags 0x{:02x} in the request",
            header[0]
        )));
    }
    if len > MAX_REQUEST_BYTES {
        return Err(too_large(Some(len)));
    }
    if len > message.len() {
        return Err(Status::invalid_argument(format!(
            "truncated request: the frame announces {len} bytes, {} follow",
            message.len()
        )));
    }
    if len < message.len() {
        return Err(Status::invalid_argument(
            "a unary call sends exactly one message frame; more bytes follow it",
        ));
    }
    Ok((bytes, permit))
}

fn too_large(len: Option<usize>) -> Status {
    let size = len.map_or_else(|| "more".to_owned(), |n| n.to_string());
    // OUT_OF_RANGE, as tonic itself answers for an oversized message.
    Status::out_of_range(format!(
        "the request message is {size} bytes; at most {MAX_REQUEST_BYTES} are accepted"
    ))
}

fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One call's log line, written once: when its status is known, or when it is dropped unfinished.
struct CallLog {
    method: String,
    workspace: Option<Arc<str>>,
    /// The failure reserved for this call (`throttle.rs`), settled by its status: a failure if
    /// UNAUTHENTICATED, else given back.
    reservation: Option<Reservation>,
    /// The call's share of the body budget, held until the call ends.
    permit: Option<OwnedSemaphorePermit>,
    /// Forwarded upstream (gateway mode): no workspace is known here.
    gateway: bool,
    started: Instant,
    done: bool,
}

impl CallLog {
    fn start(path: &str, gateway: bool) -> CallLog {
        let method = match path.strip_prefix(SERVICE_PREFIX) {
            Some(name) => name.chars().take(100).collect(),
            None => path.chars().take(100).collect(),
        };
        CallLog {
            method,
            workspace: None,
            reservation: None,
            permit: None,
            gateway,
            started: Instant::now(),
            done: false,
        }
    }

    fn finish(&mut self, code: i32) {
        if !self.done
            && let Some(reservation) = self.reservation.take()
        {
            reservation.settle_by(code);
        }
        self.write(Code::from_i32(code).name());
    }

    fn write(&mut self, status: &str) {
        // Dropped unsettled (the client went away): the reservation is given back.
        self.reservation = None;
        self.permit = None;
        if !self.done {
            self.done = true;
            let elapsed = self.started.elapsed();
            if self.gateway {
                log::gateway_call(&self.method, status, elapsed);
            } else {
                log::call(&self.method, status, elapsed, self.workspace.as_deref());
            }
        }
    }
}

impl Drop for CallLog {
    fn drop(&mut self) {
        // The response body was dropped before its trailers: the client went away.
        self.write("CANCELLED(client gone)");
    }
}

pin_project_lite::pin_project! {
    /// A response body that logs its call when the trailers go out.
    pub struct LoggedBody<B> {
        #[pin]
        inner: B,
        log: Option<CallLog>,
    }
}

impl<B> LoggedBody<B> {
    fn plain(inner: B) -> Self {
        LoggedBody { inner, log: None }
    }

    fn logged(inner: B, log: CallLog) -> Self {
        LoggedBody {
            inner,
            log: Some(log),
        }
    }
}

impl<B: Body> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                // Only the trailers frame ends the call; data frames leave the log armed.
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(mut log) = this.log.take()
                {
                    log.finish(grpc_status(trailers).unwrap_or(Code::Unknown as i32));
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut log) = this.log.take() {
                    log.write("ERROR(response body failed)");
                }
            }
            Poll::Ready(None) => {
                if let Some(mut log) = this.log.take() {
                    log.write("UNKNOWN(no trailers)");
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
