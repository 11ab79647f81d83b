//! `planSync(currentKeys, envDict, prune)`: the binding of `modal_secrets_core::sync::plan`, for the
//! command line's `sync` (and `create --force`). Not part of the package's public API.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::args::{self, type_name};
use crate::error::{invalid, to_js};

const WHAT: &str = "planSync";

/// Returns `{ add, set, remove, keep }` (sorted key names, never a value) and, not enumerable (so
/// printing or serialising the plan shows no value), `update`: the one object to pass to
/// `secret.update` (or, for a secret that does not exist yet, to `Secret.objects.create`).
///
/// `currentKeys`: the secret's key names, or `null` when it does not exist. `envDict`: the
/// source's keys and values (`parseDotenv`'s result: a `null` value is a key without one, refused).
#[wasm_bindgen(js_name = planSync, skip_typescript)]
pub fn plan_sync(
    current_keys: JsValue,
    env_dict: JsValue,
    prune: JsValue,
) -> Result<Object, JsValue> {
    let current: Vec<String> = if current_keys.is_null() || current_keys.is_undefined() {
        Vec::new()
    } else if Array::is_array(&current_keys) {
        current_keys
            .unchecked_into::<Array>()
            .iter()
            .map(|key| {
                key.as_string().ok_or_else(|| {
                    invalid(format!(
                        "{WHAT}: currentKeys must be an array of strings, got {} in it",
                        type_name(&key)
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(invalid(format!(
            "{WHAT}: currentKeys must be an array of strings or null, got {}",
            type_name(&current_keys)
        )));
    };
    let what = format!("{WHAT}: envDict");
    let mut desired = Vec::new();
    for (key, value) in args::entries(&env_dict, &what)? {
        let value = if value.is_null() || value.is_undefined() {
            None
        } else {
            Some(value.as_string().ok_or_else(|| {
                invalid(format!(
                    "{what}: the value of {key:?} must be a string, got {}",
                    type_name(&value)
                ))
            })?)
        };
        desired.push((key, value));
    }
    let Some(prune) = prune.as_bool() else {
        return Err(invalid(format!(
            "{WHAT}: prune must be a boolean, got {}",
            type_name(&prune)
        )));
    };
    let plan = modal_secrets_core::sync::plan(current, desired, prune).map_err(|e| to_js(&e))?;

    let names = |keys: &[String]| -> JsValue {
        keys.iter()
            .map(|k| JsValue::from_str(k))
            .collect::<Array>()
            .into()
    };
    let out = Object::new();
    for (field, keys) in [
        ("add", &plan.add),
        ("set", &plan.set),
        ("remove", &plan.remove),
        ("keep", &plan.keep),
    ] {
        Reflect::set(&out, &JsValue::from_str(field), &names(keys))?;
    }
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
