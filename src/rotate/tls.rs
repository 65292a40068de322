//! TLS to PostgreSQL for rotation: what `sslmode` in the database secret asks,
//! with rustls on ring (the crypto provider the AWS client already carries).
//!
//! - `verify-full` (the default): the certificate chains to a trusted CA *and*
//!   names the host connected to;
//! - `verify-ca`: the certificate chains to a trusted CA;
//! - `require`: TLS, any certificate (encrypts, does not authenticate the server);
//! - `disable`: no TLS, only when written out in the secret.
//!
//! Trusted CAs: the rotate table's `ca_file`, else `PGSSLROOTCERT`, else the system
//! bundle (`SSL_CERT_FILE`, then the usual distribution paths). For RDS, point
//! either at Amazon's RDS CA bundle. libpq's `prefer` and `allow`, which fall back
//! to plaintext, are refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// `sslmode`, as libpq spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS, any certificate.
    Require,
    /// TLS, a certificate from a trusted CA.
    VerifyCa,
    /// TLS, a certificate from a trusted CA for the host connected to.
    #[default]
    VerifyFull,
}

impl SslMode {
    /// Parses the secret's `sslmode`.
    ///
    /// # Errors
    /// What is accepted, for anything else (`prefer` and `allow` included).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "disable" => Ok(Self::Disable),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            other => Err(format!(
                "the database secret's sslmode `{other}` is not one envgate uses: write verify-full (the default), verify-ca, require, or disable"
            )),
        }
    }
}

/// Where the trusted CAs come from: `ca_file`, else `PGSSLROOTCERT`, else the
/// system bundle.
#[must_use]
pub fn ca_bundle(
    ca_file: Option<&str>,
    pgsslrootcert: Option<&str>,
    ssl_cert_file: Option<&str>,
) -> Option<PathBuf> {
    ca_file
        .or(pgsslrootcert)
        .map(PathBuf::from)
        .or_else(|| crate::trust::system_bundle(ssl_cert_file.map(std::ffi::OsStr::new)))
}

fn roots(bundle: Option<&Path>) -> Result<RootCertStore, String> {
    let path = bundle.ok_or_else(|| {
        "no CA bundle to check the database's certificate against: set PGSSLROOTCERT or rotate.ca_file".to_owned()
    })?;
    crate::trust::bundle_roots(path).map_err(|error| {
        format!(
            "{error}: point PGSSLROOTCERT or rotate.ca_file at the PEM bundle of the database's CA"
        )
    })
}

/// The rustls client configuration for `mode` (not called for `disable`).
///
/// # Errors
/// Why the trusted CAs could not be loaded.
pub fn client_config(mode: SslMode, bundle: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?;
    let config = match mode {
        SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        SslMode::VerifyCa => {
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots(bundle)?), provider)
                    .build()
                    .map_err(|error| error.to_string())?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
                .with_no_client_auth()
        }
        SslMode::VerifyFull | SslMode::Disable => builder
            .with_root_certificates(roots(bundle)?)
            .with_no_client_auth(),
    };
    Ok(config)
}

/// `verify-ca`: the chain must verify; the name need not match.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require`: any certificate; the handshake's signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmodes_that_fall_back_to_plaintext_are_refused() {
        assert_eq!(SslMode::parse("verify-full"), Ok(SslMode::VerifyFull));
        assert_eq!(SslMode::parse("disable"), Ok(SslMode::Disable));
        assert!(
            SslMode::parse("prefer")
                .unwrap_err()
                .contains("verify-full")
        );
        assert!(SslMode::parse("allow").is_err());
    }

    #[test]
    fn the_bundle_is_ca_file_then_pgsslrootcert() {
        assert_eq!(
            ca_bundle(Some("/a.pem"), Some("/b.pem"), None),
            Some(PathBuf::from("/a.pem"))
        );
        assert_eq!(
            ca_bundle(None, Some("/b.pem"), None),
            Some(PathBuf::from("/b.pem"))
        );
    }
}
