//! Docs from the schema: Markdown, `.env.example`, and the JSON Schema of the
//! schema format. Rendering is pure; [`run`] is the IO edge (write atomically,
//! or compare with a committed file and show a unified diff).

mod dotenv;
mod english;
mod json_schema;
mod markdown;

use std::path::Path;

use similar::TextDiff;

use crate::cli::DocsFormat;
use crate::error::{Error, exit};
use crate::fsio::{print, read_regular, write_atomically};
use crate::schema::{Schema, VarSpec};

pub use english::{code, rule_sentences, type_sentence};

/// Title of the section of variables without a known group.
const UNGROUPED: &str = "Other variables";

/// Groups in `[groups]` order, then ungrouped variables; empty groups left out.
pub(crate) fn sections(schema: &Schema) -> Vec<(String, Vec<&VarSpec>)> {
    let mut sections: Vec<(String, Vec<&VarSpec>)> = schema
        .groups
        .iter()
        .map(|(key, title)| {
            let vars = schema
                .vars
                .iter()
                .filter(|var| var.group.as_deref() == Some(key.as_str()))
                .collect();
            (title.clone(), vars)
        })
        .collect();
    let known = |group: &str| schema.groups.iter().any(|(key, _)| key == group);
    let ungrouped: Vec<&VarSpec> = schema
        .vars
        .iter()
        .filter(|var| !var.group.as_deref().is_some_and(known))
        .collect();
    sections.push((UNGROUPED.to_owned(), ungrouped));
    sections.retain(|(_, vars)| !vars.is_empty());
    sections
}

/// Where someone must set a variable (required there, no default).
pub(crate) enum Requirement<'a> {
    /// In every environment.
    Everywhere,
    /// In none.
    Nowhere,
    /// In these.
    In(Vec<&'a str>),
}

pub(crate) fn requirement<'a>(schema: &'a Schema, var: &VarSpec) -> Requirement<'a> {
    let required: Vec<&str> = schema
        .environments
        .iter()
        .filter(|env| var.must_be_set_in(env))
        .map(String::as_str)
        .collect();
    if required.len() == schema.environments.len() {
        Requirement::Everywhere
    } else if required.is_empty() {
        Requirement::Nowhere
    } else {
        Requirement::In(required)
    }
}

/// The JSON Schema of the schema format.
#[must_use]
pub fn json_schema() -> String {
    json_schema::render()
}

/// Renders `schema` in `format`; `target` is the file it is meant for (named in
/// the "regenerate with" header; a conventional path when absent).
#[must_use]
pub fn render(schema: &Schema, format: DocsFormat, target: Option<&Path>) -> String {
    let schema_arg = &schema.source.name;
    let target = |default: &str| {
        target.map_or_else(|| default.to_owned(), |path| path.display().to_string())
    };
    match format {
        DocsFormat::Markdown => markdown::render(
            schema,
            &format!(
                "envgate --schema {schema_arg} docs --output {}",
                target("docs/ENVIRONMENT_VARIABLES.md")
            ),
        ),
        DocsFormat::Dotenv => dotenv::render(
            schema,
            &format!(
                "envgate --schema {schema_arg} docs --format dotenv --output {}",
                target("examples/.env.example")
            ),
        ),
    }
}

/// `envgate docs`: print, write (`--output`) or compare (`--check`).
///
/// # Errors
/// [`Error::Output`] when the output cannot be written.
pub fn run(
    schema: &Schema,
    format: DocsFormat,
    output: Option<&Path>,
    check: Option<&Path>,
) -> Result<u8, Error> {
    let rendered = render(schema, format, check.or(output));
    if let Some(path) = check {
        return check_file(schema, format, path, &rendered);
    }
    match output {
        Some(path) => {
            write_atomically(path, rendered.as_bytes()).map_err(|source| Error::Output {
                path: path.to_owned(),
                source,
            })?;
        }
        None => print(&rendered),
    }
    Ok(exit::OK)
}

/// The largest docs file `docs --check` reads.
const MAX_DOCS_BYTES: u64 = 16 * 1024 * 1024;

fn check_file(
    schema: &Schema,
    format: DocsFormat,
    path: &Path,
    rendered: &str,
) -> Result<u8, Error> {
    let format_arg = match format {
        DocsFormat::Markdown => "",
        DocsFormat::Dotenv => " --format dotenv",
    };
    let regenerate = format!(
        "envgate --schema {} docs{format_arg} --output {}",
        schema.source.name,
        path.display()
    );
    check_generated(path, rendered, &regenerate)
}

/// Writes `rendered` to `output` (atomically) or stdout, or, with `check`,
/// compares it with that file; `regenerate` is the command that writes it, less
/// the path.
///
/// # Errors
/// [`Error::Output`] (73) when the file cannot be written; [`Error::DocsUnreadable`]
/// (66) when the checked file cannot be read.
pub fn write_generated(
    rendered: &str,
    output: Option<&Path>,
    check: Option<&Path>,
    regenerate: &str,
) -> Result<u8, Error> {
    if let Some(path) = check {
        return check_generated(path, rendered, &format!("{regenerate} {}", path.display()));
    }
    match output {
        Some(path) => {
            write_atomically(path, rendered.as_bytes()).map_err(|source| Error::Output {
                path: path.to_owned(),
                source,
            })?;
        }
        None => print(rendered),
    }
    Ok(exit::OK)
}

/// Compares the file at `path` with what would be generated: exit 0 when equal,
/// 1 with a unified diff and the `regenerate` command when stale or missing.
///
/// # Errors
/// [`Error::DocsUnreadable`] (66) for a file that exists but cannot be read.
pub fn check_generated(path: &Path, rendered: &str, regenerate: &str) -> Result<u8, Error> {
    let current = match read_regular(path, MAX_DOCS_BYTES) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            print(&format!(
                "{} does not exist; create it with: {regenerate}\n",
                path.display(),
            ));
            return Ok(exit::STALE);
        }
        // A FIFO, a device or an unreadable file is a bad input, not a stale one.
        Err(source) => {
            return Err(Error::DocsUnreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    if current == rendered {
        print(&format!("{} is up to date\n", path.display()));
        return Ok(exit::OK);
    }
    let diff = TextDiff::from_lines(current.as_str(), rendered);
    let generated = format!("{} (generated)", path.display());
    print(
        &diff
            .unified_diff()
            .context_radius(3)
            .header(&path.display().to_string(), &generated)
            .to_string(),
    );
    print(&format!(
        "{} is stale; regenerate it with: {regenerate}\n",
        path.display()
    ));
    Ok(exit::STALE)
}
