//! What one request may carry. Modal documents no limits of its own; these are generous for real
//! secrets and keep one request from holding the store (or the server's memory) hostage.

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

/// Page size of a SecretList that asks for no particular number (`max_objects` 0 or unset), the
/// page size Modal's own clients use.
pub const DEFAULT_LIST_PAGE: usize = 100;

/// Ephemeral secrets (`Secret.from_dict` and friends) are kept this long, then removed.
pub const EPHEMERAL_TTL_SECS: u64 = 24 * 60 * 60;
