//! Reading a GraphQL document, within limits, into what the gate works on:
//! the selected operation's root fields (through fragments and inline
//! fragments, under their response keys), their arguments, the selections
//! below them (fragments expanded, for masking answers) and where each sits
//! in the text (for rewriting it).
//!
//! Parsed with `apollo-parser` (Apollo's spec-compliant parser). Every limit
//! is set before the work it bounds: the document's bytes, the parser's
//! recursion and tokens, the nesting of selections, the number of root
//! fields and of aliases, and the size of the selection tree once fragments
//! are expanded (a fragment spreading another twice, ten levels deep, is a
//! thousand-fold tree from a few lines). Nothing here is kept past the call
//! that parses: what comes out is owned (`apollo-parser`'s trees are not
//! `Send`).

use core::ops::Range;
use std::sync::Arc;

use apollo_parser::Parser;
use apollo_parser::cst::{self, CstNode};

/// Largest document, bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Deepest nesting of selection sets, the operation's own being 1.
pub const MAX_DEPTH: usize = 32;
/// Most root fields an operation may select.
pub const MAX_ROOT_FIELDS: usize = 32;
/// Most aliases in the operation and the fragments it uses.
pub const MAX_ALIASES: usize = 256;
/// Most fields in the selection tree once fragments are expanded.
pub const MAX_SELECTIONS: usize = 10_000;
/// The parser's own bounds, so no document can make it recurse or scan
/// without end (each above what the limits above admit).
const PARSER_RECURSION: usize = 256;
const PARSER_TOKENS: usize = 50_000;

/// Why a document is refused, before anything is checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Larger than [`MAX_DOCUMENT_BYTES`] (or than the parser's token bound,
    /// or than [`MAX_SELECTIONS`] once expanded).
    #[error(
        "the document is larger than {MAX_DOCUMENT_BYTES} bytes or its fragments expand past {MAX_SELECTIONS} fields"
    )]
    TooLarge,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("the document nests deeper than {MAX_DEPTH}")]
    TooDeep,
    /// More than [`MAX_ROOT_FIELDS`] root fields.
    #[error("the operation selects more than {MAX_ROOT_FIELDS} root fields")]
    TooManyRootFields,
    /// More than [`MAX_ALIASES`] aliases.
    #[error("the document holds more than {MAX_ALIASES} aliases")]
    TooManyAliases,
    /// Not an executable GraphQL document, or no single operation to run, or
    /// a shape the gate does not take.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> Refused {
    Refused::Invalid(message.into())
}

/// What an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationKind {
    /// `query` (or the shorthand `{ … }`).
    Query,
    /// `mutation`.
    Mutation,
    /// `subscription`.
    Subscription,
}

/// An argument or input value as written, variables not yet resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// `$name`.
    Variable(String),
    /// A string (block strings included), unescaped.
    String(String),
    /// An integer or float, as written.
    Number(String),
    /// `true` / `false`.
    Boolean(bool),
    /// `null`.
    Null,
    /// An enum value (`DRAFT`).
    Enum(String),
    /// `[…]`.
    List(Vec<Written>),
    /// `{ name: value, … }`.
    Object(Vec<(String, Written)>),
}

/// One field of a selection, fragments expanded: what an answer holds under
/// `key` and what was selected below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The response key: the alias, else the name.
    pub key: String,
    /// The field's name.
    pub name: String,
    /// What is selected below it (empty for a leaf).
    pub below: Vec<Selected>,
}

/// A root field of the selected operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RootField {
    /// The response key: the alias, else the name.
    pub key: String,
    /// The field's name.
    pub name: String,
    /// Its arguments as written, in order.
    pub arguments: Vec<(String, Written)>,
    /// The field's text.
    pub range: Range<usize>,
    /// The text of its name (after the alias, if any).
    pub name_range: Range<usize>,
    /// The text of its argument list, parentheses included.
    pub arguments_range: Option<Range<usize>>,
    /// The text of each argument's value, by argument name.
    pub value_ranges: Vec<(String, Range<usize>)>,
    /// The text of its selection set, braces included.
    pub selection_range: Option<Range<usize>>,
    /// What it selects, fragments expanded.
    pub below: Vec<Selected>,
}

/// A fragment definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Its name.
    pub name: String,
    /// Its text.
    pub range: Range<usize>,
}

/// A parsed document, as far as the gate needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The document's text.
    pub text: String,
    /// The selected operation's kind.
    pub kind: OperationKind,
    /// The selected operation's text up to its root selection set (keyword,
    /// name, variable definitions, directives).
    pub head: Range<usize>,
    /// Its root fields, in document order, fragments flattened (shared with
    /// the plans made of this document).
    pub root_fields: Vec<Arc<RootField>>,
    /// Every fragment definition.
    pub fragments: Vec<Fragment>,
    /// The fragments each root field's selection spreads, directly or
    /// through other fragments (indices into `fragments`), for each root
    /// field.
    pub used_fragments: Vec<Vec<usize>>,
    /// The response keys of root `__typename` fields (asking nothing of
    /// the platform, they are not root fields to check).
    pub typename_keys: Vec<String>,
}

fn range_of(node: &impl CstNode) -> Range<usize> {
    let r = node.syntax().text_range();
    usize::from(r.start())..usize::from(r.end())
}

fn name_text(name: Option<cst::Name>) -> Result<String, Refused> {
    name.map(|n| n.text().to_string())
        .ok_or_else(|| invalid("a name is missing"))
}

impl Document {
    /// Reads `text`, selecting `operation_name` (required when the document
    /// holds more than one operation).
    pub fn parse(text: &str, operation_name: Option<&str>) -> Result<Document, Refused> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(Refused::TooLarge);
        }
        let tree = Parser::new(text)
            .recursion_limit(PARSER_RECURSION)
            .token_limit(PARSER_TOKENS)
            .parse();
        if tree.token_limit().high > PARSER_TOKENS {
            return Err(Refused::TooLarge);
        }
        if tree.recursion_limit().high > PARSER_RECURSION {
            return Err(Refused::TooDeep);
        }
        if let Some(error) = tree.errors().next() {
            return Err(invalid(format!(
                "the document does not parse: {} at byte {}",
                error.message(),
                error.index()
            )));
        }
        let mut operations = Vec::new();
        let mut fragments = Vec::new();
        for definition in tree.document().definitions() {
            match definition {
                cst::Definition::OperationDefinition(op) => operations.push(op),
                cst::Definition::FragmentDefinition(f) => fragments.push(f),
                _ => {
                    return Err(invalid(
                        "the document may hold operations and fragments only",
                    ));
                }
            }
        }
        let operation = select(&operations, operation_name)?;
        let root = operation
            .selection_set()
            .ok_or_else(|| invalid("the operation selects nothing"))?;
        let mut names = Vec::with_capacity(fragments.len());
        for f in &fragments {
            let name = name_text(f.fragment_name().and_then(|n| n.name()))?;
            if names.contains(&name) {
                return Err(invalid(format!("fragment {name:?} is defined twice")));
            }
            names.push(name);
        }
        let reader = Reader {
            fragments: &fragments,
            names: &names,
        };
        if reader.depth(&root, &mut Vec::new())? > MAX_DEPTH {
            return Err(Refused::TooDeep);
        }
        let mut budget = Budget::default();
        let mut found = Found::default();
        reader.root(&root, &mut Vec::new(), &mut budget, &mut found)?;

        let kind = match operation.operation_type() {
            None => OperationKind::Query,
            Some(t) if t.mutation_token().is_some() => OperationKind::Mutation,
            Some(t) if t.subscription_token().is_some() => OperationKind::Subscription,
            Some(_) => OperationKind::Query,
        };
        let start = range_of(operation).start;
        Ok(Document {
            text: String::from(text),
            kind,
            head: start..range_of(&root).start,
            root_fields: found.fields,
            fragments: fragments
                .iter()
                .zip(names)
                .map(|(f, name)| Fragment {
                    name,
                    range: range_of(f),
                })
                .collect(),
            used_fragments: found.used,
            typename_keys: found.typenames,
        })
    }

    /// The text of `range`.
    pub fn slice(&self, range: &Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or_default()
    }
}

/// The operation named `name`, or the only one.
fn select<'d>(
    operations: &'d [cst::OperationDefinition],
    name: Option<&str>,
) -> Result<&'d cst::OperationDefinition, Refused> {
    match name {
        Some(name) => operations
            .iter()
            .find(|op| op.name().is_some_and(|n| n.text() == name))
            .ok_or_else(|| invalid(format!("the document has no operation {name:?}"))),
        None => match operations {
            [only] => Ok(only),
            [] => Err(invalid("the document has no operation")),
            _ => Err(invalid(
                "the document has several operations: name one in operationName",
            )),
        },
    }
}

/// The root fields found so far.
#[derive(Default)]
struct Found {
    fields: Vec<Arc<RootField>>,
    used: Vec<Vec<usize>>,
    typenames: Vec<String>,
}

/// What expanding selections may still spend.
#[derive(Default)]
struct Budget {
    aliases: usize,
    selections: usize,
}

impl Budget {
    fn field(&mut self, aliased: bool) -> Result<(), Refused> {
        self.selections += 1;
        if self.selections > MAX_SELECTIONS {
            return Err(Refused::TooLarge);
        }
        if aliased {
            self.aliases += 1;
            if self.aliases > MAX_ALIASES {
                return Err(Refused::TooManyAliases);
            }
        }
        Ok(())
    }
}

/// Walks selections, expanding fragments.
struct Reader<'d> {
    fragments: &'d [cst::FragmentDefinition],
    names: &'d [String],
}

impl Reader<'_> {
    fn fragment(
        &self,
        spread: &cst::FragmentSpread,
    ) -> Result<(usize, &cst::FragmentDefinition), Refused> {
        let name = name_text(spread.fragment_name().and_then(|n| n.name()))?;
        let at = self
            .names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| invalid(format!("no fragment named {name:?}")))?;
        let fragment = self
            .fragments
            .get(at)
            .ok_or_else(|| invalid(format!("no fragment named {name:?}")))?;
        Ok((at, fragment))
    }

    /// Enters fragment `at`: an error if it is already being expanded
    /// (fragments must not form cycles).
    fn enter(&self, stack: &mut Vec<usize>, at: usize) -> Result<(), Refused> {
        if stack.contains(&at) {
            let name = self.names.get(at).cloned().unwrap_or_default();
            return Err(invalid(format!("fragment {name:?} spreads itself")));
        }
        stack.push(at);
        Ok(())
    }

    /// How deeply `set` nests (1 for a set of leaves). Stops counting once
    /// past [`MAX_DEPTH`].
    fn depth(&self, set: &cst::SelectionSet, stack: &mut Vec<usize>) -> Result<usize, Refused> {
        let mut deepest = 0;
        for selection in set.selections() {
            let below = match selection {
                cst::Selection::Field(field) => match field.selection_set() {
                    Some(inner) => self.depth(&inner, stack)?,
                    None => 0,
                },
                cst::Selection::InlineFragment(inline) => match inline.selection_set() {
                    Some(inner) => self.depth(&inner, stack)?.saturating_sub(1),
                    None => 0,
                },
                cst::Selection::FragmentSpread(spread) => {
                    let (at, fragment) = self.fragment(&spread)?;
                    self.enter(stack, at)?;
                    let below = match fragment.selection_set() {
                        Some(inner) => self.depth(&inner, stack)?.saturating_sub(1),
                        None => 0,
                    };
                    stack.pop();
                    below
                }
            };
            deepest = deepest.max(below);
            if deepest > MAX_DEPTH {
                break;
            }
        }
        Ok(deepest + 1)
    }

    /// The root selection set's fields, through root fragments (which may
    /// not carry directives: flattening them would drop their condition).
    fn root(
        &self,
        set: &cst::SelectionSet,
        stack: &mut Vec<usize>,
        budget: &mut Budget,
        found: &mut Found,
    ) -> Result<(), Refused> {
        for selection in set.selections() {
            match selection {
                cst::Selection::Field(field) => {
                    let mut spreads = Vec::new();
                    let root = self.root_field(&field, budget, &mut spreads)?;
                    if root.name == "__typename" {
                        found.typenames.push(root.key);
                    } else {
                        found.fields.push(Arc::new(root));
                        found.used.push(spreads);
                        if found.fields.len() > MAX_ROOT_FIELDS {
                            return Err(Refused::TooManyRootFields);
                        }
                    }
                }
                cst::Selection::InlineFragment(inline) => {
                    if inline.directives().is_some() {
                        return Err(invalid("a root inline fragment may not carry directives"));
                    }
                    if let Some(inner) = inline.selection_set() {
                        self.root(&inner, stack, budget, found)?;
                    }
                }
                cst::Selection::FragmentSpread(spread) => {
                    if spread.directives().is_some() {
                        return Err(invalid("a root fragment spread may not carry directives"));
                    }
                    let (at, fragment) = self.fragment(&spread)?;
                    self.enter(stack, at)?;
                    if let Some(inner) = fragment.selection_set() {
                        self.root(&inner, stack, budget, found)?;
                    }
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    fn root_field(
        &self,
        field: &cst::Field,
        budget: &mut Budget,
        spreads: &mut Vec<usize>,
    ) -> Result<RootField, Refused> {
        let name = name_text(field.name())?;
        let alias = field.alias().map(|a| name_text(a.name())).transpose()?;
        budget.field(alias.is_some())?;
        let mut arguments = Vec::new();
        let mut value_ranges = Vec::new();
        if let Some(args) = field.arguments() {
            for argument in args.arguments() {
                let arg_name = name_text(argument.name())?;
                let value = argument
                    .value()
                    .ok_or_else(|| invalid(format!("argument {arg_name} has no value")))?;
                value_ranges.push((arg_name.clone(), range_of(&value)));
                arguments.push((arg_name, written(&value)?));
            }
        }
        let below = match field.selection_set() {
            Some(set) => self.below(&set, &mut Vec::new(), budget, spreads)?,
            None => Vec::new(),
        };
        Ok(RootField {
            key: alias.unwrap_or_else(|| name.clone()),
            name,
            arguments,
            range: range_of(field),
            name_range: field.name().map_or(0..0, |n| range_of(&n)),
            arguments_range: field.arguments().map(|a| range_of(&a)),
            value_ranges,
            selection_range: field.selection_set().map(|s| range_of(&s)),
            below,
        })
    }

    /// The fields `set` selects, fragments expanded; `spreads` collects the
    /// fragments used (each once).
    fn below(
        &self,
        set: &cst::SelectionSet,
        stack: &mut Vec<usize>,
        budget: &mut Budget,
        spreads: &mut Vec<usize>,
    ) -> Result<Vec<Selected>, Refused> {
        let mut out = Vec::new();
        for selection in set.selections() {
            match selection {
                cst::Selection::Field(field) => {
                    let name = name_text(field.name())?;
                    let alias = field.alias().map(|a| name_text(a.name())).transpose()?;
                    budget.field(alias.is_some())?;
                    let below = match field.selection_set() {
                        Some(inner) => self.below(&inner, stack, budget, spreads)?,
                        None => Vec::new(),
                    };
                    out.push(Selected {
                        key: alias.unwrap_or_else(|| name.clone()),
                        name,
                        below,
                    });
                }
                cst::Selection::InlineFragment(inline) => {
                    if let Some(inner) = inline.selection_set() {
                        out.extend(self.below(&inner, stack, budget, spreads)?);
                    }
                }
                cst::Selection::FragmentSpread(spread) => {
                    let (at, fragment) = self.fragment(&spread)?;
                    if !spreads.contains(&at) {
                        spreads.push(at);
                    }
                    self.enter(stack, at)?;
                    if let Some(inner) = fragment.selection_set() {
                        out.extend(self.below(&inner, stack, budget, spreads)?);
                    }
                    stack.pop();
                }
            }
        }
        Ok(out)
    }
}

/// A value as written.
fn written(value: &cst::Value) -> Result<Written, Refused> {
    Ok(match value {
        cst::Value::Variable(v) => Written::Variable(name_text(v.name())?),
        cst::Value::StringValue(s) => Written::String(String::from(s)),
        cst::Value::IntValue(n) => Written::Number(n.source_string().trim().to_string()),
        cst::Value::FloatValue(n) => Written::Number(n.source_string().trim().to_string()),
        cst::Value::BooleanValue(b) => {
            Written::Boolean(bool::try_from(b).map_err(|_| invalid("a boolean does not read"))?)
        }
        cst::Value::NullValue(_) => Written::Null,
        cst::Value::EnumValue(e) => Written::Enum(name_text(e.name())?),
        cst::Value::ListValue(list) => Written::List(
            list.values()
                .map(|v| written(&v))
                .collect::<Result<_, _>>()?,
        ),
        cst::Value::ObjectValue(object) => Written::Object(
            object
                .object_fields()
                .map(|f| {
                    let name = name_text(f.name())?;
                    let value = f
                        .value()
                        .ok_or_else(|| invalid(format!("field {name} has no value")))?;
                    Ok((name, written(&value)?))
                })
                .collect::<Result<_, Refused>>()?,
        ),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn keys(doc: &Document) -> Vec<(&str, &str)> {
        doc.root_fields
            .iter()
            .map(|f| (f.key.as_str(), f.name.as_str()))
            .collect()
    }

    #[test]
    fn root_fields_come_through_fragments_under_their_keys() {
        let doc = Document::parse(
            "query Q($w: PostWhereInput) { mine: posts(where: $w) { id ...P } ... on Query { post(where: {id: \"1\"}) { title } } ...R __typename }
             fragment P on Post { notes: internalNotes author { name } }
             fragment R on Query { authors { name } }",
            None,
        )
        .unwrap();
        assert_eq!(doc.kind, OperationKind::Query);
        assert_eq!(
            keys(&doc),
            [("mine", "posts"), ("post", "post"), ("authors", "authors")]
        );
        let mine = &doc.root_fields[0];
        assert_eq!(
            mine.arguments,
            [("where".to_string(), Written::Variable("w".into()))]
        );
        assert_eq!(doc.slice(&mine.value_ranges[0].1).trim(), "$w");
        let below: Vec<&str> = mine.below.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(below, ["id", "notes", "author"]);
        assert_eq!(doc.used_fragments[0], [0]);
        assert!(doc.slice(&doc.head).starts_with("query Q($w"));
        assert_eq!(
            doc.root_fields[1].arguments[0].1,
            Written::Object(vec![("id".into(), Written::String("1".into()))])
        );
    }

    #[test]
    fn limits_each_have_their_refusal() {
        let large = format!("{{ a{} }}", " ".repeat(MAX_DOCUMENT_BYTES));
        assert_eq!(Document::parse(&large, None), Err(Refused::TooLarge));
        let deep = format!(
            "{{ {} }}",
            "a { ".repeat(MAX_DEPTH) + "b" + &" }".repeat(MAX_DEPTH)
        );
        assert_eq!(Document::parse(&deep, None), Err(Refused::TooDeep));
        let many: String = (0..=MAX_ROOT_FIELDS).map(|i| format!("f{i} ")).collect();
        assert_eq!(
            Document::parse(&format!("{{ {many} }}"), None),
            Err(Refused::TooManyRootFields)
        );
        let aliases: String = (0..=MAX_ALIASES).map(|i| format!("a{i}: id ")).collect();
        assert_eq!(
            Document::parse(&format!("{{ posts {{ {aliases} }} }}"), None),
            Err(Refused::TooManyAliases)
        );
        // Ten fragments each spreading the next twice: 2^10 copies of a leaf.
        let mut bomb = String::from("{ posts { ...F0 } }");
        for i in 0..12 {
            bomb.push_str(&format!(
                " fragment F{i} on Post {{ a: id ...F{n} b: id ...F{n} }}",
                n = i + 1
            ));
        }
        bomb.push_str(" fragment F12 on Post { id }");
        assert!(matches!(
            Document::parse(&bomb, None),
            Err(Refused::TooLarge | Refused::TooManyAliases)
        ));
        let abyss = "{ a ".repeat(10_000);
        assert!(Document::parse(&abyss, None).is_err());
        assert!(matches!(
            Document::parse("{ ... @include(if: true) { posts { id } } }", None),
            Err(Refused::Invalid(_))
        ));
        assert!(matches!(
            Document::parse("{ ...F } fragment F on Query { ...F }", None),
            Err(Refused::Invalid(_))
        ));
    }
}
