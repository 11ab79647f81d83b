//! The gateway's upstream: `--upstream URL` checked to name one origin, the TLS roots it is
//! verified against (the Mozilla roots built in, plus `--upstream-ca` / `SSL_CERT_FILE`), the one
//! HTTP/2 connection to it (tonic's `Channel`; TLS set up once per connection, never per call), and
//! what a call that got no answer from it says (UNAVAILABLE naming the cause, with a hint for an
//! untrusted certificate).

use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, TrustAnchor};
use tokio_rustls::rustls::{self, RootCertStore};
use tonic::Status;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::SERVICE;

/// How long making the upstream connection (TCP, and TLS for https) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// TCP keepalive on the upstream connection, so that a connection dropped silently (a NAT or a
/// load balancer forgetting it) is noticed without HTTP/2 pings, which gRPC servers limit.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The configured upstream: `http://host[:port]` (h2c) or `https://host[:port]` (TLS, ALPN h2).
#[derive(Clone, Debug)]
pub struct Upstream {
    uri: Uri,
}

impl Upstream {
    /// Parses `--upstream`: a scheme, a host and maybe a port; nothing else (no user info, no path
    /// beyond `/`, no query), so that it names one origin.
    pub fn parse(url: &str) -> Result<Upstream, String> {
        let url = url.trim();
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "{url:?} must start with https:// (TLS) or http:// (cleartext HTTP/2)"
            ));
        }
        let Some(authority) = uri.authority() else {
            return Err(format!("{url:?} has no host"));
        };
        if authority.as_str().contains('@') {
            return Err(format!("{url:?} must not hold a user name or password"));
        }
        if authority.host().is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        if uri.path() != "/" || uri.query().is_some() {
            return Err(format!(
                "{url:?} must be scheme://host[:port] with no path: calls go to \
                 /{SERVICE}/<Method> on it"
            ));
        }
        let uri = Uri::builder()
            .scheme(uri.scheme().cloned().unwrap_or(Scheme::HTTP))
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| format!("{url:?}: {e}"))?;
        Ok(Upstream { uri })
    }

    pub fn is_tls(&self) -> bool {
        self.uri.scheme() == Some(&Scheme::HTTPS)
    }

    /// `scheme://host[:port]`, for logs and error messages.
    pub fn origin(&self) -> String {
        let scheme = self.uri.scheme_str().unwrap_or("http");
        let authority = self.uri.authority().map_or("", |a| a.as_str());
        format!("{scheme}://{authority}")
    }

    /// The client for this upstream: one HTTP/2 connection that every call shares, made on the
    /// first call (not here) and remade after it breaks. An `https://` upstream's certificate is
    /// checked against the Mozilla roots built in and `extra_roots` (from [`extra_roots`]). Must
    /// run inside a Tokio runtime.
    pub(super) fn channel(
        &self,
        extra_roots: Vec<TrustAnchor<'static>>,
    ) -> Result<Channel, String> {
        let mut endpoint = Endpoint::from(self.uri.clone())
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .tcp_keepalive(Some(TCP_KEEPALIVE))
            .user_agent(concat!("modal-secrets-server/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| e.to_string())?;
        if self.is_tls() {
            endpoint = endpoint
                .tls_config(
                    ClientTlsConfig::new()
                        .with_webpki_roots()
                        .trust_anchors(extra_roots),
                )
                .map_err(|e| format!("TLS to {}: {e}", self.origin()))?;
        }
        Ok(endpoint.connect_lazy())
    }
}

/// The flag that names an extra CA file for the upstream's TLS.
pub const UPSTREAM_CA_FLAG: &str = "--upstream-ca";

/// A PEM file of CA certificates that the upstream's TLS trusts beside the built-in roots, and what
/// named it ([`UPSTREAM_CA_FLAG`] or `SSL_CERT_FILE`), for error messages.
#[derive(Clone, Debug)]
pub struct CaFile {
    pub path: PathBuf,
    pub named_by: &'static str,
}

/// The extra roots for `upstream`'s TLS, read from `files` at start: every certificate in every
/// file (a bundle may hold several; anything else in it, a key say, is skipped). A file that cannot
/// be read, holds no certificate, or holds one that is not a usable CA certificate is an error
/// naming the flag (or variable) and the path; nothing of the file's content is quoted. For an
/// `http://` upstream there is no TLS: files named by `SSL_CERT_FILE` are ignored, and
/// `--upstream-ca` is refused, since it would do nothing.
pub fn extra_roots(
    upstream: &Upstream,
    files: &[CaFile],
) -> Result<Vec<TrustAnchor<'static>>, String> {
    if !upstream.is_tls() {
        return match files.iter().find(|f| f.named_by == UPSTREAM_CA_FLAG) {
            Some(file) => Err(format!(
                "{UPSTREAM_CA_FLAG} {}: the upstream {} is cleartext (http://), so there is no \
                 certificate to check; it is for an https:// upstream",
                file.path.display(),
                upstream.origin()
            )),
            None => Ok(Vec::new()),
        };
    }
    let mut roots = RootCertStore::empty();
    for file in files {
        let fail = |why: String| format!("{} {}: {why}", file.named_by, file.path.display());
        let pem = std::fs::read(&file.path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let mut count = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            count += 1;
            let cert =
                cert.map_err(|e| fail(format!("certificate {count} is not valid PEM: {e}")))?;
            roots.add(cert).map_err(|e| {
                let why = match e {
                    rustls::Error::InvalidCertificate(e) => format!("{e:?}"),
                    e => e.to_string(),
                };
                fail(format!(
                    "certificate {count} is not a usable CA certificate ({why})"
                ))
            })?;
        }
        if count == 0 {
            return Err(fail(
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
            ));
        }
    }
    Ok(roots.roots)
}

pub(super) fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the upstream did not answer within the call's grpc-timeout")
}

/// A call the upstream never answered: its connection could not be made, or broke, or the stream
/// was reset before the answer's headers. UNAVAILABLE, which clients retry; the cause is named
/// (connection refused, DNS, TLS, reset, …), never anything of the request.
pub(super) fn upstream_error(origin: &str, error: &tonic::transport::Error) -> Status {
    let mut causes: Vec<String> = Vec::new();
    let mut hint = None;
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = source {
        if cause.is::<tonic::TimeoutExpired>() {
            return deadline_exceeded();
        }
        hint = hint.or_else(|| certificate_hint(cause));
        let text = cause.to_string();
        if causes.last() != Some(&text) {
            causes.push(text);
        }
        source = cause.source();
    }
    if causes.is_empty() {
        causes.push(error.to_string());
    }
    causes.extend(hint);
    Status::unavailable(format!(
        "the gateway got no answer from its upstream {origin}: {}",
        causes.join(": ")
    ))
}

/// What to tell the operator when `cause` is rustls refusing the upstream's certificate because no
/// root the gateway trusts vouches for it (it comes wrapped in an `io::Error`, whose `source`
/// skips it): signed by an unknown CA, or a CA certificate (self-signed, say) served as the
/// server's own.
fn certificate_hint(cause: &(dyn StdError + 'static)) -> Option<String> {
    let rustls_error = cause.downcast_ref::<rustls::Error>().or_else(|| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(|e| e.get_ref())
            .and_then(|e| e.downcast_ref::<rustls::Error>())
    });
    match rustls_error? {
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            Some(format!(
                "the upstream's certificate is not signed by a CA this gateway trusts (the \
                 Mozilla roots built in, and any {UPSTREAM_CA_FLAG} or SSL_CERT_FILE)"
            ))
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))
            if format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            Some(format!(
                "the upstream's certificate is not trusted: it is a CA certificate (self-signed?), \
                 which is never accepted as a server's own; the upstream needs a certificate \
                 issued by a CA, and this gateway that CA ({UPSTREAM_CA_FLAG})"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let ok = |url: &str| Upstream::parse(url).map(|u| u.origin());
        assert_eq!(
            ok("https://api.modal.com").unwrap(),
            "https://api.modal.com"
        );
        assert_eq!(
            ok("https://api.modal.com/").unwrap(),
            "https://api.modal.com"
        );
        assert_eq!(
            ok("http://127.0.0.1:8787").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert_eq!(ok("http://[::1]:8787").unwrap(), "http://[::1]:8787");
        assert!(Upstream::parse("https://api.modal.com").unwrap().is_tls());
        for bad in [
            "api.modal.com",
            "ftp://api.modal.com",
            "https://user:pw@api.modal.com",
            "https://api.modal.com/prefix",
            "https://api.modal.com/?x=1",
            "https://",
            "",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extra_ca_files() {
        let dir = tempfile::tempdir().unwrap();
        let https = Upstream::parse("https://localhost:1").unwrap();
        let http = Upstream::parse("http://localhost:1").unwrap();
        let file = |name: &str, text: &[u8], named_by: &'static str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            CaFile { path, named_by }
        };
        let cert = include_bytes!("../../tests/fixtures/self-signed.crt");
        let mut bundle = cert.to_vec();
        bundle.extend_from_slice(include_bytes!("../../tests/fixtures/self-signed.key"));
        bundle.extend_from_slice(cert);
        let good = file("bundle.pem", &bundle, UPSTREAM_CA_FLAG);
        assert_eq!(
            extra_roots(&https, std::slice::from_ref(&good))
                .unwrap()
                .len(),
            2
        );
        assert!(extra_roots(&https, &[]).unwrap().is_empty());

        let err = |files: &[CaFile]| extra_roots(&https, files).unwrap_err();
        let missing = CaFile {
            path: dir.path().join("missing.pem"),
            named_by: UPSTREAM_CA_FLAG,
        };
        let e = err(&[good.clone(), missing]);
        assert!(
            e.starts_with("--upstream-ca ") && e.contains("missing.pem: cannot read it"),
            "{e}"
        );
        let key_only = file(
            "key.pem",
            include_bytes!("../../tests/fixtures/self-signed.key"),
            "SSL_CERT_FILE",
        );
        let e = err(std::slice::from_ref(&key_only));
        assert!(
            e.starts_with("SSL_CERT_FILE ") && e.contains("holds no PEM certificate"),
            "{e}"
        );
        assert!(!e.contains("PRIVATE"), "{e}");
        let broken = file(
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            UPSTREAM_CA_FLAG,
        );
        let e = err(&[broken]);
        assert!(
            e.contains("certificate 1 is not a usable CA certificate"),
            "{e}"
        );

        // No TLS: --upstream-ca is refused, SSL_CERT_FILE ignored.
        assert!(
            extra_roots(&http, &[good])
                .unwrap_err()
                .contains("cleartext")
        );
        assert!(extra_roots(&http, &[key_only]).unwrap().is_empty());
    }
}
