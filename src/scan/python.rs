//! Environment reads in one Python module, found on tree-sitter's syntax tree
//! (never by matching text, so reads in comments and strings are not reads).
//!
//! Receivers are resolved from their bindings in the module: `import os` (any
//! alias), `from os import environ, getenv` (any alias), `E = os.environ`;
//! django-environ (`import environ`; `env = environ.Env(…)` or `FileAwareEnv`,
//! any name), environs (`env = Env()`), python-decouple (`from decouple import
//! config`). Pure: source bytes in, reads out.

use std::cell::RefCell;
use std::collections::HashMap;

use tree_sitter::{Node, Parser, Tree};

/// The typed readers of django-environ and environs (`env.bool("X")`).
const ENV_METHODS: &[&str] = &[
    "str",
    "bool",
    "int",
    "float",
    "list",
    "tuple",
    "dict",
    "json",
    "url",
    "db",
    "db_url",
    "cache",
    "cache_url",
    "email",
    "email_url",
    "path",
    "decimal",
    "date",
    "datetime",
    "timedelta",
    "uuid",
    "log_level",
];

/// A literal default written in the code.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string.
    Text(String),
    /// `True` / `False`.
    Bool(bool),
    /// An integer as written.
    Int(i64),
    /// A float.
    Float(f64),
    /// `None`: no default.
    None,
    /// An expression that is not a literal.
    Expression,
}

/// What the code converts the value to, when it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// `env.bool`, `cast=bool`.
    Bool,
    /// `env.int`, `cast=int`.
    Int,
    /// `env.float`, `cast=float`.
    Float,
    /// `env.list`, `env.tuple`, decouple's `Csv()`.
    List,
    /// `env.url`, `env.db`, `env.cache`, `env.email` and their `_url` forms.
    Url,
    /// `env.json`, `env.dict`.
    Json,
}

/// One read of an environment variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// The name read; `None` when it is not a literal (a dynamic read).
    pub name: Option<String>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte range of the read in the source.
    pub span: std::ops::Range<usize>,
    /// The default the code gives, when it gives one.
    pub default: Option<Literal>,
    /// The conversion the code asks for.
    pub cast: Option<Cast>,
    /// The code runs without the variable (`.get`, `getenv`, `in`): it is optional
    /// to the code even without a default.
    pub optional: bool,
}

/// Why a file was not scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparsable {
    /// 1-based line of the first problem (1 when the whole file is refused).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// What a name in the module is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    /// The `os` module.
    Os,
    /// `os.environ`.
    Environ,
    /// `os.getenv`.
    Getenv,
    /// The `environ` module (django-environ).
    DjangoEnviron,
    /// The `environs` module.
    Environs,
    /// The `decouple` module.
    Decouple,
    /// `Env` / `FileAwareEnv`, the class.
    EnvClass,
    /// An `Env` instance.
    EnvObject,
    /// decouple's `config`.
    DecoupleConfig,
}

/// Every environment read of the module `source`.
///
/// # Errors
/// [`Unparsable`] for a file that is not UTF-8 text, or that Python would refuse.
pub fn reads(source: &[u8]) -> Result<Vec<Read>, Unparsable> {
    if source.contains(&0) {
        return Err(Unparsable {
            line: 1,
            reason: "a binary file (it holds NUL bytes)".to_owned(),
        });
    }
    let text = std::str::from_utf8(source).map_err(|error| Unparsable {
        line: text_lines(&source[..error.valid_up_to()]),
        reason: "not UTF-8 (envgate reads Python source as UTF-8, as Python does by default)"
            .to_owned(),
    })?;
    // A read needs `environ`, `getenv` or `decouple` somewhere in the module (the
    // names of what it reads through): a module without any reads nothing, and is
    // not parsed at all. Most modules of a project are such.
    if !["environ", "getenv", "decouple"]
        .iter()
        .any(|word| text.contains(word))
    {
        return Ok(Vec::new());
    }
    let tree = parse(text)?;
    let root = tree.root_node();
    if root.has_error() {
        let line = first_error(root).map_or(1, |node| node.start_position().row + 1);
        return Err(Unparsable {
            line,
            reason: "a syntax error".to_owned(),
        });
    }
    let module = Module {
        text,
        bindings: bindings(root, text),
    };
    // A module that imports none of os, environ, environs or decouple reads nothing.
    if module.bindings.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    module.walk(root, &mut found);
    Ok(found)
}

/// The 1-based line a byte after `before` stands on.
fn text_lines(before: &[u8]) -> usize {
    before.split(|&byte| byte == b'\n').count()
}

fn parse(text: &str) -> Result<Tree, Unparsable> {
    thread_local! {
        /// One parser per walker thread: a parser keeps its stacks and buffers
        /// between modules instead of allocating them for each.
        static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
    }
    PARSER.with_borrow_mut(|slot| {
        if slot.is_none() {
            let mut parser = Parser::new();
            parser
                .set_language(&tree_sitter_python::LANGUAGE.into())
                .map_err(|_| Unparsable {
                    line: 1,
                    reason: "the Python grammar could not be loaded".to_owned(),
                })?;
            *slot = Some(parser);
        }
        slot.as_mut()
            .and_then(|parser| parser.parse(text, None))
            .ok_or_else(|| Unparsable {
                line: 1,
                reason: "the parser gave up".to_owned(),
            })
    })
}

fn first_error(node: Node<'_>) -> Option<Node<'_>> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut cursor = node.walk();
    let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
    children
        .into_iter()
        .filter(Node::has_error)
        .find_map(first_error)
        .or(Some(node).filter(Node::has_error))
}

/// Calls `visit` on every node of the tree, depth first, with one cursor (no
/// allocation per node: a large module has hundreds of thousands).
fn visit_all<'t>(root: Node<'t>, mut visit: impl FnMut(Node<'t>)) {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.is_named() {
            visit(node);
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// The names the module binds to the things envgate knows: imports first, then
/// assignments (twice, so `E = os.environ; F = E` resolves).
fn bindings(root: Node<'_>, text: &str) -> HashMap<String, Binding> {
    let mut bound = HashMap::new();
    let mut assignments = Vec::new();
    visit_all(root, |node| match node.kind() {
        "import_statement" => import(node, text, &mut bound),
        "import_from_statement" => import_from(node, text, &mut bound),
        "assignment" => assignments.push(node),
        _ => {}
    });
    if bound.is_empty() {
        return bound;
    }
    for _ in 0..2 {
        let module = Module {
            text,
            bindings: bound.clone(),
        };
        for node in &assignments {
            let (Some(left), Some(right)) = (
                node.child_by_field_name("left"),
                node.child_by_field_name("right"),
            ) else {
                continue;
            };
            if left.kind() != "identifier" {
                continue;
            }
            let value = if right.kind() == "call" {
                right
                    .child_by_field_name("function")
                    .and_then(|function| module.resolve(function))
                    .filter(|binding| *binding == Binding::EnvClass)
                    .map(|_| Binding::EnvObject)
            } else {
                module.resolve(right).filter(|binding| {
                    matches!(
                        binding,
                        Binding::Environ | Binding::Getenv | Binding::DecoupleConfig
                    )
                })
            };
            if let Some(binding) = value {
                bound.insert(node_text(left, text).to_owned(), binding);
            }
        }
    }
    bound
}

/// `import os`, `import os as o`, `import environ`, `import environs`, `import decouple`.
fn import(node: Node<'_>, text: &str, bound: &mut HashMap<String, Binding>) {
    let mut cursor = node.walk();
    for name in node.children_by_field_name("name", &mut cursor) {
        let (module, alias) = match name.kind() {
            "aliased_import" => (
                name.child_by_field_name("name").map(|n| node_text(n, text)),
                name.child_by_field_name("alias")
                    .map(|n| node_text(n, text)),
            ),
            _ => (Some(node_text(name, text)), None),
        };
        let binding = match module {
            Some("os") => Binding::Os,
            Some("environ") => Binding::DjangoEnviron,
            Some("environs") => Binding::Environs,
            Some("decouple") => Binding::Decouple,
            _ => continue,
        };
        if let Some(bound_as) = alias.or(module) {
            bound.insert(bound_as.to_owned(), binding);
        }
    }
}

/// `from os import environ as e, getenv`, `from environ import Env`, …
fn import_from(node: Node<'_>, text: &str, bound: &mut HashMap<String, Binding>) {
    let Some(module) = node
        .child_by_field_name("module_name")
        .map(|n| node_text(n, text))
    else {
        return;
    };
    let mut cursor = node.walk();
    for name in node.children_by_field_name("name", &mut cursor) {
        let (imported, alias) = match name.kind() {
            "aliased_import" => (
                name.child_by_field_name("name").map(|n| node_text(n, text)),
                name.child_by_field_name("alias")
                    .map(|n| node_text(n, text)),
            ),
            _ => (Some(node_text(name, text)), None),
        };
        let binding = match (module, imported) {
            ("os", Some("environ")) => Binding::Environ,
            ("os", Some("getenv")) => Binding::Getenv,
            ("environ", Some("Env" | "FileAwareEnv")) | ("environs", Some("Env")) => {
                Binding::EnvClass
            }
            ("decouple", Some("config")) => Binding::DecoupleConfig,
            _ => continue,
        };
        if let Some(bound_as) = alias.or(imported) {
            bound.insert(bound_as.to_owned(), binding);
        }
    }
}

fn node_text<'t>(node: Node<'_>, text: &'t str) -> &'t str {
    &text[node.byte_range()]
}

struct Module<'t> {
    text: &'t str,
    bindings: HashMap<String, Binding>,
}

impl Module<'_> {
    fn resolve(&self, node: Node<'_>) -> Option<Binding> {
        match node.kind() {
            "identifier" => self.bindings.get(node_text(node, self.text)).copied(),
            "attribute" => {
                let object = self.resolve(node.child_by_field_name("object")?)?;
                let attribute = node_text(node.child_by_field_name("attribute")?, self.text);
                match (object, attribute) {
                    (Binding::Os, "environ") => Some(Binding::Environ),
                    (Binding::Os, "getenv") => Some(Binding::Getenv),
                    (Binding::DjangoEnviron, "Env" | "FileAwareEnv")
                    | (Binding::Environs, "Env") => Some(Binding::EnvClass),
                    (Binding::Decouple, "config") => Some(Binding::DecoupleConfig),
                    _ => None,
                }
            }
            "parenthesized_expression" => self.resolve(node.named_child(0)?),
            _ => None,
        }
    }

    fn walk(&self, root: Node<'_>, found: &mut Vec<Read>) {
        visit_all(root, |node| {
            let read = match node.kind() {
                "subscript" => self.subscript(node),
                "call" => self.call(node),
                "comparison_operator" => self.membership(node),
                _ => None,
            };
            found.extend(read);
        });
    }

    /// `os.environ["X"]`.
    fn subscript(&self, node: Node<'_>) -> Option<Read> {
        if self.resolve(node.child_by_field_name("value")?)? != Binding::Environ {
            return None;
        }
        let key = node.child_by_field_name("subscript")?;
        Some(self.read(node, key, None, None, false))
    }

    /// `"X" in os.environ` / `not in`.
    fn membership(&self, node: Node<'_>) -> Option<Read> {
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
        let [left, operator @ .., right] = children.as_slice() else {
            return None;
        };
        let is_in = operator
            .iter()
            .any(|op| matches!(op.kind(), "in" | "not in"));
        (is_in && self.resolve(*right)? == Binding::Environ)
            .then(|| self.read(node, *left, None, None, true))
    }

    /// `os.environ.get("X", d)`, `getenv("X", d)`, `env.bool("X", default=d)`,
    /// `env("X")`, `config("X", default=d, cast=bool)`.
    fn call(&self, node: Node<'_>) -> Option<Read> {
        let function = node.child_by_field_name("function")?;
        let arguments = Arguments::of(node.child_by_field_name("arguments")?, self.text);
        // `os.getenv(…)` and `decouple.config(…)` name the function itself;
        // `os.environ.get(…)` and `env.bool(…)` a method of a known object.
        let (binding, method) = match (self.resolve(function), function.kind()) {
            (Some(binding), _) => (binding, None),
            (None, "attribute") => {
                let object = function.child_by_field_name("object")?;
                let method = node_text(function.child_by_field_name("attribute")?, self.text);
                (self.resolve(object)?, Some(method))
            }
            (None, _) => return None,
        };
        let key = arguments
            .positional
            .first()
            .copied()
            .or_else(|| arguments.keyword("var"));
        match (binding, method) {
            (Binding::Environ, Some("get" | "setdefault")) | (Binding::Getenv, None) => {
                let default = arguments
                    .positional
                    .get(1)
                    .copied()
                    .or_else(|| arguments.keyword("default"))
                    .map(|value| self.literal(value));
                Some(self.read(node, key?, default, None, true))
            }
            (Binding::EnvObject, Some(method)) if ENV_METHODS.contains(&method) => {
                let default = arguments
                    .keyword("default")
                    .map(|value| self.literal(value));
                Some(self.read(node, key?, default, cast_of_method(method), false))
            }
            (Binding::EnvObject, None) => {
                let default = arguments
                    .keyword("default")
                    .map(|value| self.literal(value));
                let cast = arguments.keyword("cast").and_then(|cast| self.cast(cast));
                Some(self.read(node, key?, default, cast, false))
            }
            (Binding::DecoupleConfig, None) => {
                let default = arguments
                    .keyword("default")
                    .map(|value| self.literal(value));
                let cast = arguments.keyword("cast").and_then(|cast| self.cast(cast));
                Some(self.read(node, key?, default, cast, false))
            }
            _ => None,
        }
    }

    fn read(
        &self,
        node: Node<'_>,
        key: Node<'_>,
        default: Option<Literal>,
        cast: Option<Cast>,
        optional: bool,
    ) -> Read {
        let position = node.start_position();
        let line_start = node.start_byte() - position.column;
        let column = self.text[line_start..node.start_byte()].chars().count() + 1;
        Read {
            name: self.string(key),
            line: position.row + 1,
            column,
            span: node.byte_range(),
            default: default.filter(|default| *default != Literal::None),
            cast,
            optional,
        }
    }

    /// A plain string literal's text (no interpolation, no concatenation).
    fn string(&self, node: Node<'_>) -> Option<String> {
        if node.kind() != "string" {
            return None;
        }
        let mut cursor = node.walk();
        let mut content = String::new();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "string_start" | "string_end" => {}
                "string_content" => content.push_str(node_text(child, self.text)),
                _ => return None,
            }
        }
        Some(content)
    }

    fn literal(&self, node: Node<'_>) -> Literal {
        match node.kind() {
            "string" => self.string(node).map_or(Literal::Expression, Literal::Text),
            "true" => Literal::Bool(true),
            "false" => Literal::Bool(false),
            "none" => Literal::None,
            "integer" => node_text(node, self.text)
                .replace('_', "")
                .parse()
                .map_or(Literal::Expression, Literal::Int),
            "float" => node_text(node, self.text)
                .replace('_', "")
                .parse()
                .map_or(Literal::Expression, Literal::Float),
            _ => Literal::Expression,
        }
    }

    /// `cast=bool`, `cast=int`, `cast=float`, `cast=Csv()`, `cast=list`.
    fn cast(&self, node: Node<'_>) -> Option<Cast> {
        let name = match node.kind() {
            "identifier" => node_text(node, self.text),
            "call" => node_text(node.child_by_field_name("function")?, self.text),
            _ => return None,
        };
        match name {
            "bool" => Some(Cast::Bool),
            "int" => Some(Cast::Int),
            "float" => Some(Cast::Float),
            "list" | "tuple" | "Csv" => Some(Cast::List),
            _ => None,
        }
    }
}

fn cast_of_method(method: &str) -> Option<Cast> {
    match method {
        "bool" => Some(Cast::Bool),
        "int" => Some(Cast::Int),
        "float" => Some(Cast::Float),
        "list" | "tuple" => Some(Cast::List),
        "url" | "db" | "db_url" | "cache" | "cache_url" | "email_url" => Some(Cast::Url),
        "json" | "dict" => Some(Cast::Json),
        _ => None,
    }
}

/// A call's arguments: positional, then keywords.
struct Arguments<'a> {
    positional: Vec<Node<'a>>,
    keywords: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Arguments<'a> {
    fn of(node: Node<'a>, text: &'a str) -> Self {
        let mut cursor = node.walk();
        let mut arguments = Self {
            positional: Vec::new(),
            keywords: Vec::new(),
        };
        for child in node.named_children(&mut cursor) {
            if child.kind() == "keyword_argument" {
                if let (Some(name), Some(value)) = (
                    child.child_by_field_name("name"),
                    child.child_by_field_name("value"),
                ) {
                    arguments.keywords.push((node_text(name, text), value));
                }
            } else if child.kind() != "comment" {
                arguments.positional.push(child);
            }
        }
        arguments
    }

    fn keyword(&self, name: &str) -> Option<Node<'a>> {
        self.keywords
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<Option<String>> {
        reads(source.as_bytes())
            .unwrap()
            .into_iter()
            .map(|read| read.name)
            .collect()
    }

    fn named(source: &str) -> Vec<String> {
        names(source).into_iter().flatten().collect()
    }

    #[test]
    fn the_standard_library_in_every_spelling() {
        let source = r#"
import os
import os as o
from os import environ, getenv as ge
E = os.environ
a = os.environ["A"]
b = os.environ.get("B", "b")
c = os.getenv("C")
d = o.environ.setdefault("D", "d")
e = "E" in os.environ
f = environ["F"]
g = ge("G", "g")
h = E.get("H")
i = "I" not in environ
"#;
        assert_eq!(named(source), ["A", "B", "C", "D", "E", "F", "G", "H", "I"]);
    }

    #[test]
    fn django_environ_environs_and_decouple() {
        let source = r#"
import environ
from environs import Env as Environs
from decouple import config, Csv
env = environ.Env(DEBUG=(bool, False))
other = Environs()
a = env("A")
b = env.bool("B", default=False)
c = env.db("C")
d = other.int("D", default=3)
e = config("E", default="x", cast=bool)
f = config("F", cast=Csv())
"#;
        let found = reads(source.as_bytes()).unwrap();
        let got: Vec<(String, Option<Cast>, Option<Literal>)> = found
            .into_iter()
            .map(|read| (read.name.unwrap(), read.cast, read.default))
            .collect();
        assert_eq!(
            got,
            [
                ("A".to_owned(), None, None),
                ("B".to_owned(), Some(Cast::Bool), Some(Literal::Bool(false))),
                ("C".to_owned(), Some(Cast::Url), None),
                ("D".to_owned(), Some(Cast::Int), Some(Literal::Int(3))),
                (
                    "E".to_owned(),
                    Some(Cast::Bool),
                    Some(Literal::Text("x".to_owned()))
                ),
                ("F".to_owned(), Some(Cast::List), None),
            ]
        );
    }

    #[test]
    fn comments_strings_and_unrelated_objects_are_not_reads() {
        let source = r#"
import os
# os.environ["IN_A_COMMENT"]
text = 'os.environ["IN_A_STRING"]'
doc = """os.getenv("IN_A_DOCSTRING")"""
mapping = {}
x = mapping.get("NOT_ENV")
y = mapping["NOT_ENV_EITHER"]
"#;
        assert!(names(source).is_empty(), "{:?}", names(source));
    }

    #[test]
    fn a_name_that_is_not_a_literal_is_dynamic() {
        let source =
            "import os\nname = 'X'\na = os.environ[name]\nb = os.getenv(f\"{name}_URL\")\n";
        assert_eq!(names(source), [None, None]);
    }

    #[test]
    fn positions_are_one_based_characters() {
        let source = "import os\nx = 'é'; y = os.getenv(\"A\")\n";
        let read = &reads(source.as_bytes()).unwrap()[0];
        assert_eq!((read.line, read.column), (2, 14));
    }

    #[test]
    fn what_is_not_python_source_is_unparsable() {
        assert!(reads(b"\x00\x01binary").is_err());
        assert!(reads(b"caf\xe9 = 1\n").is_err());
        let error = reads(b"import os\ndef broken(:\n    os.environ['X']\n").unwrap_err();
        assert_eq!(error.line, 2, "{error:?}");
        // A module that cannot read the environment is not parsed: not reported.
        assert_eq!(reads(b"def broken(:\n    pass\n"), Ok(Vec::new()));
    }
}
