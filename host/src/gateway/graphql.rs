//! Reading a GraphQL request for `POST /v1/management`: which operation it
//! runs and which root fields that operation selects, each of which is
//! authorized as a management action of its name.
//!
//! Parsed with `apollo-parser` (Apollo's spec-compliant parser), within
//! limits set before any work: the document's size, the parser's recursion
//! and tokens, the nesting of selections and the number of root fields.
//! Root fields are found through inline fragments and fragment spreads at
//! the root too (a field hidden in `... on Mutation { … }` or a named
//! fragment is a field all the same), under their names, never their
//! aliases. `__typename` asks nothing of the platform and is not
//! authorized; every other field, introspection's `__schema` and `__type`
//! included, is.
//!
//! A document with anything but operations and fragments in it (type
//! definitions, schema extensions) is refused: the endpoint executes.
//!
//! The environment an operation acts on is named in its root fields'
//! arguments, as Hygraph's management API has it (`createModel(data: {
//! environmentId, … })`, usually through a variable): every `environmentId`
//! there — a literal, a variable in its place, or a key inside a variable's
//! JSON value — is collected ([`EnvironmentRefs`]) so that the endpoint
//! authorizes the environment the upstream will act on, and refuses an
//! operation that names two.

use apollo_parser::Parser;
use apollo_parser::cst;

/// Largest document, bytes.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Deepest nesting of selection sets, the operation's own being 1.
pub(crate) const MAX_DEPTH: usize = 32;
/// Most root fields an operation may select.
pub(crate) const MAX_ROOT_FIELDS: usize = 32;
/// The parser's own bounds, so no document can make it recurse or scan
/// without end (each well above what the limits above admit).
const PARSER_RECURSION: usize = 256;
const PARSER_TOKENS: usize = 50_000;

/// Why a document is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Larger than [`MAX_DOCUMENT_BYTES`] (or than the parser's token bound).
    TooLarge,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// More than [`MAX_ROOT_FIELDS`] root fields.
    TooManyRootFields,
    /// Not an executable GraphQL document, or no single operation to run.
    Invalid(String),
}

/// The operation to run, as far as authorizing it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operation {
    /// `query`, `mutation` or `subscription`.
    pub(crate) kind: &'static str,
    /// The names of its root fields, each once, in document order.
    pub(crate) root_fields: Vec<String>,
    /// Where its root fields' arguments name an environment.
    pub(crate) environments: EnvironmentRefs,
}

/// The argument or input-object key that names an environment.
pub(crate) const ENVIRONMENT_KEY: &str = "environmentId";

/// Every place the root fields' arguments may name an environment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct EnvironmentRefs {
    /// `environmentId: "…"` written in the document.
    pub(crate) literals: Vec<String>,
    /// `environmentId: $v`: variables whose value is the id.
    pub(crate) variables: Vec<String>,
    /// Other variables passed in arguments, whose JSON values may hold
    /// `environmentId` keys at any depth.
    pub(crate) containers: Vec<String>,
}

impl EnvironmentRefs {
    /// Collects from one argument or object field, `name: value`.
    fn collect(
        &mut self,
        name: Option<cst::Name>,
        value: Option<cst::Value>,
    ) -> Result<(), Refused> {
        let Some(value) = value else { return Ok(()) };
        let is_key = name.is_some_and(|n| n.text() == ENVIRONMENT_KEY);
        match value {
            cst::Value::StringValue(text) if is_key => self.literals.push(String::from(&text)),
            cst::Value::Variable(var) => {
                let var = var.name().map(|n| n.text().to_string()).unwrap_or_default();
                if is_key {
                    self.variables.push(var);
                } else {
                    self.containers.push(var);
                }
            }
            cst::Value::ObjectValue(object) => {
                for field in object.object_fields() {
                    self.collect(field.name(), field.value())?;
                }
            }
            cst::Value::ListValue(list) => {
                for item in list.values() {
                    self.collect(None, Some(item))?;
                }
            }
            cst::Value::NullValue(_) => {}
            _ if is_key => {
                return Err(Refused::Invalid(format!(
                    "{ENVIRONMENT_KEY} must be a string"
                )));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Reads `document`, selecting `operation_name` (required when the
/// document holds more than one operation).
pub(crate) fn read(document: &str, operation_name: Option<&str>) -> Result<Operation, Refused> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(Refused::TooLarge);
    }
    let tree = Parser::new(document)
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
        return Err(Refused::Invalid(format!(
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
            cst::Definition::FragmentDefinition(fragment) => fragments.push(fragment),
            _ => {
                return Err(Refused::Invalid(
                    "the document may hold operations and fragments only".into(),
                ));
            }
        }
    }
    let operation = select(&operations, operation_name)?;
    let reader = Reader {
        fragments: &fragments,
    };
    let selection_set = operation
        .selection_set()
        .ok_or_else(|| Refused::Invalid("the operation selects nothing".into()))?;
    if reader.depth(&selection_set, &mut Vec::new())? > MAX_DEPTH {
        return Err(Refused::TooDeep);
    }
    let mut root_fields = Vec::new();
    let mut environments = EnvironmentRefs::default();
    reader.root_fields(
        &selection_set,
        &mut Vec::new(),
        &mut root_fields,
        &mut environments,
    )?;
    if root_fields.len() > MAX_ROOT_FIELDS {
        return Err(Refused::TooManyRootFields);
    }
    let kind = match operation.operation_type() {
        None => "query",
        Some(t) if t.mutation_token().is_some() => "mutation",
        Some(t) if t.subscription_token().is_some() => "subscription",
        Some(_) => "query",
    };
    Ok(Operation {
        kind,
        root_fields,
        environments,
    })
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
            .ok_or_else(|| Refused::Invalid(format!("the document has no operation {name:?}"))),
        None => match operations {
            [only] => Ok(only),
            [] => Err(Refused::Invalid("the document has no operation".into())),
            _ => Err(Refused::Invalid(
                "the document has several operations: name one in operationName".into(),
            )),
        },
    }
}

/// Walks selections, expanding fragments.
struct Reader<'d> {
    fragments: &'d [cst::FragmentDefinition],
}

impl Reader<'_> {
    fn fragment(&self, spread: &cst::FragmentSpread) -> Result<&cst::FragmentDefinition, Refused> {
        let name = spread
            .fragment_name()
            .and_then(|n| n.name())
            .map(|n| n.text().to_string())
            .unwrap_or_default();
        self.fragments
            .iter()
            .find(|f| {
                f.fragment_name()
                    .and_then(|n| n.name())
                    .is_some_and(|n| n.text() == name.as_str())
            })
            .ok_or_else(|| Refused::Invalid(format!("no fragment named {name:?}")))
    }

    /// Enters fragment `name`: an error if it is already being expanded
    /// (fragments must not form cycles).
    fn enter(stack: &mut Vec<String>, name: String) -> Result<(), Refused> {
        if stack.contains(&name) {
            return Err(Refused::Invalid(format!(
                "fragment {name:?} spreads itself"
            )));
        }
        stack.push(name);
        Ok(())
    }

    fn name_of(fragment: &cst::FragmentDefinition) -> String {
        fragment
            .fragment_name()
            .and_then(|n| n.name())
            .map(|n| n.text().to_string())
            .unwrap_or_default()
    }

    /// How deeply `set` nests (1 for a set of leaves). Stops counting once
    /// past [`MAX_DEPTH`].
    fn depth(&self, set: &cst::SelectionSet, stack: &mut Vec<String>) -> Result<usize, Refused> {
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
                    let fragment = self.fragment(&spread)?;
                    Self::enter(stack, Self::name_of(fragment))?;
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

    /// The field names `set` selects at its own level, through fragments,
    /// and the environments their arguments name (every occurrence's).
    fn root_fields(
        &self,
        set: &cst::SelectionSet,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
        environments: &mut EnvironmentRefs,
    ) -> Result<(), Refused> {
        for selection in set.selections() {
            match selection {
                cst::Selection::Field(field) => {
                    let name = field
                        .name()
                        .map(|n| n.text().to_string())
                        .ok_or_else(|| Refused::Invalid("a field has no name".into()))?;
                    for argument in field.arguments().iter().flat_map(|a| a.arguments()) {
                        environments.collect(argument.name(), argument.value())?;
                    }
                    // At most MAX_ROOT_FIELDS + 1 names: a scan is enough.
                    if name != "__typename" && !out.contains(&name) {
                        out.push(name);
                        if out.len() > MAX_ROOT_FIELDS {
                            return Err(Refused::TooManyRootFields);
                        }
                    }
                }
                cst::Selection::InlineFragment(inline) => {
                    if let Some(inner) = inline.selection_set() {
                        self.root_fields(&inner, stack, out, environments)?;
                    }
                }
                cst::Selection::FragmentSpread(spread) => {
                    let fragment = self.fragment(&spread)?;
                    Self::enter(stack, Self::name_of(fragment))?;
                    if let Some(inner) = fragment.selection_set() {
                        self.root_fields(&inner, stack, out, environments)?;
                    }
                    stack.pop();
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_are_found_in_literals_variables_and_inputs() {
        let op = read(
            r#"mutation M($input: CreateModelInput!, $env: String, $n: Int) {
                 createModel(data: $input) { migration { id } }
                 a: updateModel(data: { environmentId: "prod", list: [{ environmentId: $env }] }, n: $n) { id }
                 ... on Mutation { deleteModel(environmentId: null) { id } }
               }"#,
            None,
        )
        .unwrap();
        assert_eq!(
            op.environments,
            EnvironmentRefs {
                literals: vec!["prod".into()],
                variables: vec!["env".into()],
                containers: vec!["input".into(), "n".into()],
            }
        );
        assert!(matches!(
            read(
                "mutation { createModel(data: { environmentId: 7 }) { id } }",
                None
            ),
            Err(Refused::Invalid(_))
        ));
    }

    fn fields(document: &str) -> Vec<String> {
        read(document, None).unwrap().root_fields
    }

    #[test]
    fn the_guides_mutation_asks_for_create_model() {
        let op = read(
            "mutation CreateModelMutation($input: CreateModelInput!) { createModel(data: $input) { migration { id } } }",
            None,
        )
        .unwrap();
        assert_eq!(op.kind, "mutation");
        assert_eq!(op.root_fields, ["createModel"]);
    }

    #[test]
    fn fragments_and_aliases_hide_no_field() {
        assert_eq!(
            fields(
                "mutation { ok: createModel { id } ... on Mutation { deleteModel { id } } ...F } fragment F on Mutation { a: dropAll, __typename }"
            ),
            ["createModel", "deleteModel", "dropAll"]
        );
        assert_eq!(fields("{ __typename }"), Vec::<String>::new());
        assert_eq!(fields("{ __schema { types { name } } }"), ["__schema"]);
    }

    #[test]
    fn operation_name_selects_and_is_needed_among_several() {
        let doc = "query A { a } mutation B { b }";
        assert_eq!(read(doc, Some("B")).unwrap().root_fields, ["b"]);
        assert!(matches!(read(doc, None), Err(Refused::Invalid(_))));
        assert!(matches!(read(doc, Some("C")), Err(Refused::Invalid(_))));
    }

    #[test]
    fn limits_each_have_their_refusal() {
        let large = format!("{{ a{} }}", " ".repeat(MAX_DOCUMENT_BYTES));
        assert_eq!(read(&large, None), Err(Refused::TooLarge));
        let deep = format!(
            "{{ {} }}",
            "a { ".repeat(MAX_DEPTH) + "b" + &" }".repeat(MAX_DEPTH)
        );
        assert_eq!(read(&deep, None), Err(Refused::TooDeep));
        let fine = format!(
            "{{ {} }}",
            "a { ".repeat(MAX_DEPTH - 2) + "b" + &" }".repeat(MAX_DEPTH - 2)
        );
        assert!(read(&fine, None).is_ok());
        let many: String = (0..=MAX_ROOT_FIELDS).map(|i| format!("f{i} ")).collect();
        assert_eq!(
            read(&format!("{{ {many} }}"), None),
            Err(Refused::TooManyRootFields)
        );
        // Deeper than the parser's own bound: refused, never a stack overflow.
        let abyss = "{ a ".repeat(10_000);
        assert!(read(&abyss, None).is_err());
    }

    #[test]
    fn what_is_not_an_executable_document_is_invalid() {
        for bad in [
            "",
            "{",
            "type Query { a: Int }",
            "{ ...F } fragment F on Q { ...F }",
            "{ ...Missing }",
        ] {
            assert!(matches!(read(bad, None), Err(Refused::Invalid(_))), "{bad}");
        }
    }
}
