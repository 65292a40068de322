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

/// Renders `schema` in `format`.
#[must_use]
pub fn render(schema: &Schema, format: DocsFormat) -> String {
    let schema_arg = &schema.source.name;
    match format {
        DocsFormat::Markdown => markdown::render(
            schema,
            &format!("envgate --schema {schema_arg} docs --output docs/ENVIRONMENT_VARIABLES.md"),
        ),
        DocsFormat::Dotenv => dotenv::render(
            schema,
            &format!(
                "envgate --schema {schema_arg} docs --format dotenv --output examples/.env.example"
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
    let rendered = render(schema, format);
    if let Some(path) = check {
        return Ok(check_file(schema, format, path, &rendered));
    }
    match output {
        Some(path) => crate::write_atomically(path, &rendered)?,
        None => print!("{rendered}"),
    }
    Ok(exit::OK)
}

fn check_file(schema: &Schema, format: DocsFormat, path: &Path, rendered: &str) -> u8 {
    let format_arg = match format {
        DocsFormat::Markdown => "",
        DocsFormat::Dotenv => " --format dotenv",
    };
    let regenerate = format!(
        "envgate --schema {} docs{format_arg} --output {}",
        schema.source.name,
        path.display()
    );
    let current = match std::fs::read_to_string(path) {
        Ok(current) => current,
        Err(error) => {
            println!(
                "{} cannot be read ({}); create it with: {regenerate}",
                path.display(),
                crate::resolve::io_reason(&error)
            );
            return exit::STALE;
        }
    };
    if current == rendered {
        println!("{} is up to date", path.display());
        return exit::OK;
    }
    let diff = TextDiff::from_lines(current.as_str(), rendered);
    let generated = format!("{} (generated)", path.display());
    print!(
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(&path.display().to_string(), &generated)
    );
    println!(
        "{} is stale; regenerate it with: {regenerate}",
        path.display()
    );
    exit::STALE
}
