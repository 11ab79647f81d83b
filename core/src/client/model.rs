//! The client's values: what a secret handle stands for ([`Source`]), what the server said about a
//! secret ([`SecretRecord`]), and checked key/value input ([`EnvDict`], [`Update`]).

use crate::error::{Error, Malformed};
use crate::protobuf;
use crate::redact::Redacted;
use crate::validate;
use crate::vars::Vars;

/// Keys and values for a new secret. Keys are checked when it is built; values are kept out of
/// every `Debug`.
/// A key given twice keeps its last value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvDict(Redacted<Vars>);

impl EnvDict {
    /// Checks every key (`^[a-zA-Z_][a-zA-Z0-9_]*$`).
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Result<EnvDict, Error> {
        let pairs: Vec<(String, String)> = pairs.into_iter().collect();
        for (key, _) in &pairs {
            validate::env_key(key)?;
        }
        Ok(EnvDict(Redacted::new(pairs.into_iter().collect())))
    }

    /// Every key with its value, by key.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.expose().iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.expose().names()
    }

    pub fn len(&self) -> usize {
        self.0.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.expose().is_empty()
    }
}

/// One change of `secret.update`: set `key` to `value`, or remove it when `value` is `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub key: String,
    pub value: Option<Redacted<String>>,
}

/// Every key of an update must be a valid key (removals too: no such key can exist), and the
/// request must fit the size limit: checked before anything is sent, even the lookup that
/// hydrating a `fromName` secret needs first.
pub fn check_updates(updates: &[Update]) -> Result<(), Error> {
    updates.iter().try_for_each(|u| validate::env_key(&u.key))?;
    // The id is not known yet; `st-` ids are 25 bytes, so 64 is a safe allowance.
    let mut message = Vec::new();
    update_request(&mut message, "", updates);
    super::check_request_size(message.len() + 64)
}

/// Appends the SecretUpdate request for `updates` to `out`.
pub(crate) fn update_request(out: &mut Vec<u8>, secret_id: &str, updates: &[Update]) {
    let updates = updates.iter().map(|u| {
        (
            u.key.as_str(),
            u.value.as_ref().map(|v| v.expose().as_str()),
        )
    });
    protobuf::secret_update_request(out, secret_id, updates);
}

/// What a `Secret` handle stands for before it is hydrated.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// `Secret.fromName`: a lookup.
    Name {
        name: String,
        /// `None`: the client's environment.
        environment: Option<String>,
        required_keys: Vec<String>,
    },
    /// `Secret.fromDict` and friends: an ephemeral secret made on hydration.
    Dict(EnvDict),
}

impl Source {
    /// A `fromName` source, checked as the lookup will check it, so a bad name fails at once.
    pub fn name(
        name: &str,
        environment: Option<&str>,
        required_keys: Vec<String>,
    ) -> Result<Source, Error> {
        validate::secret_name(name)?;
        if let Some(env) = environment {
            validate::environment_name(env)?;
        }
        for key in &required_keys {
            validate::env_key(key)?;
        }
        Ok(Source::Name {
            name: name.to_owned(),
            environment: environment.map(str::to_owned),
            required_keys,
        })
    }

    /// The name, for a named source.
    pub fn secret_name(&self) -> Option<&str> {
        match self {
            Source::Name { name, .. } => Some(name),
            Source::Dict(_) => None,
        }
    }
}

/// A secret as the server describes it (never its values).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecretRecord {
    /// `st-…`
    pub id: String,
    /// `None` for an ephemeral secret.
    pub name: Option<String>,
    pub environment_name: String,
    /// Key names, sorted.
    pub keys: Vec<String>,
    /// Unix seconds (fractional); 0 when the server gave none.
    pub created_at: f64,
    pub created_by: Option<String>,
    /// Unix seconds, `None` when never used.
    pub last_used_at: Option<f64>,
}

impl SecretRecord {
    pub(crate) fn from_response(
        response: protobuf::SecretGetOrCreateResponse,
        asked_name: Option<&str>,
    ) -> Result<SecretRecord, Error> {
        if response.secret_id.is_empty() {
            return Err(missing_id("SecretGetOrCreateResponse"));
        }
        let mut record =
            SecretRecord::from_metadata(response.secret_id, response.metadata.unwrap_or_default());
        if record.name.is_none() {
            record.name = asked_name.map(str::to_owned);
        }
        Ok(record)
    }

    pub(crate) fn from_list_item(item: protobuf::SecretListItem) -> Result<SecretRecord, Error> {
        if item.secret_id.is_empty() {
            return Err(missing_id("SecretListItem"));
        }
        let has_metadata = item.metadata.is_some();
        let mut record =
            SecretRecord::from_metadata(item.secret_id, item.metadata.unwrap_or_default());
        // Older servers fill only the item's own fields; take those where the metadata is silent.
        if record.name.is_none() && !item.label.is_empty() {
            record.name = Some(item.label);
        }
        if record.environment_name.is_empty() {
            record.environment_name = item.environment_name;
        }
        if !has_metadata || record.created_at == 0.0 {
            record.created_at = timestamp(item.created_at).unwrap_or(0.0);
        }
        if record.last_used_at.is_none() {
            record.last_used_at = timestamp(item.last_used_at);
        }
        Ok(record)
    }

    pub(crate) fn from_metadata(id: String, metadata: protobuf::SecretMetadata) -> SecretRecord {
        let creation = metadata.creation_info.unwrap_or_default();
        let mut keys = metadata.keys;
        keys.sort();
        keys.dedup();
        SecretRecord {
            id,
            name: non_empty(metadata.name),
            environment_name: metadata.environment_name,
            keys,
            created_at: timestamp(creation.created_at).unwrap_or(0.0),
            created_by: non_empty(creation.created_by),
            last_used_at: timestamp(metadata.last_used_at),
        }
    }

    /// The keys after `updates` were applied.
    pub fn apply(&mut self, updates: &[Update]) {
        for u in updates {
            if u.value.is_some() {
                self.keys.push(u.key.clone());
            } else {
                self.keys.retain(|k| *k != u.key);
            }
        }
        self.keys.sort();
        self.keys.dedup();
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A server's timestamp, if it is a usable one: finite and positive (0 means "none").
fn timestamp(secs: f64) -> Option<f64> {
    (secs.is_finite() && secs > 0.0).then_some(secs)
}

fn missing_id(message: &'static str) -> Error {
    Error::Malformed(Malformed::BadMessage {
        message,
        reason: "it has no secret_id".to_owned(),
    })
}
