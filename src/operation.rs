//! `OperationHandle`: one core [`Operation`] for JavaScript to drive (`drive`, src/js/host.js). The
//! wasm does no I/O and holds no futures: JS asks what to do next (`step`), does it with a
//! transport or a timer, and reports back (`answer`, `failed`, `slept`); `finish` gives the outcome
//! or throws the typed error. Every decision stays in the core; every format is src/abi.rs's.
//!
//! JS frees each `OperationHandle` as soon as the operation ends, so nothing waits on a finalizer.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use modal_secrets_core::Error;
use modal_secrets_core::client::{Listing, Next, Operation, Page, PageRequest, Response};
use modal_secrets_core::grpc_web::RESPONSE_HEADERS;
use wasm_bindgen::prelude::*;

use crate::abi::{self, Failure, read_header_lines, to_js};
use crate::client::Inner;

#[wasm_bindgen(module = "/src/js/host.js")]
extern "C" {
    fn warn(on_warning: &JsValue, message: &str);
}

/// The largest response body read: a frame of the core's limit plus its trailers.
const MAX_BODY_BYTES: usize = (4 << 20) + (64 << 10);

#[wasm_bindgen(skip_typescript)]
pub struct OperationHandle {
    inner: Rc<Inner>,
    op: Operation,
    /// For a page of a listing: the listing, told of the page before it is handed out.
    listing: Option<(Rc<RefCell<Listing>>, PageRequest)>,
}

impl OperationHandle {
    pub fn new(inner: Rc<Inner>, op: Operation) -> OperationHandle {
        OperationHandle {
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
    ) -> OperationHandle {
        OperationHandle {
            inner,
            op,
            listing: Some((listing, request)),
        }
    }
}

fn clock(now_ms: f64) -> Duration {
    // Whole microseconds: `as` saturates (and maps NaN to 0), so this cannot panic.
    Duration::from_micros((now_ms * 1000.0) as u64)
}

#[wasm_bindgen]
impl OperationHandle {
    /// What to do next: a send step (src/abi.rs `send_step`), a number (sleep that many ms), or
    /// `null` (finished: call `finish`).
    pub fn step(&mut self, now_ms: f64) -> JsValue {
        match self.op.next(&self.inner.client, clock(now_ms)) {
            Next::Send(request) => abi::send_step(&request, MAX_BODY_BYTES, RESPONSE_HEADERS),
            Next::Sleep(wait) => JsValue::from_f64(wait.as_secs_f64() * 1000.0),
            Next::Finished => JsValue::NULL,
        }
    }

    /// The client's `fetch` (`undefined`: the global one).
    #[wasm_bindgen(getter)]
    pub fn fetch(&self) -> JsValue {
        self.inner.fetch.clone()
    }

    /// The answer to the last send: its status, header lines, body and, over HTTP/2, trailer
    /// lines (src/abi.rs).
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
            headers: read_header_lines(headers),
            body,
            trailers: trailers
                .as_deref()
                .map(read_header_lines)
                .unwrap_or_default(),
        };
        let on_warning = &self.inner.on_warning;
        let mut report = |message: &str| warn(on_warning, message);
        self.op
            .answer(&self.inner.client, clock(now_ms), Ok(response), &mut report);
    }

    /// The last send got no answer: `kind` is a [`Failure`]'s (with `message`, never a header
    /// value), as the transport reported it.
    pub fn failed(&mut self, now_ms: f64, kind: &str, message: String) {
        let error = match Failure::from_kind(kind) {
            Ok(failure) => failure.error(message, MAX_BODY_BYTES),
            Err(internal) => internal,
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
            Err(Error::Cancelled)
        });
    }

    /// The outcome (src/abi/outcome.rs), or the typed error thrown.
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
        Ok(abi::outcome(&outcome))
    }
}
