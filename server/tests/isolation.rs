//! Property: no sequence of calls by one workspace can read or change another's secrets.
//!
//! For each generated case, a victim workspace holds secrets in two environments, and an attacker
//! workspace (its own token, or the JWT AuthTokenGet gave it, or that JWT re-signed to name the
//! victim) makes a random sequence of every call, aimed at the victim's names, ids and
//! environments as well as its own and made-up ones, over gRPC and gRPC-web. Then:
//! - no answer the attacker got holds a victim's id or key name, and a victim's id is answered
//!   exactly as a made-up id is (NOT_FOUND), never OK or PERMISSION_DENIED;
//! - the victim's secrets are as they were: the same ids, names, keys and values (read from the
//!   store with its key), and nothing new in its environments.
//!
//! One real server serves every case (fresh workspaces per case). `PROPTEST_CASES` sets how many.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Grpc, TestServer, Token, Web, create_request, dict};
use modal_secrets_core::Code;
use modal_secrets_core::proto::{
    AuthTokenGetRequest, ListPagination, ObjectCreationType, SecretDeleteRequest,
    SecretGetInfoRequest, SecretGetInfoResponse, SecretGetOrCreateRequest,
    SecretGetOrCreateResponse, SecretListRequest, SecretListResponse, SecretUpdateRequest,
    secret_update_request::Update,
};
use modal_secrets_server::local::store::{Store, Workspace};
use proptest::prelude::*;

const ENVS: [&str; 4] = ["", "main", "dev", "qa"];
const KINDS: [ObjectCreationType; 5] = [
    ObjectCreationType::Unspecified,
    ObjectCreationType::CreateIfMissing,
    ObjectCreationType::CreateFailIfExists,
    ObjectCreationType::CreateOverwriteIfExists,
    ObjectCreationType::Ephemeral,
];

#[derive(Clone, Debug)]
enum Target {
    /// The victim's `i`th secret id.
    Victim(usize),
    /// One the attacker made (the `i`th, if any).
    Own(usize),
    /// A well-formed id nobody has.
    MadeUp,
}

#[derive(Clone, Debug)]
enum Op {
    GetOrCreate {
        name: usize,
        kind: usize,
        env: usize,
        required: bool,
    },
    Update {
        target: Target,
        key: usize,
        remove: bool,
    },
    Delete(Target),
    Info(Target),
    List {
        env: usize,
        max: i32,
    },
    Hello,
}

#[derive(Clone, Copy, Debug)]
enum Credential {
    Token,
    /// The JWT from AuthTokenGet.
    Jwt,
    /// That JWT with its payload changed to name the victim's workspace (signature kept).
    ForgedJwt,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (0..4usize).prop_map(Target::Victim),
        (0..4usize).prop_map(Target::Own),
        Just(Target::MadeUp),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..5usize, 0..KINDS.len(), 0..ENVS.len(), any::<bool>()).prop_map(
            |(name, kind, env, required)| Op::GetOrCreate { name, kind, env, required }
        ),
        2 => (target(), 0..3usize, any::<bool>())
            .prop_map(|(target, key, remove)| Op::Update { target, key, remove }),
        1 => target().prop_map(Op::Delete),
        1 => target().prop_map(Op::Info),
        1 => (0..ENVS.len(), 0..200i32).prop_map(|(env, max)| Op::List { env, max }),
        1 => Just(Op::Hello),
    ]
}

fn credential() -> impl Strategy<Value = Credential> {
    prop_oneof![
        4 => Just(Credential::Token),
        1 => Just(Credential::Jwt),
        1 => Just(Credential::ForgedJwt),
    ]
}

/// A victim's secrets as the store holds them: name, id, environment, keys and values.
type Snapshot = BTreeMap<String, (String, String, BTreeMap<String, String>)>;

fn snapshot(store: &Store, ws: &Workspace) -> Snapshot {
    let mut out = Snapshot::new();
    for env in ["main", "dev", "qa"] {
        let (_, items) = store.list(ws, env, 10_000, None).unwrap();
        for item in items {
            let values = store.reveal_values(&item.secret_id).unwrap();
            let keys = item.metadata.unwrap().keys;
            assert_eq!(keys, values.keys().cloned().collect::<Vec<_>>());
            out.insert(
                format!("{env}/{}", item.label),
                (item.secret_id, env.to_owned(), values),
            );
        }
    }
    out
}

/// The answer of one attacker call, reduced to what the checks need.
struct Answer {
    code: Code,
    /// Every secret id and key name in the answer (or its message).
    text: String,
    ids: Vec<String>,
}

fn ok_answer(ids: Vec<String>, text: String) -> Answer {
    Answer {
        code: Code::Ok,
        text,
        ids,
    }
}

fn from_status(s: &tonic::Status) -> Answer {
    Answer {
        code: Code::from_i32(s.code() as i32),
        text: s.message().to_owned(),
        ids: Vec::new(),
    }
}

/// The attacker's connection: gRPC or gRPC-web, with whichever credential.
struct Attacker {
    grpc: Grpc,
    web: Web,
    over_web: bool,
    /// `x-modal-auth-token` for gRPC-web calls, when a JWT is the credential.
    web_jwt: Option<String>,
    jwt: String,
    forged: String,
}

fn err_answer(e: &modal_secrets_core::Error) -> Answer {
    match e {
        modal_secrets_core::Error::Status { code, message, .. } => Answer {
            code: *code,
            text: message.clone(),
            ids: Vec::new(),
        },
        other => panic!("not a gRPC answer: {other}"),
    }
}

/// An Empty answer: from gRPC (`Ok`) or gRPC-web (`Err`, still to decode).
fn unit_answer(result: Result<Result<(), tonic::Status>, common::WebResponse>) -> Answer {
    match result {
        Ok(Ok(())) => ok_answer(Vec::new(), String::new()),
        Ok(Err(s)) => from_status(&s),
        Err(web) => match web.decode::<()>() {
            Ok(()) => ok_answer(Vec::new(), String::new()),
            Err(e) => err_answer(&e),
        },
    }
}

impl Attacker {
    fn use_credential(&mut self, credential: Credential, token: &Token) {
        let (token, jwt) = match credential {
            Credential::Token => (Some(token.clone()), None),
            Credential::Jwt => (None, Some(self.jwt.clone())),
            Credential::ForgedJwt => (None, Some(self.forged.clone())),
        };
        self.grpc.token.clone_from(&token);
        self.grpc.auth_token.clone_from(&jwt);
        self.web.token = token;
        self.web_jwt = jwt;
    }

    async fn web_call(&self, method: &str, message: &impl prost::Message) -> common::WebResponse {
        let body = modal_secrets_core::grpc_web::encode_request(message).expect("encode");
        let extra: Vec<(&str, &str)> = self
            .web_jwt
            .as_deref()
            .map(|jwt| ("x-modal-auth-token", jwt))
            .into_iter()
            .collect();
        self.web.call_raw(method, body, &extra).await
    }

    async fn get_or_create(&mut self, request: SecretGetOrCreateRequest) -> Answer {
        let created: Result<SecretGetOrCreateResponse, Answer> = if self.over_web {
            let answer = self.web_call("SecretGetOrCreate", &request).await;
            answer.decode().map_err(|e| err_answer(&e))
        } else {
            self.grpc
                .get_or_create(request)
                .await
                .map_err(|s| from_status(&s))
        };
        match created {
            Ok(r) => ok_answer(vec![r.secret_id.clone()], format!("{r:?}")),
            Err(a) => a,
        }
    }

    async fn update(&mut self, request: SecretUpdateRequest) -> Answer {
        let result = if self.over_web {
            Err(self.web_call("SecretUpdate", &request).await)
        } else {
            let r = self.grpc.request(request);
            Ok(self.grpc.client.secret_update(r).await.map(|_| ()))
        };
        unit_answer(result)
    }

    async fn delete(&mut self, request: SecretDeleteRequest) -> Answer {
        let result = if self.over_web {
            Err(self.web_call("SecretDelete", &request).await)
        } else {
            let r = self.grpc.request(request);
            Ok(self.grpc.client.secret_delete(r).await.map(|_| ()))
        };
        unit_answer(result)
    }

    async fn call(&mut self, op: &Op, own: &[String], victim_ids: &[String]) -> Answer {
        let id_of = |t: &Target| match t {
            Target::Victim(i) => victim_ids[i % victim_ids.len()].clone(),
            Target::Own(i) if !own.is_empty() => own[i % own.len()].clone(),
            _ => "st-0000000000000000000000".to_owned(),
        };
        let names = ["db", "api", "shared", "mine", "other"];
        match op {
            Op::GetOrCreate {
                name,
                kind,
                env,
                required,
            } => {
                let kind = KINDS[*kind];
                let mut request: SecretGetOrCreateRequest = if kind == ObjectCreationType::Ephemeral
                {
                    SecretGetOrCreateRequest {
                        object_creation_type: kind as i32,
                        env_dict: dict(&[("ATTACKER_E", "e")]),
                        ..Default::default()
                    }
                } else {
                    create_request(names[*name], kind, &[("ATTACKER_K", "a")])
                };
                request.environment_name = ENVS[*env].to_owned();
                if *required {
                    request.required_keys = vec!["VICTIM_A".into()];
                }
                self.get_or_create(request).await
            }
            Op::Update {
                target,
                key,
                remove,
            } => {
                let keys = ["ATTACKER_K", "VICTIM_A", "VICTIM_B"];
                let request = SecretUpdateRequest {
                    secret_id: id_of(target),
                    updates: vec![Update {
                        key: keys[*key].to_owned(),
                        value: (!remove).then(|| "attacker-value".to_owned()),
                    }],
                };
                self.update(request).await
            }
            Op::Delete(target) => {
                let request = SecretDeleteRequest {
                    secret_id: id_of(target),
                };
                self.delete(request).await
            }
            Op::Info(target) => {
                let request = SecretGetInfoRequest {
                    secret_id: id_of(target),
                };
                if self.over_web {
                    let answer = self.web_call("SecretGetInfo", &request).await;
                    match answer.decode::<SecretGetInfoResponse>() {
                        Ok(info) => ok_answer(Vec::new(), format!("{info:?}")),
                        Err(e) => err_answer(&e),
                    }
                } else {
                    let r = self.grpc.request(request);
                    match self.grpc.client.secret_get_info(r).await {
                        Ok(info) => ok_answer(Vec::new(), format!("{:?}", info.into_inner())),
                        Err(s) => from_status(&s),
                    }
                }
            }
            Op::List { env, max } => {
                let request = SecretListRequest {
                    environment_name: ENVS[*env].to_owned(),
                    pagination: Some(ListPagination {
                        max_objects: *max,
                        created_before: 0.0,
                    }),
                };
                let listed: Result<SecretListResponse, Answer> = if self.over_web {
                    let answer = self.web_call("SecretList", &request).await;
                    answer.decode().map_err(|e| err_answer(&e))
                } else {
                    let r = self.grpc.request(request);
                    self.grpc
                        .client
                        .secret_list(r)
                        .await
                        .map(tonic::Response::into_inner)
                        .map_err(|s| from_status(&s))
                };
                match listed {
                    Ok(list) => ok_answer(
                        list.items.iter().map(|i| i.secret_id.clone()).collect(),
                        format!("{list:?}"),
                    ),
                    Err(a) => a,
                }
            }
            Op::Hello => {
                let r = self.grpc.request(());
                match self.grpc.client.workspace_name_lookup(r).await {
                    Ok(ws) => ok_answer(Vec::new(), format!("{:?}", ws.into_inner())),
                    Err(s) => from_status(&s),
                }
            }
        }
    }
}

/// The attacker's JWT with its payload changed to name `victim` (the signature kept).
fn forge(jwt: &str, victim: &Workspace) -> String {
    let mut parts = jwt.split('.');
    let (header, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["ws"] = victim.id.into();
    claims["wsn"] = victim.name.to_string().into();
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.{signature}")
}

async fn run_case(
    server: &TestServer,
    store: &Store,
    case: usize,
    ops: &[(Op, Credential, bool)],
) -> Result<(), TestCaseError> {
    let (victim_ws, attacker_ws) = (format!("victim{case}"), format!("attacker{case}"));
    let victim_token = server.token_for(&victim_ws);
    let attacker_token = server.token_for(&attacker_ws);
    store.create_environment(&victim_ws, "dev").unwrap();
    store.create_environment(&victim_ws, "qa").unwrap();
    store.create_environment(&attacker_ws, "qa").unwrap();
    let victim = store.token(&victim_token.id).unwrap().unwrap().workspace;

    // The victim's secrets, in three environments.
    let mut v = Grpc::connect(&server.url, victim_token.clone()).await;
    let mut victim_ids = Vec::new();
    let mut victim_values = Vec::new();
    for (env, name, keys) in [
        ("", "db", &["VICTIM_A", "VICTIM_B"][..]),
        ("main", "api", &["VICTIM_A"][..]),
        ("dev", "shared", &["VICTIM_B"][..]),
        ("qa", "db", &["VICTIM_A"][..]),
    ] {
        let values: Vec<String> = keys
            .iter()
            .map(|k| format!("victim-value-{case}-{env}-{name}-{k}"))
            .collect();
        let pairs: Vec<(&str, &str)> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let mut request = create_request(name, ObjectCreationType::CreateFailIfExists, &pairs);
        request.environment_name = env.to_owned();
        victim_ids.push(v.get_or_create(request).await.unwrap().secret_id);
        victim_values.extend(values);
    }
    let before = snapshot(store, &victim);

    let mut grpc = Grpc::connect(&server.url, attacker_token.clone()).await;
    let jwt = grpc
        .client
        .auth_token_get(grpc.request(AuthTokenGetRequest {}))
        .await
        .unwrap()
        .into_inner()
        .token;
    let forged = forge(&jwt, &victim);
    let mut attacker = Attacker {
        grpc,
        web: Web::http1(&server.url, attacker_token.clone()),
        over_web: false,
        web_jwt: None,
        jwt,
        forged,
    };

    let mut own: Vec<String> = Vec::new();
    for (op, credential, over_web) in ops {
        attacker.over_web = *over_web;
        attacker.use_credential(*credential, &attacker_token);
        let answer = attacker.call(op, &own, &victim_ids).await;
        let what = format!(
            "{op:?} with {credential:?} over {}",
            if *over_web { "gRPC-web" } else { "gRPC" }
        );
        if matches!(credential, Credential::ForgedJwt) {
            prop_assert_eq!(answer.code, Code::Unauthenticated, "{}", what);
            continue;
        }
        for id in &victim_ids {
            prop_assert!(!answer.ids.contains(id), "{} answered a victim's id", what);
            if answer.code == Code::Ok {
                prop_assert!(
                    !answer.text.contains(id.as_str()),
                    "{}: {}",
                    what,
                    answer.text
                );
            }
        }
        for value in &victim_values {
            prop_assert!(
                !answer.text.contains(value.as_str()),
                "{} showed a value",
                what
            );
        }
        // A victim's id is answered as an id nobody has.
        if let Op::Update {
            target: Target::Victim(_),
            ..
        }
        | Op::Delete(Target::Victim(_))
        | Op::Info(Target::Victim(_)) = op
        {
            prop_assert_eq!(answer.code, Code::NotFound, "{}: {}", what, answer.text);
        }
        if answer.code == Code::Ok
            && let Op::GetOrCreate { kind, .. } = op
            && KINDS[*kind] != ObjectCreationType::Unspecified
        {
            own.extend(answer.ids.iter().cloned());
        }
    }

    // The victim's secrets are untouched.
    let after = snapshot(store, &victim);
    prop_assert_eq!(before, after);
    Ok(())
}

#[test]
fn no_sequence_of_calls_reaches_another_workspace() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Forged tokens fail on purpose, many times: no limit on failures here (tests/throttle.rs).
    let server = runtime.block_on(TestServer::start_with_auth_limit(
        modal_secrets_server::http::throttle::AuthLimit {
            max_failures: 0,
            ..Default::default()
        },
    ));
    let store = std::sync::Arc::clone(server.running().store().unwrap());
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let counter = AtomicUsize::new(0);
    let strategy = proptest::collection::vec((op(), credential(), any::<bool>()), 1..40);
    let result = runner.run(&strategy, |ops| {
        let case = counter.fetch_add(1, Ordering::SeqCst);
        runtime.block_on(run_case(&server, &store, case, &ops))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "isolation: {} generated cases (and shrinking steps) of up to 39 calls each, the victim \
         untouched every time",
        counter.load(Ordering::SeqCst)
    );
}
