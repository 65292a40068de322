//! The HTTP client the AWS SDK sends its requests through: the SDK's own
//! (`aws-smithy-http-client`, hyper over rustls with ring), with three settings
//! of envgate's:
//!
//! - trust: the one CA bundle `trust` read and checked (a clear error for an
//!   unusable bundle before any request), or none for a plain `http://` endpoint;
//! - proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either
//!   case) from the environment, as the SDK's default client reads them;
//! - a TLS refusal (an untrusted certificate, a name it does not carry, an alert)
//!   is final, not retried until the deadline: a new connection would be refused
//!   the same way.

use std::error::Error;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// The CAs a client trusts.
#[derive(Debug, Clone)]
pub(crate) enum Trust {
    /// The certificates of one PEM bundle, already checked.
    Bundle(Vec<u8>),
    /// The platform's roots (`SSL_CERT_DIR`, OpenSSL's directories).
    Platform,
    /// None: a plain `http://` endpoint uses no TLS.
    Nothing,
}

/// The SDK's HTTPS client trusting `trust`, through the environment's proxy.
///
/// # Errors
/// When the SDK refuses the TLS settings.
pub(crate) fn client(trust: Trust) -> Result<SharedHttpClient, BoxError> {
    let context = tls_context(trust)?;
    let sdk = Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = Connector::builder()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(context.clone())
            .proxy_config(ProxyConfig::from_env())
            .enable_tcp_nodelay(true);
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.build()
    });
    Ok(SharedHttpClient::new(TlsRefusalsAreFinal(sdk)))
}

fn tls_context(trust: Trust) -> Result<TlsContext, BoxError> {
    let store = match trust {
        Trust::Bundle(pem) => TrustStore::empty().with_pem_certificate(pem),
        Trust::Platform => TrustStore::default(),
        Trust::Nothing => TrustStore::empty(),
    };
    Ok(TlsContext::builder().with_trust_store(store).build()?)
}

/// POSTs `body` (JSON) to `url` through the same stack as the AWS clients (the
/// trust store, the environment's proxy); `Ok` for a 2xx answer. The reason of a
/// failure never repeats the URL (a webhook's path holds its token).
pub(crate) async fn post_json(trust: Trust, url: &str, body: Vec<u8>) -> Result<(), String> {
    let connector = Connector::builder()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context(trust).map_err(|_| "cannot set up TLS".to_owned())?)
        .proxy_config(ProxyConfig::from_env())
        .enable_tcp_nodelay(true)
        .build();
    let request = http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/json")
        .body(aws_smithy_types::body::SdkBody::from(body))
        .map_err(|_| "not a valid request URL".to_owned())?;
    let request = HttpRequest::try_from(request).map_err(|_| "not a valid request".to_owned())?;
    match connector.call(request).await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("answered HTTP {}", response.status().as_u16())),
        Err(error) if error.is_timeout() => Err("timed out".to_owned()),
        Err(error) if error.is_io() => Err("cannot connect".to_owned()),
        Err(error) if chain(&error).any(<dyn Error>::is::<rustls::Error>) => {
            Err("TLS refused the connection (check SSL_CERT_FILE)".to_owned())
        }
        Err(_) => Err("the request failed".to_owned()),
    }
}

/// The SDK's client, with TLS refusals classified as final.
#[derive(Debug)]
struct TlsRefusalsAreFinal(SharedHttpClient);

impl HttpClient for TlsRefusalsAreFinal {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FinalTls(self.0.http_connector(settings, components)))
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        config: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_base_client_config(components, config)
    }
}

#[derive(Debug)]
struct FinalTls(SharedHttpConnector);

impl HttpConnector for FinalTls {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let answer = self.0.call(request);
        HttpConnectorFuture::new(async move { answer.await.map_err(final_when_tls) })
    }
}

/// `error` as an error the SDK does not retry when TLS refused the connection;
/// unchanged otherwise.
fn final_when_tls(error: ConnectorError) -> ConnectorError {
    if chain(&error).any(<dyn Error>::is::<rustls::Error>) {
        ConnectorError::other(error.into_source(), None)
    } else {
        error
    }
}

/// `error` and its causes; an `io::Error`'s cause is its payload (hyper-rustls
/// nests rustls's error in one).
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&error| {
        match error.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => error.source(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_refusal_inside_an_io_error_is_final() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::other(std::io::Error::other(tls));
        let classified = final_when_tls(ConnectorError::io(Box::new(io)));
        assert!(classified.is_other() && classified.as_other().is_none());
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(final_when_tls(ConnectorError::io(Box::new(refused))).is_io());
    }
}
