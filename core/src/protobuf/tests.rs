//! The hand-written codec against prost, its oracle: the same request bytes, and for any answer
//! bytes (valid encodings, the same with unknown fields, groups, repeats and damage added, and
//! plain noise) the same values or a refusal from both.

use super::*;
use crate::proto;
use proptest::prelude::*;
use prost::Message;

// ---- requests: byte for byte ----------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), ".{0,12}", "[a-z_]{1,300}"]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        any::<f64>(),
        1.0e9..2.0e9f64
    ]
}

proptest! {
    #[test]
    fn get_or_create_requests_are_prosts_bytes(
        deployment_name in text(),
        environment_name in text(),
        object_creation_type in prop_oneof![0..6i32, any::<i32>()],
        env_dict in proptest::collection::btree_map(text(), text(), 0..6),
        required_keys in proptest::collection::vec(text(), 0..4),
    ) {
        let pairs: Vec<(&str, &str)> =
            env_dict.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut ours = Vec::new();
        secret_get_or_create_request(&mut ours, &GetOrCreateRequest {
            deployment_name: &deployment_name,
            environment_name: &environment_name,
            object_creation_type,
            env_dict: &pairs,
            required_keys: &required_keys,
        });
        let theirs = proto::SecretGetOrCreateRequest {
            deployment_name,
            environment_name,
            object_creation_type,
            env_dict,
            app_id: String::new(),
            required_keys,
        };
        prop_assert_eq!(ours, theirs.encode_to_vec());
    }

    #[test]
    fn id_list_and_update_requests_are_prosts_bytes(
        secret_id in text(),
        environment_name in text(),
        max_objects in prop_oneof![Just(0i32), any::<i32>()],
        created_before in number(),
        updates in proptest::collection::vec((text(), proptest::option::of(text())), 0..5),
    ) {
        let mut ours = Vec::new();
        secret_id_request(&mut ours, &secret_id);
        let info = proto::SecretGetInfoRequest { secret_id: secret_id.clone() };
        prop_assert_eq!(&ours, &info.encode_to_vec());
        let delete = proto::SecretDeleteRequest { secret_id: secret_id.clone() };
        prop_assert_eq!(&ours, &delete.encode_to_vec());

        let mut ours = Vec::new();
        secret_list_request(&mut ours, &environment_name, max_objects, created_before);
        let list = proto::SecretListRequest {
            environment_name,
            pagination: Some(proto::ListPagination { max_objects, created_before }),
        };
        prop_assert_eq!(ours, list.encode_to_vec());

        let mut ours = vec![7, 7];
        secret_update_request(
            &mut ours,
            &secret_id,
            updates.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
        );
        let update = proto::SecretUpdateRequest {
            secret_id,
            updates: updates
                .into_iter()
                .map(|(key, value)| proto::secret_update_request::Update { key, value })
                .collect(),
        };
        // Appended after what `out` held.
        prop_assert_eq!(&ours[..2], &[7, 7]);
        prop_assert_eq!(&ours[2..], &update.encode_to_vec()[..]);
    }
}

// ---- answers: the same values, or both refuse --------------------------------------------------

fn creation_info(info: proto::CreationInfo) -> CreationInfo {
    CreationInfo {
        created_at: info.created_at,
        created_by: info.created_by,
    }
}

fn metadata(m: proto::SecretMetadata) -> SecretMetadata {
    SecretMetadata {
        name: m.name,
        creation_info: m.creation_info.map(creation_info),
        keys: m.keys,
        environment_name: m.environment_name,
        last_used_at: m.last_used_at,
    }
}

fn list_item(item: proto::SecretListItem) -> SecretListItem {
    SecretListItem {
        label: item.label,
        created_at: item.created_at,
        last_used_at: item.last_used_at,
        environment_name: item.environment_name,
        secret_id: item.secret_id,
        metadata: item.metadata.map(metadata),
    }
}

/// Both decoders on `bytes`: equal values (compared by `Debug`, which tells -0.0 from 0.0 and
/// shows NaN alike), or both refuse. Returns whether they accepted.
fn agree(bytes: &[u8]) -> Result<bool, TestCaseError> {
    let mut accepted = false;
    let ours = secret_get_or_create_response(bytes);
    let theirs =
        proto::SecretGetOrCreateResponse::decode(bytes).map(|r| SecretGetOrCreateResponse {
            secret_id: r.secret_id,
            metadata: r.metadata.map(metadata),
        });
    prop_assert_eq!(
        format!("{:?}", ours.as_ref().ok()),
        format!("{:?}", theirs.as_ref().ok())
    );
    accepted |= ours.is_ok();

    let ours = secret_get_info_response(bytes);
    let theirs = proto::SecretGetInfoResponse::decode(bytes).map(|r| r.metadata.map(metadata));
    prop_assert_eq!(
        format!("{:?}", ours.as_ref().ok()),
        format!("{:?}", theirs.as_ref().ok())
    );
    accepted |= ours.is_ok();

    let ours = secret_list_response(bytes);
    let theirs = proto::SecretListResponse::decode(bytes)
        .map(|r| r.items.into_iter().map(list_item).collect::<Vec<_>>());
    prop_assert_eq!(
        format!("{:?}", ours.as_ref().ok()),
        format!("{:?}", theirs.as_ref().ok())
    );
    accepted |= ours.is_ok();

    let ours = retry_after_secs_in_status(bytes);
    let theirs = proto::RpcStatus::decode(bytes).ok().and_then(|status| {
        let any = status
            .details
            .into_iter()
            .find(|any| any.type_url.ends_with("/modal.client.RPCRetryPolicy"))?;
        proto::RpcRetryPolicy::decode(any.value.as_slice()).ok()
    });
    prop_assert_eq!(
        format!("{:?}", ours),
        format!("{:?}", theirs.map(|p| p.retry_after_secs))
    );
    // A status is read only for its retry policy; prost's reading of it stands for ours here.
    accepted |= proto::RpcStatus::decode(bytes).is_ok();
    Ok(accepted)
}

fn arb_metadata() -> impl Strategy<Value = proto::SecretMetadata> {
    (
        text(),
        proptest::option::of((number(), text())),
        proptest::collection::vec(text(), 0..4),
        text(),
        number(),
        text(),
    )
        .prop_map(
            |(name, info, keys, environment_name, last_used_at, template_type)| {
                proto::SecretMetadata {
                    name,
                    creation_info: info.map(|(created_at, created_by)| proto::CreationInfo {
                        created_at,
                        created_by,
                    }),
                    keys,
                    environment_name,
                    last_used_at,
                    template_type,
                }
            },
        )
}

/// Encodings of each answer this client reads, valid to begin with.
fn arb_answer() -> impl Strategy<Value = Vec<u8>> {
    let item = (
        text(),
        number(),
        number(),
        text(),
        text(),
        proptest::option::of(arb_metadata()),
    )
        .prop_map(
            |(label, created_at, last_used_at, environment_name, secret_id, metadata)| {
                proto::SecretListItem {
                    label,
                    created_at,
                    last_used_at,
                    environment_name,
                    secret_id,
                    metadata,
                }
            },
        );
    prop_oneof![
        (text(), proptest::option::of(arb_metadata())).prop_map(|(secret_id, metadata)| {
            proto::SecretGetOrCreateResponse {
                secret_id,
                metadata,
            }
            .encode_to_vec()
        }),
        proptest::option::of(arb_metadata())
            .prop_map(|metadata| proto::SecretGetInfoResponse { metadata }.encode_to_vec()),
        (proptest::collection::vec(item, 0..3), text()).prop_map(|(items, environment_name)| {
            proto::SecretListResponse {
                items,
                environment_name,
            }
            .encode_to_vec()
        }),
        (
            any::<i32>(),
            text(),
            proptest::collection::vec((text(), any::<f32>(), any::<bool>()), 0..3)
        )
            .prop_map(|(code, message, details)| {
                proto::RpcStatus {
                    code,
                    message,
                    details: details
                        .into_iter()
                        .map(|(name, secs, policy)| prost_types::Any {
                            type_url: if policy {
                                format!("x/{name}/modal.client.RPCRetryPolicy")
                            } else {
                                name
                            },
                            value: proto::RpcRetryPolicy {
                                retry_after_secs: secs,
                            }
                            .encode_to_vec(),
                        })
                        .collect(),
                }
                .encode_to_vec()
            }),
    ]
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One field of any kind, known number or not, well formed or not quite.
fn arb_field() -> impl Strategy<Value = Vec<u8>> {
    let number = prop_oneof![1..8u32, 8..40u32, Just(0u32), Just(536_870_911u32)];
    (
        number,
        0..8u8,
        proptest::collection::vec(any::<u8>(), 0..12),
        0..4usize,
    )
        .prop_map(|(number, wire, payload, group_depth)| {
            let mut out = Vec::new();
            let key = |out: &mut Vec<u8>, n: u32, w: u8| {
                push_varint(out, u64::from(n) << 3 | u64::from(w))
            };
            match wire {
                3 => {
                    // A group, possibly nested, possibly holding a varint.
                    for _ in 0..=group_depth {
                        key(&mut out, number, 3);
                    }
                    key(&mut out, 1, 0);
                    out.push(payload.first().copied().unwrap_or(0) & 0x7f);
                    for _ in 0..=group_depth {
                        key(&mut out, number, 4);
                    }
                }
                0 => {
                    key(&mut out, number, 0);
                    out.extend(payload.iter().take(10).map(|b| b | 0x80));
                    out.push(payload.last().copied().unwrap_or(0) & 0x7f);
                }
                2 => {
                    key(&mut out, number, 2);
                    push_varint(&mut out, payload.len() as u64);
                    out.extend(&payload);
                }
                1 | 5 => {
                    key(&mut out, number, wire);
                    out.extend(payload.iter().cycle().take(if wire == 1 { 8 } else { 4 }));
                }
                _ => {
                    key(&mut out, number, wire);
                    out.extend(&payload);
                }
            }
            out
        })
}

#[derive(Clone, Debug)]
enum Damage {
    None,
    Insert(usize, Vec<u8>),
    Flip(usize, u8),
    Truncate(usize),
    Repeat,
}

fn arb_damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        Just(Damage::None),
        (any::<usize>(), arb_field()).prop_map(|(at, field)| Damage::Insert(at, field)),
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Damage::Flip(at, mask)),
        any::<usize>().prop_map(Damage::Truncate),
        Just(Damage::Repeat),
    ]
}

fn damaged(mut bytes: Vec<u8>, damage: &Damage) -> Vec<u8> {
    let len = bytes.len();
    match damage {
        Damage::None => {}
        Damage::Insert(at, field) => {
            let at = if len == 0 { 0 } else { at % (len + 1) };
            bytes.splice(at..at, field.iter().copied());
        }
        Damage::Flip(at, mask) if len > 0 => bytes[at % len] ^= mask,
        Damage::Truncate(at) if len > 0 => bytes.truncate(at % len),
        Damage::Repeat => bytes = bytes.repeat(2),
        _ => {}
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn answers_decode_as_prost_decodes_them(
        answer in arb_answer(),
        damages in proptest::collection::vec(arb_damage(), 0..3),
        fields in proptest::collection::vec(arb_field(), 0..3),
    ) {
        let clean = agree(&answer)?;
        prop_assert!(clean, "a valid encoding was refused by every decoder");
        let mut bytes = answer;
        for damage in &damages {
            bytes = damaged(bytes, damage);
        }
        bytes.extend(fields.concat());
        agree(&bytes)?;
    }

    #[test]
    fn noise_decodes_as_prost_decodes_it(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        agree(&bytes)?;
    }
}

#[test]
fn edges_prost_draws_precisely() {
    let deep_group = |depth: usize| {
        let mut bytes = Vec::new();
        for _ in 0..depth {
            bytes.push(9 << 3 | 3);
        }
        for _ in 0..depth {
            bytes.push(9 << 3 | 4);
        }
        bytes
    };
    let cases: Vec<Vec<u8>> = vec![
        // Ten-byte varints: the last byte may hold only the 64th bit.
        vec![
            0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
        vec![
            0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        ],
        vec![
            0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ],
        // A key over 32 bits, field number 0, wire types 6 and 7.
        vec![0x80, 0x80, 0x80, 0x80, 0x10, 0x00],
        vec![0x00, 0x00],
        vec![0x0e],
        vec![0x0f],
        // Groups: nested to the recursion limit and past it; an end without a start.
        deep_group(99),
        deep_group(100),
        deep_group(101),
        vec![0x4c],
        // An empty metadata, met twice: merged.
        vec![0x12, 0x02, 0x0a, 0x00, 0x12, 0x03, 0x1a, 0x01, b'K'],
        // A string field that runs past its message into the next.
        vec![0x12, 0x02, 0x0a, 0x05, b'a', b'b', b'c', b'd', b'e'],
    ];
    for bytes in cases {
        agree(&bytes).unwrap_or_else(|e| panic!("{bytes:?}: {e}"));
    }
    // Groups inside a nested message count its depth too.
    let mut bytes = vec![0x12];
    let inner = deep_group(99);
    push_varint(&mut bytes, inner.len() as u64);
    bytes.extend(inner);
    agree(&bytes).unwrap();
}

#[test]
fn refusals_name_the_message() {
    let err = secret_list_response(b"\x0a\x05ab").unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed response from the server: the response message does not decode as \
         SecretListResponse: a field runs past the end of its message"
    );
    let err = secret_get_info_response(b"\x0a\x04\x0a\x02\xff\xfe").unwrap_err();
    assert!(
        err.to_string().ends_with("a string field is not UTF-8"),
        "{err}"
    );
}
