//! `OpCore`: one core [`Operation`] for JavaScript to drive (src/js/api.js, `drive`). The wasm does
//! no I/O and holds no futures: JS asks what to do next (`step`), does it with `fetch` or a timer
//! (src/js/host.js), and reports back (`answer`, `failed`, `slept`); `finish` gives the result as
//! JSON (see src/json.rs) or throws the typed error. Every decision stays in the core.
//!
//! JS frees each `OpCore` as soon as the operation ends, so nothing waits on a finalizer.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Array, Uint8Array};
use modal_secrets_core::client::{Listing, Next, Operation, Page, PageRequest, Response};
use modal_secrets_core::grpc_web::RESPONSE_HEADERS;
use modal_secrets_core::{Error, Malformed};
use wasm_bindgen::prelude::*;

use crate::client::Inner;
use crate::error::to_js;
use crate::json;

#[wasm_bindgen(module = "/src/js/host.js")]
extern "C" {
    fn warn(on_warning: &JsValue, message: &str);
}

/// The largest response body read: a frame of the core's limit plus its trailers.
const MAX_BODY_BYTES: usize = (4 << 20) + (64 << 10);

/// Separates header names and values in the one string that carries them across (a header can
/// hold neither a newline nor a NUL).
const HEADER_SEPARATOR: char = '\n';

#[wasm_bindgen(skip_typescript)]
pub struct OpCore {
    inner: Rc<Inner>,
    op: Operation,
    /// For a page of a listing: the listing, told of the page before it is handed out.
    listing: Option<(Rc<RefCell<Listing>>, PageRequest)>,
}

impl OpCore {
    pub fn new(inner: Rc<Inner>, op: Operation) -> OpCore {
        OpCore {
            inner,
            op,
            listing: None,
        }
    }

    pub fn page(
        inner: Rc<Inner>,
        op: Operation,
        listing: Rc<RefCell<Listing>>,
        request: PageRequest,
    ) -> OpCore {
        OpCore {
            inner,
            op,
            listing: Some((listing, request)),
        }
    }
}

/// "name\nvalue\n…" as pairs.
fn pairs(text: &str) -> Vec<(String, String)> {
    let mut parts = text.split(HEADER_SEPARATOR);
    let mut pairs = Vec::new();
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    pairs
}

fn clock(now_ms: f64) -> Duration {
    // Whole microseconds: `as` saturates (and maps NaN to 0), so this cannot panic.
    Duration::from_micros((now_ms * 1000.0) as u64)
}

#[wasm_bindgen]
impl OpCore {
    /// What to do next: `[url, headers, body, timeoutMs, maxBodyBytes, wanted]` (send; `headers`
    /// is "name\nvalue\n…", `timeoutMs` -1 for none, `wanted` the names of the response headers to
    /// report, "\n"-separated), a number (sleep that many ms), or `null` (finished: call `finish`).
    pub fn step(&mut self, now_ms: f64) -> JsValue {
        match self.op.next(&self.inner.client, clock(now_ms)) {
            Next::Send(request) => {
                let mut headers = String::new();
                for (name, value) in &request.headers.0 {
                    headers.push_str(name);
                    headers.push(HEADER_SEPARATOR);
                    headers.push_str(value);
                    headers.push(HEADER_SEPARATOR);
                }
                let timeout_ms = request.timeout.map_or(-1.0, |t| t.as_secs_f64() * 1000.0);
                let step = Array::of5(
                    &JsValue::from_str(request.url),
                    &JsValue::from_str(&headers),
                    // A copy: fetch may read the body after wasm memory has moved.
                    &Uint8Array::from(request.body),
                    &JsValue::from_f64(timeout_ms),
                    &JsValue::from_f64(MAX_BODY_BYTES as f64),
                );
                step.push(&JsValue::from_str(RESPONSE_HEADERS));
                step.into()
            }
            Next::Sleep(wait) => JsValue::from_f64(wait.as_secs_f64() * 1000.0),
            Next::Finished => JsValue::NULL,
        }
    }

    /// The client's `fetch` (`undefined`: the global one).
    #[wasm_bindgen(getter)]
    pub fn fetch(&self) -> JsValue {
        self.inner.fetch.clone()
    }

    /// The answer to the last send: its status, headers ("name\nvalue\n…"), body and, over
    /// HTTP/2, trailers (the same form).
    pub fn answer(
        &mut self,
        now_ms: f64,
        status: u16,
        headers: &str,
        body: Vec<u8>,
        trailers: Option<String>,
    ) {
        let response = Response {
            status,
            headers: pairs(headers),
            body,
            trailers: trailers.as_deref().map(pairs).unwrap_or_default(),
        };
        let on_warning = &self.inner.on_warning;
        let mut report = |message: &str| warn(on_warning, message);
        self.op
            .answer(&self.inner.client, clock(now_ms), Ok(response), &mut report);
    }

    /// The last send got no answer: `kind` is "timeout", "aborted", "too-large" or "connection"
    /// (with `message`, never a header value), as src/js/host.js reports it.
    pub fn failed(&mut self, now_ms: f64, kind: &str, message: String) {
        let error = match kind {
            "timeout" => Error::Timeout(Duration::ZERO),
            "aborted" => Error::Aborted,
            "too-large" => Error::Malformed(Malformed::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            }),
            _ if message.is_empty() => Error::Connection("fetch failed".to_owned()),
            _ => Error::Connection(message),
        };
        let mut ignore = |_: &str| {};
        self.op
            .answer(&self.inner.client, clock(now_ms), Err(error), &mut ignore);
    }

    /// How the last sleep ended: `false` when the caller's signal aborted it.
    pub fn slept(&mut self, completed: bool) {
        self.op.slept(if completed {
            Ok(())
        } else {
            Err(Error::Aborted)
        });
    }

    /// The result as JSON (see src/json.rs), or the typed error thrown.
    pub fn finish(&mut self) -> Result<String, JsValue> {
        let mut outcome = self.op.finish().map_err(|e| to_js(&e))?;
        if let Some((listing, request)) = &self.listing {
            let page = Page {
                records: std::mem::take(&mut outcome.records),
                bytes: outcome.page_bytes,
            };
            outcome.records = listing
                .borrow_mut()
                .accept(request, page)
                .map_err(|e| to_js(&e))?;
        }
        Ok(json::outcome(&outcome))
    }
}
