//! `planSync(envDict, { currentKeys, environmentName, clientEnvironment, prune, dryRun })`: the
//! binding of `modal_secrets_core::sync_plan::plan`, for the command line's `sync` (and `create
//! --force`). Not part of the package's public API. Built from the argument helpers the rest of the
//! binding already uses, so it adds little to the .wasm every runtime downloads.

use js_sys::{Array, Object, Reflect};
use modal_secrets_core::sync_plan::{Options, Target, plan};
use modal_secrets_core::validate::quote;
use wasm_bindgen::prelude::*;

use crate::abi::{invalid, to_js};
use crate::args::{self, Opts, type_name};

/// Returns `{ add, set, remove, keep }` (sorted key names, never a value); `create` (the secret is
/// missing: create it, else update it), `apply` (false on a dry run: send nothing),
/// `probeEnvironment` (a dry run for a missing secret: first list one secret of the environment,
/// which fails if there is no such environment) and `environmentName` (the one to name, or `null`
/// for the workspace's default); and, not enumerable (so printing or serialising the plan shows no
/// value), `update`: the one object to pass to `secret.update` (or to `Secret.objects.create`).
///
/// `envDict`: the source's keys and values (`parseDotenv`'s result: a `null` value is a key
/// without one, refused). `currentKeys`: the secret's key names; absent for a missing secret.
/// `environmentName`: the existing secret's environment (its `info()`'s); `clientEnvironment`: the
/// client's (`client.environment`), for a missing secret.
#[wasm_bindgen(js_name = planSync, skip_typescript)]
pub fn plan_sync(env_dict: JsValue, options: JsValue) -> Result<Object, JsValue> {
    let what = "planSync: envDict";
    let mut desired = Vec::new();
    for (key, value) in args::entries(&env_dict, what)? {
        let value = match value.as_string() {
            Some(text) => Some(text),
            None if value.is_null() || value.is_undefined() => None,
            None => {
                return Err(invalid(format!(
                    "{what}: the value of {} must be a string, got {}",
                    quote(&key),
                    type_name(&value)
                )));
            }
        };
        desired.push((key, value));
    }
    let opts = Opts::new(
        &options,
        "planSync",
        &[
            "currentKeys",
            "environmentName",
            "clientEnvironment",
            "prune",
            "dryRun",
        ],
    )?;
    let target = if opts.get("currentKeys").is_undefined() {
        Target::Missing {
            client_environment: opts.string("clientEnvironment")?.unwrap_or_default(),
        }
    } else {
        Target::Existing {
            keys: opts.strings("currentKeys")?,
            environment_name: opts.string("environmentName")?.unwrap_or_default(),
        }
    };
    let asked = Options {
        prune: opts.bool("prune")?,
        dry_run: opts.bool("dryRun")?,
    };
    let plan = plan(target, desired, asked).map_err(|e| to_js(&e))?;

    let out = Object::new();
    for (field, keys) in [
        ("add", &plan.add),
        ("set", &plan.set),
        ("remove", &plan.remove),
        ("keep", &plan.keep),
    ] {
        let names: Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
        Reflect::set(&out, &JsValue::from_str(field), &names)?;
    }
    for (field, yes) in [
        ("create", plan.creates),
        ("apply", plan.applies),
        ("probeEnvironment", plan.probe_environment),
    ] {
        Reflect::set(&out, &JsValue::from_str(field), &JsValue::from_bool(yes))?;
    }
    let environment = plan
        .environment_name
        .as_deref()
        .map_or(JsValue::NULL, JsValue::from_str);
    Reflect::set(&out, &JsValue::from_str("environmentName"), &environment)?;
    // Object.fromEntries defines own properties, so a key such as `__proto__` stays a plain key.
    let update: Array = plan
        .updates()
        .iter()
        .map(|u| {
            let value = u
                .value
                .as_ref()
                .map_or(JsValue::NULL, |v| JsValue::from_str(v.expose()));
            Array::of2(&JsValue::from_str(&u.key), &value)
        })
        .collect();
    let descriptor = Object::new();
    Reflect::set(
        &descriptor,
        &JsValue::from_str("value"),
        &Object::from_entries(&update)?.into(),
    )?;
    Object::define_property(&out, &JsValue::from_str("update"), &descriptor);
    Ok(out)
}
