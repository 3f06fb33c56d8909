//! Reading a GraphQL request for `POST /v1/management`: which operation it
//! runs and which root fields that operation selects, each of which is
//! authorized as a management action of its name.
//!
//! The document is read by `content-gate`'s reader — the same parser and
//! the same limits as the content gateway: the document's size, the
//! parser's recursion and tokens, the nesting of selections, the number of
//! root fields and of aliases, the expanded size of fragments. Root fields
//! are found through inline fragments and fragment spreads at the root too
//! (a field hidden in `... on Mutation { … }` or a named fragment is a
//! field all the same), under their names, never their aliases.
//! `__typename` asks nothing of the platform and is not authorized; every
//! other field, introspection's `__schema` and `__type` included, is.
//!
//! The environment an operation acts on is named in its root fields'
//! arguments, as Hygraph's management API has it (`createModel(data: {
//! environmentId, … })`, usually through a variable): every `environmentId`
//! there — a literal, a variable in its place, or a key inside a variable's
//! JSON value — is collected ([`EnvironmentRefs`]) so that the endpoint
//! authorizes the environment the upstream will act on, and refuses an
//! operation that names two.

pub(crate) use content_gate::document::Refused;
use content_gate::document::{Document, OperationKind, Written};
#[cfg(test)]
use content_gate::document::{MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_ROOT_FIELDS};

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
    fn collect(&mut self, name: Option<&str>, value: &Written) -> Result<(), Refused> {
        let is_key = name == Some(ENVIRONMENT_KEY);
        match value {
            Written::String(text) if is_key => self.literals.push(text.clone()),
            Written::Variable(var) if is_key => self.variables.push(var.clone()),
            Written::Variable(var) => self.containers.push(var.clone()),
            Written::Object(fields) => {
                for (field, inner) in fields {
                    self.collect(Some(field), inner)?;
                }
            }
            Written::List(items) => {
                for item in items {
                    self.collect(None, item)?;
                }
            }
            Written::Null => {}
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
    let doc = Document::parse(document, operation_name)?;
    let mut root_fields: Vec<String> = Vec::new();
    let mut environments = EnvironmentRefs::default();
    for field in &doc.root_fields {
        for (name, value) in &field.arguments {
            environments.collect(Some(name), value)?;
        }
        if !root_fields.contains(&field.name) {
            root_fields.push(field.name.clone());
        }
    }
    let kind = match doc.kind {
        OperationKind::Query => "query",
        OperationKind::Mutation => "mutation",
        OperationKind::Subscription => "subscription",
    };
    Ok(Operation {
        kind,
        root_fields,
        environments,
    })
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
