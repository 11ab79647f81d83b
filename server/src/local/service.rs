//! `modal.client.ModalClient`: the secrets methods of WIRE.md over the store. Each method checks its
//! request (INVALID_ARGUMENT naming the field), then runs one store call off the async runtime.

use std::collections::BTreeMap;
use std::sync::Arc;

use modal_secrets_core::proto::{
    AuthTokenGetRequest, AuthTokenGetResponse, ClientHelloResponse, ObjectCreationType,
    SecretDeleteRequest, SecretGetInfoRequest, SecretGetInfoResponse, SecretGetOrCreateRequest,
    SecretGetOrCreateResponse, SecretListRequest, SecretListResponse, SecretUpdateRequest,
    WorkspaceNameLookupResponse,
};
use modal_secrets_core::validate;
use tonic::{Request, Response, Status};

use crate::clock::{self, micros_before};
use crate::limits::{
    DEFAULT_LIST_PAGE, MAX_KEY_BYTES, MAX_KEY_NAME_BYTES_PER_SECRET, MAX_KEYS_PER_SECRET,
    MAX_LISTED_KEYS, MAX_VALUE_BYTES,
};
use crate::local::auth::{Auth, Caller};
use crate::local::idempotency::{self, Idempotency, Keyed, Method};
use crate::local::store::{GetOrCreate, KeyUpdate, Store, blocking};
use crate::pb::modal_client_server::ModalClient;

pub struct Service {
    store: Arc<Store>,
    auth: Arc<Auth>,
    /// The answers of the writing calls, by `x-idempotency-key` (`idempotency.rs`).
    idempotency: Arc<Idempotency>,
}

impl Service {
    pub fn new(store: Arc<Store>, auth: Arc<Auth>, idempotency: Arc<Idempotency>) -> Service {
        Service {
            store,
            auth,
            idempotency,
        }
    }

    /// The keyed call, if the request sent an `x-idempotency-key`.
    fn keyed(
        &self,
        caller: &Caller,
        method: Method,
        key: Option<String>,
        request: &impl prost::Message,
    ) -> Option<Keyed> {
        key.map(|key| {
            self.idempotency
                .keyed(caller.workspace.id, method, key, request)
        })
    }
}

#[tonic::async_trait]
impl ModalClient for Service {
    async fn secret_get_or_create(
        &self,
        request: Request<SecretGetOrCreateRequest>,
    ) -> Result<Response<SecretGetOrCreateResponse>, Status> {
        let caller = caller(&request)?;
        // Only the creating types use the key (and so check it); a lookup ignores it.
        let key = idempotency::key_of(request.metadata());
        let req = request.into_inner();
        check_environment(&req.environment_name, "environment_name")?;
        check_required_keys(&req.required_keys)?;
        let kind = ObjectCreationType::try_from(req.object_creation_type).map_err(|_| {
            Status::invalid_argument(format!(
                "object_creation_type: unknown value {}",
                req.object_creation_type
            ))
        })?;
        let ws = caller.workspace.clone();
        let env = req.environment_name.clone();
        let store = Arc::clone(&self.store);
        let answer = |(secret_id, metadata)| SecretGetOrCreateResponse {
            secret_id,
            metadata: Some(metadata),
        };
        let response = match kind {
            ObjectCreationType::Ephemeral => {
                if !req.deployment_name.is_empty() {
                    return Err(Status::invalid_argument(
                        "deployment_name: an ephemeral secret has no name; send it empty",
                    ));
                }
                check_env_dict(&req.env_dict)?;
                let keyed = self.keyed(&caller, Method::SecretGetOrCreate, key?, &req);
                let dict = req.env_dict;
                let work = async move {
                    blocking(&store, move |s| s.create_ephemeral(&ws, &env, &dict))
                        .await
                        .map(answer)
                };
                self.idempotency.run(keyed, work).await?
            }
            ObjectCreationType::AnonymousOwnedByApp => {
                return Err(Status::unimplemented(
                    "object_creation_type ANONYMOUS_OWNED_BY_APP: this server has no apps",
                ));
            }
            named => {
                check_secret_name(&req.deployment_name)?;
                // A lookup changes nothing: it is answered afresh every time, key or not.
                let keyed = match named {
                    ObjectCreationType::Unspecified => None,
                    _ => self.keyed(&caller, Method::SecretGetOrCreate, key?, &req),
                };
                let action = match named {
                    ObjectCreationType::Unspecified => GetOrCreate::Lookup,
                    ObjectCreationType::CreateIfMissing => {
                        check_env_dict(&req.env_dict)?;
                        GetOrCreate::CreateIfMissing(req.env_dict)
                    }
                    ObjectCreationType::CreateFailIfExists => {
                        check_env_dict(&req.env_dict)?;
                        GetOrCreate::CreateFailIfExists(req.env_dict)
                    }
                    _ => {
                        check_env_dict(&req.env_dict)?;
                        GetOrCreate::CreateOverwriteIfExists(req.env_dict)
                    }
                };
                let name = req.deployment_name;
                let required = req.required_keys;
                let work = async move {
                    blocking(&store, move |s| {
                        s.get_or_create(&ws, &env, &name, action, &required)
                    })
                    .await
                    .map(answer)
                };
                self.idempotency.run(keyed, work).await?
            }
        };
        Ok(Response::new(response))
    }

    async fn secret_list(
        &self,
        request: Request<SecretListRequest>,
    ) -> Result<Response<SecretListResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        check_environment(&req.environment_name, "environment_name")?;
        let pagination = req.pagination.unwrap_or_default();
        let max = match pagination.max_objects {
            n if n < 0 => {
                return Err(Status::invalid_argument(
                    "pagination.max_objects must not be negative",
                ));
            }
            0 => DEFAULT_LIST_PAGE,
            n => usize::try_from(n).unwrap_or(DEFAULT_LIST_PAGE),
        };
        let created_before = pagination.created_before;
        if created_before.is_nan() {
            return Err(Status::invalid_argument(
                "pagination.created_before is not a number",
            ));
        }
        // 0 is proto3's "unset": no bound.
        let before_us = if created_before > 0.0 {
            micros_before(created_before)
        } else {
            None
        };
        let ws = caller.workspace;
        let env = req.environment_name;
        let (environment_name, items) =
            blocking(&self.store, move |s| s.list(&ws, &env, max, before_us)).await?;
        Ok(Response::new(SecretListResponse {
            items,
            environment_name,
        }))
    }

    async fn secret_delete(
        &self,
        request: Request<SecretDeleteRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        let key = idempotency::key_of(request.metadata())?;
        let req = request.into_inner();
        check_secret_id(&req.secret_id)?;
        let keyed = self.keyed(&caller, Method::SecretDelete, key, &req);
        let (store, ws, id) = (Arc::clone(&self.store), caller.workspace, req.secret_id);
        let work = async move { blocking(&store, move |s| s.delete(&ws, &id)).await };
        self.idempotency.run(keyed, work).await?;
        Ok(Response::new(()))
    }

    async fn secret_update(
        &self,
        request: Request<SecretUpdateRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        let key = idempotency::key_of(request.metadata())?;
        let req = request.into_inner();
        check_secret_id(&req.secret_id)?;
        if req.updates.len() > MAX_LISTED_KEYS {
            return Err(Status::invalid_argument(format!(
                "updates: {} entries, at most {MAX_LISTED_KEYS} allowed",
                req.updates.len()
            )));
        }
        for update in &req.updates {
            check_key("updates.key", &update.key)?;
            if let Some(value) = &update.value {
                check_value("updates.value", &update.key, value)?;
            }
        }
        let keyed = self.keyed(&caller, Method::SecretUpdate, key, &req);
        let updates: Vec<KeyUpdate> = req
            .updates
            .into_iter()
            .map(|update| (update.key, update.value))
            .collect();
        let (store, ws, id) = (Arc::clone(&self.store), caller.workspace, req.secret_id);
        let work = async move { blocking(&store, move |s| s.update(&ws, &id, &updates)).await };
        self.idempotency.run(keyed, work).await?;
        Ok(Response::new(()))
    }

    async fn secret_get_info(
        &self,
        request: Request<SecretGetInfoRequest>,
    ) -> Result<Response<SecretGetInfoResponse>, Status> {
        let caller = caller(&request)?;
        let id = request.into_inner().secret_id;
        check_secret_id(&id)?;
        let ws = caller.workspace;
        let metadata = blocking(&self.store, move |s| s.info(&ws, &id)).await?;
        Ok(Response::new(SecretGetInfoResponse {
            metadata: Some(metadata),
        }))
    }

    async fn client_hello(
        &self,
        request: Request<()>,
    ) -> Result<Response<ClientHelloResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(ClientHelloResponse::default()))
    }

    async fn workspace_name_lookup(
        &self,
        request: Request<()>,
    ) -> Result<Response<WorkspaceNameLookupResponse>, Status> {
        let caller = caller(&request)?;
        let name = caller.workspace.name.to_string();
        Ok(Response::new(WorkspaceNameLookupResponse {
            workspace_name: name.clone(),
            // There are no users here: a workspace's tokens all act as the workspace.
            username: name,
        }))
    }

    async fn auth_token_get(
        &self,
        request: Request<AuthTokenGetRequest>,
    ) -> Result<Response<AuthTokenGetResponse>, Status> {
        let caller = caller(&request)?;
        let token = self.auth.signer().issue(
            &caller.token_id,
            caller.workspace.id,
            &caller.workspace.name,
            clock::now_secs(),
        );
        Ok(Response::new(AuthTokenGetResponse { token }))
    }
}

/// The caller the call layer authenticated. Every request reaching the service has one; if one does
/// not (a wiring mistake), it is refused rather than served.
fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("missing credentials"))
}

fn check_secret_name(name: &str) -> Result<(), Status> {
    validate::secret_name(name)
        .map_err(|e| Status::invalid_argument(format!("deployment_name: {e}")))
}

fn check_environment(name: &str, field: &str) -> Result<(), Status> {
    validate::environment_name(name).map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

fn check_key(field: &str, key: &str) -> Result<(), Status> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Status::invalid_argument(format!(
            "{field}: a key of {} bytes, at most {MAX_KEY_BYTES} allowed",
            key.len()
        )));
    }
    validate::env_key(key).map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

fn check_value(field: &str, key: &str, value: &str) -> Result<(), Status> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Status::invalid_argument(format!(
            "{field}: the value of key \"{key}\" is {} bytes, at most {MAX_VALUE_BYTES} allowed",
            value.len()
        )));
    }
    Ok(())
}

fn check_env_dict(env_dict: &BTreeMap<String, String>) -> Result<(), Status> {
    if env_dict.len() > MAX_KEYS_PER_SECRET {
        return Err(Status::invalid_argument(format!(
            "env_dict: {} keys, at most {MAX_KEYS_PER_SECRET} allowed",
            env_dict.len()
        )));
    }
    for (key, value) in env_dict {
        check_key("env_dict", key)?;
        check_value("env_dict", key, value)?;
    }
    let names: usize = env_dict.keys().map(String::len).sum();
    if names > MAX_KEY_NAME_BYTES_PER_SECRET {
        return Err(Status::invalid_argument(format!(
            "env_dict: {names} bytes of key names, at most {MAX_KEY_NAME_BYTES_PER_SECRET} allowed"
        )));
    }
    Ok(())
}

fn check_required_keys(keys: &[String]) -> Result<(), Status> {
    if keys.len() > MAX_LISTED_KEYS {
        return Err(Status::invalid_argument(format!(
            "required_keys: {} entries, at most {MAX_LISTED_KEYS} allowed",
            keys.len()
        )));
    }
    for key in keys {
        check_key("required_keys", key)?;
    }
    Ok(())
}

fn check_secret_id(id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument("secret_id must not be empty"));
    }
    if !crate::local::ids::has_id_shape(id, "st-") {
        let shown: String = id.chars().take(80).collect();
        return Err(Status::invalid_argument(format!(
            "secret_id: {shown:?} is not a secret id (st-…)"
        )));
    }
    Ok(())
}
