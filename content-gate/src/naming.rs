//! Which model a root field addresses, and how, by the naming convention
//! Hygraph-style content APIs generate from a model's `apiId` (`Post`) and
//! `apiIdPlural` (`Posts`), with the first letter lowered where a field
//! starts with the model's name:
//!
//! | field | verb | shape |
//! |---|---|---|
//! | `post` | read | one (`where` is unique) |
//! | `posts` | read | many |
//! | `postsConnection` | read | connection (`edges { node }`) |
//! | `createPost` | create | create (`data`) |
//! | `updatePost`, `deletePost`, `publishPost`, `unpublishPost` | that verb | one |
//! | `upsertPost` | create and update | upsert (`upsert: { create, update }`) |
//! | `updateManyPosts`, `deleteManyPosts`, `publishManyPosts`, `unpublishManyPosts` | that verb | many |
//! | the same with `Connection` | that verb | connection |
//!
//! Only registered models are addressed: a field that names none (or a
//! model the environment does not register) is no content field, and the
//! gate denies it. `__schema` and `__type` are introspection.

use verifier_core::Model;

/// What a root field does to its model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Query rows.
    Read,
    /// Make a row.
    Create,
    /// Change rows.
    Update,
    /// Delete rows.
    Delete,
    /// Make or change a row: both `create` and `update` are checked.
    Upsert,
    /// Publish rows to stages (`to`).
    Publish,
    /// Unpublish rows from stages (`from`).
    Unpublish,
}

impl Verb {
    /// The grant actions it needs, each checked.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            Verb::Read => &["read"],
            Verb::Create => &["create"],
            Verb::Update => &["update"],
            Verb::Delete => &["delete"],
            Verb::Upsert => &["create", "update"],
            Verb::Publish => &["publish"],
            Verb::Unpublish => &["unpublish"],
        }
    }

    /// Whether it is a mutation (every verb but read).
    pub fn is_mutation(self) -> bool {
        self != Verb::Read
    }
}

/// How a root field addresses rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One row, by a unique `where`.
    One,
    /// Rows matching `where`: a list (reads) or a count (mutations).
    Many,
    /// Rows matching `where`, as `edges { node }`.
    Connection,
    /// A new row from `data`.
    Create,
    /// One row by `where`, made from `upsert.create` if there is none.
    Upsert,
}

/// A root field's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A registered model (index into the environment's models).
    Model {
        /// Which model.
        model: usize,
        /// What is done.
        verb: Verb,
        /// How rows are addressed.
        shape: Shape,
    },
    /// `__schema` or `__type`.
    Introspection,
}

/// `name` with its first letter lowered.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The target of root field `name` among `models`, if it has one.
pub fn target(name: &str, models: &[Model]) -> Option<Target> {
    if name == "__schema" || name == "__type" {
        return Some(Target::Introspection);
    }
    for (index, m) in models.iter().enumerate() {
        let (one, many) = (m.api_id.as_str(), m.api_id_plural.as_str());
        let found = |verb, shape| {
            Some(Target::Model {
                model: index,
                verb,
                shape,
            })
        };
        if name == lower_first(one) {
            return found(Verb::Read, Shape::One);
        }
        if name == lower_first(many) {
            return found(Verb::Read, Shape::Many);
        }
        if name.strip_suffix("Connection") == Some(lower_first(many).as_str()) {
            return found(Verb::Read, Shape::Connection);
        }
        for (prefix, verb) in [
            ("create", Verb::Create),
            ("update", Verb::Update),
            ("delete", Verb::Delete),
            ("upsert", Verb::Upsert),
            ("publish", Verb::Publish),
            ("unpublish", Verb::Unpublish),
        ] {
            let Some(rest) = name.strip_prefix(prefix) else {
                continue;
            };
            if rest == one {
                let shape = match verb {
                    Verb::Create => Shape::Create,
                    Verb::Upsert => Shape::Upsert,
                    _ => Shape::One,
                };
                return found(verb, shape);
            }
            if matches!(verb, Verb::Create | Verb::Upsert) {
                continue;
            }
            match rest.strip_prefix("Many") {
                Some(r) if r == many => return found(verb, Shape::Many),
                Some(r) if r.strip_suffix("Connection") == Some(many) => {
                    return found(verb, Shape::Connection);
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn models() -> Vec<Model> {
        ["Post:Posts", "BlogAuthor:BlogAuthors"]
            .iter()
            .map(|s| {
                let (a, p) = s.split_once(':').unwrap();
                Model {
                    api_id: a.into(),
                    api_id_plural: p.into(),
                    owner_field: None,
                    sensitive_fields: Vec::new(),
                }
            })
            .collect()
    }

    #[test]
    fn the_convention_names_every_form() {
        let m = models();
        let t = |name: &str| match target(name, &m) {
            Some(Target::Model { model, verb, shape }) => Some((model, verb, shape)),
            _ => None,
        };
        assert_eq!(t("post"), Some((0, Verb::Read, Shape::One)));
        assert_eq!(t("posts"), Some((0, Verb::Read, Shape::Many)));
        assert_eq!(
            t("postsConnection"),
            Some((0, Verb::Read, Shape::Connection))
        );
        assert_eq!(t("createPost"), Some((0, Verb::Create, Shape::Create)));
        assert_eq!(t("updatePost"), Some((0, Verb::Update, Shape::One)));
        assert_eq!(t("deletePost"), Some((0, Verb::Delete, Shape::One)));
        assert_eq!(t("upsertPost"), Some((0, Verb::Upsert, Shape::Upsert)));
        assert_eq!(t("publishPost"), Some((0, Verb::Publish, Shape::One)));
        assert_eq!(t("unpublishPost"), Some((0, Verb::Unpublish, Shape::One)));
        assert_eq!(t("updateManyPosts"), Some((0, Verb::Update, Shape::Many)));
        assert_eq!(
            t("deleteManyPostsConnection"),
            Some((0, Verb::Delete, Shape::Connection))
        );
        assert_eq!(t("publishManyPosts"), Some((0, Verb::Publish, Shape::Many)));
        assert_eq!(
            t("unpublishManyPostsConnection"),
            Some((0, Verb::Unpublish, Shape::Connection))
        );
        assert_eq!(t("blogAuthor"), Some((1, Verb::Read, Shape::One)));
        assert_eq!(
            t("createBlogAuthor"),
            Some((1, Verb::Create, Shape::Create))
        );
        for unknown in [
            "Post",
            "createManyPosts",
            "upsertManyPosts",
            "comments",
            "createpost",
            "postConnection",
            "",
        ] {
            assert_eq!(t(unknown), None, "{unknown}");
        }
        assert_eq!(target("__schema", &m), Some(Target::Introspection));
        assert_eq!(target("__type", &m), Some(Target::Introspection));
    }
}
