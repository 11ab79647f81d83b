//! A mixed workload with a log of every acknowledged operation, for the crash loop and the soak.
//!
//! Each client owns the names it creates (`c{client}-…`), so the operations on one name happen
//! one at a time and in the client's order: replaying a client's log gives, for each of its names,
//! the state the store must hold. The model below is that replay, kept up to date as each
//! acknowledgement arrives. A call that got no answer (the server was killed, say) may or may not
//! have taken effect: its name is then known only as "before or after" until the next check reads
//! the store and settles it. A name known for sure that the store does not match is a lost
//! acknowledged write.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use modal_secrets_core::proto::{
    ListPagination, ObjectCreationType, SecretDeleteRequest, SecretGetInfoRequest,
    SecretGetOrCreateRequest, SecretGetOrCreateResponse, SecretListRequest, SecretUpdateRequest,
    secret_update_request::Update,
};
use modal_secrets_core::{Code, Error};
use modal_secrets_server::local::store::Store;

use super::{Grpc, Token, Web, lookup_request};

/// xorshift64*: small, seeded, reproducible (the seed is printed).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// From `var` in the environment if set, else from the OS.
    pub fn seed(var: &str) -> u64 {
        std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b).expect("random seed");
                u64::from_le_bytes(b)
            })
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A secret as the log says it is: its id (unknown if it was made by a call whose answer was
/// lost) and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Present {
    pub id: Option<String>,
    pub values: BTreeMap<String, String>,
}

/// `None`: the name does not exist.
pub type State = Option<Present>;

#[derive(Clone, Debug)]
pub enum Known {
    Sure(State),
    /// A call without an answer: the store holds one of these.
    Either(State, State),
}

/// One client's connection: plain gRPC (as Modal's clients) or gRPC-web (as the package).
pub enum Conn {
    Grpc(Grpc),
    Web(Web),
}

/// What a call came back with: a status (with its message) or no answer at all.
#[derive(Debug)]
pub enum Failure {
    Status(Code, String),
    Transport(String),
}

impl Failure {
    pub fn kind(&self) -> String {
        match self {
            Failure::Status(code, _) => code.name().to_owned(),
            Failure::Transport(_) => "TRANSPORT".to_owned(),
        }
    }

    fn code(&self) -> Option<Code> {
        match self {
            Failure::Status(code, _) => Some(*code),
            Failure::Transport(_) => None,
        }
    }
}

fn from_tonic(status: tonic::Status) -> Failure {
    let code = Code::from_i32(status.code() as i32);
    // tonic reports a dead connection as UNAVAILABLE/UNKNOWN with a transport message.
    let transport = std::error::Error::source(&status).is_some()
        || status.message().contains("transport")
        || status.message().contains("connection");
    if transport && matches!(code, Code::Unavailable | Code::Unknown | Code::Cancelled) {
        Failure::Transport(status.message().to_owned())
    } else {
        Failure::Status(code, status.message().to_owned())
    }
}

impl Conn {
    pub async fn connect(url: &str, token: &Token, web: bool, http2: bool) -> Conn {
        if web {
            let web = if http2 {
                Web::http2(url, token.clone())
            } else {
                Web::http1(url, token.clone())
            };
            Conn::Web(web)
        } else {
            Conn::Grpc(Grpc::connect(url, token.clone()).await)
        }
    }

    async fn web_call<M: prost::Message + Default>(
        web: &Web,
        method: &str,
        message: &impl prost::Message,
    ) -> Result<M, Failure> {
        let body = modal_secrets_core::grpc_web::encode_request(message).expect("encode");
        let mut request = web.http.post(format!(
            "{}{}",
            web.url,
            modal_secrets_core::grpc_web::method_path(method)
        ));
        let token = web.token.as_ref().expect("a token");
        request = request
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header("x-modal-token-id", &token.id)
            .header("x-modal-token-secret", &token.secret)
            .timeout(Duration::from_secs(30));
        let answer = match request.body(body).send().await {
            Ok(answer) => super::into_web_response_checked(answer).await,
            Err(e) => Err(e.to_string()),
        };
        let answer = answer.map_err(Failure::Transport)?;
        answer.decode::<M>().map_err(|e| match e {
            Error::Status { code, message, .. } => Failure::Status(code, message),
            other => Failure::Transport(other.to_string()),
        })
    }

    pub async fn get_or_create(
        &mut self,
        request: SecretGetOrCreateRequest,
    ) -> Result<SecretGetOrCreateResponse, Failure> {
        match self {
            Conn::Grpc(g) => g.get_or_create(request).await.map_err(from_tonic),
            Conn::Web(w) => Self::web_call(w, "SecretGetOrCreate", &request).await,
        }
    }

    pub async fn update(&mut self, request: SecretUpdateRequest) -> Result<(), Failure> {
        match self {
            Conn::Grpc(g) => {
                let r = g.request(request);
                g.client
                    .secret_update(r)
                    .await
                    .map(|_| ())
                    .map_err(from_tonic)
            }
            Conn::Web(w) => Self::web_call::<()>(w, "SecretUpdate", &request).await,
        }
    }

    pub async fn delete(&mut self, id: &str) -> Result<(), Failure> {
        let request = SecretDeleteRequest {
            secret_id: id.to_owned(),
        };
        match self {
            Conn::Grpc(g) => {
                let r = g.request(request);
                g.client
                    .secret_delete(r)
                    .await
                    .map(|_| ())
                    .map_err(from_tonic)
            }
            Conn::Web(w) => Self::web_call::<()>(w, "SecretDelete", &request).await,
        }
    }

    pub async fn info(&mut self, id: &str) -> Result<Vec<String>, Failure> {
        let request = SecretGetInfoRequest {
            secret_id: id.to_owned(),
        };
        let response = match self {
            Conn::Grpc(g) => {
                let r = g.request(request);
                g.client
                    .secret_get_info(r)
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(from_tonic)?
            }
            Conn::Web(w) => Self::web_call(w, "SecretGetInfo", &request).await?,
        };
        Ok(response.metadata.unwrap_or_default().keys)
    }

    /// One page of the default environment's list.
    pub async fn list(
        &mut self,
        max: i32,
        before: f64,
    ) -> Result<modal_secrets_core::proto::SecretListResponse, Failure> {
        let request = SecretListRequest {
            environment_name: String::new(),
            pagination: Some(ListPagination {
                max_objects: max,
                created_before: before,
            }),
        };
        match self {
            Conn::Grpc(g) => {
                let r = g.request(request);
                g.client
                    .secret_list(r)
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(from_tonic)
            }
            Conn::Web(w) => Self::web_call(w, "SecretList", &request).await,
        }
    }

    pub async fn hello(&mut self) -> Result<(), Failure> {
        match self {
            Conn::Grpc(g) => {
                let r = g.request(());
                g.client
                    .client_hello(r)
                    .await
                    .map(|_| ())
                    .map_err(from_tonic)
            }
            Conn::Web(w) => Self::web_call::<modal_secrets_core::proto::ClientHelloResponse>(
                w,
                "ClientHello",
                &(),
            )
            .await
            .map(|_| ()),
        }
    }

    /// Every name in the default environment, paging as Modal's clients do.
    pub async fn all_names(&mut self) -> Result<BTreeSet<String>, Failure> {
        let mut names = BTreeSet::new();
        let mut before = 0.0;
        loop {
            let page = self.list(100, before).await?;
            let Some(last) = page.items.last() else {
                return Ok(names);
            };
            before = last
                .metadata
                .as_ref()
                .and_then(|m| m.creation_info.as_ref())
                .expect("metadata on every item")
                .created_at;
            names.extend(page.items.iter().map(|i| i.label.clone()));
        }
    }
}

/// One acknowledged operation, as logged.
#[derive(Clone, Debug)]
pub struct Logged {
    pub at: Duration,
    pub client: usize,
    pub op: &'static str,
    pub name: String,
}

/// What one client did.
#[derive(Default)]
pub struct Tally {
    pub ops: usize,
    pub by_op: BTreeMap<&'static str, usize>,
    /// Unexpected answers by kind (status name, or TRANSPORT).
    pub errors: BTreeMap<String, usize>,
    pub latencies_us: Vec<u32>,
    pub log: Vec<Logged>,
    /// Reads that disagreed with the log (must stay empty).
    pub inconsistencies: Vec<String>,
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        self.ops += other.ops;
        for (k, v) in other.by_op {
            *self.by_op.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.latencies_us.extend(other.latencies_us);
        self.log.extend(other.log);
        self.inconsistencies.extend(other.inconsistencies);
    }

    /// (p50, p99) in milliseconds.
    pub fn percentiles(&mut self) -> (f64, f64) {
        if self.latencies_us.is_empty() {
            return (0.0, 0.0);
        }
        self.latencies_us.sort_unstable();
        let at = |q: f64| {
            let i = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
            f64::from(self.latencies_us[i]) / 1000.0
        };
        (at(0.50), at(0.99))
    }
}

/// One client of the workload: its names and what it knows of them.
pub struct Client {
    pub index: usize,
    pub rng: Rng,
    pub names: BTreeMap<String, Known>,
    next_name: usize,
    /// Also run reads (lookups, info, list, hello) and ephemeral creates (the soak), not only
    /// writes (the crash loop).
    pub reads: bool,
}

/// Why a client stopped.
pub enum Stop {
    /// The deadline passed or the stop flag was set.
    Done,
    /// A call got no answer (the server went away).
    Lost,
}

impl Client {
    pub fn new(index: usize, seed: u64, reads: bool) -> Client {
        Client {
            index,
            rng: Rng::new(seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            names: BTreeMap::new(),
            next_name: 0,
            reads,
        }
    }

    fn sure(&self, name: &str) -> Option<&State> {
        match self.names.get(name) {
            Some(Known::Sure(state)) => Some(state),
            _ => None,
        }
    }

    /// A name of this client whose state is known, if any, present or not as asked.
    fn pick(&mut self, present: bool) -> Option<String> {
        let candidates: Vec<&String> = self
            .names
            .iter()
            .filter(|(_, k)| matches!(k, Known::Sure(s) if s.is_some() == present))
            .map(|(n, _)| n)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let i = self.rng.below(candidates.len());
        Some(candidates[i].clone())
    }

    fn values(&mut self, tag: &str) -> BTreeMap<String, String> {
        let n = 1 + self.rng.below(3);
        (0..n)
            .map(|_| {
                let k = format!("K{}", self.rng.below(6));
                let v = format!("v-{tag}-{}", self.rng.next() % 1_000_000);
                super::audit::value(&v);
                (k, v)
            })
            .collect()
    }

    /// Runs operations until `keep_going` says stop or a call gets no answer.
    pub async fn run(
        &mut self,
        conn: &mut Conn,
        started: Instant,
        keep_going: impl Fn() -> bool,
    ) -> (Tally, Stop) {
        let mut tally = Tally::default();
        while keep_going() {
            let began = Instant::now();
            let outcome = self.step(conn, started, &mut tally).await;
            tally.ops += 1;
            tally
                .latencies_us
                .push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX));
            if let Err(failure) = outcome {
                *tally.errors.entry(failure.kind()).or_default() += 1;
                if matches!(failure, Failure::Transport(_)) {
                    return (tally, Stop::Lost);
                }
            }
        }
        (tally, Stop::Done)
    }

    fn ack(
        &mut self,
        tally: &mut Tally,
        started: Instant,
        op: &'static str,
        name: &str,
        state: State,
    ) {
        self.names.insert(name.to_owned(), Known::Sure(state));
        *tally.by_op.entry(op).or_default() += 1;
        tally.log.push(Logged {
            at: started.elapsed(),
            client: self.index,
            op,
            name: name.to_owned(),
        });
    }

    fn unsure(&mut self, name: &str, before: State, after: State) {
        self.names
            .insert(name.to_owned(), Known::Either(before, after));
    }

    /// One operation. A status that the log explains (NOT_FOUND for a name it says is absent)
    /// is part of the operation; anything else is an error, and a write without an answer leaves
    /// its name "before or after".
    async fn step(
        &mut self,
        conn: &mut Conn,
        started: Instant,
        tally: &mut Tally,
    ) -> Result<(), Failure> {
        let roll = self.rng.below(100);
        let writes_only = !self.reads;
        match roll {
            // Create a new name.
            r if r < 30 || (writes_only && r < 45) => {
                let name = format!("c{}-{}", self.index, self.next_name);
                self.next_name += 1;
                let values = self.values(&name);
                let request =
                    create_request_values(&name, ObjectCreationType::CreateFailIfExists, &values);
                match conn.get_or_create(request).await {
                    Ok(created) => {
                        let state = Some(Present {
                            id: Some(created.secret_id),
                            values,
                        });
                        self.ack(tally, started, "create", &name, state);
                        Ok(())
                    }
                    Err(f) => {
                        self.unsure(&name, None, Some(Present { id: None, values }));
                        Err(f)
                    }
                }
            }
            // Overwrite one (present or deleted: then it is made anew).
            r if r < 40 || (writes_only && r < 60) => {
                let present = self.rng.below(4) != 0;
                let Some(name) = self.pick(present).or_else(|| self.pick(true)) else {
                    return Ok(());
                };
                let before = self.sure(&name).cloned().flatten();
                let values = self.values(&name);
                let request = create_request_values(
                    &name,
                    ObjectCreationType::CreateOverwriteIfExists,
                    &values,
                );
                match conn.get_or_create(request).await {
                    Ok(created) => {
                        if let Some(Present { id: Some(id), .. }) = &before
                            && *id != created.secret_id
                        {
                            tally
                                .inconsistencies
                                .push(format!("{name}: overwrite changed the id"));
                        }
                        let state = Some(Present {
                            id: Some(created.secret_id),
                            values,
                        });
                        self.ack(tally, started, "overwrite", &name, state);
                        Ok(())
                    }
                    Err(f) => {
                        let id = before.as_ref().and_then(|p| p.id.clone());
                        self.unsure(&name, before, Some(Present { id, values }));
                        Err(f)
                    }
                }
            }
            // Update: set one key, remove another.
            r if r < 62 || (writes_only && r < 88) => {
                let Some(name) = self.pick(true) else {
                    return Ok(());
                };
                let Some(Some(before)) = self.sure(&name).cloned() else {
                    return Ok(());
                };
                let Some(id) = before.id.clone() else {
                    return Ok(());
                };
                let set_key = format!("K{}", self.rng.below(6));
                let set_value = format!("u-{}", self.rng.next() % 1_000_000);
                super::audit::value(&set_value);
                let remove = format!("K{}", self.rng.below(6));
                let mut updates = vec![Update {
                    key: set_key.clone(),
                    value: Some(set_value.clone()),
                }];
                let mut after = before.clone();
                after.values.insert(set_key.clone(), set_value);
                if remove != set_key {
                    updates.push(Update {
                        key: remove.clone(),
                        value: None,
                    });
                    after.values.remove(&remove);
                }
                match conn
                    .update(SecretUpdateRequest {
                        secret_id: id,
                        updates,
                    })
                    .await
                {
                    Ok(()) => {
                        self.ack(tally, started, "update", &name, Some(after));
                        Ok(())
                    }
                    Err(f) => {
                        self.unsure(&name, Some(before), Some(after));
                        Err(f)
                    }
                }
            }
            // Delete.
            r if r < 70 || writes_only => {
                let Some(name) = self.pick(true) else {
                    return Ok(());
                };
                let Some(Some(before)) = self.sure(&name).cloned() else {
                    return Ok(());
                };
                let Some(id) = before.id.clone() else {
                    return Ok(());
                };
                match conn.delete(&id).await {
                    Ok(()) => {
                        self.ack(tally, started, "delete", &name, None);
                        Ok(())
                    }
                    Err(f) => {
                        self.unsure(&name, Some(before), None);
                        Err(f)
                    }
                }
            }
            // Lookup, checked against the log.
            r if r < 82 => {
                let present = self.rng.below(3) != 0;
                let Some(name) = self.pick(present) else {
                    return Ok(());
                };
                let expected = self.sure(&name).cloned().flatten();
                *tally.by_op.entry("lookup").or_default() += 1;
                match (conn.get_or_create(lookup_request(&name)).await, expected) {
                    (Ok(found), Some(want)) => {
                        let keys: Vec<String> = want.values.keys().cloned().collect();
                        let got = found.metadata.map(|m| m.keys).unwrap_or_default();
                        if got != keys || want.id.is_some_and(|id| id != found.secret_id) {
                            tally
                                .inconsistencies
                                .push(format!("{name}: lookup {got:?}, log {keys:?}"));
                        }
                        Ok(())
                    }
                    (Ok(_), None) => {
                        tally
                            .inconsistencies
                            .push(format!("{name}: found, but the log deleted it"));
                        Ok(())
                    }
                    (Err(f), None) if f.code() == Some(Code::NotFound) => Ok(()),
                    (Err(f), _) => Err(f),
                }
            }
            // Info by id.
            r if r < 88 => {
                let Some(name) = self.pick(true) else {
                    return Ok(());
                };
                let Some(Some(Present {
                    id: Some(id),
                    values,
                })) = self.sure(&name).cloned()
                else {
                    return Ok(());
                };
                *tally.by_op.entry("info").or_default() += 1;
                let keys = conn.info(&id).await?;
                if keys != values.keys().cloned().collect::<Vec<_>>() {
                    tally.inconsistencies.push(format!("{name}: info {keys:?}"));
                }
                Ok(())
            }
            // A page of the list.
            r if r < 93 => {
                *tally.by_op.entry("list").or_default() += 1;
                conn.list(1 + self.rng.below(100) as i32, 0.0)
                    .await
                    .map(|_| ())
            }
            // An ephemeral secret (not named, not tracked beyond its answer).
            r if r < 97 => {
                *tally.by_op.entry("ephemeral").or_default() += 1;
                let request = SecretGetOrCreateRequest {
                    object_creation_type: ObjectCreationType::Ephemeral as i32,
                    env_dict: [("E".to_owned(), "e".to_owned())].into(),
                    ..Default::default()
                };
                conn.get_or_create(request).await.map(|_| ())
            }
            _ => {
                *tally.by_op.entry("hello").or_default() += 1;
                conn.hello().await
            }
        }
    }
}

fn create_request_values(
    name: &str,
    kind: ObjectCreationType,
    values: &BTreeMap<String, String>,
) -> SecretGetOrCreateRequest {
    SecretGetOrCreateRequest {
        deployment_name: name.to_owned(),
        object_creation_type: kind as i32,
        env_dict: values.clone(),
        ..Default::default()
    }
}

/// What a check of the store against the log found.
#[derive(Debug, Default)]
pub struct Check {
    pub names: usize,
    /// Names settled from "before or after".
    pub settled: usize,
    /// Acknowledged states the store does not hold (must be 0).
    pub lost: Vec<String>,
    /// Names in the store that no log made.
    pub unexpected: Vec<String>,
}

/// Reads every name of `clients` from the server (id, keys) and the store (values), compares with
/// the log, and settles the "before or after" names to what the store holds.
pub async fn check(clients: &mut [Client], conn: &mut Conn, store: &Store) -> Check {
    let mut result = Check::default();
    let mut all = BTreeSet::new();
    for client in clients.iter_mut() {
        for (name, known) in client.names.iter_mut() {
            all.insert(name.clone());
            result.names += 1;
            let actual: State = match conn.get_or_create(lookup_request(name)).await {
                Ok(found) => {
                    let values = store
                        .reveal_values(&found.secret_id)
                        .unwrap_or_else(|e| panic!("{name}: the store's values: {e}"));
                    let keys = found.metadata.map(|m| m.keys).unwrap_or_default();
                    assert_eq!(
                        keys,
                        values.keys().cloned().collect::<Vec<_>>(),
                        "{name}: keys and values disagree"
                    );
                    Some(Present {
                        id: Some(found.secret_id),
                        values,
                    })
                }
                Err(Failure::Status(Code::NotFound, _)) => None,
                Err(f) => panic!("{name}: lookup during the check: {f:?}"),
            };
            let matches = |want: &State| match (want, &actual) {
                (None, None) => true,
                (Some(w), Some(a)) => w.values == a.values && (w.id.is_none() || w.id == a.id),
                _ => false,
            };
            match known {
                Known::Sure(want) => {
                    if !matches(want) {
                        result
                            .lost
                            .push(format!("{name}: log {want:?}, store {actual:?}"));
                    }
                }
                Known::Either(before, after) => {
                    if matches(before) || matches(after) {
                        result.settled += 1;
                    } else {
                        result.lost.push(format!(
                            "{name}: log {before:?} or {after:?}, store {actual:?}"
                        ));
                    }
                }
            }
            *known = Known::Sure(actual);
        }
    }
    let listed = conn.all_names().await.expect("list during the check");
    result.unexpected = listed.difference(&all).cloned().collect();
    result
}
