//! The core's [`Transport`] over the JS host (src/js/host.js): `fetch`, `setTimeout`, a clock and
//! `crypto.getRandomValues`. One is made per call, carrying that call's `AbortSignal`.
//!
//! The DESIGN names gloo-net for fetch; this uses a 100-line JS helper instead because gloo-net and
//! the web-sys features it pulls in add wasm bytes for nothing we need, while the helper also works
//! with a `fetch` passed in (service bindings, proxies, tests), which gloo-net cannot take.

use std::time::Duration;

use js_sys::{Array, Reflect, Uint8Array};
use modal_secrets_core::client::{Request, Response, Transport};
use modal_secrets_core::{Error, Malformed};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/host.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn send(
        fetch: &JsValue,
        url: &str,
        headers: Array,
        body: Uint8Array,
        timeout_ms: f64,
        signal: &JsValue,
        max_body_bytes: f64,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch)]
    async fn sleep(ms: f64, signal: &JsValue) -> Result<JsValue, JsValue>;

    fn now() -> f64;

    #[wasm_bindgen(js_name = randomBytes)]
    fn random_bytes() -> Uint8Array;

    fn warn(on_warning: &JsValue, message: &str);
}

/// The largest response body read: a frame of the core's limit plus its trailers.
const MAX_BODY_BYTES: usize = (4 << 20) + (64 << 10);

/// Everything a call needs from JS: the client's `fetch` and `onWarning`, the call's signal.
pub struct JsTransport<'a> {
    pub fetch: &'a JsValue,
    pub on_warning: &'a JsValue,
    pub signal: &'a JsValue,
}

impl Transport for JsTransport<'_> {
    async fn post(&self, request: Request<'_>) -> Result<Response, Error> {
        let headers = Array::new();
        for (name, value) in &request.headers.0 {
            headers.push(&JsValue::from_str(name));
            headers.push(&JsValue::from_str(value));
        }
        // A copy: fetch may read the body after wasm memory has moved.
        let body = Uint8Array::from(request.body);
        let timeout_ms = request.timeout.map_or(-1.0, |t| t.as_secs_f64() * 1000.0);
        let answer = send(
            self.fetch,
            request.url,
            headers,
            body,
            timeout_ms,
            self.signal,
            MAX_BODY_BYTES as f64,
        )
        .await
        .map_err(|failure| transport_error(&failure, request.timeout))?;
        read_answer(&answer).ok_or_else(|| Error::Connection("fetch gave no usable answer".into()))
    }

    async fn sleep(&self, wait: Duration) -> Result<(), Error> {
        sleep(wait.as_secs_f64() * 1000.0, self.signal)
            .await
            .map(drop)
            .map_err(|failure| transport_error(&failure, None))
    }

    fn now(&self) -> Duration {
        // Whole microseconds: `as` saturates (and maps NaN to 0), so this cannot panic.
        Duration::from_micros((now() * 1000.0) as u64)
    }

    fn random_bytes(&self) -> [u8; 16] {
        let mut out = [0; 16];
        let bytes = random_bytes();
        if bytes.length() == 16 {
            bytes.copy_to(&mut out);
        }
        out
    }

    fn warn(&self, message: &str) {
        warn(self.on_warning, message);
    }
}

/// `[status, [name, value, …], bytes]` from host.js.
fn read_answer(answer: &JsValue) -> Option<Response> {
    let parts: &Array = answer.dyn_ref()?;
    let status = u16::try_from(parts.get(0).as_f64()? as i64).ok()?;
    let flat: Array = parts.get(1).dyn_into().ok()?;
    let mut headers = Vec::with_capacity(flat.length() as usize / 2);
    let mut i = 0;
    while i + 1 < flat.length() {
        headers.push((flat.get(i).as_string()?, flat.get(i + 1).as_string()?));
        i += 2;
    }
    let body: Uint8Array = parts.get(2).dyn_into().ok()?;
    Some(Response {
        status,
        headers,
        body: body.to_vec(),
    })
}

fn transport_error(failure: &JsValue, timeout: Option<Duration>) -> Error {
    let field = |name: &str| {
        Reflect::get(failure, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    match field("modalTransportFailure").as_str() {
        "timeout" => Error::Timeout(timeout.unwrap_or_default()),
        "aborted" => Error::Aborted,
        "too-large" => Error::Malformed(Malformed::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        }),
        _ => {
            let message = field("message");
            Error::Connection(if message.is_empty() {
                "fetch failed".to_owned()
            } else {
                message
            })
        }
    }
}
