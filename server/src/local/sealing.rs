//! Secret values at rest: sealed with XChaCha20-Poly1305 under a 32-byte key that lives in a key
//! file apart from the database, so a copy of the database alone reveals no value.
//!
//! Why this AEAD: XChaCha20-Poly1305's 192-bit nonce can be drawn at random for every value with
//! no counter to keep and no practical chance of reuse (AES-GCM's 96-bit random nonce allows about
//! 2^32 messages per key), and ChaCha20 is constant-time in plain software on every CPU (AES-GCM is
//! only without timing leaks where the CPU has AES and carry-less multiply instructions).
//! The RustCrypto implementation (`chacha20poly1305`) is pure Rust and has been audited.
//!
//! A sealed value is `0x01 ‖ nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes)`, with the secret's id
//! and the key's name as associated data: a sealed value moved to another row does not open.
//!
//! The key file is one line, `modal-secrets-store-key-v1:` and the key in unpadded base64url, mode
//! 0600, made atomically (written beside, synced, then linked into place) the first time a store is
//! opened without one. The store keeps a "check value" (a known text sealed with the key), so a
//! wrong or missing key is a clear error at open rather than garbage later.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::local::ids::{self, RandomError};

/// The key file's name beside the database when `--key-file` is not given.
pub const KEY_FILE: &str = "store.key";

const KEY_PREFIX: &str = "modal-secrets-store-key-v1:";
const FORMAT_V1: u8 = 1;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// Bytes a sealed value has beyond its plaintext: format, nonce, tag.
pub const OVERHEAD: i64 = (1 + NONCE_BYTES + TAG_BYTES) as i64;
const CHECK_AAD: &[u8] = b"modal-secrets store key check";
const CHECK_TEXT: &[u8] = b"this store's values key";

/// A sealed value could not be opened: the wrong key, or damaged bytes (an AEAD cannot tell which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenError;

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sealed value does not open with this key (wrong key or damaged data)")
    }
}

impl std::error::Error for OpenError {}

/// The key that seals values. `Debug` never shows it.
pub struct ValueKey {
    bytes: Zeroizing<[u8; 32]>,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for ValueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ValueKey(***)")
    }
}

impl ValueKey {
    /// A new random key from the operating system's random source.
    pub fn generate() -> Result<ValueKey, RandomError> {
        Ok(ValueKey::from_bytes(Zeroizing::new(
            ids::random_bytes::<32>()?,
        )))
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> ValueKey {
        let cipher = XChaCha20Poly1305::new(bytes.as_slice().into());
        ValueKey { bytes, cipher }
    }

    /// Seals `plaintext` bound to `aad` under a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, RandomError> {
        let nonce = ids::random_bytes::<NONCE_BYTES>()?;
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Encryption fails only for messages beyond 256 GiB; values are at most 64 KiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`ValueKey::seal`] made with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let Some((&FORMAT_V1, rest)) = sealed.split_first() else {
            return Err(OpenError);
        };
        if rest.len() < NONCE_BYTES + TAG_BYTES {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| OpenError)
    }

    /// What the store keeps to recognise its key: a known text sealed with it.
    pub fn check_value(&self) -> Result<Vec<u8>, RandomError> {
        self.seal(CHECK_AAD, CHECK_TEXT)
    }

    /// Is this the key that made `check`?
    pub fn matches(&self, check: &[u8]) -> bool {
        self.open(CHECK_AAD, check)
            .is_ok_and(|text| text.as_slice() == CHECK_TEXT)
    }

    fn to_text(&self) -> Zeroizing<String> {
        let mut line = Zeroizing::new(String::with_capacity(KEY_PREFIX.len() + 44));
        line.push_str(KEY_PREFIX);
        URL_SAFE_NO_PAD.encode_string(self.bytes.as_slice(), &mut line);
        line.push('\n');
        line
    }

    fn from_text(text: &str) -> Option<ValueKey> {
        let encoded = text.trim().strip_prefix(KEY_PREFIX)?;
        let decoded = Zeroizing::new(URL_SAFE_NO_PAD.decode(encoded).ok()?);
        let bytes: [u8; 32] = decoded.as_slice().try_into().ok()?;
        Some(ValueKey::from_bytes(Zeroizing::new(bytes)))
    }
}

/// The associated data of one value: which secret and which key it belongs to.
pub fn value_aad(secret_id: &str, key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(6 + secret_id.len() + 1 + key.len());
    aad.extend_from_slice(b"value\0");
    aad.extend_from_slice(secret_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.as_bytes());
    aad
}

/// The associated data of the token signing key kept in `meta`.
pub const JWT_KEY_AAD: &[u8] = b"modal-secrets jwt signing key";

/// Where a key rotation leaves the new key until the store has been re-sealed with it.
pub fn pending_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    path.with_file_name(name)
}

/// Why a key file could not be used. Messages name the path, never the key.
#[derive(Debug)]
pub enum KeyFileError {
    Io(PathBuf, std::io::Error),
    Malformed(PathBuf),
}

impl std::fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyFileError::Io(path, e) => write!(f, "key file {}: {e}", path.display()),
            KeyFileError::Malformed(path) => write!(
                f,
                "key file {} is not a store key (one line: {KEY_PREFIX} and 43 characters of \
                 base64url)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for KeyFileError {}

/// The key in `path`; `None` if there is no such file.
pub fn read_key_file(path: &Path) -> Result<Option<ValueKey>, KeyFileError> {
    let text = match fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KeyFileError::Io(path.to_owned(), e)),
    };
    // The file holds a few dozen bytes; anything longer is not a key file.
    if text.len() > 256 {
        return Err(KeyFileError::Malformed(path.to_owned()));
    }
    let text = std::str::from_utf8(&text).map_err(|_| KeyFileError::Malformed(path.to_owned()))?;
    ValueKey::from_text(text)
        .map(Some)
        .ok_or_else(|| KeyFileError::Malformed(path.to_owned()))
}

/// Is the key file readable or writable by anyone but its owner?
pub fn is_exposed(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Writes `key` to `path` only if no file is there: written and synced under a temporary name,
/// then linked into place (atomic, and it fails if another process made the file first). Returns
/// `false` when a file was already there (then read that one).
pub fn create_key_file(path: &Path, key: &ValueKey) -> Result<bool, KeyFileError> {
    let err = |e| KeyFileError::Io(path.to_owned(), e);
    let temp = write_temp(path, key).map_err(err)?;
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_dir(path).map_err(err)?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(err(e)),
    }
}

/// Writes `key` to `path`, replacing what is there (atomically: temporary file, sync, rename).
pub fn replace_key_file(path: &Path, key: &ValueKey) -> Result<(), KeyFileError> {
    let err = |e| KeyFileError::Io(path.to_owned(), e);
    let temp = write_temp(path, key).map_err(err)?;
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(err(e));
    }
    sync_dir(path).map_err(err)
}

/// Moves `from` over `to` (atomic on one file system) and syncs the directory.
pub fn move_key_file(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::rename(from, to)?;
    sync_dir(to)
}

fn write_temp(path: &Path, key: &ValueKey) -> std::io::Result<PathBuf> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let suffix = ids::alphanumeric(12).map_err(std::io::Error::other)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{suffix}"));
    let temp = path.with_file_name(name);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(key.to_text().as_bytes())?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Makes a new directory entry durable (a renamed or linked file survives a crash).
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let key = ValueKey::generate().unwrap();
        let aad = value_aad("st-1", "A");
        let sealed = key.seal(&aad, b"hunter2").unwrap();
        assert_eq!(sealed.len(), 1 + NONCE_BYTES + 7 + TAG_BYTES);
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open(&aad, &sealed).unwrap().as_slice(), b"hunter2");
        // Two seals of one value differ (random nonces).
        assert_ne!(key.seal(&aad, b"hunter2").unwrap(), sealed);
        // Another row, another key, damaged bytes: nothing opens.
        assert_eq!(key.open(&value_aad("st-2", "A"), &sealed), Err(OpenError));
        assert_eq!(key.open(&value_aad("st-1", "B"), &sealed), Err(OpenError));
        let other = ValueKey::generate().unwrap();
        assert_eq!(other.open(&aad, &sealed), Err(OpenError));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(key.open(&aad, &bad), Err(OpenError), "byte {i}");
        }
        assert_eq!(key.open(&aad, &sealed[..20]), Err(OpenError));
        assert_eq!(key.open(&aad, &[]), Err(OpenError));
    }

    #[test]
    fn check_values() {
        let key = ValueKey::generate().unwrap();
        let check = key.check_value().unwrap();
        assert!(key.matches(&check));
        assert!(!ValueKey::generate().unwrap().matches(&check));
        assert!(!key.matches(b"junk"));
    }

    #[test]
    fn key_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k").join(KEY_FILE);
        assert!(read_key_file(&path).unwrap().is_none());
        let key = ValueKey::generate().unwrap();
        assert!(create_key_file(&path, &key).unwrap());
        // A second create leaves the first key in place.
        assert!(!create_key_file(&path, &ValueKey::generate().unwrap()).unwrap());
        let read = read_key_file(&path).unwrap().unwrap();
        let check = key.check_value().unwrap();
        assert!(read.matches(&check));
        assert!(!is_exposed(&path));
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(KEY_PREFIX) && text.ends_with('\n'),
            "{text}"
        );
        assert!(!format!("{read:?}").contains(&text.trim()[KEY_PREFIX.len()..]));

        let other = ValueKey::generate().unwrap();
        replace_key_file(&path, &other).unwrap();
        assert!(!read_key_file(&path).unwrap().unwrap().matches(&check));

        for junk in ["", "modal-secrets-store-key-v1:abc", "hello", "\u{ff}"] {
            fs::write(&path, junk).unwrap();
            let err = read_key_file(&path).expect_err("malformed");
            assert!(matches!(err, KeyFileError::Malformed(_)), "{err}");
        }
        assert_eq!(
            pending_path(&path).file_name().unwrap(),
            "store.key.new",
            "{path:?}"
        );
    }
}
