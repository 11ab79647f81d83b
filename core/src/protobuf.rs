//! The client's own protobuf codec: the requests it sends and the answers it reads, by WIRE.md's
//! field numbers. Written by hand for the npm package's size (issue 18): prost's generic encoding,
//! its `bytes` buffers and its error type were ~12 KB of the browsers' .wasm, this is ~3 KB.
//!
//! prost stays the reference. The prost messages ([`crate::proto`], feature `messages`, which the
//! server and the tests use) and these functions are held to each other by `protobuf/tests.rs`:
//! the same bytes for every request, and for any bytes at all, both decode to the same values or
//! both refuse them (proto3 rules: unknown fields skipped, groups too, a repeated scalar's last
//! value wins, a message field met twice is merged, strings must be UTF-8, prost's recursion limit).

use crate::error::{Error, Malformed};

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// prost's `RECURSION_LIMIT`: how deep messages and groups may nest.
const RECURSION_LIMIT: u32 = 100;

// ---- writing ------------------------------------------------------------------------------------

/// Appends fields to a message, as prost does: proto3 scalars equal to their default are left out.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field << 3 | u32::from(wire)));
    }

    /// A length-delimited field, even when empty (a `optional string`, or a message).
    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, LEN);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, text: &str) {
        if !text.is_empty() {
            self.bytes(field, text.as_bytes());
        }
    }

    fn int32(&mut self, field: u32, value: i32) {
        if value != 0 {
            self.key(field, VARINT);
            // Negative numbers travel sign-extended to 64 bits, as proto3 says.
            self.varint(i64::from(value) as u64);
        }
    }

    fn double(&mut self, field: u32, value: f64) {
        if value != 0.0 {
            self.key(field, FIXED64);
            self.0.extend_from_slice(&value.to_le_bytes());
        }
    }
}

/// `SecretGetOrCreateRequest`. `env_dict` in the order to send: sorted by key, no key twice (as a
/// map's entries are, so the same values always give the same bytes).
#[derive(Clone, Copy, Debug)]
pub struct GetOrCreateRequest<'a> {
    pub deployment_name: &'a str,
    pub environment_name: &'a str,
    pub object_creation_type: i32,
    pub env_dict: &'a [(&'a str, &'a str)],
    pub required_keys: &'a [String],
}

/// Appends the encoded `request` to `out`.
pub fn secret_get_or_create_request(out: &mut Vec<u8>, request: &GetOrCreateRequest<'_>) {
    let mut w = Writer(out);
    w.string(1, request.deployment_name);
    w.string(3, request.environment_name);
    w.int32(4, request.object_creation_type);
    let mut entry = Vec::new();
    for (key, value) in request.env_dict {
        // A map entry is a message { key = 1; value = 2 }.
        entry.clear();
        let mut e = Writer(&mut entry);
        e.string(1, key);
        e.string(2, value);
        w.bytes(5, &entry);
    }
    for key in request.required_keys {
        // A repeated string keeps its empty entries.
        w.bytes(7, key.as_bytes());
    }
}

/// `SecretGetInfoRequest` and `SecretDeleteRequest`: only `secret_id = 1`.
pub fn secret_id_request(out: &mut Vec<u8>, secret_id: &str) {
    Writer(out).string(1, secret_id);
}

/// `SecretListRequest` with its `ListPagination` (always sent).
pub fn secret_list_request(
    out: &mut Vec<u8>,
    environment_name: &str,
    max_objects: i32,
    created_before: f64,
) {
    let mut pagination = Vec::new();
    let mut p = Writer(&mut pagination);
    p.int32(1, max_objects);
    p.double(2, created_before);
    let mut w = Writer(out);
    w.string(1, environment_name);
    w.bytes(2, &pagination);
}

/// `SecretUpdateRequest`: each update a key and a value to set, or no value to remove the key.
pub fn secret_update_request<'a>(
    out: &mut Vec<u8>,
    secret_id: &str,
    updates: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) {
    let mut w = Writer(out);
    w.string(1, secret_id);
    let mut update = Vec::new();
    for (key, value) in updates {
        update.clear();
        let mut u = Writer(&mut update);
        u.string(1, key);
        if let Some(value) = value {
            // `optional string`: present even when empty.
            u.bytes(2, value.as_bytes());
        }
        w.bytes(2, &update);
    }
}

// ---- reading ------------------------------------------------------------------------------------

/// Why bytes do not decode (the reason in [`Malformed::BadMessage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DecodeError(&'static str);

type Read<T> = Result<T, DecodeError>;

const UNDERFLOW: DecodeError = DecodeError("a field runs past the end of its message");

struct Reader<'a> {
    buf: &'a [u8],
    /// Levels of nesting left before prost's recursion limit.
    depth: u32,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Read<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.buf.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                // The tenth byte holds only the 64th bit.
                if i == 9 && byte > 1 {
                    break;
                }
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(DecodeError("invalid varint"))
    }

    fn take(&mut self, len: u64) -> Read<&'a [u8]> {
        if len > self.buf.len() as u64 {
            return Err(UNDERFLOW);
        }
        let (taken, rest) = self.buf.split_at(len as usize);
        self.buf = rest;
        Ok(taken)
    }

    /// A field's number and wire type.
    fn key(&mut self) -> Read<(u32, u8)> {
        let key = u32::try_from(self.varint()?).map_err(|_| DecodeError("invalid field key"))?;
        let wire = (key & 7) as u8;
        if wire > FIXED32 {
            return Err(DecodeError("invalid wire type"));
        }
        if key >> 3 == 0 {
            return Err(DecodeError("invalid field number 0"));
        }
        Ok((key >> 3, wire))
    }

    fn len_delimited(&mut self, wire: u8) -> Read<&'a [u8]> {
        expect(wire, LEN)?;
        let len = self.varint()?;
        self.take(len)
    }

    fn string(&mut self, wire: u8) -> Read<&'a str> {
        std::str::from_utf8(self.len_delimited(wire)?)
            .map_err(|_| DecodeError("a string field is not UTF-8"))
    }

    /// A `string` field: the last one wins.
    fn set_string(&mut self, wire: u8, to: &mut String) -> Read<()> {
        let text = self.string(wire)?;
        to.clear();
        to.push_str(text);
        Ok(())
    }

    fn double(&mut self, wire: u8) -> Read<f64> {
        expect(wire, FIXED64)?;
        let bytes = self.take(8)?;
        Ok(f64::from_le_bytes(bytes.try_into().unwrap_or_default()))
    }

    fn float(&mut self, wire: u8) -> Read<f32> {
        expect(wire, FIXED32)?;
        let bytes = self.take(4)?;
        Ok(f32::from_le_bytes(bytes.try_into().unwrap_or_default()))
    }

    fn int32(&mut self, wire: u8) -> Read<i32> {
        expect(wire, VARINT)?;
        // int32 on the wire is a 64-bit varint; the low 32 bits are the number.
        Ok(self.varint()? as i32)
    }

    /// A nested message's bytes, read with `fields` one level deeper.
    fn message(
        &mut self,
        wire: u8,
        fields: impl FnMut(&mut Reader<'a>, u32, u8) -> Read<bool>,
    ) -> Read<()> {
        expect(wire, LEN)?;
        if self.depth == 0 {
            return Err(DecodeError("messages nest too deep"));
        }
        let len = self.varint()?;
        let bytes = self.take(len)?;
        merge(bytes, self.depth - 1, fields)
    }

    /// Passes over a field this client does not read (groups included, as prost does).
    fn skip(&mut self, field: u32, wire: u8, depth: u32) -> Read<()> {
        if depth == 0 {
            return Err(DecodeError("messages nest too deep"));
        }
        let len = match wire {
            VARINT => self.varint().map(|_| 0)?,
            FIXED64 => 8,
            LEN => self.varint()?,
            START_GROUP => loop {
                let (inner, inner_wire) = self.key()?;
                if inner_wire == END_GROUP {
                    if inner != field {
                        return Err(DecodeError("a group ends with another field's number"));
                    }
                    break 0;
                }
                self.skip(inner, inner_wire, depth - 1)?;
            },
            END_GROUP => return Err(DecodeError("a group ends that did not start")),
            _ => 4,
        };
        self.take(len).map(drop)
    }
}

fn expect(wire: u8, wanted: u8) -> Read<()> {
    if wire == wanted {
        Ok(())
    } else {
        Err(DecodeError("a field has the wrong wire type"))
    }
}

/// Reads every field of a message: `field` reads the ones it knows (and answers `true`); the others
/// are skipped.
fn merge<'a>(
    bytes: &'a [u8],
    depth: u32,
    mut field: impl FnMut(&mut Reader<'a>, u32, u8) -> Read<bool>,
) -> Read<()> {
    let mut reader = Reader { buf: bytes, depth };
    while !reader.buf.is_empty() {
        let (number, wire) = reader.key()?;
        if !field(&mut reader, number, wire)? {
            reader.skip(number, wire, depth)?;
        }
    }
    Ok(())
}

/// Decodes a whole answer; `message` names it in the error.
fn decode<'a, T: Default>(
    bytes: &'a [u8],
    message: &'static str,
    mut field: impl FnMut(&mut T, &mut Reader<'a>, u32, u8) -> Read<bool>,
) -> Result<T, Error> {
    let mut value = T::default();
    merge(bytes, RECURSION_LIMIT, |r, number, wire| {
        field(&mut value, r, number, wire)
    })
    .map_err(|DecodeError(reason)| {
        Error::Malformed(Malformed::BadMessage {
            message,
            reason: reason.to_owned(),
        })
    })?;
    Ok(value)
}

/// `CreationInfo`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreationInfo {
    pub created_at: f64,
    pub created_by: String,
}

/// `SecretMetadata` (its `template_type` is checked and dropped).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecretMetadata {
    pub name: String,
    pub creation_info: Option<CreationInfo>,
    pub keys: Vec<String>,
    pub environment_name: String,
    pub last_used_at: f64,
}

/// `SecretGetOrCreateResponse`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecretGetOrCreateResponse {
    pub secret_id: String,
    pub metadata: Option<SecretMetadata>,
}

/// `SecretListItem`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecretListItem {
    pub label: String,
    pub created_at: f64,
    pub last_used_at: f64,
    pub environment_name: String,
    pub secret_id: String,
    pub metadata: Option<SecretMetadata>,
}

fn metadata_field<'a>(m: &mut Option<SecretMetadata>, r: &mut Reader<'a>, wire: u8) -> Read<bool> {
    let m = m.get_or_insert_with(SecretMetadata::default);
    r.message(wire, |r, number, wire| {
        match number {
            1 => r.set_string(wire, &mut m.name)?,
            2 => {
                let info = m.creation_info.get_or_insert_with(CreationInfo::default);
                r.message(wire, |r, number, wire| {
                    match number {
                        1 => info.created_at = r.double(wire)?,
                        2 => r.set_string(wire, &mut info.created_by)?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?
            }
            3 => m.keys.push(r.string(wire)?.to_owned()),
            4 => r.set_string(wire, &mut m.environment_name)?,
            5 => m.last_used_at = r.double(wire)?,
            6 => drop(r.string(wire)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(true)
}

/// Reads a `SecretGetOrCreateResponse`.
pub fn secret_get_or_create_response(bytes: &[u8]) -> Result<SecretGetOrCreateResponse, Error> {
    decode(
        bytes,
        "SecretGetOrCreateResponse",
        |v: &mut SecretGetOrCreateResponse, r, number, wire| match number {
            1 => r.set_string(wire, &mut v.secret_id).map(|()| true),
            2 => metadata_field(&mut v.metadata, r, wire),
            _ => Ok(false),
        },
    )
}

/// Reads a `SecretGetInfoResponse`: its metadata.
pub fn secret_get_info_response(bytes: &[u8]) -> Result<Option<SecretMetadata>, Error> {
    decode(
        bytes,
        "SecretGetInfoResponse",
        |v: &mut Option<SecretMetadata>, r, number, wire| match number {
            1 => metadata_field(v, r, wire),
            _ => Ok(false),
        },
    )
}

/// Reads a `SecretListResponse`: its items (its `environment_name` is checked and dropped).
pub fn secret_list_response(bytes: &[u8]) -> Result<Vec<SecretListItem>, Error> {
    decode(
        bytes,
        "SecretListResponse",
        |items: &mut Vec<SecretListItem>, r, number, wire| {
            match number {
                1 => {
                    let mut item = SecretListItem::default();
                    r.message(wire, |r, number, wire| {
                        match number {
                            1 => r.set_string(wire, &mut item.label)?,
                            2 => item.created_at = r.double(wire)?,
                            3 => item.last_used_at = r.double(wire)?,
                            4 => r.set_string(wire, &mut item.environment_name)?,
                            5 => r.set_string(wire, &mut item.secret_id)?,
                            6 => return metadata_field(&mut item.metadata, r, wire),
                            _ => return Ok(false),
                        }
                        Ok(true)
                    })?;
                    items.push(item);
                }
                2 => drop(r.string(wire)?),
                _ => return Ok(false),
            }
            Ok(true)
        },
    )
}

/// The `RPCRetryPolicy.retry_after_secs` among the details of an encoded `RPCStatus`: the first
/// detail whose type URL names `RPCRetryPolicy`. `None` if the status or that detail does not
/// decode, or there is none.
pub fn retry_after_secs_in_status(bytes: &[u8]) -> Option<f32> {
    // Every field is read, so bytes prost refuses are refused here too.
    let mut details: Vec<(&str, &[u8])> = Vec::new();
    merge(bytes, RECURSION_LIMIT, |r, number, wire| {
        match number {
            1 => drop(r.int32(wire)?),
            2 => drop(r.string(wire)?),
            3 => {
                // google.protobuf.Any { string type_url = 1; bytes value = 2; }
                let (mut type_url, mut value) = ("", &[][..]);
                r.message(wire, |r, number, wire| {
                    match number {
                        1 => type_url = r.string(wire)?,
                        2 => value = r.len_delimited(wire)?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                details.push((type_url, value));
            }
            _ => return Ok(false),
        }
        Ok(true)
    })
    .ok()?;
    let (_, policy) = details
        .into_iter()
        .find(|(url, _)| url.ends_with("/modal.client.RPCRetryPolicy"))?;
    let mut secs = 0.0;
    merge(policy, RECURSION_LIMIT, |r, number, wire| {
        if number == 1 {
            secs = r.float(wire)?;
            return Ok(true);
        }
        Ok(false)
    })
    .ok()?;
    Some(secs)
}

#[cfg(test)]
mod tests;
