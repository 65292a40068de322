//! Trusted CA certificates, for HTTPS to AWS and TLS to PostgreSQL: which bundle
//! file to read and the root store it makes. One parse serves both the check (an
//! unusable bundle is named, with the certificate's position) and the connections.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

/// Bundles of trusted root certificates, by distribution.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The largest CA bundle envgate reads.
const MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a CA bundle cannot be the trust store.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The file could not be read.
    #[error("cannot read the CA bundle {path}: {reason}")]
    Unreadable {
        /// The bundle.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// A section is not PEM, or a certificate cannot be a trust anchor.
    #[error("certificate {position} of the CA bundle {path} {why}")]
    Unusable {
        /// The bundle.
        path: PathBuf,
        /// The certificate's position, from 1.
        position: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The bundle holds no certificate.
    #[error("the CA bundle {path} holds no certificate")]
    Empty {
        /// The bundle.
        path: PathBuf,
    },
}

/// The system's bundle: `ssl_cert_file` (`SSL_CERT_FILE`) if it names a file, else
/// the first distribution bundle that exists.
#[must_use]
pub fn system_bundle(ssl_cert_file: Option<&OsStr>) -> Option<PathBuf> {
    ssl_cert_file
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|path| path.is_file())
}

/// The trust anchors of the PEM bundle at `path`.
///
/// # Errors
/// Which certificate of the file cannot be used and why, or why the file cannot be
/// read or holds none.
pub fn bundle_roots(path: &Path) -> Result<RootCertStore, BundleError> {
    roots_of(&read_bundle(path)?, path)
}

/// The PEM text of the bundle at `path`, once every certificate in it was
/// checked as [`bundle_roots`] does.
///
/// # Errors
/// As [`bundle_roots`].
pub fn checked_bundle(path: &Path) -> Result<Vec<u8>, BundleError> {
    let pem = read_bundle(path)?;
    roots_of(&pem, path)?;
    Ok(pem)
}

fn read_bundle(path: &Path) -> Result<Vec<u8>, BundleError> {
    crate::fsio::read_regular(path, MAX_BUNDLE_BYTES).map_err(|error| BundleError::Unreadable {
        path: path.to_owned(),
        reason: crate::fsio::io_reason(&error),
    })
}

fn roots_of(pem: &[u8], path: &Path) -> Result<RootCertStore, BundleError> {
    let unusable = |position: usize, why: String| BundleError::Unusable {
        path: path.to_owned(),
        position,
        why,
    };
    let certificates = match plain_certificates(pem) {
        Some(certificates) => certificates,
        None => pem_certificates(pem).map_err(|(position, why)| unusable(position, why))?,
    };
    let mut roots = RootCertStore::empty();
    for (index, certificate) in certificates.into_iter().enumerate() {
        roots
            .add(certificate)
            .map_err(|error| unusable(index + 1, format!("cannot be a trust anchor ({error})")))?;
    }
    if roots.is_empty() {
        return Err(BundleError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(roots)
}

/// The platform's roots (`SSL_CERT_DIR`, OpenSSL's directories), where no bundle
/// file was found.
///
/// # Errors
/// When there are none.
pub fn platform_roots() -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if roots.is_empty() {
        return Err(
            "no trusted CA certificates found: point SSL_CERT_FILE at a PEM bundle of trusted CAs (Debian: apt-get install ca-certificates)"
                .to_owned(),
        );
    }
    Ok(roots)
}

/// The certificates of a bundle in the plain form distributions write (only
/// `CERTIFICATE` sections of strictly padded base64 lines, any text between
/// sections), decoded by the `base64` crate; `None` for anything else.
/// rustls-pki-types' PEM parser decodes in constant time (it is made for private
/// keys), about 70 instructions a byte: a system bundle would cost milliseconds
/// per HTTPS launch. What this accepts, that parser accepts too.
fn plain_certificates(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).ok()?;
    let mut certificates = Vec::new();
    // The base64 of the section being read, lines joined.
    let mut section: Option<String> = None;
    for line in text.lines() {
        match (&mut section, line) {
            (None, "-----BEGIN CERTIFICATE-----") => section = Some(String::with_capacity(2048)),
            (None, other) if other.starts_with("-----") => return None,
            (None, _) => {}
            (Some(encoded), "-----END CERTIFICATE-----") => {
                // Strict: only the alphabet, padding only at the end.
                let der = base64::engine::general_purpose::STANDARD
                    .decode(encoded.as_bytes())
                    .ok()?;
                certificates.push(der.into());
                section = None;
            }
            (Some(encoded), other) => encoded.push_str(other),
        }
    }
    section.is_none().then_some(certificates)
}

/// The certificates of a bundle read by rustls-pki-types' PEM parser, or the
/// position of the first section it refuses and why.
fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, (usize, String)> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .enumerate()
        .map(|(index, certificate)| {
            certificate.map_err(|error| (index + 1, format!("is not valid PEM ({error})")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A CA certificate made for these tests (public; its key was not kept).
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBkzCCATmgAwIBAgIUDzjXuMmPOphKeG77tt8NBSUFfjUwCgYIKoZIzj0EAwIw\nHzEdMBsGA1UEAwwUZW52Z2F0ZSB1bml0IHRlc3QgQ0EwHhcNMjYxMTMwMTYyODMx\nWhcNMzYxMTI3MTYyODMxWjAfMR0wGwYDVQQDDBRlbnZnYXRlIHVuaXQgdGVzdCBD\nQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMA0NP31SliWnePUlV7Rk0ZbaKb9\nk9A6zYYDuJTJTYKVEDLiXny1sBtrBvO7eRLnZmGt9xWGSGjE1Jac0V7LmtejUzBR\nMB0GA1UdDgQWBBTjfJm/56JoaQzXblj9YBRBHUHk9jAfBgNVHSMEGDAWgBTjfJm/\n56JoaQzXblj9YBRBHUHk9jAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA\nMEUCIDcFI/9yN1q1n7G2JP+eoRGMOjhoUA7tH90COZaeImaYAiEAgtYjtRT6YB94\nu0PxbCGjg/IciWfIJ6i3w+dXIkBeuUc=\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_fast_bundle_reader_reads_what_the_pem_parser_reads() {
        let comments = format!("# Issuer: test\n{TEST_CA}\n# another\n{TEST_CA}");
        let crlf = TEST_CA.replace('\n', "\r\n");
        let rewrapped = {
            let body: String = TEST_CA
                .lines()
                .filter(|line| !line.starts_with("-----"))
                .collect();
            format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
        };
        for bundle in [TEST_CA.to_owned(), comments, crlf, rewrapped] {
            let plain = plain_certificates(bundle.as_bytes()).expect("the plain form");
            assert_eq!(Ok(plain), pem_certificates(bundle.as_bytes()), "{bundle}");
        }
        // Anything else goes to rustls-pki-types' parser.
        let other = format!(
            "-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n{TEST_CA}"
        );
        assert_eq!(plain_certificates(other.as_bytes()), None);
        assert_eq!(
            plain_certificates(b"-----BEGIN CERTIFICATE-----\nno end\n"),
            None
        );
        assert_eq!(
            plain_certificates(
                b"-----BEGIN CERTIFICATE-----\nQUJD\tRA==\n-----END CERTIFICATE-----\n"
            ),
            None
        );
        assert_eq!(
            plain_certificates(
                b"-----BEGIN CERTIFICATE-----\nRA==\nQUJD\n-----END CERTIFICATE-----\n"
            ),
            None
        );
        assert_eq!(
            plain_certificates(b"-----BEGIN CERTIFICATE-----\nQUJ\n-----END CERTIFICATE-----\n"),
            None
        );
    }

    #[test]
    fn a_usable_bundle_is_the_trust_store_and_an_unusable_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let usable = bundle("usable.pem", &format!("{TEST_CA}\n{TEST_CA}"));
        assert_eq!(bundle_roots(&usable).unwrap().len(), 2);
        let cases = [
            (
                "not-anchor.pem",
                format!(
                    "{TEST_CA}-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"
                ),
                "certificate 2 of the CA bundle {} cannot be a trust anchor",
            ),
            (
                "not-pem.pem",
                "-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n".to_owned(),
                "certificate 1 of the CA bundle {} is not valid PEM",
            ),
            (
                "empty.pem",
                String::new(),
                "the CA bundle {} holds no certificate",
            ),
        ];
        for (name, text, says) in cases {
            let path = bundle(name, &text);
            let error = bundle_roots(&path).unwrap_err().to_string();
            let says = says.replace("{}", &path.display().to_string());
            assert!(error.starts_with(&says), "{error}");
        }
        let missing = dir.path().join("missing.pem");
        let error = bundle_roots(&missing).unwrap_err().to_string();
        assert!(error.starts_with("cannot read the CA bundle"), "{error}");
    }

    /// Bundles made from pieces of the test certificate's PEM text: its lines,
    /// rewrapped or cut, with CRLF, comments, blank lines, stray characters and
    /// other section headers between and inside them.
    fn bundle_text() -> impl Strategy<Value = String> {
        let body: Vec<String> = TEST_CA
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .map(str::to_owned)
            .collect();
        let joined = body.concat();
        let framed =
            |body: &str| format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----");
        let whole = vec![
            TEST_CA.trim_end().to_owned(),
            framed(&joined),
            framed(&joined[..joined.len() - 4]),
            framed(&format!("{joined}=")),
        ];
        let piece = prop_oneof![
            4 => proptest::sample::select(whole),
            4 => proptest::sample::select(body),
            2 => (0..joined.len(), 1..80usize).prop_map(move |(start, len)| {
                joined[start..(start + len).min(joined.len())].to_owned()
            }),
            2 => Just("-----BEGIN CERTIFICATE-----".to_owned()),
            2 => Just("-----END CERTIFICATE-----".to_owned()),
            1 => Just("-----BEGIN TRUSTED CERTIFICATE-----".to_owned()),
            1 => Just("# Issuer: test".to_owned()),
            1 => Just(String::new()),
            1 => "[ =\t\r*A-Za-z0-9+/]{0,6}",
        ];
        let line_end = prop_oneof![Just("\n"), Just("\r\n")];
        proptest::collection::vec((piece, line_end), 0..24).prop_map(|lines| {
            lines
                .into_iter()
                .map(|(line, end)| line + end)
                .collect::<String>()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// What the fast reader reads, the PEM parser reads the same way; so the
        /// fast path never trusts a certificate the parser would not give.
        #[test]
        fn the_fast_reader_never_reads_what_the_pem_parser_reads_otherwise(text in bundle_text()) {
            if let Some(plain) = plain_certificates(text.as_bytes()) {
                prop_assert_eq!(Ok(plain), pem_certificates(text.as_bytes()), "{}", text);
            }
        }

        /// A whole certificate, framed, is read by the fast reader.
        #[test]
        fn framed_certificates_are_read_fast(copies in 1..4usize, crlf: bool) {
            let mut text = TEST_CA.repeat(copies);
            if crlf {
                text = text.replace('\n', "\r\n");
            }
            let plain = plain_certificates(text.as_bytes());
            prop_assert_eq!(plain.map(|certificates| certificates.len()), Some(copies));
        }
    }
}
