//! The Rust half of the JS `Secret` (src/js/api.js) and of `Secret.objects`: checking arguments and
//! making [`OpCore`]s, which JS drives (src/operation.rs). No state per secret lives in wasm: a
//! `Secret` keeps its *target* in JS, as one array the functions here make and read:
//!
//! - `["name", name, environmentName | undefined, requiredKeys]` (`Secret.fromName`),
//! - `["dict", [key, value, key, value, …]]` (`fromDict`, `fromDotenv…`, `fromLocalEnviron`),
//! - `["id", objectId, name | null, keys]` once hydrated.
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
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::args::{self, Opts, env_map, type_name};
use crate::client::{ClientCore, Inner, call_options};
use crate::error::{invalid, to_js};
use crate::operation::OpCore;

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
    Source::name(&name, environment.as_deref(), required.clone()).map_err(|e| to_js(&e))?;
    let environment = environment.map_or(JsValue::UNDEFINED, |e| JsValue::from_str(&e));
    Ok(Array::of4(
        &JsValue::from_str("name"),
        &JsValue::from_str(&name),
        &environment,
        &strings(&required),
    ))
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
        pairs.push((key, value.clone()));
    }
    pairs_target(pairs)
}

/// A `["dict", pairs]` target, its keys checked.
fn pairs_target(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Array, JsValue> {
    let dict = EnvDict::new(pairs).map_err(|e| to_js(&e))?;
    let flat = Array::new();
    for (key, value) in dict.pairs() {
        flat.push(&JsValue::from_str(key));
        flat.push(&JsValue::from_str(value));
    }
    Ok(Array::of2(&JsValue::from_str("dict"), &flat))
}

fn strings(items: &[String]) -> Array {
    items.iter().map(|s| JsValue::from_str(s)).collect()
}

/// Reads a target made by the functions above (or by api.js from a hydrated secret's record).
fn target(value: &JsValue) -> Result<Target, JsValue> {
    let malformed = || invalid("internal error: a malformed secret target");
    let parts: &Array = value.dyn_ref().ok_or_else(malformed)?;
    let text = |i: u32| parts.get(i).as_string();
    let list = |i: u32| -> Result<Vec<String>, JsValue> {
        let items: Array = parts.get(i).dyn_into().map_err(|_| malformed())?;
        items
            .iter()
            .map(|s| s.as_string().ok_or_else(malformed))
            .collect()
    };
    match text(0).as_deref() {
        Some("name") => {
            let name = text(1).ok_or_else(malformed)?;
            Source::name(&name, text(2).as_deref(), list(3)?)
                .map(Target::Source)
                .map_err(|e| to_js(&e))
        }
        Some("dict") => {
            let flat = list(1)?;
            let pairs = flat
                .chunks_exact(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()));
            let dict = EnvDict::new(pairs).map_err(|e| to_js(&e))?;
            Ok(Target::Source(Source::Dict(dict)))
        }
        Some("id") => Ok(Target::Hydrated {
            id: text(1).ok_or_else(malformed)?,
            name: text(2),
            keys: list(3)?,
        }),
        _ => Err(malformed()),
    }
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

/// An operation on the client, or `None` for the placeholder client ([`ClientCore::none`]): the
/// arguments were checked, and api.js reports why there is no client.
fn operation(
    client: &ClientCore,
    target: Option<Target>,
    action: Action,
    call: CallOptions,
) -> Result<Option<OpCore>, JsValue> {
    let Some(inner) = client.inner.clone() else {
        return Ok(None);
    };
    let op =
        Operation::new(&inner.client, target, action, call, random()).map_err(|e| to_js(&e))?;
    Ok(Some(OpCore::new(inner, op)))
}

/// `secret.hydrate(options)` (`action` "hydrate"), `secret.info(options)` ("info") and
/// `secret.update(envDict, options)` ("update": `env_dict`, a string sets the key, `null` removes
/// it), on the secret `target`; a target not yet hydrated is hydrated first.
#[wasm_bindgen(js_name = secretOp, skip_typescript)]
pub fn secret_op(
    client: &ClientCore,
    target_value: JsValue,
    action: &str,
    env_dict: JsValue,
    options: JsValue,
) -> Result<Option<OpCore>, JsValue> {
    let (call, action) = match action {
        "info" => {
            let opts = Opts::new(
                &options,
                "secret.info",
                &["client", "signal", "timeoutMs", "refresh"],
            )?;
            let call = call_options(&opts)?;
            let refresh = opts.bool("refresh")?;
            (call, Action::Info { refresh })
        }
        "update" => {
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
        _ => {
            let opts = Opts::new(&options, "secret.hydrate", PER_CALL)?;
            (call_options(&opts)?, Action::Hydrate)
        }
    };
    let target = target(&target_value)?;
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
    client: &ClientCore,
    name: JsValue,
    env_dict: JsValue,
    options: JsValue,
) -> Result<Option<OpCore>, JsValue> {
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
    client: &ClientCore,
    name: JsValue,
    options: JsValue,
) -> Result<Option<OpCore>, JsValue> {
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
pub struct ListingCore {
    inner: Rc<Inner>,
    listing: Rc<RefCell<Listing>>,
    call: CallOptions,
}

#[wasm_bindgen]
impl ListingCore {
    /// Without a client (the placeholder), `undefined` once the options are checked.
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
        let call = call_options(&opts)?;
        let listing = Listing::new(environment.as_deref(), max_objects, created_before)
            .map_err(|e| to_js(&e))?;
        Ok(client.inner.clone().map(|inner| ListingCore {
            inner,
            listing: Rc::new(RefCell::new(listing)),
            call,
        }))
    }

    #[wasm_bindgen(js_name = nextOp)]
    pub fn next_op(&self) -> Result<Option<OpCore>, JsValue> {
        let Some(request) = self.listing.borrow().next_request() else {
            return Ok(None);
        };
        let action = Action::ListPage(request.clone());
        let op = Operation::new(&self.inner.client, None, action, self.call, random())
            .map_err(|e| to_js(&e))?;
        Ok(Some(OpCore::page(
            self.inner.clone(),
            op,
            self.listing.clone(),
            request,
        )))
    }
}
