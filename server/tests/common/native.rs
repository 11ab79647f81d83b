//! A transport for the package's client logic (`modal_secrets_core::client`) natively: reqwest
//! (HTTP/1.1) in place of `fetch`, tokio's timer and clock.

use std::time::{Duration, Instant};

use modal_secrets_core::Error;
use modal_secrets_core::client::{Request, Response, Transport};

/// A transport over reqwest (HTTP/1.1), tokio's timer and clock.
pub struct Native {
    http: reqwest::Client,
    start: Instant,
}

impl Native {
    pub fn new() -> Native {
        Native {
            http: reqwest::Client::new(),
            start: Instant::now(),
        }
    }
}

impl Transport for Native {
    async fn post(&self, request: Request<'_>) -> Result<Response, Error> {
        let mut builder = self.http.post(request.url).body(request.body.to_vec());
        for (name, value) in &request.headers.0 {
            builder = builder.header(*name, value);
        }
        if let Some(t) = request.timeout {
            builder = builder.timeout(t);
        }
        let answer = builder.send().await.map_err(|e| {
            if e.is_timeout() {
                Error::Timeout(request.timeout.unwrap_or_default())
            } else {
                Error::Connection(e.to_string())
            }
        })?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = answer
            .bytes()
            .await
            .map_err(|e| Error::Connection(e.to_string()))?
            .to_vec();
        Ok(Response {
            status,
            headers,
            body,
            trailers: Vec::new(),
        })
    }

    async fn sleep(&self, wait: Duration) -> Result<(), Error> {
        tokio::time::sleep(wait).await;
        Ok(())
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn random_bytes(&self) -> [u8; 16] {
        let mut out = [0; 16];
        getrandom::fill(&mut out).unwrap();
        out
    }

    fn warn(&self, _message: &str) {}
}
