//! Docs (placeholder while building).
use crate::cli::DocsFormat;
use crate::error::Error;
use crate::schema::Schema;
use std::path::Path;
/// JSON Schema.
#[must_use]
pub fn json_schema() -> String {
    String::new()
}
/// Run docs.
///
/// # Errors
/// Output errors.
pub fn run(
    _schema: &Schema,
    _format: DocsFormat,
    _output: Option<&Path>,
    _check: Option<&Path>,
) -> Result<u8, Error> {
    Ok(0)
}
