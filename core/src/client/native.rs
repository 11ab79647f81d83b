//! The native way to run the client: the [`Transport`] trait (an HTTP POST, a timer, a clock) and
//! async methods on [`Client`] that drive an [`Operation`] over it. They serve the core's own tests,
//! the server's tests and fuzzing; the npm package drives `Operation`s from JavaScript instead
//! (src/operation.rs, src/js/host.js), so none of this is in the .wasm.

use std::time::Duration;

use super::{
    Action, CallOptions, Client, EnvDict, Next, Operation, Outcome, Page, PageRequest, Request,
    Response, SecretRecord, Source, Target, Update,
};
use crate::Error;

/// What the client needs from its host: an HTTP POST, a timer, a clock, randomness and a place to
/// report the server's warnings. Futures need not be `Send` (JS is single-threaded).
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Sends one request and reads the whole answer. Fails only with [`Error::Connection`] (no
    /// answer), [`Error::Timeout`] (past `request.timeout`) or [`Error::Cancelled`] (the caller's
    /// signal); an HTTP error status is an answer, not a failure.
    async fn post(&self, request: Request<'_>) -> Result<Response, Error>;
    /// Waits; fails with [`Error::Cancelled`] if the caller's signal fires meanwhile.
    async fn sleep(&self, wait: Duration) -> Result<(), Error>;
    /// A monotonic clock (any origin).
    fn now(&self) -> Duration;
    /// 16 random bytes for an idempotency key.
    fn random_bytes(&self) -> [u8; 16];
    /// A warning from the server (`x-modal-warning`).
    fn warn(&self, message: &str);
}

impl Client {
    /// Runs `operation` to its end over `t` (the native way to drive an [`Operation`]; the npm
    /// package drives it from JavaScript instead).
    pub async fn run(
        &self,
        t: &impl Transport,
        mut operation: Operation,
    ) -> Result<Outcome, Error> {
        loop {
            match operation.next(self, t.now()) {
                Next::Send(request) => {
                    let sent = t.post(request).await;
                    operation.answer(self, t.now(), sent, &mut |w| t.warn(w));
                }
                Next::Sleep(wait) => {
                    let slept = t.sleep(wait).await;
                    operation.slept(slept);
                }
                Next::Finished => return operation.finish(),
            }
        }
    }

    async fn run_new(
        &self,
        t: &impl Transport,
        target: Option<Target>,
        action: Action,
        opts: CallOptions,
    ) -> Result<Outcome, Error> {
        let operation = Operation::new(self, target, action, opts, t.random_bytes())?;
        self.run(t, operation).await
    }

    /// Looks a secret up by name (`Secret.fromName(...).hydrate()`): NOT_FOUND if it is missing,
    /// FAILED_PRECONDITION if one of `required_keys` is.
    pub async fn lookup(
        &self,
        t: &impl Transport,
        name: &str,
        environment: Option<&str>,
        required_keys: &[String],
        opts: CallOptions,
    ) -> Result<SecretRecord, Error> {
        let source = Source::name(name, environment, required_keys.to_vec())?;
        self.hydrate(t, &source, opts).await
    }

    /// Creates a named secret (`Secret.objects.create`): ALREADY_EXISTS if the name is taken, unless
    /// `allow_existing`, which leaves an existing secret untouched (Modal's CREATE_IF_MISSING).
    pub async fn create(
        &self,
        t: &impl Transport,
        name: &str,
        env_dict: &EnvDict,
        allow_existing: bool,
        environment: Option<&str>,
        opts: CallOptions,
    ) -> Result<(), Error> {
        let action = Action::Create {
            name: name.to_owned(),
            env_dict: env_dict.clone(),
            allow_existing,
            environment: environment.map(str::to_owned),
        };
        self.run_new(t, None, action, opts).await.map(drop)
    }

    /// Resolves a [`Source`] to the secret it stands for.
    pub async fn hydrate(
        &self,
        t: &impl Transport,
        source: &Source,
        opts: CallOptions,
    ) -> Result<SecretRecord, Error> {
        let target = Some(Target::Source(source.clone()));
        let outcome = self.run_new(t, target, Action::Hydrate, opts).await?;
        outcome.hydrated.ok_or_else(unexpected)
    }

    /// Deletes a named secret: a lookup, then SecretDelete by id (as Modal's clients do).
    /// `allow_missing` turns the lookup's NOT_FOUND into `Ok(false)`.
    pub async fn delete(
        &self,
        t: &impl Transport,
        name: &str,
        allow_missing: bool,
        environment: Option<&str>,
        opts: CallOptions,
    ) -> Result<bool, Error> {
        let target = Some(Target::Source(Source::name(name, environment, Vec::new())?));
        let action = Action::Delete { allow_missing };
        Ok(self.run_new(t, target, action, opts).await?.deleted)
    }

    /// Sets (`Some`) and removes (`None`) keys of the secret `secret_id`, in one call.
    pub async fn update(
        &self,
        t: &impl Transport,
        secret_id: &str,
        updates: &[Update],
        opts: CallOptions,
    ) -> Result<(), Error> {
        let target = Some(hydrated(secret_id));
        let action = Action::Update(updates.to_vec());
        self.run_new(t, target, action, opts).await.map(drop)
    }

    /// The secret's current metadata (SecretGetInfo).
    pub async fn info(
        &self,
        t: &impl Transport,
        secret_id: &str,
        opts: CallOptions,
    ) -> Result<SecretRecord, Error> {
        let target = Some(hydrated(secret_id));
        let action = Action::Info { refresh: true };
        let outcome = self.run_new(t, target, action, opts).await?;
        outcome.info.ok_or_else(unexpected)
    }

    /// One page of a listing (see [`Listing`]).
    pub async fn list_page(
        &self,
        t: &impl Transport,
        page: &PageRequest,
        opts: CallOptions,
    ) -> Result<Page, Error> {
        let action = Action::ListPage(page.clone());
        let outcome = self.run_new(t, None, action, opts).await?;
        Ok(Page {
            records: outcome.records,
            bytes: outcome.page_bytes,
        })
    }
}

fn hydrated(secret_id: &str) -> Target {
    Target::Hydrated {
        id: secret_id.to_owned(),
        name: None,
        keys: Vec::new(),
    }
}

/// An outcome without the part its action always fills: cannot happen.
fn unexpected() -> Error {
    Error::invalid("internal error: the operation ended without its result")
}
