//! The one error type of the core, the gRPC status table of WIRE.md, and what is worth retrying.
//!
//! Messages name the input that was wrong but never carry a secret value or a token secret.

use std::time::Duration;

/// gRPC status codes (`grpc-status`), by their numbers on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

impl Code {
    pub const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code for a number on the wire; numbers gRPC does not define are UNKNOWN, as the spec says.
    pub fn from_i32(n: i32) -> Code {
        usize::try_from(n)
            .ok()
            .and_then(|i| Code::ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    pub fn number(self) -> i32 {
        self as i32
    }

    /// The canonical name, e.g. `NOT_FOUND`: what JS sees as `error.code`.
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// Statuses Modal's clients retry (WIRE.md): CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, INTERNAL,
    /// UNAVAILABLE.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Code::Cancelled
                | Code::Unknown
                | Code::DeadlineExceeded
                | Code::Internal
                | Code::Unavailable
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong, as a caller branches on it. Each kind is one JS error class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Invalid,
    /// FAILED_PRECONDITION or ABORTED: a kind of Invalid (`ConflictError extends InvalidError`).
    Conflict,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    Auth,
    /// The server does not implement the method (`UnimplementedError extends ServiceError`).
    Unimplemented,
    /// INTERNAL, and responses that are not valid gRPC-web (`InternalError extends ServiceError`).
    Internal,
    /// DATA_LOSS (`DataLossError extends ServiceError`).
    DataLoss,
    /// CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, UNAVAILABLE from the server.
    Service,
    /// No answer at all: the request never completed (after the last attempt).
    Connection,
    /// The caller's `timeoutMs` ran out, or the caller's `AbortSignal` fired.
    Timeout,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Invalid,
        ErrorKind::Conflict,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::PermissionDenied,
        ErrorKind::ResourceExhausted,
        ErrorKind::Auth,
        ErrorKind::Unimplemented,
        ErrorKind::Internal,
        ErrorKind::DataLoss,
        ErrorKind::Service,
        ErrorKind::Connection,
        ErrorKind::Timeout,
    ];

    /// WIRE.md's table from gRPC status to Modal's error.
    pub fn for_code(code: Code) -> ErrorKind {
        match code {
            Code::InvalidArgument | Code::OutOfRange => ErrorKind::Invalid,
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists => ErrorKind::AlreadyExists,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            Code::ResourceExhausted => ErrorKind::ResourceExhausted,
            Code::FailedPrecondition | Code::Aborted => ErrorKind::Conflict,
            Code::Unimplemented => ErrorKind::Unimplemented,
            Code::Internal => ErrorKind::Internal,
            Code::Cancelled | Code::Unknown | Code::DeadlineExceeded | Code::Unavailable => {
                ErrorKind::Service
            }
            Code::DataLoss => ErrorKind::DataLoss,
            Code::Unauthenticated => ErrorKind::Auth,
            // An OK status never becomes an error; if one is forced into one, it is a protocol fault.
            Code::Ok => ErrorKind::Internal,
        }
    }

    /// The class this kind's class extends: `ModalError`, or the kind it is a case of.
    pub fn parent_class_name(self) -> &'static str {
        match self {
            ErrorKind::Conflict => "InvalidError",
            ErrorKind::Unimplemented | ErrorKind::Internal | ErrorKind::DataLoss => "ServiceError",
            _ => "ModalError",
        }
    }

    /// The name of the JS class that carries this kind (exported by the npm package; declared in
    /// src/js/errors.js and src/js/index.d.ts, which a test here ties to this list).
    pub fn class_name(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "InvalidError",
            ErrorKind::Conflict => "ConflictError",
            ErrorKind::NotFound => "NotFoundError",
            ErrorKind::AlreadyExists => "AlreadyExistsError",
            ErrorKind::PermissionDenied => "PermissionDeniedError",
            ErrorKind::ResourceExhausted => "ResourceExhaustedError",
            ErrorKind::Auth => "AuthError",
            ErrorKind::Unimplemented => "UnimplementedError",
            ErrorKind::Internal => "InternalError",
            ErrorKind::DataLoss => "DataLossError",
            ErrorKind::Service => "ServiceError",
            ErrorKind::Connection => "ConnectionError",
            ErrorKind::Timeout => "TimeoutError",
        }
    }
}

/// Why a server's answer could not be read as gRPC-web.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("content-type is {0}, not application/grpc-web")]
    WrongContentType(String),
    #[error("content-type is {0}, not application/grpc")]
    NotGrpcContentType(String),
    #[error("a frame header needs 5 bytes, {0} left")]
    TruncatedFrameHeader(usize),
    #[error("a frame announces {announced} bytes but only {available} follow")]
    TruncatedFrame { announced: u32, available: usize },
    #[error("a frame announces {announced} bytes, over the limit of {limit}")]
    FrameTooLarge { announced: u32, limit: usize },
    #[error("the body is over the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("a frame is compressed, but no compression was negotiated")]
    Compressed,
    #[error("a frame has unknown flags 0x{0:02x}")]
    UnknownFrameFlags(u8),
    #[error("data follows the trailer frame")]
    DataAfterTrailers,
    #[error("the trailer frame is not valid `name: value` lines")]
    BadTrailers,
    #[error("no grpc-status in headers or trailers")]
    MissingStatus,
    #[error("grpc-status {0} is not a number")]
    BadStatus(String),
    #[error("status OK but no response message")]
    MissingMessage,
    #[error("a unary call answered with {0} messages")]
    TooManyMessages(usize),
    #[error("the response message does not decode as {message}: {reason}")]
    BadMessage {
        message: &'static str,
        reason: String,
    },
}

/// Every failure the core reports.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-OK gRPC status (or an HTTP status that maps to one).
    #[error("{}", status_text(*.code, .message))]
    Status {
        code: Code,
        /// The server's `grpc-message`, percent-decoded.
        message: String,
        /// From an `RPCRetryPolicy` in `grpc-status-details-bin`: the server asks for this wait.
        retry_after: Option<Duration>,
    },
    /// An argument was rejected before any request was sent. The message names the argument.
    #[error("{0}")]
    InvalidInput(String),
    /// A `.modal.toml` or a `MODAL_*` variable could not be used.
    #[error("invalid Modal config: {0}")]
    Config(String),
    /// The server's answer is not valid gRPC-web or not the expected message.
    #[error("malformed response from the server: {0}")]
    Malformed(Malformed),
    /// The request did not complete (refused, reset, DNS, CORS): no answer to read.
    #[error("could not reach the Modal server: {0}")]
    Connection(String),
    /// The call ran out of its `timeoutMs`.
    #[error("timed out after {} ms", u64::try_from(.0.as_millis()).unwrap_or(u64::MAX))]
    Timeout(Duration),
    /// The caller's `AbortSignal` fired: the call was cancelled (gRPC CANCELLED; not to be
    /// confused with the server's ABORTED, [`Code::Aborted`], a conflict).
    #[error("the call was aborted")]
    Cancelled,
    /// The server answered with a redirect (HTTP 3xx), which is never followed: the token and the
    /// values go only to the configured server. `to` is the target's origin, when it is known (a
    /// browser hides it).
    #[error("{}", redirect_text(*.status, .to.as_deref()))]
    Redirect { status: u16, to: Option<String> },
}

fn redirect_text(status: u16, to: Option<&str>) -> String {
    let answered = match status {
        0 => "the server answered with a redirect (this runtime hides its target)".to_owned(),
        _ => format!("the server answered HTTP {status}, a redirect"),
    };
    let target = to.map_or(String::new(), |origin| format!(" to {origin}"));
    format!(
        "{answered}{target}; redirects are never followed, so the token goes only to the \
         configured server URL: set the URL the redirect points to, if it is trusted"
    )
}

fn status_text(code: Code, message: &str) -> String {
    if message.is_empty() {
        format!("the server answered {code}")
    } else {
        message.to_owned()
    }
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidInput(message.into())
    }

    /// The gRPC status this error stands for; JS sees its name as `error.code`.
    pub fn code(&self) -> Code {
        match self {
            Error::Status { code, .. } => *code,
            Error::InvalidInput(_) | Error::Config(_) => Code::InvalidArgument,
            Error::Malformed(_) => Code::Internal,
            Error::Connection(_) | Error::Redirect { .. } => Code::Unavailable,
            Error::Timeout(_) => Code::DeadlineExceeded,
            Error::Cancelled => Code::Cancelled,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Status { code, .. } => ErrorKind::for_code(*code),
            Error::InvalidInput(_) | Error::Config(_) => ErrorKind::Invalid,
            Error::Malformed(_) => ErrorKind::Internal,
            Error::Connection(_) | Error::Redirect { .. } => ErrorKind::Connection,
            Error::Timeout(_) | Error::Cancelled => ErrorKind::Timeout,
        }
    }

    /// Whether trying the same call again could succeed: transient statuses and lost connections.
    /// A malformed answer, a bad argument, a timeout or an abort would fail the same way again.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Status { code, .. } => code.is_transient(),
            Error::Connection(_) => true,
            _ => false,
        }
    }

    /// The wait the server asked for (RPCRetryPolicy), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl Error {
    /// This error with the text that came from outside (a status message, a content type, a
    /// redirect's target, a transport's description) cleared of `secrets`: see
    /// [`crate::redact::redact_text`].
    pub fn redact(mut self, secrets: &[&str]) -> Error {
        let text = match &mut self {
            Error::Status { message: text, .. }
            | Error::InvalidInput(text)
            | Error::Config(text)
            | Error::Connection(text)
            | Error::Redirect { to: Some(text), .. }
            | Error::Malformed(
                Malformed::WrongContentType(text)
                | Malformed::NotGrpcContentType(text)
                | Malformed::BadStatus(text)
                | Malformed::BadMessage { reason: text, .. },
            ) => text,
            _ => return self,
        };
        *text = crate::redact::redact_text(text, secrets);
        self
    }
}

impl From<Malformed> for Error {
    fn from(m: Malformed) -> Error {
        Error::Malformed(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_maps_to_the_kind_in_wire_md() {
        let expected = [
            (0, "OK", ErrorKind::Internal, false),
            (1, "CANCELLED", ErrorKind::Service, true),
            (2, "UNKNOWN", ErrorKind::Service, true),
            (3, "INVALID_ARGUMENT", ErrorKind::Invalid, false),
            (4, "DEADLINE_EXCEEDED", ErrorKind::Service, true),
            (5, "NOT_FOUND", ErrorKind::NotFound, false),
            (6, "ALREADY_EXISTS", ErrorKind::AlreadyExists, false),
            (7, "PERMISSION_DENIED", ErrorKind::PermissionDenied, false),
            (8, "RESOURCE_EXHAUSTED", ErrorKind::ResourceExhausted, false),
            (9, "FAILED_PRECONDITION", ErrorKind::Conflict, false),
            (10, "ABORTED", ErrorKind::Conflict, false),
            (11, "OUT_OF_RANGE", ErrorKind::Invalid, false),
            (12, "UNIMPLEMENTED", ErrorKind::Unimplemented, false),
            (13, "INTERNAL", ErrorKind::Internal, true),
            (14, "UNAVAILABLE", ErrorKind::Service, true),
            (15, "DATA_LOSS", ErrorKind::DataLoss, false),
            (16, "UNAUTHENTICATED", ErrorKind::Auth, false),
        ];
        for (n, name, kind, transient) in expected {
            let code = Code::from_i32(n);
            assert_eq!(code.number(), n);
            assert_eq!(code.name(), name);
            assert_eq!(ErrorKind::for_code(code), kind, "{name}");
            assert_eq!(code.is_transient(), transient, "{name}");
            let err = Error::Status {
                code,
                message: String::new(),
                retry_after: None,
            };
            assert_eq!(err.kind(), kind);
            assert_eq!(err.retryable(), transient);
        }
    }

    #[test]
    fn unknown_numbers_are_unknown() {
        for n in [-1, 17, 100, i32::MAX, i32::MIN] {
            assert_eq!(Code::from_i32(n), Code::Unknown);
        }
    }

    #[test]
    fn local_errors_have_codes_and_kinds() {
        let cases = [
            (
                Error::invalid("bad name"),
                Code::InvalidArgument,
                ErrorKind::Invalid,
                false,
            ),
            (
                Error::Config("x".into()),
                Code::InvalidArgument,
                ErrorKind::Invalid,
                false,
            ),
            (
                Error::Malformed(Malformed::MissingStatus),
                Code::Internal,
                ErrorKind::Internal,
                false,
            ),
            (
                Error::Connection("refused".into()),
                Code::Unavailable,
                ErrorKind::Connection,
                true,
            ),
            (
                Error::Timeout(Duration::from_millis(5)),
                Code::DeadlineExceeded,
                ErrorKind::Timeout,
                false,
            ),
            (Error::Cancelled, Code::Cancelled, ErrorKind::Timeout, false),
            (
                Error::Redirect {
                    status: 302,
                    to: Some("\"https://login.example\"".into()),
                },
                Code::Unavailable,
                ErrorKind::Connection,
                false,
            ),
        ];
        for (err, code, kind, retryable) in cases {
            assert_eq!(
                (err.code(), err.kind(), err.retryable()),
                (code, kind, retryable),
                "{err}"
            );
        }
    }

    #[test]
    fn class_names_are_distinct() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.class_name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }

    /// `export class Name extends Parent` lines of a JS or .d.ts file, as a map.
    fn declared_classes(path: &str) -> std::collections::BTreeMap<String, String> {
        let file = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        text.lines()
            .filter_map(|line| line.strip_prefix("export class "))
            .filter_map(|rest| {
                let words: Vec<&str> = rest.split_whitespace().collect();
                match words[..] {
                    [name, "extends", parent, ..] => Some((name.to_owned(), parent.to_owned())),
                    _ => None,
                }
            })
            .collect()
    }

    /// The one list of error classes is [`ErrorKind`]: the package's JS classes (src/js/errors.js)
    /// and their types (src/js/index.d.ts) are exactly its classes, with the same parents, plus
    /// their base `ModalError`. (tests/node/errors.test.mjs ties the built package to index.d.ts.)
    #[test]
    fn js_classes_and_types_are_the_kinds() {
        let mut expected = std::collections::BTreeMap::new();
        expected.insert("ModalError".to_owned(), "Error".to_owned());
        for kind in ErrorKind::ALL {
            expected.insert(
                kind.class_name().to_owned(),
                kind.parent_class_name().to_owned(),
            );
        }
        let errors_js = declared_classes("src/js/errors.js");
        assert_eq!(errors_js, expected, "src/js/errors.js");
        let types = declared_classes("src/js/index.d.ts");
        assert_eq!(types, expected, "src/js/index.d.ts");
    }

    #[test]
    fn empty_server_message_says_the_status() {
        let err = Error::Status {
            code: Code::NotFound,
            message: String::new(),
            retry_after: None,
        };
        assert_eq!(err.to_string(), "the server answered NOT_FOUND");
    }
}
