//! `SecretCore` (the Rust half of the JS `Secret`), `ListingCore` (`Secret.objects.list` / `iterate`),
//! and `createSecret` / `deleteSecret` (`Secret.objects.create` / `delete`).
//!
//! Each async operation copies what it needs out of the shared state before its first await and
//! writes back after the last, so no borrow is held while JS runs: overlapping calls cannot panic.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Date, Object, Promise, Reflect};
use modal_secrets_core::client::{EnvDict, Listing, SecretRecord, Source, Update};
use modal_secrets_core::{Error, Redacted, dotenv};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::args::{self, Opts, env_map, type_name};
use crate::client::{ClientCore, call_options};
use crate::error::{invalid, to_js};

struct State {
    /// What to hydrate from; a dict's values are dropped once the secret exists.
    source: Option<Source>,
    record: Option<SecretRecord>,
}

#[wasm_bindgen(skip_typescript)]
pub struct SecretCore {
    state: Rc<RefCell<State>>,
}

const PER_CALL: &[&str] = &["client", "signal", "timeoutMs"];

impl SecretCore {
    fn unhydrated(source: Source) -> SecretCore {
        SecretCore {
            state: Rc::new(RefCell::new(State {
                source: Some(source),
                record: None,
            })),
        }
    }

    fn from_record(record: SecretRecord) -> SecretCore {
        SecretCore {
            state: Rc::new(RefCell::new(State {
                source: None,
                record: Some(record),
            })),
        }
    }

    fn with_record<T>(&self, f: impl FnOnce(&SecretRecord) -> T) -> Option<T> {
        self.state.try_borrow().ok()?.record.as_ref().map(f)
    }

    /// Makes sure the secret is hydrated, then runs `then` with its id.
    /// `None` for the placeholder client ([`ClientCore::none`]): the arguments were checked, and
    /// the caller reports why there is no client (see api.js).
    fn run<F, Fut>(
        &self,
        client: &ClientCore,
        signal: JsValue,
        call: modal_secrets_core::client::CallOptions,
        then: F,
    ) -> Option<Promise>
    where
        F: FnOnce(Rc<crate::client::Inner>, JsValue, String) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<JsValue, Error>> + 'static,
    {
        let state = self.state.clone();
        let inner = client.inner.clone()?;
        Some(future_to_promise(async move {
            let result = async {
                let id = hydrate(&state, &inner, &signal, call).await?;
                then(inner.clone(), signal, id).await
            }
            .await;
            result.map_err(|e| to_js(&e))
        }))
    }
}

/// Hydrates `state` if it is not yet, and returns the secret's id.
async fn hydrate(
    state: &Rc<RefCell<State>>,
    inner: &crate::client::Inner,
    signal: &JsValue,
    call: modal_secrets_core::client::CallOptions,
) -> Result<String, Error> {
    let source = {
        let s = state.borrow();
        if let Some(record) = &s.record {
            return Ok(record.id.clone());
        }
        s.source.clone()
    };
    let source = source.ok_or_else(|| Error::invalid("this secret has nothing to hydrate from"))?;
    let record = inner
        .client
        .hydrate(&inner.transport(signal), &source, call)
        .await?;
    let mut s = state.borrow_mut();
    // A concurrent hydrate may have finished first: keep the first record.
    let id = s.record.get_or_insert(record).id.clone();
    s.source = None;
    Ok(id)
}

#[wasm_bindgen]
impl SecretCore {
    #[wasm_bindgen(js_name = fromName)]
    pub fn from_name(name: JsValue, options: JsValue) -> Result<SecretCore, JsValue> {
        let what = "Secret.fromName";
        let name = args::string(&name, &format!("{what}: name"))?;
        let opts = Opts::new(
            &options,
            what,
            &["environmentName", "requiredKeys", "client"],
        )?;
        let environment = opts.string("environmentName")?;
        let required = opts.strings("requiredKeys")?;
        let source =
            Source::name(&name, environment.as_deref(), required).map_err(|e| to_js(&e))?;
        Ok(SecretCore::unhydrated(source))
    }

    /// `Secret.fromDict`: `null` / `undefined` values are dropped (as Modal drops `None`).
    #[wasm_bindgen(js_name = fromDict)]
    pub fn from_dict(env_dict: JsValue) -> Result<SecretCore, JsValue> {
        let what = "Secret.fromDict: envDict";
        let env_dict = if env_dict.is_undefined() {
            Object::new().into()
        } else {
            env_dict
        };
        let mut pairs = Vec::new();
        for (key, value) in args::entries(&env_dict, what)? {
            if value.is_null() || value.is_undefined() {
                continue;
            }
            pairs.push((key.clone(), string_value(&value, what, &key)?));
        }
        dict_secret(pairs)
    }

    /// `Secret.fromDotenvText` (and `fromDotenv` after the host read the file): parsed as
    /// python-dotenv does, `${VAR}` from `env`; a key without `=` gets "" (as Modal does).
    #[wasm_bindgen(js_name = fromDotenvText)]
    pub fn from_dotenv_text(
        text: JsValue,
        options: JsValue,
        what: &str,
    ) -> Result<SecretCore, JsValue> {
        let text = args::string(&text, &format!("{what}: text"))?;
        let opts = Opts::new(&options, what, &["env"])?;
        let env = opts.env("env")?.unwrap_or_default();
        let pairs = dotenv::parse(&text, &env)
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()));
        dict_secret(pairs)
    }

    /// `Secret.fromLocalEnviron(keys, { env })`: each key must be set in `options.env`, else in
    /// `default_env` (the runtime's `process.env`).
    #[wasm_bindgen(js_name = fromLocalEnviron)]
    pub fn from_local_environ(
        keys: JsValue,
        options: JsValue,
        default_env: JsValue,
    ) -> Result<SecretCore, JsValue> {
        let what = "Secret.fromLocalEnviron";
        let opts = Opts::new(&options, what, &["env"])?;
        let env = match opts.get("env") {
            v if v.is_undefined() => default_env,
            v => v,
        };
        if env.is_undefined() || env.is_null() {
            return Err(invalid(format!(
                "{what}: this runtime has no process.env; pass {{ env }}"
            )));
        }
        if !Array::is_array(&keys) {
            return Err(invalid(format!(
                "{what}: keys must be an array of variable names, got {}",
                type_name(&keys)
            )));
        }
        let env = env_map(&env, &format!("{what}: options.env"))?;
        let mut pairs = Vec::new();
        for key in Array::from(&keys).iter() {
            let key = args::string(&key, &format!("{what}: each key"))?;
            let value = env.get(&key).ok_or_else(|| {
                invalid(format!(
                    "Could not find local environment variable {key:?} for Secret.fromLocalEnviron"
                ))
            })?;
            pairs.push((key, value.clone()));
        }
        dict_secret(pairs)
    }

    #[wasm_bindgen(getter)]
    pub fn name(&self) -> Option<String> {
        let state = self.state.try_borrow().ok()?;
        match (&state.record, &state.source) {
            (Some(record), _) => record.name.clone(),
            (None, Some(source)) => source.secret_name().map(str::to_owned),
            (None, None) => None,
        }
    }

    #[wasm_bindgen(getter, js_name = objectId)]
    pub fn object_id(&self) -> Option<String> {
        self.with_record(|r| r.id.clone())
    }

    #[wasm_bindgen(getter)]
    pub fn hydrated(&self) -> bool {
        self.with_record(|_| ()).is_some()
    }

    /// The key names, once hydrated (`undefined` before).
    #[wasm_bindgen(getter)]
    pub fn keys(&self) -> Option<Vec<String>> {
        self.with_record(|r| r.keys.clone())
    }

    #[wasm_bindgen(getter, js_name = environmentName)]
    pub fn environment_name(&self) -> Option<String> {
        self.with_record(|r| r.environment_name.clone())
    }

    /// Resolves (to `undefined`) once hydrated with `client`.
    pub fn hydrate(
        &self,
        client: &ClientCore,
        options: JsValue,
    ) -> Result<Option<Promise>, JsValue> {
        let opts = Opts::new(&options, "secret.hydrate", PER_CALL)?;
        let (call, signal) = call_options(&opts)?;
        Ok(self.run(client, signal, call, |_, _, _| async {
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// `secret.info({ refresh })`: the metadata from hydration, or fresh from SecretGetInfo when
    /// `refresh` is set.
    pub fn info(&self, client: &ClientCore, options: JsValue) -> Result<Option<Promise>, JsValue> {
        let opts = Opts::new(
            &options,
            "secret.info",
            &["client", "signal", "timeoutMs", "refresh"],
        )?;
        let (call, signal) = call_options(&opts)?;
        let refresh = opts.bool("refresh")?;
        let state = self.state.clone();
        Ok(
            self.run(client, signal, call, move |inner, signal, id| async move {
                let cached = state.borrow().record.clone();
                let record = match cached {
                    Some(record) if !refresh => record,
                    _ => {
                        let fresh = inner
                            .client
                            .info(&inner.transport(&signal), &id, call)
                            .await?;
                        let mut s = state.borrow_mut();
                        if let Some(record) = s.record.as_mut() {
                            // SecretGetInfo may leave the name out for a named secret; keep ours.
                            let name = fresh.name.clone().or_else(|| record.name.take());
                            *record = SecretRecord {
                                name,
                                ..fresh.clone()
                            };
                        }
                        s.record.clone().unwrap_or(fresh)
                    }
                };
                Ok(info_object(&record))
            }),
        )
    }

    /// `secret.update(envDict)`: a string sets the key, `null` removes it; one call.
    pub fn update(
        &self,
        client: &ClientCore,
        env_dict: JsValue,
        options: JsValue,
    ) -> Result<Option<Promise>, JsValue> {
        let what = "secret.update: envDict";
        let opts = Opts::new(&options, "secret.update", PER_CALL)?;
        let (call, signal) = call_options(&opts)?;
        let mut updates = Vec::new();
        for (key, value) in args::entries(&env_dict, what)? {
            let value = if value.is_null() {
                None
            } else {
                Some(Redacted::new(string_value(&value, what, &key)?))
            };
            updates.push(Update { key, value });
        }
        modal_secrets_core::client::check_updates(&updates).map_err(|e| to_js(&e))?;
        let state = self.state.clone();
        Ok(
            self.run(client, signal, call, move |inner, signal, id| async move {
                inner
                    .client
                    .update(&inner.transport(&signal), &id, &updates, call)
                    .await?;
                if let Some(record) = state.borrow_mut().record.as_mut() {
                    record.apply(&updates);
                }
                Ok(JsValue::UNDEFINED)
            }),
        )
    }
}

fn dict_secret(pairs: impl IntoIterator<Item = (String, String)>) -> Result<SecretCore, JsValue> {
    let dict = EnvDict::new(pairs).map_err(|e| to_js(&e))?;
    Ok(SecretCore::unhydrated(Source::Dict(dict)))
}

/// A value of an env dict: a string (the message names the key, never the value).
fn string_value(value: &JsValue, what: &str, key: &str) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| {
        invalid(format!(
            "{what}: the value of {key:?} must be a string, got {}",
            type_name(value)
        ))
    })
}

/// `{ name, createdAt, createdBy, environmentName, lastUsed }` as Modal's `SecretInfo`.
fn info_object(record: &SecretRecord) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(&object, &JsValue::from_str(key), &value);
    };
    let date = |secs: f64| JsValue::from(Date::new(&JsValue::from_f64(secs * 1000.0)));
    let text = |s: &Option<String>| s.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    set("name", text(&record.name));
    set("createdAt", date(record.created_at));
    set("createdBy", text(&record.created_by));
    set(
        "environmentName",
        JsValue::from_str(&record.environment_name),
    );
    set("lastUsed", record.last_used_at.map_or(JsValue::NULL, date));
    object.into()
}

/// What `Secret.objects.create` and `delete` share: a checked name, their options (`flag` is
/// `allowExisting` or `allowMissing`), the environment, the per-call options. All checked now, so a
/// bad argument throws before any request even though the call is async.
struct NamedCall {
    name: String,
    flag: bool,
    environment: Option<String>,
    call: modal_secrets_core::client::CallOptions,
    signal: JsValue,
}

impl NamedCall {
    fn parse(
        what: &str,
        name: &JsValue,
        options: &JsValue,
        flag: &str,
    ) -> Result<NamedCall, JsValue> {
        let name = args::string(name, &format!("{what}: name"))?;
        let opts = Opts::new(
            options,
            what,
            &[flag, "environmentName", "client", "signal", "timeoutMs"],
        )?;
        let flag = opts.bool(flag)?;
        let environment = opts.string("environmentName")?;
        let (call, signal) = call_options(&opts)?;
        modal_secrets_core::validate::secret_name(&name).map_err(|e| to_js(&e))?;
        if let Some(env) = &environment {
            modal_secrets_core::validate::environment_name(env).map_err(|e| to_js(&e))?;
        }
        Ok(NamedCall {
            name,
            flag,
            environment,
            call,
            signal,
        })
    }
}

/// `Secret.objects.create(name, envDict, { allowExisting, environmentName })`. Without a client,
/// only the arguments are checked (`undefined`): api.js then reports why there is no client.
#[wasm_bindgen(js_name = createSecret, skip_typescript)]
pub fn create_secret(
    client: &ClientCore,
    name: JsValue,
    env_dict: JsValue,
    options: JsValue,
) -> Result<Option<Promise>, JsValue> {
    let what = "Secret.objects.create";
    let dict_what = format!("{what}: envDict");
    let mut pairs = Vec::new();
    for (key, value) in args::entries(&env_dict, &dict_what)? {
        pairs.push((key.clone(), string_value(&value, &dict_what, &key)?));
    }
    let dict = EnvDict::new(pairs).map_err(|e| to_js(&e))?;
    let c = NamedCall::parse(what, &name, &options, "allowExisting")?;
    let Some(inner) = client.inner.clone() else {
        return Ok(None);
    };
    Ok(Some(future_to_promise(async move {
        let t = inner.transport(&c.signal);
        let env = c.environment.as_deref();
        let done = inner
            .client
            .create(&t, &c.name, &dict, c.flag, env, c.call)
            .await;
        done.map(|()| JsValue::UNDEFINED).map_err(|e| to_js(&e))
    })))
}

/// `Secret.objects.delete(name, { allowMissing, environmentName })`; without a client, as
/// `createSecret`.
#[wasm_bindgen(js_name = deleteSecret, skip_typescript)]
pub fn delete_secret(
    client: &ClientCore,
    name: JsValue,
    options: JsValue,
) -> Result<Option<Promise>, JsValue> {
    let c = NamedCall::parse("Secret.objects.delete", &name, &options, "allowMissing")?;
    let Some(inner) = client.inner.clone() else {
        return Ok(None);
    };
    Ok(Some(future_to_promise(async move {
        let t = inner.transport(&c.signal);
        let env = c.environment.as_deref();
        let done = inner.client.delete(&t, &c.name, c.flag, env, c.call).await;
        done.map(|_| JsValue::UNDEFINED).map_err(|e| to_js(&e))
    })))
}

/// A listing in progress: `next()` resolves to the next page of `SecretCore`s, or `undefined`.
#[wasm_bindgen(skip_typescript)]
pub struct ListingCore {
    inner: Rc<crate::client::Inner>,
    listing: Rc<RefCell<Listing>>,
    call: modal_secrets_core::client::CallOptions,
    signal: JsValue,
}

#[wasm_bindgen]
impl ListingCore {
    /// Without a client, as `createSecret`.
    pub fn create(
        client: &ClientCore,
        options: JsValue,
        what: &str,
    ) -> Result<Option<ListingCore>, JsValue> {
        let opts = Opts::new(
            &options,
            what,
            &[
                "maxObjects",
                "createdBefore",
                "environmentName",
                "client",
                "signal",
                "timeoutMs",
            ],
        )?;
        let max_objects = opts.count("maxObjects")?;
        let created_before = opts.date_secs("createdBefore")?;
        let environment = opts.string("environmentName")?;
        let (call, signal) = call_options(&opts)?;
        let listing = Listing::new(environment.as_deref(), max_objects, created_before)
            .map_err(|e| to_js(&e))?;
        Ok(client.inner.clone().map(|inner| ListingCore {
            inner,
            listing: Rc::new(RefCell::new(listing)),
            call,
            signal,
        }))
    }

    pub fn next(&self) -> Promise {
        let inner = self.inner.clone();
        let listing = self.listing.clone();
        let call = self.call;
        let signal = self.signal.clone();
        future_to_promise(async move {
            let Some(request) = listing.borrow().next_request() else {
                return Ok(JsValue::UNDEFINED);
            };
            let page = inner
                .client
                .list_page(&inner.transport(&signal), &request, call)
                .await
                .map_err(|e| to_js(&e))?;
            let records = listing
                .borrow_mut()
                .accept(&request, page)
                .map_err(|e| to_js(&e))?;
            Ok(records
                .into_iter()
                .map(|r| JsValue::from(SecretCore::from_record(r)))
                .collect::<Array>()
                .into())
        })
    }
}
