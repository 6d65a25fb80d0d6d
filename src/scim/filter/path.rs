//! Attribute paths (`[URI ":"] ATTRNAME ["." subAttr]`) and PATCH operation paths (RFC 7644 §3.5.2).

use std::fmt;

use super::ast::{AttrPath, Filter, FilterError, FilterLimits};
use super::parser::{check_length, lex, Bracketed, Parser, Scope, Tok};

/// A PATCH path: attrPath, or valuePath ["." subAttr] (RFC 7644 §3.5.2 PATH ABNF)
///
/// For `emails[type eq "work"].value`: `path` is `emails`, `filter` is the value
/// filter and `sub` is `value`. For `name.givenName`: `path` carries the
/// sub-attribute and `filter`/`sub` are `None`.
///
/// A path naming a whole extension schema, such as
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, parses as
/// `urn = "urn:...:enterprise:2.0"`, `attr = "User"`: the grammar cannot tell a
/// schema from an attribute, so the consumer should first check whether
/// `urn + ":" + attr` is a schema it knows.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub path: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Parses the `path` member of a PATCH operation.
pub fn parse_patch_path(input: &str, limits: &FilterLimits) -> Result<PatchPath, FilterError> {
    check_length(input, limits)?;
    let tokens = lex(input)?;
    let mut parser = Parser::new(tokens, limits);
    let first = parser.bump();
    let Tok::Word(word) = &first.tok else {
        let message = if first.tok == Tok::End {
            "empty path: expected an attribute path such as name.givenName or emails[type eq \"work\"].value".to_string()
        } else {
            format!("expected an attribute path, found {}", first.describe())
        };
        return Err(FilterError::new(first.pos, message));
    };
    let path = attr_path_from_word(word, first.pos)?;
    if parser.peek().tok != Tok::LBracket {
        parser.expect_end("path")?;
        return Ok(PatchPath {
            path,
            filter: None,
            sub: None,
        });
    }
    let Bracketed { path, filter, sub } = parser.parse_bracket(path, &first, 0, Scope::Top)?;
    parser.expect_end("path")?;
    Ok(PatchPath {
        path,
        filter: Some(filter),
        sub: sub.map(|(name, _)| name),
    })
}

/// ATTRNAME = ALPHA *(nameChar), plus `$ref`, which RFC 7643 uses as a
/// sub-attribute name although the ABNF does not allow it.
fn is_attr_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn name_error(at: usize, what: &str, name: &str) -> FilterError {
    FilterError::new(
        at,
        format!(
            "invalid {what} \"{name}\": names start with a letter and contain only letters, digits, \"-\" and \"_\""
        ),
    )
}

/// Splits one lexed word into schema URN, attribute and sub-attribute.
///
/// The URN is everything before the last ':' because URN segments themselves
/// contain ':' and '.' (`...:2.0:User`); only then is the remainder split on its
/// first '.'. The lexer only admits ASCII into words, so byte offsets within
/// `word` equal character offsets and `pos + offset` is a character position.
pub(super) fn attr_path_from_word(word: &str, pos: usize) -> Result<AttrPath, FilterError> {
    let (urn, name, name_at) = match word.rsplit_once(':') {
        Some((urn, name)) => (Some(urn), name, pos + urn.len() + 1),
        None => (None, word, pos),
    };
    if let Some(urn) = urn {
        check_urn(urn, word, pos)?;
    }
    let (attr, sub) = match name.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (name, None),
    };
    if attr.is_empty() {
        let message = match urn {
            Some(urn) => format!("expected an attribute name after the schema URI \"{urn}:\""),
            None => format!("expected an attribute name before \".\" in \"{word}\""),
        };
        return Err(FilterError::new(name_at, message));
    }
    if !is_attr_name(attr) {
        return Err(name_error(name_at, "attribute name", attr));
    }
    if let Some(sub) = sub {
        check_sub(sub, attr, name, name_at + attr.len() + 1)?;
    }
    Ok(AttrPath {
        urn: urn.map(str::to_string),
        attr: attr.to_string(),
        sub: sub.map(str::to_string),
    })
}

fn check_urn(urn: &str, word: &str, pos: usize) -> Result<(), FilterError> {
    if urn.is_empty() || urn.split(':').any(str::is_empty) {
        return Err(FilterError::new(
            pos,
            format!("invalid schema URI \"{urn}\" in \"{word}\": it has an empty segment between ':' separators"),
        ));
    }
    Ok(())
}

/// The sub-attribute of `attr` in `name` (`attr.sub`), which starts at `sub_at`.
fn check_sub(sub: &str, attr: &str, name: &str, sub_at: usize) -> Result<(), FilterError> {
    if sub.is_empty() {
        return Err(FilterError::new(
            sub_at,
            format!("expected a sub-attribute name after \"{attr}.\""),
        ));
    }
    if sub.contains('.') {
        return Err(FilterError::new(
            sub_at,
            format!("attribute paths have at most one sub-attribute, found \"{name}\""),
        ));
    }
    if !is_attr_name(sub) {
        return Err(name_error(sub_at, "sub-attribute name", sub));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::ast::{CompValue, CompareOp};
    use super::*;

    fn parse(input: &str) -> PatchPath {
        parse_patch_path(input, &FilterLimits::default()).unwrap_or_else(|e| panic!("{input}: {e}"))
    }

    fn error(input: &str) -> FilterError {
        match parse_patch_path(input, &FilterLimits::default()) {
            Ok(p) => panic!("{input:?} parsed as {p:?}"),
            Err(e) => e,
        }
    }

    fn type_eq_work() -> Filter {
        Filter::Compare {
            path: AttrPath::simple("type"),
            op: CompareOp::Eq,
            value: CompValue::String("work".into()),
        }
    }

    #[test]
    fn plain_and_sub_attribute_paths() {
        assert_eq!(
            parse("userName"),
            PatchPath {
                path: AttrPath::simple("userName"),
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            parse(" name.givenName "),
            PatchPath {
                path: AttrPath {
                    urn: None,
                    attr: "name".into(),
                    sub: Some("givenName".into())
                },
                filter: None,
                sub: None
            }
        );
    }

    #[test]
    fn urn_qualified_paths() {
        let p = parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
        assert_eq!(
            p.path,
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                attr: "manager".into(),
                sub: Some("value".into())
            }
        );
        // A bare schema URN splits at its last ':'; the consumer recognises it.
        let p = parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
        assert_eq!(
            p.path,
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0".into()),
                attr: "User".into(),
                sub: None
            }
        );
    }

    #[test]
    fn value_paths_with_and_without_sub_attribute() {
        assert_eq!(
            parse(r#"emails[type eq "work"].value"#),
            PatchPath {
                path: AttrPath::simple("emails"),
                filter: Some(type_eq_work()),
                sub: Some("value".into())
            }
        );
        assert_eq!(
            parse(r#"emails[type eq "work"]"#),
            PatchPath {
                path: AttrPath::simple("emails"),
                filter: Some(type_eq_work()),
                sub: None
            }
        );
        let p = parse(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName"#);
        assert_eq!(p.sub.as_deref(), Some("displayName"));
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "userName",
            "name.givenName",
            r#"emails[type eq "work" and not (primary eq true)].value"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"#,
            r#"addresses[type eq "work"]"#,
        ] {
            let p = parse(input);
            assert_eq!(p.to_string(), input);
            assert_eq!(parse(&p.to_string()), p);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("").to_string(),
            "at position 0: empty path: expected an attribute path such as name.givenName or emails[type eq \"work\"].value"
        );
        assert_eq!(
            error(r#"emails[type eq "work"] x"#).to_string(),
            "at position 23: unexpected \"x\" after the end of a complete path; expected end of input"
        );
        assert_eq!(
            error(r#"emails[type eq "work"].value.x"#).message,
            "expected a sub-attribute name of \"emails\" after \"].\", found \"value.x\""
        );
        assert_eq!(error("userName eq \"x\"").position, 9);
        assert_eq!(
            error("(userName)").message,
            "expected an attribute path, found \"(\""
        );
        assert_eq!(error("emails[type pr").position, 14);
        assert!(error("emails[value[type pr]]")
            .message
            .starts_with("nested \"[\""));
        assert!(error("name.givenName[type pr]")
            .message
            .starts_with("a value filter"));
        let limits = FilterLimits {
            max_length: 5,
            max_depth: 0,
        };
        assert_eq!(parse_patch_path("abcdef", &limits).unwrap_err().position, 5);
        assert!(parse_patch_path(
            "a[b pr]",
            &FilterLimits {
                max_length: 100,
                max_depth: 0
            }
        )
        .unwrap_err()
        .message
        .starts_with("filter is nested too deeply"));
    }
}
