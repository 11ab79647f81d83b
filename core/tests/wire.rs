//! Every message against the field numbers and types of shared WIRE.md, byte for byte, plus the
//! captured examples and round trips.

use modal_secrets_core::proto::*;
use prost::Message;

/// A field's expected encoding: tag (field number << 3 | wire type), then the payload.
fn field(number: u32, wire_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![((number << 3) as u8) | wire_type];
    assert!(number < 16, "one-byte tags only");
    out.extend_from_slice(payload);
    out
}
fn string(number: u32, s: &str) -> Vec<u8> {
    let mut payload = vec![s.len() as u8];
    payload.extend_from_slice(s.as_bytes());
    field(number, 2, &payload)
}
fn message(number: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![inner.len() as u8];
    payload.extend_from_slice(inner);
    field(number, 2, &payload)
}
fn varint(number: u32, v: u8) -> Vec<u8> {
    assert!(v < 128);
    field(number, 0, &[v])
}
fn double(number: u32, v: f64) -> Vec<u8> {
    field(number, 1, &v.to_le_bytes())
}
fn float(number: u32, v: f32) -> Vec<u8> {
    field(number, 5, &v.to_le_bytes())
}

/// Encodes `msg`, compares with `expected`, and decodes the bytes back to the same message.
fn check<M: Message + Default + PartialEq + std::fmt::Debug>(
    what: &str,
    msg: M,
    expected: Vec<u8>,
) {
    let bytes = msg.encode_to_vec();
    assert_eq!(bytes, expected, "{what}: {bytes:02x?}");
    assert_eq!(
        M::decode(bytes.as_slice()).unwrap(),
        msg,
        "{what}: round trip"
    );
}

#[test]
fn captured_examples_from_wire_md() {
    // `modal secret create foo A=1`
    let create = SecretGetOrCreateRequest {
        deployment_name: "foo".into(),
        object_creation_type: ObjectCreationType::CreateFailIfExists as i32,
        env_dict: [("A".to_owned(), "1".to_owned())].into(),
        ..Default::default()
    };
    assert_eq!(
        create.encode_to_vec(),
        [
            0x0a, 0x03, 0x66, 0x6f, 0x6f, 0x20, 0x02, 0x2a, 0x06, 0x0a, 0x01, 0x41, 0x12, 0x01,
            0x31
        ]
    );
    // A plain lookup of `foo`.
    let lookup = SecretGetOrCreateRequest {
        deployment_name: "foo".into(),
        ..Default::default()
    };
    assert_eq!(lookup.encode_to_vec(), [0x0a, 0x03, 0x66, 0x6f, 0x6f]);
}

#[test]
fn secret_get_or_create_request_fields() {
    let t = "SecretGetOrCreateRequest";
    let m = SecretGetOrCreateRequest::default;
    check(
        t,
        SecretGetOrCreateRequest {
            deployment_name: "n".into(),
            ..m()
        },
        string(1, "n"),
    );
    check(
        t,
        SecretGetOrCreateRequest {
            environment_name: "e".into(),
            ..m()
        },
        string(3, "e"),
    );
    check(
        t,
        SecretGetOrCreateRequest {
            object_creation_type: 5,
            ..m()
        },
        varint(4, 5),
    );
    check(
        t,
        SecretGetOrCreateRequest {
            env_dict: [("K".into(), "v".into())].into(),
            ..m()
        },
        message(5, &[string(1, "K"), string(2, "v")].concat()),
    );
    check(
        t,
        SecretGetOrCreateRequest {
            app_id: "ap".into(),
            ..m()
        },
        string(6, "ap"),
    );
    check(
        t,
        SecretGetOrCreateRequest {
            required_keys: vec!["A".into(), "B".into()],
            ..m()
        },
        [string(7, "A"), string(7, "B")].concat(),
    );
}

#[test]
fn env_dict_bytes_do_not_depend_on_insertion_order() {
    let a = SecretGetOrCreateRequest {
        env_dict: [
            ("B".to_owned(), "2".to_owned()),
            ("A".to_owned(), "1".to_owned()),
        ]
        .into(),
        ..Default::default()
    };
    let b = SecretGetOrCreateRequest {
        env_dict: [
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "2".to_owned()),
        ]
        .into(),
        ..Default::default()
    };
    assert_eq!(a.encode_to_vec(), b.encode_to_vec());
}

fn metadata_sample() -> (SecretMetadata, Vec<u8>) {
    let info = CreationInfo {
        created_at: 1.5,
        created_by: "me".into(),
    };
    let info_bytes = [double(1, 1.5), string(2, "me")].concat();
    let md = SecretMetadata {
        name: "db".into(),
        creation_info: Some(info),
        keys: vec!["URL".into(), "PW".into()],
        environment_name: "main".into(),
        last_used_at: 2.25,
        template_type: "t".into(),
    };
    let bytes = [
        string(1, "db"),
        message(2, &info_bytes),
        string(3, "URL"),
        string(3, "PW"),
        string(4, "main"),
        double(5, 2.25),
        string(6, "t"),
    ]
    .concat();
    (md, bytes)
}

#[test]
fn metadata_and_creation_info_fields() {
    let (md, bytes) = metadata_sample();
    check("SecretMetadata", md.clone(), bytes.clone());
    check(
        "SecretGetOrCreateResponse",
        SecretGetOrCreateResponse {
            secret_id: "st-1".into(),
            metadata: Some(md.clone()),
        },
        [string(1, "st-1"), message(2, &bytes)].concat(),
    );
    check(
        "SecretGetInfoResponse",
        SecretGetInfoResponse { metadata: Some(md) },
        message(1, &bytes),
    );
}

#[test]
fn list_messages_fields() {
    check(
        "ListPagination",
        ListPagination {
            max_objects: 100,
            created_before: 3.5,
        },
        [field(1, 0, &[0x64]), double(2, 3.5)].concat(),
    );
    let pagination = [field(1, 0, &[0x0a])].concat();
    check(
        "SecretListRequest",
        SecretListRequest {
            environment_name: "dev".into(),
            pagination: Some(ListPagination {
                max_objects: 10,
                created_before: 0.0,
            }),
        },
        [string(1, "dev"), message(2, &pagination)].concat(),
    );
    let (md, md_bytes) = metadata_sample();
    let item = SecretListItem {
        label: "db".into(),
        created_at: 1.5,
        last_used_at: 2.25,
        environment_name: "main".into(),
        secret_id: "st-1".into(),
        metadata: Some(md),
    };
    let item_bytes = [
        string(1, "db"),
        double(2, 1.5),
        double(3, 2.25),
        string(4, "main"),
        string(5, "st-1"),
        field(6, 2, &[md_bytes.len() as u8]),
        md_bytes.clone(),
    ]
    .concat();
    check("SecretListItem", item.clone(), item_bytes.clone());
    // Long enough for a two-byte length prefix: build the expected bytes by hand.
    let mut list_bytes = vec![0x0a];
    let mut len = item_bytes.len();
    while len >= 0x80 {
        list_bytes.push((len as u8) | 0x80);
        len >>= 7;
    }
    list_bytes.push(len as u8);
    list_bytes.extend_from_slice(&item_bytes);
    list_bytes.extend(string(2, "main"));
    check(
        "SecretListResponse",
        SecretListResponse {
            items: vec![item],
            environment_name: "main".into(),
        },
        list_bytes,
    );
}

#[test]
fn delete_update_and_info_requests() {
    check(
        "SecretDeleteRequest",
        SecretDeleteRequest {
            secret_id: "st-1".into(),
        },
        string(1, "st-1"),
    );
    check(
        "SecretGetInfoRequest",
        SecretGetInfoRequest {
            secret_id: "st-2".into(),
        },
        string(1, "st-2"),
    );
    use secret_update_request::Update;
    let set = Update {
        key: "A".into(),
        value: Some("1".into()),
    };
    let unset = Update {
        key: "B".into(),
        value: None,
    };
    let empty = Update {
        key: "C".into(),
        value: Some(String::new()),
    };
    check(
        "SecretUpdateRequest",
        SecretUpdateRequest {
            secret_id: "st-3".into(),
            updates: vec![set, unset, empty],
        },
        [
            string(1, "st-3"),
            message(2, &[string(1, "A"), string(2, "1")].concat()),
            message(2, &string(1, "B")),
            // `optional`: an empty value is present on the wire, unlike an unset one.
            message(2, &[string(1, "C"), string(2, "")].concat()),
        ]
        .concat(),
    );
}

#[test]
fn hello_workspace_auth_messages() {
    check(
        "ClientHelloResponse",
        ClientHelloResponse {
            warning: "w".into(),
            image_builder_version: "2025.06".into(),
            server_warnings: vec![Warning {
                r#type: WarningType::ClientDeprecation as i32,
                message: "old".into(),
            }],
        },
        [
            string(1, "w"),
            string(2, "2025.06"),
            message(4, &[varint(1, 1), string(2, "old")].concat()),
        ]
        .concat(),
    );
    check(
        "WorkspaceNameLookupResponse",
        WorkspaceNameLookupResponse {
            workspace_name: "ws".into(),
            username: "u".into(),
        },
        [string(1, "ws"), string(2, "u")].concat(),
    );
    check("AuthTokenGetRequest", AuthTokenGetRequest {}, vec![]);
    check(
        "AuthTokenGetResponse",
        AuthTokenGetResponse {
            token: "jwt".into(),
        },
        string(1, "jwt"),
    );
}

#[test]
fn error_detail_messages() {
    let policy = RpcRetryPolicy {
        retry_after_secs: 2.5,
    };
    check("RPCRetryPolicy", policy, float(1, 2.5));
    let any = prost_types::Any {
        type_url: RPC_RETRY_POLICY_TYPE_URL.into(),
        value: policy.encode_to_vec(),
    };
    let any_bytes = [
        string(1, RPC_RETRY_POLICY_TYPE_URL),
        message(2, &float(1, 2.5)),
    ]
    .concat();
    check(
        "RPCStatus",
        RpcStatus {
            code: 8,
            message: "slow".into(),
            details: vec![any],
        },
        [varint(1, 8), string(2, "slow"), message(3, &any_bytes)].concat(),
    );
}

#[test]
fn enum_numbers() {
    use ObjectCreationType as T;
    let types = [
        (T::Unspecified, 0, "OBJECT_CREATION_TYPE_UNSPECIFIED"),
        (
            T::CreateIfMissing,
            1,
            "OBJECT_CREATION_TYPE_CREATE_IF_MISSING",
        ),
        (
            T::CreateFailIfExists,
            2,
            "OBJECT_CREATION_TYPE_CREATE_FAIL_IF_EXISTS",
        ),
        (
            T::CreateOverwriteIfExists,
            3,
            "OBJECT_CREATION_TYPE_CREATE_OVERWRITE_IF_EXISTS",
        ),
        (
            T::AnonymousOwnedByApp,
            4,
            "OBJECT_CREATION_TYPE_ANONYMOUS_OWNED_BY_APP",
        ),
        (T::Ephemeral, 5, "OBJECT_CREATION_TYPE_EPHEMERAL"),
    ];
    for (t, n, name) in types {
        assert_eq!((t as i32, t.as_str_name()), (n, name));
    }
    let clients = [
        (ClientType::Client, 1),
        (ClientType::Libmodal, 7),
        (ClientType::LibmodalJs, 8),
        (ClientType::LibmodalGo, 9),
    ];
    for (c, n) in clients {
        assert_eq!(c as i32, n);
    }
    let warnings = [
        (WarningType::Unspecified, 0),
        (WarningType::ClientDeprecation, 1),
        (WarningType::ResourceLimit, 2),
        (WarningType::FunctionConfiguration, 3),
    ];
    for (w, n) in warnings {
        assert_eq!(w as i32, n);
    }
}

#[test]
fn unknown_fields_from_a_newer_server_are_skipped() {
    // A future field 15 (string) and 9 (varint) on SecretMetadata must not break decoding.
    let mut bytes = string(1, "db");
    bytes.extend([0x7a, 0x01, b'x']); // field 15, wire type 2
    bytes.extend([0x48, 0x01]); // field 9, varint
    let md = SecretMetadata::decode(bytes.as_slice()).unwrap();
    assert_eq!(md.name, "db");
}
