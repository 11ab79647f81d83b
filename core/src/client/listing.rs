//! `Secret.objects.list`, a page at a time, as Modal's clients page: 100 per request (fewer when
//! `max_objects` is nearly reached), the next page asking for secrets created strictly before the
//! last one seen, and done when a page comes back short (and small: see [`LIST_PAGE_BYTE_BUDGET`])
//! or the limit is reached.
//!
//! The listing is sans-I/O: [`Listing::next_request`] says what to ask, [`Listing::accept`] takes the
//! answer. The caller sends the request (with [`super::Client::list_page`]) between the two, so no
//! borrow is held across the wait.

use crate::error::{Error, Malformed};

use super::SecretRecord;

/// Secrets asked for per request (Modal's clients use 100).
pub const LIST_PAGE_SIZE: i32 = 100;

/// The most bytes a server should put in one page of a listing. modal-secrets-server stops adding
/// secrets to a page before it passes this (and no one secret's record can come near it), so that a
/// page always fits a client's answer limit whatever `max_objects` asks. A short page of at least
/// half this size may have been cut for its size rather than because the listing ended, so the
/// client asks for the next one; a smaller short page ends the listing, as in Modal's clients.
pub const LIST_PAGE_BYTE_BUDGET: usize = 1 << 20;

/// One page of a listing as it came back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub records: Vec<SecretRecord>,
    /// The size of the answer's message.
    pub bytes: usize,
}

/// What the next request of a listing asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct PageRequest {
    /// `None`: the client's environment.
    pub environment: Option<String>,
    pub max_objects: i32,
    /// Unix seconds; 0 = no bound.
    pub created_before: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    environment: Option<String>,
    limit: Option<u64>,
    returned: u64,
    cursor: f64,
    done: bool,
}

impl Listing {
    /// A listing of `environment`, of at most `max_objects` secrets created before `created_before`
    /// (unix seconds). Both must be finite and not negative.
    pub fn new(
        environment: Option<&str>,
        max_objects: Option<u64>,
        created_before: Option<f64>,
    ) -> Result<Listing, Error> {
        if let Some(env) = environment {
            crate::validate::environment_name(env)?;
        }
        let cursor = match created_before {
            None => 0.0,
            Some(t) if t.is_finite() && t >= 0.0 => t,
            Some(_) => {
                return Err(Error::invalid(
                    "createdBefore must be a valid date at or after 1970-01-01",
                ));
            }
        };
        Ok(Listing {
            environment: environment.map(str::to_owned),
            limit: max_objects,
            returned: 0,
            cursor,
            done: max_objects == Some(0),
        })
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next request to send, or `None` once the listing is complete.
    pub fn next_request(&self) -> Option<PageRequest> {
        if self.done {
            return None;
        }
        let page = match self.limit {
            // Below 100, so the cast is exact.
            Some(limit) => limit
                .saturating_sub(self.returned)
                .min(LIST_PAGE_SIZE as u64) as i32,
            None => LIST_PAGE_SIZE,
        };
        Some(PageRequest {
            environment: self.environment.clone(),
            max_objects: page,
            created_before: self.cursor,
        })
    }

    /// Takes the answer to `request` and returns the secrets to hand out (never more than the limit).
    /// A server that does not move the cursor backwards (which would page forever) is an error.
    pub fn accept(
        &mut self,
        request: &PageRequest,
        page: Page,
    ) -> Result<Vec<SecretRecord>, Error> {
        let Page {
            records: mut page,
            bytes,
        } = page;
        let asked = usize::try_from(request.max_objects).unwrap_or(0);
        let cut_for_size = bytes >= LIST_PAGE_BYTE_BUDGET / 2;
        let short = page.len() < asked && !cut_for_size;
        if let Some(limit) = self.limit {
            let left = usize::try_from(limit.saturating_sub(self.returned)).unwrap_or(usize::MAX);
            page.truncate(left);
        }
        self.returned += page.len() as u64;
        let reached = self.limit.is_some_and(|limit| self.returned >= limit);
        if short || reached || page.is_empty() {
            self.done = true;
            return Ok(page);
        }
        let next = page.last().map_or(0.0, |r| r.created_at);
        let advances = next > 0.0 && (self.cursor == 0.0 || next < self.cursor);
        if !advances {
            self.done = true;
            return Err(Error::Malformed(Malformed::BadMessage {
                message: "SecretListResponse",
                reason: "the page's last secret is not older than the cursor, so paging would \
                         not end"
                    .to_owned(),
            }));
        }
        self.cursor = next;
        Ok(page)
    }
}
