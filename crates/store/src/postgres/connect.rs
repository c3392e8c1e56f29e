//! How the store reaches PostgreSQL: TLS as the URL's `sslmode` asks
//! (rustls, libpq's meaning of each mode), a connect timeout, a statement
//! timeout applied as a session setting, and TCP keepalives.
//!
//! tokio-postgres itself knows only `disable`, `prefer` and `require`; the
//! URL's `sslmode` and `sslrootcert` are therefore read here and removed
//! before the rest of the URL is handed to it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::StoreError;

/// Seconds to wait for a TCP connection and the server's greeting.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Seconds one statement may run before the server cancels it (0: no limit).
/// Longer than any query the service makes; it stops a runaway one from
/// holding a pooled connection for ever.
pub const DEFAULT_STATEMENT_TIMEOUT_SECS: u64 = 60;
/// Seconds of silence before the first TCP keepalive probe: a connection
/// cut by a firewall or a lost peer is noticed instead of hanging.
pub const DEFAULT_KEEPALIVE_IDLE_SECS: u64 = 60;

/// libpq's `sslmode`, with libpq's meaning (default `prefer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, else plain; the certificate is not
    /// checked (as libpq): protects against listening, not against an impostor.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked (as libpq).
    Require,
    /// TLS; the server's certificate must chain to a trusted root.
    VerifyCa,
    /// TLS; the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

impl SslMode {
    /// The name in a URL, e.g. `verify-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            // libpq's `allow` tries plain first; over TLS-capable servers we
            // would rather encrypt, which is what `prefer` does.
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(StoreError::Config(format!(
                "sslmode={other:?} in the database URL is not one of disable, prefer, require, verify-ca, verify-full"
            )))
            }
        })
    }
}

/// Connection settings besides the URL.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Wait at most this long for a connection.
    pub connect_timeout: Duration,
    /// The server cancels a statement running longer (`statement_timeout`;
    /// zero: no limit). Migrations run without it.
    pub statement_timeout: Duration,
    /// TCP keepalive idle time.
    pub keepalive_idle: Duration,
    /// PEM file of the root certificates for `verify-ca`/`verify-full`
    /// (the URL's `sslrootcert` wins); without one, the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS),
            statement_timeout: Duration::from_secs(DEFAULT_STATEMENT_TIMEOUT_SECS),
            keepalive_idle: Duration::from_secs(DEFAULT_KEEPALIVE_IDLE_SECS),
            ca_file: None,
        }
    }
}

/// A database URL split into what tokio-postgres parses and what we do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TlsUrl {
    /// The URL without `sslmode` and `sslrootcert`.
    pub rest: String,
    /// The URL's `sslmode`, or the default.
    pub sslmode: SslMode,
    /// The URL's `sslrootcert`.
    pub root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of the query of `url`.
pub(crate) fn split_tls_params(url: &str) -> Result<TlsUrl, StoreError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    let mut sslmode = SslMode::default();
    let mut root_cert = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => sslmode = v.parse()?,
            Some(("sslrootcert", v)) => root_cert = Some(PathBuf::from(v)),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok(TlsUrl { rest, sslmode, root_cert })
}

/// The tokio-postgres configuration of `url` with `opts` applied, and the
/// TLS mode and root file to connect with.
pub(crate) fn config(
    url: &str,
    opts: &ConnectOptions,
) -> Result<(tokio_postgres::Config, SslMode, Option<PathBuf>), StoreError> {
    let u = split_tls_params(url)?;
    let mut cfg: tokio_postgres::Config =
        u.rest.parse().map_err(|e| StoreError::Config(format!("database URL: {e}")))?;
    cfg.ssl_mode(match u.sslmode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    cfg.connect_timeout(opts.connect_timeout).keepalives(true).keepalives_idle(opts.keepalive_idle);
    // A session setting sent with the start-up packet: every pooled
    // connection has it from its first statement on.
    let timeout = format!("-c statement_timeout={}", opts.statement_timeout.as_millis());
    let options = match cfg.get_options() {
        Some(o) if !o.is_empty() => format!("{o} {timeout}"),
        _ => timeout,
    };
    cfg.options(options);
    Ok((cfg, u.sslmode, u.root_cert.or_else(|| opts.ca_file.clone())))
}

/// The rustls client configuration for `mode` (never used with `disable`:
/// tokio-postgres then asks for no TLS at all).
pub(crate) fn tls_config(mode: SslMode, ca_file: Option<&Path>) -> Result<rustls::ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => {
            Verifier { chain: None, check_name: false, provider: provider.clone() }
        }
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(roots(ca_file)?);
            let chain = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| StoreError::Config(format!("TLS roots: {e}")))?;
            Verifier { chain: Some(chain), check_name: mode == SslMode::VerifyFull, provider: provider.clone() }
        }
    };
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(cfg)
}

/// A failed first connection, said plainly when TLS is why: the server
/// offers none, or its certificate is not trusted for this mode.
pub(crate) fn explain(e: StoreError, mode: SslMode) -> StoreError {
    let text = e.to_string();
    if mode == SslMode::Disable || mode == SslMode::Prefer || !text.contains("TLS") {
        return e;
    }
    StoreError::Config(format!(
        "cannot connect to the database with TLS (sslmode={mode}): {text}. The server must have TLS on \
         (ssl = on){what}",
        what = match mode {
            SslMode::VerifyFull => ", with a certificate that chains to the CA file's roots and names the URL's host",
            SslMode::VerifyCa => ", with a certificate that chains to the CA file's roots",
            _ => "",
        }
    ))
}

/// The trusted roots: the certificates of `ca_file`, else the system's.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = match ca_file {
        Some(p) => {
            let pem =
                std::fs::read(p).map_err(|e| StoreError::Config(format!("database CA file {}: {e}", p.display())))?;
            rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<_, _>>()
                .map_err(|e| StoreError::Config(format!("database CA file {}: {e}", p.display())))?
        }
        None => rustls_native_certs::load_native_certs()
            .map_err(|e| StoreError::Config(format!("system root certificates: {e}")))?,
    };
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        let from = ca_file.map_or_else(|| "the system".to_owned(), |p| p.display().to_string());
        return Err(StoreError::Config(format!(
            "no usable root certificate in {from}: verify-ca and verify-full need one (set sslrootcert or the CA file)"
        )));
    }
    Ok(roots)
}

/// Checks the server's certificate as the mode says; the handshake's
/// signatures are always checked (the session key belongs to the certificate).
#[derive(Debug)]
struct Verifier {
    /// Chain check against the roots; `None`: any certificate (prefer/require).
    chain: Option<Arc<WebPkiServerVerifier>>,
    /// Whether the certificate must name the host (verify-full).
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            // verify-ca: a trusted chain is enough, whatever name it carries.
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)) if !self.check_name => {
                Ok(ServerCertVerified::assertion())
            }
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_takes_every_libpq_mode_and_refuses_others() {
        for m in [SslMode::Disable, SslMode::Prefer, SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            assert_eq!(m.as_str().parse::<SslMode>().unwrap(), m);
        }
        assert_eq!("allow".parse::<SslMode>().unwrap(), SslMode::Prefer);
        let e = "verify_full".parse::<SslMode>().unwrap_err().to_string();
        assert!(e.contains("verify_full") && e.contains("verify-full"), "{e}");
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_the_url() {
        let u =
            split_tls_params("postgres://u@h/db?sslmode=verify-full&application_name=lw&sslrootcert=/ca.pem").unwrap();
        assert_eq!(u.rest, "postgres://u@h/db?application_name=lw");
        assert_eq!(u.sslmode, SslMode::VerifyFull);
        assert_eq!(u.root_cert, Some(PathBuf::from("/ca.pem")));
        let u = split_tls_params("postgres://u@h/db").unwrap();
        assert_eq!((u.rest.as_str(), u.sslmode, u.root_cert), ("postgres://u@h/db", SslMode::Prefer, None));
        let u = split_tls_params("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!((u.rest.as_str(), u.sslmode), ("postgres://u@h/db", SslMode::Disable));
        assert!(split_tls_params("postgres://u@h/db?sslmode=sometimes").is_err());
    }

    #[test]
    fn the_config_carries_the_timeouts_and_keepalives() {
        let opts = ConnectOptions { statement_timeout: Duration::from_secs(5), ..Default::default() };
        let (cfg, mode, ca) = config("postgres://u@h/db?sslmode=require&options=-c%20search_path%3Dx", &opts).unwrap();
        assert_eq!(mode, SslMode::Require);
        assert_eq!(ca, None);
        assert_eq!(cfg.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        assert_eq!(cfg.get_connect_timeout(), Some(&Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS)));
        assert!(cfg.get_keepalives());
        assert_eq!(cfg.get_options(), Some("-c search_path=x -c statement_timeout=5000"));
    }

    #[test]
    fn verification_modes_need_a_root() {
        let dir = std::env::temp_dir().join(format!("lw-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = tls_config(SslMode::VerifyFull, Some(&empty)).unwrap_err().to_string();
        assert!(e.contains("no usable root certificate"), "{e}");
        assert!(tls_config(SslMode::Require, None).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}
