//! The listener: TCP connections accepted here and served with hyper-util's HTTP/1.1 + HTTP/2
//! builder (the same one tonic's `Server` uses), with what tonic's builder cannot set:
//!
//! - **Caps on connections**, in total and per client address (IPv6 per /64). When a cap is
//!   reached, the oldest *idle* connection (no call in progress: a keep-alive connection, or one
//!   that has not finished sending its first request's headers) of that address, or of anyone for
//!   the total cap, is closed at once to make room; if none is idle, the new connection is closed.
//!   Slow or silent connections therefore cannot hold every slot against a caller who sends a
//!   whole request. The total is also kept under the process's open-file limit (`RLIMIT_NOFILE`,
//!   whose soft limit is raised to its hard limit at start), so accepting never fails for want of
//!   file descriptors.
//! - **A header-read timeout**: a connection must finish its first request's headers within
//!   [`ConnLimits::header_read_timeout`] of being accepted, and later requests' headers within it
//!   (hyper's HTTP/1.1 timer); otherwise it is closed.
//! - **An idle timeout**: a connection with no call in progress for [`ConnLimits::idle_timeout`] is
//!   closed (HTTP/2: GOAWAY first).
//! - **HTTP/2 streams per connection**: at most [`ConnLimits::max_streams_per_connection`]
//!   concurrent streams (announced in SETTINGS; more are refused by the HTTP/2 layer).
//!
//! Who the client behind a connection is (trusted proxies, `X-Forwarded-For`) is `client_addr.rs`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;
use tower::{Service, ServiceExt};

use crate::http::client_addr::bucket;
use crate::limits::MAX_HEADER_LIST_BYTES;
use crate::log;

/// Limits on connections (flags `--max-connections`, `--max-connections-per-address`,
/// `--header-read-timeout`, `--idle-timeout`, `--max-streams-per-connection`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections open at once, in total (also kept under `RLIMIT_NOFILE`).
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv6: one /64).
    pub max_connections_per_address: usize,
    /// Time to send a request's headers (the first from when the connection is accepted).
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no call in progress.
    pub idle_timeout: Duration,
    /// Concurrent HTTP/2 streams on one connection.
    pub max_streams_per_connection: u32,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 4096,
            max_connections_per_address: 256,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_streams_per_connection: 100,
        }
    }
}

/// hyper's HTTP/1.1 read buffer per connection (its default is about 400 KiB): also the most
/// bytes of request head. Kept small so that many connections uploading at once hold little
/// beside the body budget.
const MAX_HTTP1_BUFFER: usize = 64 << 10;

/// File descriptors kept free beside connections (the store's files, the listener, the
/// blocking pool, the gateway's upstream connection, logs).
const RESERVED_FDS: usize = 64;

/// How long a connection closed for being idle may take to finish (after GOAWAY) before it is
/// dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit then in force
/// (`None` where it cannot be read).
pub fn raise_nofile_limit() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        Some(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    None
}

/// The total cap actually applied: the configured one, kept under the open-file limit.
pub fn effective_max_connections(limits: &ConnLimits, nofile: Option<usize>) -> usize {
    let under_fds = nofile.map_or(usize::MAX, |n| n.saturating_sub(RESERVED_FDS).max(16));
    limits.max_connections.min(under_fds).max(1)
}

/// One open connection, as the caps see it.
struct Conn {
    id: u64,
    addr: IpAddr,
    /// Calls in progress (a response whose body has not finished).
    calls: AtomicUsize,
    /// When `calls` last changed (or the connection was accepted).
    changed: Mutex<Instant>,
    /// A request has been seen on it.
    served: AtomicBool,
    /// Told to close (evicted to make room, or the server is stopping).
    close: Notify,
}

impl Conn {
    fn idle_since(&self) -> Option<Instant> {
        (self.calls.load(Ordering::SeqCst) == 0).then(|| *lock(&self.changed))
    }

    fn touch(&self) {
        *lock(&self.changed) = Instant::now();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct Table {
    next_id: u64,
    conns: HashMap<u64, Arc<Conn>>,
    per_addr: HashMap<IpAddr, usize>,
}

/// The open connections.
struct Conns {
    table: Mutex<Table>,
    max_total: usize,
    max_per_addr: usize,
}

impl Conns {
    /// Registers a connection from `addr`, closing an idle one first if a cap is reached;
    /// `None` if there is no room.
    fn admit(&self, addr: IpAddr) -> Option<Arc<Conn>> {
        let key = bucket(addr);
        let mut table = lock(&self.table);
        if table.per_addr.get(&key).copied().unwrap_or(0) >= self.max_per_addr
            && !Self::evict(&mut table, Some(key))
        {
            return None;
        }
        if table.conns.len() >= self.max_total && !Self::evict(&mut table, None) {
            return None;
        }
        table.next_id += 1;
        let conn = Arc::new(Conn {
            id: table.next_id,
            addr: key,
            calls: AtomicUsize::new(0),
            changed: Mutex::new(Instant::now()),
            served: AtomicBool::new(false),
            close: Notify::new(),
        });
        table.conns.insert(conn.id, Arc::clone(&conn));
        *table.per_addr.entry(key).or_insert(0) += 1;
        Some(conn)
    }

    /// Closes the connection idle the longest (of `addr`, or of anyone), and forgets it at once
    /// so that the new one takes its place. `false` if none is idle.
    fn evict(table: &mut Table, addr: Option<IpAddr>) -> bool {
        let oldest = table
            .conns
            .values()
            .filter(|c| addr.is_none_or(|a| c.addr == a))
            .filter_map(|c| c.idle_since().map(|since| (since, c.id)))
            .min();
        let Some((_, id)) = oldest else {
            return false;
        };
        if let Some(conn) = Self::remove(table, id) {
            conn.close.notify_one();
        }
        true
    }

    fn remove(table: &mut Table, id: u64) -> Option<Arc<Conn>> {
        let conn = table.conns.remove(&id)?;
        if let Some(n) = table.per_addr.get_mut(&conn.addr) {
            *n -= 1;
            if *n == 0 {
                table.per_addr.remove(&conn.addr);
            }
        }
        Some(conn)
    }

    fn forget(&self, id: u64) {
        Self::remove(&mut lock(&self.table), id);
    }
}

/// Serves `service` on `listener` until `stop` resolves, then stops accepting, asks every
/// connection to finish (HTTP/2 GOAWAY, HTTP/1.1 close after the current response) and returns
/// once all have closed. Dropping the returned future drops every connection.
pub async fn serve<S>(
    listener: TcpListener,
    limits: ConnLimits,
    max_total: usize,
    service: S,
    stop: impl Future<Output = ()> + Send,
) where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let conns = Arc::new(Conns {
        table: Mutex::new(Table::default()),
        max_total,
        max_per_addr: limits.max_connections_per_address.max(1),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HTTP1_BUFFER)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_LIST_BYTES)
        .max_concurrent_streams(limits.max_streams_per_connection);
    let builder = Arc::new(builder);
    let (stopping_tx, stopping) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let local = listener.local_addr().ok();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and the like: wait a little rather than spin; connections closing make
                // room.
                log::error(&format!("accepting a connection failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(conn) = conns.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        tasks.spawn(serve_connection(
            stream,
            TcpConnectInfo {
                local_addr: local,
                remote_addr: Some(peer),
            },
            conn,
            Arc::clone(&conns),
            Arc::clone(&builder),
            service.clone(),
            limits,
            stopping.clone(),
        ));
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    while tasks.join_next().await.is_some() {}
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection<S>(
    stream: TcpStream,
    info: TcpConnectInfo,
    conn: Arc<Conn>,
    conns: Arc<Conns>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    service: S,
    limits: ConnLimits,
    mut stopping: watch::Receiver<bool>,
) where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let tracked = Arc::clone(&conn);
    let hyper_service =
        hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let guard = CallGuard::enter(&tracked);
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(info.clone());
            let call = service.clone().oneshot(request);
            async move {
                let response = call.await?;
                Ok::<_, Infallible>(response.map(|body| GuardedBody { inner: body, guard }))
            }
        });
    let connection = builder.serve_connection(TokioIo::new(stream), hyper_service);
    tokio::pin!(connection);
    let mut closing: Option<tokio::time::Instant> = None;
    loop {
        let timeout = if conn.served.load(Ordering::SeqCst) {
            limits.idle_timeout
        } else {
            limits.header_read_timeout
        };
        let wake = match closing {
            Some(deadline) => deadline,
            None => match conn.idle_since() {
                Some(since) => tokio::time::Instant::from_std(since + timeout),
                // A call is in progress: look again later.
                None => tokio::time::Instant::now() + timeout,
            },
        };
        tokio::select! {
            _ = connection.as_mut() => break,
            // Evicted to make room: it has no call in progress, so it is dropped at once (its
            // file descriptor is what the new connection needs).
            () = conn.close.notified() => break,
            changed = stopping.changed(), if closing.is_none() => {
                if changed.is_err() || *stopping.borrow() {
                    connection.as_mut().graceful_shutdown();
                    // Calls in flight finish; the caller of `serve` bounds the wait.
                    closing = Some(tokio::time::Instant::now() + Duration::from_secs(3600));
                }
            }
            () = tokio::time::sleep_until(wake) => {
                if closing.is_some() {
                    break;
                }
                let idle_for = conn.idle_since().map(|since| since.elapsed());
                if idle_for.is_some_and(|idle| idle >= timeout) {
                    connection.as_mut().graceful_shutdown();
                    closing = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                }
            }
        }
    }
    conns.forget(conn.id);
}

/// Counts a call in progress on its connection from the request until its response body is done
/// (or dropped).
struct CallGuard {
    conn: Arc<Conn>,
}

impl CallGuard {
    fn enter(conn: &Arc<Conn>) -> CallGuard {
        conn.served.store(true, Ordering::SeqCst);
        conn.calls.fetch_add(1, Ordering::SeqCst);
        conn.touch();
        CallGuard {
            conn: Arc::clone(conn),
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.conn.touch();
        self.conn.calls.fetch_sub(1, Ordering::SeqCst);
    }
}

pin_project_lite::pin_project! {
    struct GuardedBody {
        #[pin]
        inner: Body,
        guard: CallGuard,
    }
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_evict_the_oldest_idle_connection() {
        let conns = Conns {
            table: Mutex::new(Table::default()),
            max_total: 3,
            max_per_addr: 2,
        };
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = conns.admit(a).unwrap();
        let busy = conns.admit(a).unwrap();
        busy.calls.fetch_add(1, Ordering::SeqCst);
        // Per address: the idle one goes.
        let third = conns.admit(a).unwrap();
        assert!(!lock(&conns.table).conns.contains_key(&first.id));
        third.calls.fetch_add(1, Ordering::SeqCst);
        // Nothing idle from a: refused.
        assert!(conns.admit(a).is_none());
        // Total: b's first takes the last slot; the next evicts that idle one.
        let b1 = conns.admit(b).unwrap();
        let b2 = conns.admit(b).unwrap();
        assert!(!lock(&conns.table).conns.contains_key(&b1.id));
        b2.calls.fetch_add(1, Ordering::SeqCst);
        assert!(conns.admit(b).is_none());
        assert_eq!(
            effective_max_connections(&ConnLimits::default(), Some(1024)),
            960
        );
    }
}
