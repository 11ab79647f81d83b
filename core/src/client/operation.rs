//! Every operation of the client as a state machine with no I/O of its own (sans-I/O).
//!
//! An [`Operation`] says what to do next ([`Operation::next`]: send this request, sleep this long,
//! or finished) and is told what happened ([`Operation::answer`], [`Operation::slept`]); at the end
//! [`Operation::finish`] gives the [`Outcome`]. The host does the sending and the sleeping: the npm
//! package from JavaScript (`drive`, src/js/host.js), so the wasm holds no futures; the native tests
//! through [`super::Client::run`] over a [`super::Transport`]. Either way every decision (requests,
//! headers, retries and their waits, the deadline, reading answers, chaining a lookup before a
//! delete) is made here, once.
//!
//! An operation is one or two unary calls: an optional hydration of its [`Target`] (a lookup by
//! name, or an ephemeral create from values), then its [`Action`]'s own call. Each call is an
//! [`Exchange`]: WIRE.md's retry loop over attempts of one request, with one idempotency key.

use std::time::Duration;

use super::{
    CLIENT_TYPE, CLIENT_VERSION, CallOptions, Client, EnvDict, PageRequest, Request, Response,
    SecretRecord, Source, Update, check_request_size, check_timeout, check_updates, uuid_v4,
};
use crate::error::{Code, Error};
use crate::grpc_web::{self, CallMeta, HttpResponse, Protocol, RequestHeaders};
use crate::protobuf::{self, GetOrCreateRequest};
use crate::redact::redact_text;
use crate::retry::{CallState, Decision};
use crate::validate;

/// What an operation acts on, when it acts on one secret.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A secret not hydrated yet: hydrate it first (a lookup by name, or an ephemeral create).
    Source(Source),
    /// A hydrated secret: its id, and what is known of it (its name, for `info`; its keys, for
    /// `update`).
    Hydrated {
        id: String,
        name: Option<String>,
        keys: Vec<String>,
    },
}

/// What an operation does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Hydrate the target, nothing more.
    Hydrate,
    /// The target's metadata: fresh from SecretGetInfo when `refresh`; else what hydrating it said
    /// (nothing, when it came hydrated).
    Info { refresh: bool },
    /// Set (`Some`) and remove (`None`) keys of the target, in one SecretUpdate.
    Update(Vec<Update>),
    /// Delete the target (a name: a lookup, then SecretDelete by id, as Modal's clients do);
    /// `allow_missing` turns the lookup's NOT_FOUND into "nothing deleted".
    Delete { allow_missing: bool },
    /// `Secret.objects.create`: ALREADY_EXISTS if the name is taken, unless `allow_existing`
    /// (Modal's CREATE_IF_MISSING, which leaves the existing secret untouched).
    Create {
        name: String,
        env_dict: EnvDict,
        allow_existing: bool,
        environment: Option<String>,
    },
    /// One page of a listing (see [`super::Listing`]).
    ListPage(PageRequest),
}

/// What an operation found out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The target's record when the operation hydrated it.
    pub hydrated: Option<SecretRecord>,
    /// `Info`: the metadata read (its name kept from the target when SecretGetInfo leaves it out).
    pub info: Option<SecretRecord>,
    /// `Update`: the key names after the update.
    pub keys: Option<Vec<String>>,
    /// `ListPage`: the page, and the size of its message.
    pub records: Vec<SecretRecord>,
    pub page_bytes: usize,
    /// `Delete`: whether a secret was deleted.
    pub deleted: bool,
}

/// What the host is to do next.
#[derive(Debug)]
pub enum Next<'a> {
    /// Send this request and report the answer (or the failure) with [`Operation::answer`].
    Send(Request<'a>),
    /// Wait this long, then report with [`Operation::slept`] (an abort meanwhile is a failure).
    Sleep(Duration),
    /// Done: [`Operation::finish`] has the result.
    Finished,
}

/// One operation in progress; see the module documentation.
#[derive(Debug)]
pub struct Operation {
    action: Action,
    /// The target while it is being hydrated; `None` once the action's own call is under way.
    hydrating: Option<Source>,
    /// The hydrated target's id, name and keys.
    id: String,
    name: Option<String>,
    keys: Vec<String>,
    options: CallOptions,
    /// Seeds the idempotency key of each call (one per call, the same on each of its attempts).
    key_seed: [u8; 16],
    calls: u8,
    exchange: Exchange,
    /// The headers of the attempt being sent (borrowed by [`Next::Send`]).
    headers: RequestHeaders,
    wait: Option<Duration>,
    outcome: Outcome,
    result: Option<Result<(), Error>>,
}

impl Operation {
    /// Checks everything that can be checked before sending and prepares the first call.
    /// `random` seeds the idempotency keys.
    pub fn new(
        client: &Client,
        target: Option<Target>,
        action: Action,
        options: CallOptions,
        random: [u8; 16],
    ) -> Result<Operation, Error> {
        if let Some(t) = options.timeout {
            check_timeout(t, "timeoutMs")?;
        }
        if let Action::Update(updates) = &action {
            check_updates(updates)?;
        }
        let mut op = Operation {
            action,
            hydrating: None,
            id: String::new(),
            name: None,
            keys: Vec::new(),
            options,
            key_seed: random,
            calls: 0,
            exchange: Exchange::default(),
            headers: RequestHeaders(Vec::new()),
            wait: None,
            outcome: Outcome::default(),
            result: None,
        };
        match target {
            Some(Target::Source(source)) => {
                let (method, body) = hydrate_request(client, &source)?;
                op.hydrating = Some(source);
                op.start(client, method, body);
            }
            Some(Target::Hydrated { id, name, keys }) => {
                op.id = id;
                op.name = name;
                op.keys = keys;
                op.act(client)?;
            }
            None => op.act(client)?,
        }
        Ok(op)
    }

    /// What to do next, at time `now` (a monotonic clock of any origin).
    pub fn next(&mut self, client: &Client, now: Duration) -> Next<'_> {
        if self.result.is_some() {
            return Next::Finished;
        }
        if let Some(wait) = self.wait.take() {
            return Next::Sleep(wait);
        }
        match self.exchange.attempt(client, now) {
            Ok((headers, timeout)) => {
                self.headers = headers;
                Next::Send(Request {
                    url: &self.exchange.url,
                    headers: &self.headers,
                    body: &self.exchange.body,
                    timeout,
                })
            }
            Err(error) => {
                self.result = Some(Err(error));
                Next::Finished
            }
        }
    }

    /// The answer to the request of the last [`Next::Send`], or why there was none. The server's
    /// warnings go to `warn`.
    pub fn answer(
        &mut self,
        client: &Client,
        now: Duration,
        sent: Result<Response, Error>,
        warn: &mut dyn FnMut(&str),
    ) {
        let secrets = call_secrets(client, &self.action, self.hydrating.as_ref());
        let mut redacted_warn = |warning: &str| warn(&redact_text(warning, &secrets));
        match self.exchange.settle(client, now, sent, &mut redacted_warn) {
            Settled::Reply(bytes) => {
                if let Err(error) = self.on_reply(client, &bytes) {
                    self.fail(client, error);
                }
            }
            Settled::Wait(wait) => self.wait = Some(wait),
            Settled::Fail(error) => self.fail(client, error),
        }
    }

    /// How the last [`Next::Sleep`] ended: `Err` when the caller aborted it.
    pub fn slept(&mut self, result: Result<(), Error>) {
        if let Err(error) = result {
            self.result = Some(Err(error));
        }
    }

    /// The result, once [`Next::Finished`] was returned.
    pub fn finish(&mut self) -> Result<Outcome, Error> {
        match self.result.take() {
            Some(Ok(())) => Ok(std::mem::take(&mut self.outcome)),
            Some(Err(error)) => Err(error),
            None => Err(Error::invalid("the operation has not finished")),
        }
    }

    /// Ends the operation with `error`, cleared of this call's secrets (a server may echo them).
    fn fail(&mut self, client: &Client, error: Error) {
        let error = error.redact(&call_secrets(client, &self.action, self.hydrating.as_ref()));
        let missing = self.hydrating.is_some() && error.code() == Code::NotFound;
        if missing
            && matches!(
                self.action,
                Action::Delete {
                    allow_missing: true
                }
            )
        {
            self.outcome.deleted = false;
            self.result = Some(Ok(()));
        } else {
            self.result = Some(Err(error));
        }
    }

    fn on_reply(&mut self, client: &Client, bytes: &[u8]) -> Result<(), Error> {
        if let Some(source) = self.hydrating.take() {
            let response = protobuf::secret_get_or_create_response(bytes)?;
            let record = match &source {
                Source::Name { name, .. } => SecretRecord::from_response(response, Some(name))?,
                Source::Dict(env_dict) => {
                    let mut record = SecretRecord::from_response(response, None)?;
                    if record.keys.is_empty() {
                        // A server may leave an ephemeral secret's metadata out; its keys are the
                        // ones sent.
                        record.keys = env_dict.keys().map(str::to_owned).collect();
                    }
                    record
                }
            };
            self.id.clone_from(&record.id);
            self.name.clone_from(&record.name);
            self.keys.clone_from(&record.keys);
            self.outcome.hydrated = Some(record);
            return self.act(client);
        }
        match &self.action {
            Action::Hydrate => {}
            Action::Info { .. } => {
                let metadata = protobuf::secret_get_info_response(bytes)?.unwrap_or_default();
                let mut record = SecretRecord::from_metadata(self.id.clone(), metadata);
                if record.name.is_none() {
                    record.name = self.name.take();
                }
                self.outcome.info = Some(record);
            }
            Action::Update(updates) => {
                let mut record = SecretRecord {
                    keys: std::mem::take(&mut self.keys),
                    ..SecretRecord::default()
                };
                record.apply(updates);
                self.outcome.keys = Some(record.keys);
            }
            Action::Delete { .. } => self.outcome.deleted = true,
            Action::Create { .. } => {
                protobuf::secret_get_or_create_response(bytes)?;
            }
            Action::ListPage(_) => {
                let items = protobuf::secret_list_response(bytes)?;
                self.outcome.page_bytes = bytes.len();
                self.outcome.records = items
                    .into_iter()
                    .map(SecretRecord::from_list_item)
                    .collect::<Result<_, _>>()?;
            }
        }
        self.result = Some(Ok(()));
        Ok(())
    }

    /// Starts the action's own call, or finishes when it needs none.
    fn act(&mut self, client: &Client) -> Result<(), Error> {
        let (method, body) = match &self.action {
            Action::Hydrate => return self.done(),
            Action::Info { refresh: false } => {
                // What hydration said (nothing when the target came hydrated: its holder has it).
                self.outcome.info = self.outcome.hydrated.clone();
                return self.done();
            }
            Action::Info { .. } => encode("SecretGetInfo", |out| {
                protobuf::secret_id_request(out, &self.id)
            })?,
            Action::Update(updates) => encode("SecretUpdate", |out| {
                super::model::update_request(out, &self.id, updates)
            })?,
            Action::Delete { .. } => encode("SecretDelete", |out| {
                protobuf::secret_id_request(out, &self.id)
            })?,
            Action::Create {
                name,
                env_dict,
                allow_existing,
                environment,
            } => {
                validate::secret_name(name)?;
                let object_creation_type = if *allow_existing {
                    CREATE_IF_MISSING
                } else {
                    CREATE_FAIL_IF_EXISTS
                };
                let environment_name = client.environment_for(environment.as_deref())?;
                let env_dict: Vec<_> = env_dict.pairs().collect();
                let request = GetOrCreateRequest {
                    deployment_name: name,
                    environment_name: &environment_name,
                    object_creation_type,
                    env_dict: &env_dict,
                    required_keys: &[],
                };
                encode("SecretGetOrCreate", |out| {
                    protobuf::secret_get_or_create_request(out, &request)
                })?
            }
            Action::ListPage(page) => {
                let environment_name = client.environment_for(page.environment.as_deref())?;
                encode("SecretList", |out| {
                    protobuf::secret_list_request(
                        out,
                        &environment_name,
                        page.max_objects,
                        page.created_before,
                    )
                })?
            }
        };
        self.start(client, method, body);
        Ok(())
    }

    fn done(&mut self) -> Result<(), Error> {
        self.result = Some(Ok(()));
        Ok(())
    }

    fn start(&mut self, client: &Client, method: &str, body: Vec<u8>) {
        let mut seed = self.key_seed;
        // One key per call: the second call of an operation flips a bit of the first's seed.
        seed[15] ^= self.calls;
        self.calls = self.calls.wrapping_add(1);
        self.exchange = Exchange {
            url: format!("{}{}", client.server_url, grpc_web::method_path(method)),
            body,
            idempotency_key: uuid_v4(seed),
            timeout: self.options.timeout.or(client.timeout),
            start: None,
            retries: 0,
        };
    }
}

/// What no text from the server may repeat: the token secret and every value this operation sends.
fn call_secrets<'a>(
    client: &'a Client,
    action: &'a Action,
    hydrating: Option<&'a Source>,
) -> Vec<&'a str> {
    let mut secrets = vec![client.token_secret.expose().as_str()];
    let mut values = |dict: &'a EnvDict| secrets.extend(dict.pairs().map(|(_, value)| value));
    if let Some(Source::Dict(dict)) = hydrating {
        values(dict);
    }
    match action {
        Action::Create { env_dict, .. } => values(env_dict),
        Action::Update(updates) => {
            let sent = updates.iter().filter_map(|u| u.value.as_ref());
            secrets.extend(sent.map(|value| value.expose().as_str()));
        }
        _ => {}
    }
    secrets
}

/// The request of hydrating `source`.
fn hydrate_request(client: &Client, source: &Source) -> Result<(&'static str, Vec<u8>), Error> {
    let (environment_name, env_dict);
    let request = match source {
        Source::Name {
            name,
            environment,
            required_keys,
        } => {
            validate::secret_name(name)?;
            for key in required_keys {
                validate::env_key(key)?;
            }
            environment_name = client.environment_for(environment.as_deref())?;
            GetOrCreateRequest {
                deployment_name: name,
                environment_name: &environment_name,
                object_creation_type: LOOKUP,
                env_dict: &[],
                required_keys,
            }
        }
        Source::Dict(dict) => {
            env_dict = dict.pairs().collect::<Vec<_>>();
            GetOrCreateRequest {
                deployment_name: "",
                environment_name: &client.environment,
                object_creation_type: EPHEMERAL,
                env_dict: &env_dict,
                required_keys: &[],
            }
        }
    };
    encode("SecretGetOrCreate", |out| {
        protobuf::secret_get_or_create_request(out, &request)
    })
}

/// `ObjectCreationType`s (WIRE.md): a lookup, the two creates of `Secret.objects.create`, and the
/// ephemeral secret of `fromDict`.
const LOOKUP: i32 = 0;
const CREATE_IF_MISSING: i32 = 1;
const CREATE_FAIL_IF_EXISTS: i32 = 2;
const EPHEMERAL: i32 = 5;
#[cfg(test)]
const _: () = {
    use crate::proto::ObjectCreationType as T;
    assert!(LOOKUP == T::Unspecified as i32 && EPHEMERAL == T::Ephemeral as i32);
    assert!(CREATE_IF_MISSING == T::CreateIfMissing as i32);
    assert!(CREATE_FAIL_IF_EXISTS == T::CreateFailIfExists as i32);
};

/// A request body for `method`, its message written by `write`, within the size limit.
fn encode(
    method: &'static str,
    write: impl FnOnce(&mut Vec<u8>),
) -> Result<(&'static str, Vec<u8>), Error> {
    let body = grpc_web::request_body(write)?;
    check_request_size(grpc_web::request_message_len(&body))?;
    Ok((method, body))
}

/// One unary call: its attempts, the waits between them and its deadline (WIRE.md's retry policy,
/// decided by [`crate::retry::RetryPolicy`]).
#[derive(Debug, Default)]
struct Exchange {
    url: String,
    body: Vec<u8>,
    idempotency_key: String,
    /// The whole call, waits included.
    timeout: Option<Duration>,
    /// When the first attempt started.
    start: Option<Duration>,
    /// Counted retries so far (throttle waits are not counted).
    retries: u32,
}

enum Settled {
    Reply(Vec<u8>),
    Wait(Duration),
    Fail(Error),
}

impl Exchange {
    /// The headers and time left of the next attempt, or the timeout when no time is left.
    fn attempt(
        &mut self,
        client: &Client,
        now: Duration,
    ) -> Result<(RequestHeaders, Option<Duration>), Error> {
        let start = *self.start.get_or_insert(now);
        let elapsed = now.saturating_sub(start);
        let remaining = self.timeout.map(|d| d.saturating_sub(elapsed));
        if remaining == Some(Duration::ZERO) {
            return Err(Error::Timeout(self.timeout.unwrap_or_default()));
        }
        let headers = grpc_web::request_headers_for(
            client.protocol,
            &CallMeta {
                token_id: &client.token_id,
                token_secret: &client.token_secret,
                client_type: CLIENT_TYPE,
                client_version: CLIENT_VERSION,
                host: &client.host,
                idempotency_key: &self.idempotency_key,
                attempt: self.retries,
                since_first: elapsed,
            },
        );
        Ok((headers, remaining))
    }

    /// Reads an attempt's answer: the message, a wait before the next attempt, or the end.
    fn settle(
        &mut self,
        client: &Client,
        now: Duration,
        sent: Result<Response, Error>,
        warn: &mut dyn FnMut(&str),
    ) -> Settled {
        let error = match sent {
            Ok(response) => {
                let http = HttpResponse {
                    status: response.status,
                    headers: &response.headers,
                    body: &response.body,
                };
                let decoded = match client.protocol {
                    Protocol::GrpcWeb => grpc_web::decode_response(&http, client.limits),
                    Protocol::Grpc => {
                        grpc_web::decode_grpc_response(&http, &response.trailers, client.limits)
                    }
                };
                for warning in &decoded.warnings {
                    warn(warning);
                }
                match decoded.outcome {
                    Ok(bytes) => return Settled::Reply(bytes.to_vec()),
                    Err(error) => error,
                }
            }
            Err(Error::Timeout(_)) => {
                return Settled::Fail(Error::Timeout(self.timeout.unwrap_or_default()));
            }
            Err(error) => error,
        };
        if matches!(error, Error::Cancelled) {
            return Settled::Fail(error);
        }
        let state = CallState {
            retries: self.retries,
            elapsed: now.saturating_sub(self.start.unwrap_or(now)),
            deadline: self.timeout,
        };
        match client.policy.decide(&error, state) {
            Decision::Stop => Settled::Fail(error),
            Decision::Retry { after, throttled } => {
                if !throttled {
                    self.retries += 1;
                }
                Settled::Wait(after)
            }
        }
    }
}
