//! The server's limits in one table (server/README.md, "Limits"), for both modes: what one request
//! may carry, what the store may hold, and the defaults of the flags that set the rest. Modal
//! documents no limits of its own; these are generous for real secrets and keep one request from
//! holding the store (or the server's memory) hostage.

/// Largest request message accepted, in bytes (tonic's `max_decoding_message_size`). A bigger
/// request is refused before it is read, with OUT_OF_RANGE.
pub const MAX_REQUEST_BYTES: usize = 4 << 20;

/// Most keys one secret may hold, after an update is applied.
pub const MAX_KEYS_PER_SECRET: usize = 1000;

/// Longest key name, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// Largest value of one key, in bytes of UTF-8.
pub const MAX_VALUE_BYTES: usize = 64 << 10;

/// Most `required_keys` entries, and most entries in one SecretUpdate.
pub const MAX_LISTED_KEYS: usize = MAX_KEYS_PER_SECRET;

/// Most bytes of keys and values one secret may hold, after an update is applied (updates add up:
/// without this, 1000 keys of 64 KiB would make a 64 MiB secret). The same as one request.
pub const MAX_SECRET_BYTES: usize = MAX_REQUEST_BYTES;

/// Most secrets (named and ephemeral) one environment may hold: a token holder cannot fill the
/// disk. Past it a create is RESOURCE_EXHAUSTED.
pub const MAX_SECRETS_PER_ENVIRONMENT: usize = 100_000;

/// Names of secrets, environments and workspaces: Modal's limit (`validate::MAX_NAME_LEN`).
pub const MAX_NAME_CHARS: usize = modal_secrets_core::validate::MAX_NAME_LEN;

/// Longest `x-modal-token-secret` looked at; a longer one is refused unhashed (ours are 35).
pub const MAX_TOKEN_SECRET_BYTES: usize = 128;

/// Longest `x-modal-auth-token` looked at (ours are about 250 bytes).
pub const MAX_AUTH_TOKEN_BYTES: usize = 4096;

/// Most bytes of request headers over HTTP/2 (names, values and 32 bytes each, as HTTP/2 counts);
/// more is refused by the HTTP/2 layer before the call is seen. Over HTTP/1.1, hyper's own limits
/// hold: at most 100 headers, and about 400 KiB of head.
pub const MAX_HEADER_LIST_BYTES: u32 = 16 << 10;

/// Most bytes of key names one secret may hold (the sum of its keys' lengths), after an update
/// is applied. With [`MAX_KEYS_PER_SECRET`] this bounds one SecretList item to about 20 KB, so a
/// page of 100 items (what Modal's clients ask for) always fits in [`LIST_PAGE_BYTES`].
pub const MAX_KEY_NAME_BYTES_PER_SECRET: usize = 16 << 10;

/// Most bytes of one SecretList answer (the encoded message): items are added, newest first,
/// until the next would pass this (always at least one). Well under the package's answer limit
/// (4 MiB + 64 KiB). A page cut short by it holds fewer items than asked; the package pages on
/// past a short page this large (the core's rule, in `client::listing`, which defines the budget).
pub const LIST_PAGE_BYTES: usize = modal_secrets_core::client::LIST_PAGE_BYTE_BUDGET;

/// Default `--workspace-quota-bytes`: most bytes of keys and sealed values all the secrets of
/// one workspace may hold (every environment). Past it a write is RESOURCE_EXHAUSTED.
pub const DEFAULT_WORKSPACE_QUOTA_BYTES: u64 = 1 << 30;

/// Default `--max-buffered-body-bytes`: most bytes of request bodies held at once by the whole
/// process (server or gateway). A call whose body would pass it is RESOURCE_EXHAUSTED.
pub const DEFAULT_MAX_BUFFERED_BODY_BYTES: usize = 64 << 20;

/// Page size of a SecretList that asks for no particular number (`max_objects` 0 or unset), the
/// page size Modal's own clients use.
pub const DEFAULT_LIST_PAGE: usize = 100;

/// Ephemeral secrets (`Secret.from_dict` and friends) are kept this long, then removed.
pub const EPHEMERAL_TTL_SECS: u64 = 24 * 60 * 60;
