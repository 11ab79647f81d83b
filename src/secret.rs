//! The Rust half of the JS `Secret` (src/js/api.js) and of `Secret.objects`: checking arguments and
//! making [`OperationHandle`]s, which JS drives (src/operation.rs). No state per secret lives in
//! wasm: a `Secret` keeps its *target* in JS (the format is src/abi.rs's): what `fromName`,
//! `fromDict`, `fromDotenv…` and `fromLocalEnviron` make here, or its record once hydrated.
//!
//! So dropping a `Secret` frees everything at once, and wasm memory stays flat however many are
//! made. Arguments are checked here before anything is sent, each error naming what was wrong.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Object, Uint8Array};
use modal_secrets_core::client::{
    Action, CallOptions, EnvDict, Listing, Operation, Source, Target, Update,
};
use modal_secrets_core::validate::quote;
use modal_secrets_core::{Redacted, dotenv};
use wasm_bindgen::prelude::*;

use crate::abi::{SecretAction, invalid, source_target, target_from_js, to_js};
use crate::args::{self, Opts, env_map, type_name};
use crate::client::{ClientHandle, Inner, call_options};
use crate::operation::OperationHandle;

#[wasm_bindgen(module = "/src/js/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = randomBytes)]
    fn random_bytes() -> Uint8Array;
}

/// 16 random bytes for an operation's idempotency keys.
fn random() -> [u8; 16] {
    let mut out = [0; 16];
    let bytes = random_bytes();
    if bytes.length() == 16 {
        bytes.copy_to(&mut out);
    }
    out
}

const PER_CALL: &[&str] = &["client", "signal", "timeoutMs"];

/// `Secret.fromName(name, { environmentName, requiredKeys, client })`: its target.
#[wasm_bindgen(js_name = nameTarget, skip_typescript)]
pub fn name_target(name: JsValue, options: JsValue) -> Result<Array, JsValue> {
    let what = "Secret.fromName";
    let name = args::string(&name, &format!("{what}: name"))?;
    let opts = Opts::new(
        &options,
        what,
        &["environmentName", "requiredKeys", "client"],
    )?;
    let environment = opts.string("environmentName")?;
    let required = opts.strings("requiredKeys")?;
    let source = Source::name(&name, environment.as_deref(), required).map_err(|e| to_js(&e))?;
    Ok(source_target(&source))
}

/// `Secret.fromDict(envDict)`: `null` / `undefined` values are dropped (as Modal drops `None`).
#[wasm_bindgen(js_name = dictTarget, skip_typescript)]
pub fn dict_target(env_dict: JsValue) -> Result<Array, JsValue> {
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
    pairs_target(pairs)
}

/// `Secret.fromDotenvText` (and `fromDotenv` once the host read the file): parsed as
/// python-dotenv does, `${VAR}` from `env`; a key without `=` gets "" (as Modal does).
#[wasm_bindgen(js_name = dotenvTarget, skip_typescript)]
pub fn dotenv_target(text: JsValue, options: JsValue, what: &str) -> Result<Array, JsValue> {
    let text = args::string(&text, &format!("{what}: text"))?;
    let opts = Opts::new(&options, what, &["env"])?;
    let env = opts.env("env")?.unwrap_or_default();
    let pairs = dotenv::parse_borrowed(&text, &env)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map(Cow::into_owned).unwrap_or_default()));
    pairs_target(pairs)
}

/// `Secret.fromLocalEnviron(keys, { env })`: each key must be set in `options.env`, else in
/// `default_env` (the runtime's `process.env`).
#[wasm_bindgen(js_name = localEnvironTarget, skip_typescript)]
pub fn local_environ_target(
    keys: JsValue,
    options: JsValue,
    default_env: JsValue,
) -> Result<Array, JsValue> {
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
                "Could not find local environment variable {} for Secret.fromLocalEnviron",
                quote(&key)
            ))
        })?;
        pairs.push((key, value.to_owned()));
    }
    pairs_target(pairs)
}

/// The target of an ephemeral secret of `pairs`, its keys checked.
fn pairs_target(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Array, JsValue> {
    let dict = EnvDict::new(pairs).map_err(|e| to_js(&e))?;
    Ok(source_target(&Source::Dict(dict)))
}

/// A value of an env dict: a string (the message names the key, never the value).
fn string_value(value: &JsValue, what: &str, key: &str) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| {
        invalid(format!(
            "{what}: the value of {} must be a string, got {}",
            quote(key),
            type_name(value)
        ))
    })
}

/// An operation on the client, or `None` for the placeholder client (see [`ClientHandle::none`]).
fn operation(
    client: &ClientHandle,
    target: Option<Target>,
    action: Action,
    call: CallOptions,
) -> Result<Option<OperationHandle>, JsValue> {
    let Some(inner) = client.inner.clone() else {
        return Ok(None);
    };
    let op =
        Operation::new(&inner.client, target, action, call, random()).map_err(|e| to_js(&e))?;
    Ok(Some(OperationHandle::new(inner, op)))
}

/// `secret.hydrate(options)`, `secret.info(options)` and `secret.update(envDict, options)` (a
/// string sets the key, `null` removes it), by `action` (a [`SecretAction`]'s name), on the secret
/// `target`; a target not yet hydrated is hydrated first.
#[wasm_bindgen(js_name = secretOp, skip_typescript)]
pub fn secret_op(
    client: &ClientHandle,
    target_value: JsValue,
    action: &str,
    env_dict: JsValue,
    options: JsValue,
) -> Result<Option<OperationHandle>, JsValue> {
    let (call, action) = match SecretAction::from_name(action)? {
        SecretAction::Info => {
            let opts = Opts::new(
                &options,
                "secret.info",
                &["client", "signal", "timeoutMs", "refresh"],
            )?;
            let call = call_options(&opts)?;
            let refresh = opts.bool("refresh")?;
            (call, Action::Info { refresh })
        }
        SecretAction::Update => {
            let what = "secret.update: envDict";
            let opts = Opts::new(&options, "secret.update", PER_CALL)?;
            let call = call_options(&opts)?;
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
            (call, Action::Update(updates))
        }
        SecretAction::Hydrate => {
            let opts = Opts::new(&options, "secret.hydrate", PER_CALL)?;
            (call_options(&opts)?, Action::Hydrate)
        }
    };
    let target = target_from_js(&target_value)?;
    operation(client, Some(target), action, call)
}

/// What `Secret.objects.create` and `delete` share: a checked name, their options (`flag` is
/// `allowExisting` or `allowMissing`), the environment, the per-call options.
struct NamedCall {
    name: String,
    flag: bool,
    environment: Option<String>,
    call: CallOptions,
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
        let call = call_options(&opts)?;
        modal_secrets_core::validate::secret_name(&name).map_err(|e| to_js(&e))?;
        if let Some(env) = &environment {
            modal_secrets_core::validate::environment_name(env).map_err(|e| to_js(&e))?;
        }
        Ok(NamedCall {
            name,
            flag,
            environment,
            call,
        })
    }
}

/// `Secret.objects.create(name, envDict, { allowExisting, environmentName })`.
#[wasm_bindgen(js_name = createSecret, skip_typescript)]
pub fn create_secret(
    client: &ClientHandle,
    name: JsValue,
    env_dict: JsValue,
    options: JsValue,
) -> Result<Option<OperationHandle>, JsValue> {
    let what = "Secret.objects.create";
    let dict_what = format!("{what}: envDict");
    let mut pairs = Vec::new();
    for (key, value) in args::entries(&env_dict, &dict_what)? {
        pairs.push((key.clone(), string_value(&value, &dict_what, &key)?));
    }
    let env_dict = EnvDict::new(pairs).map_err(|e| to_js(&e))?;
    let c = NamedCall::parse(what, &name, &options, "allowExisting")?;
    let action = Action::Create {
        name: c.name,
        env_dict,
        allow_existing: c.flag,
        environment: c.environment,
    };
    operation(client, None, action, c.call)
}

/// `Secret.objects.delete(name, { allowMissing, environmentName })`.
#[wasm_bindgen(js_name = deleteSecret, skip_typescript)]
pub fn delete_secret(
    client: &ClientHandle,
    name: JsValue,
    options: JsValue,
) -> Result<Option<OperationHandle>, JsValue> {
    let c = NamedCall::parse("Secret.objects.delete", &name, &options, "allowMissing")?;
    let source =
        Source::name(&c.name, c.environment.as_deref(), Vec::new()).map_err(|e| to_js(&e))?;
    let action = Action::Delete {
        allow_missing: c.flag,
    };
    operation(client, Some(Target::Source(source)), action, c.call)
}

/// A listing in progress: `nextOp()` is the operation for the next page, or `undefined` when the
/// listing is complete. JS frees it when the iteration ends.
#[wasm_bindgen(skip_typescript)]
pub struct ListingHandle {
    inner: Rc<Inner>,
    listing: Rc<RefCell<Listing>>,
    call: CallOptions,
}

#[wasm_bindgen]
impl ListingHandle {
    /// Without a client (the placeholder), `undefined` once the options are checked.
    pub fn create(
        client: &ClientHandle,
        options: JsValue,
        what: &str,
    ) -> Result<Option<ListingHandle>, JsValue> {
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
        let call = call_options(&opts)?;
        let listing = Listing::new(environment.as_deref(), max_objects, created_before)
            .map_err(|e| to_js(&e))?;
        Ok(client.inner.clone().map(|inner| ListingHandle {
            inner,
            listing: Rc::new(RefCell::new(listing)),
            call,
        }))
    }

    #[wasm_bindgen(js_name = nextOp)]
    pub fn next_op(&self) -> Result<Option<OperationHandle>, JsValue> {
        let Some(request) = self.listing.borrow().next_request() else {
            return Ok(None);
        };
        let action = Action::ListPage(request.clone());
        let op = Operation::new(&self.inner.client, None, action, self.call, random())
            .map_err(|e| to_js(&e))?;
        Ok(Some(OperationHandle::page(
            self.inner.clone(),
            op,
            self.listing.clone(),
            request,
        )))
    }
}
