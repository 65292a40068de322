//! The HTTP client the AWS SDK sends its requests through: hyper's pooled HTTP/1.1
//! client over rustls (ring), trusting the root store envgate has read and checked.
//!
//! The SDK's own HTTPS client takes trust only as PEM text. It kept the bundle,
//! copied it for each connector and decoded it again with its constant-time decoder
//! (meant for private keys): a second parse of every certificate on every HTTPS
//! launch and two copies of the bundle in memory. This client is given the root
//! store built from the one parse envgate does anyway (to refuse an unusable bundle
//! with a clear message), and offers only HTTP/1.1, which is all Secrets Manager
//! and STS need (docs/DECISIONS.md, "The HTTPS client is envgate's own").

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// A client trusting `roots`, for `https://` endpoints (plain `http://` too).
///
/// # Errors
/// Why rustls refused the configuration.
pub(crate) fn client(roots: rustls::RootCertStore) -> Result<SharedHttpClient, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(SharedHttpClient::new(Https {
        tls,
        connectors: Mutex::default(),
    }))
}

/// A connect timeout and a read timeout, as the SDK sets them.
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug)]
struct Https {
    tls: rustls::ClientConfig,
    /// The SDK asks for a connector before every attempt: one per timeout settings
    /// (each with its pool of kept-alive connections), made on first use.
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

impl HttpClient for Https {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, connector)) = connectors.iter().find(|(made, _)| *made == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(Connector::new(self.tls.clone(), timeouts));
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

type Pool = Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>;

/// Sends requests through one pool of connections.
#[derive(Debug)]
struct Connector {
    pool: Pool,
    /// How long an answer (its headers) may take, connecting included.
    read_timeout: Option<Duration>,
}

impl Connector {
    fn new(tls: rustls::ClientConfig, (connect_timeout, read_timeout): Timeouts) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(connect_timeout);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let pool = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(https);
        Self { pool, read_timeout }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        let answer = self.pool.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answered = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, answer)
                    .await
                    .map_err(|_| ConnectorError::timeout(Box::new(NoAnswer(limit))))?,
                None => answer.await,
            };
            let response = answered.map_err(connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// No answer within the read timeout.
#[derive(Debug)]
struct NoAnswer(Duration);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no answer within {}s", self.0.as_secs_f32())
    }
}

impl Error for NoAnswer {}

/// The SDK's view of a failed request, which decides whether it is retried: the
/// SDK's own client's classification, except that a TLS refusal (an untrusted
/// certificate, a name it does not carry, an alert) is not retried, since a new
/// connection would be refused the same way.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let refused_by_tls = chain(&error).any(<dyn Error>::is::<rustls::Error>);
    let has_io_cause = chain(&error).any(<dyn Error>::is::<std::io::Error>);
    let hyper = chain(&error).find_map(|cause| cause.downcast_ref::<hyper::Error>());
    let classify: fn(Box<dyn Error + Send + Sync>) -> ConnectorError = match hyper {
        _ if refused_by_tls => |error| ConnectorError::other(error, None),
        Some(hyper) if hyper.is_timeout() => ConnectorError::timeout,
        Some(hyper) if hyper.is_user() => ConnectorError::user,
        Some(hyper) if hyper.is_closed() || hyper.is_canceled() || has_io_cause => {
            ConnectorError::io
        }
        Some(hyper) if hyper.is_incomplete_message() => {
            |error| ConnectorError::other(error, Some(ErrorKind::TransientError))
        }
        Some(_) => |error| ConnectorError::other(error, None),
        None if error.is_connect() || has_io_cause => ConnectorError::io,
        None => |error| ConnectorError::other(error, None),
    };
    classify(error.into())
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
    use super::chain;

    #[test]
    fn the_chain_reaches_an_error_inside_an_io_error() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::other(std::io::Error::other(tls));
        assert!(chain(&io).any(<dyn std::error::Error>::is::<rustls::Error>));
    }
}
