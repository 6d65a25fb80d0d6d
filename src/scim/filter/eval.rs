//! Reference in-memory evaluation of filters against SCIM resource JSON; the semantics other backends (SQL) must reproduce.
//!
//! Evaluation is split into a compile step, which resolves every attribute and
//! checks every literal against the attribute's type, and a match step that only
//! reads JSON. Errors therefore depend on the filter and schema alone, never on
//! the data or on short-circuiting, which keeps this usable as a test oracle.
//!
//! Semantics, per RFC 7644 §3.4.2.2 where it speaks and chosen here where it does not:
//! - A path whose URN is one of `extension_urns` addresses the object stored under
//!   that URN key; any other path (no URN, or the core schema URN) addresses the
//!   top level. Unqualified names never reach into extensions. Whether a URN is
//!   valid at all is for [`AttrSemantics::lookup`] to decide.
//! - JSON keys match attribute names ASCII-case-insensitively, exact match first.
//! - A multi-valued attribute, or a sub-attribute of a multi-valued complex
//!   attribute, matches if ANY of its values matches — for `ne` too, so
//!   `emails.value ne "a"` is true when some address is not "a".
//! - "Absent" means no non-null value. Against an absent attribute `eq` is false
//!   and `ne` is true (the attribute is not equal to the value), and every other
//!   operator is false.
//! - `pr` is true when some value is non-null and is not "", [] or {}.
//!   `eq null` is exactly `not pr`, and `ne null` is exactly `pr`.
//! - Strings and references of attributes with caseExact=false are compared folded
//!   (`scim::fold`, Unicode lower case), for every operator; ordering of strings is by code
//!   point. Binary values never fold: base64 case is data.
//! - dateTime values compare as instants; a stored value that does not parse
//!   matches nothing. Numbers compare by value (integers exactly).
//! - Comparing a multi-valued complex attribute without a sub-attribute compares
//!   its `value` sub-attribute (`emails co "x"` is `emails.value co "x"`).
//! - A stored value of the wrong JSON type matches nothing, whatever the operator.

use chrono::{DateTime, Utc};
use serde_json::{Number, Value};

use super::ast::{AttrPath, CompValue, CompareOp, Filter, FilterError};
use crate::scim::schema::AttrType as AttrKind;
use crate::scim::{case, datetime};

/// Schema knowledge the evaluator needs; implemented by the consumer.
pub trait AttrSemantics {
    /// Resolve a top-level attribute path (urn optional) to a JSON pointer-ish location and its type info.
    ///
    /// The evaluator only calls this with `sub == None`; sub-attributes are
    /// resolved through [`AttrSemantics::lookup_sub`]. Return `None` for an
    /// unknown attribute or a URN that is not a schema of the resource type.
    fn lookup(&self, path: &AttrPath) -> Option<AttrInfo>;
    /// Sub-attribute info for `parent.sub` inside value filters.
    ///
    /// Also used for `parent.sub` paths outside value filters. `parent` has
    /// `sub == None`.
    fn lookup_sub(&self, parent: &AttrPath, sub: &str) -> Option<AttrInfo>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrInfo {
    pub kind: AttrKind,
    pub case_exact: bool,
    pub multi_valued: bool,
}

/// Evaluates `filter` against one resource. See the module docs for the semantics.
pub fn matches(
    filter: &Filter,
    resource: &Value,
    sem: &dyn AttrSemantics,
    extension_urns: &[&str],
) -> Result<bool, FilterError> {
    Ok(CompiledFilter::compile(filter, sem, extension_urns)?.matches(resource))
}

/// A filter resolved against a schema, reusable across many resources.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledFilter {
    root: Node,
}

impl CompiledFilter {
    pub fn compile(
        filter: &Filter,
        sem: &dyn AttrSemantics,
        extension_urns: &[&str],
    ) -> Result<Self, FilterError> {
        let compiler = Compiler {
            sem,
            extension_urns,
        };
        Ok(Self {
            root: compiler.compile(filter, Scope::Top, 0)?,
        })
    }

    pub fn matches(&self, resource: &Value) -> bool {
        self.root.eval(resource)
    }
}

/// Recursion bound for compiling. The parser's own depth limit keeps real
/// filters far below this; it exists so hand-built trees cannot exhaust the stack.
const MAX_NESTING: usize = 512;

/// Where a leaf finds its values, relative to the object it is evaluated on
/// (the resource, or one element of a multi-valued attribute inside `[...]`).
#[derive(Debug, Clone, PartialEq)]
struct Loc {
    extension: Option<String>,
    attr: String,
    sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str { text: String, fold: bool },
    Num(Number),
    Bool(bool),
    Date(DateTime<Utc>),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Present(Loc),
    Compare {
        loc: Loc,
        op: CompareOp,
        lit: Lit,
    },
    /// Some element of the attribute at `loc` satisfies `inner`.
    Each {
        loc: Loc,
        inner: Box<Node>,
    },
}

#[derive(Clone, Copy)]
enum Scope<'p> {
    Top,
    Inside(&'p AttrPath),
}

struct Compiler<'s> {
    sem: &'s dyn AttrSemantics,
    extension_urns: &'s [&'s str],
}

fn unknown(path: &dyn std::fmt::Display) -> FilterError {
    FilterError::semantic(format!("unknown attribute '{path}'"))
}

impl Compiler<'_> {
    fn compile(
        &self,
        filter: &Filter,
        scope: Scope<'_>,
        depth: usize,
    ) -> Result<Node, FilterError> {
        if depth > MAX_NESTING {
            return Err(FilterError::semantic(format!(
                "filter is nested more than {MAX_NESTING} levels deep and cannot be evaluated"
            )));
        }
        match filter {
            Filter::And(..) | Filter::Or(..) => self.compile_chain(filter, scope, depth),
            Filter::Not(inner) => Ok(Node::Not(Box::new(self.compile(
                inner,
                scope,
                depth + 1,
            )?))),
            Filter::Present(path) => Ok(Node::Present(self.resolve(path, scope, false)?.0)),
            Filter::Compare { path, op, value } => self.compile_compare(path, *op, value, scope),
            Filter::ValuePath { path, filter } => {
                self.compile_value_path(path, filter, scope, depth)
            }
        }
    }

    /// Flattens a left-associative chain iteratively: chains grow with input
    /// length, not nesting, so recursing along them would not be depth-bounded.
    fn compile_chain(
        &self,
        top: &Filter,
        scope: Scope<'_>,
        depth: usize,
    ) -> Result<Node, FilterError> {
        fn split(f: &Filter, is_and: bool) -> Option<(&Filter, &Filter)> {
            match (f, is_and) {
                (Filter::And(l, r), true) | (Filter::Or(l, r), false) => Some((l, r)),
                _ => None,
            }
        }
        let is_and = matches!(top, Filter::And(..));
        let mut rights = Vec::new();
        let mut cur = top;
        while let Some((left, right)) = split(cur, is_and) {
            rights.push(right);
            cur = left;
        }
        let mut operands = vec![self.compile(cur, scope, depth + 1)?];
        for right in rights.into_iter().rev() {
            operands.push(self.compile(right, scope, depth + 1)?);
        }
        Ok(if is_and {
            Node::All(operands)
        } else {
            Node::Any(operands)
        })
    }

    fn extension_of(&self, urn: Option<&str>) -> Option<String> {
        let urn = urn?;
        self.extension_urns
            .iter()
            .find(|e| e.eq_ignore_ascii_case(urn))
            .map(|e| (*e).to_string())
    }

    /// Resolves a path to where its values live and what type they have. When
    /// `comparing`, a bare complex attribute is replaced by its `value` sub-attribute.
    fn resolve(
        &self,
        path: &AttrPath,
        scope: Scope<'_>,
        comparing: bool,
    ) -> Result<Resolved, FilterError> {
        let resolved = match scope {
            Scope::Inside(outer) => self.resolve_inside(outer, path)?,
            Scope::Top => self.resolve_top(path, comparing)?,
        };
        if comparing && resolved.1.kind == AttrKind::Complex {
            return Err(complex_comparison(&resolved.2));
        }
        Ok(resolved)
    }

    /// A name inside `outer[...]`: a plain sub-attribute of `outer`, found in each element.
    fn resolve_inside(&self, outer: &AttrPath, path: &AttrPath) -> Result<Resolved, FilterError> {
        if path.urn.is_some() || path.sub.is_some() {
            return Err(FilterError::semantic(format!(
                "inside the value filter of '{outer}', attributes must be plain sub-attribute names of '{outer}', found '{path}'"
            )));
        }
        let name = format!("{outer}.{}", path.attr);
        let info = self
            .sem
            .lookup_sub(outer, &path.attr)
            .ok_or_else(|| unknown(&name))?;
        let loc = Loc {
            extension: None,
            attr: path.attr.clone(),
            sub: None,
        };
        Ok((loc, info, name))
    }

    fn resolve_top(&self, path: &AttrPath, comparing: bool) -> Result<Resolved, FilterError> {
        let parent = path.parent();
        let parent_info = self.sem.lookup(&parent).ok_or_else(|| unknown(&parent))?;
        let loc = Loc {
            extension: self.extension_of(path.urn.as_deref()),
            attr: path.attr.clone(),
            sub: path.sub.clone(),
        };
        if let Some(sub) = &path.sub {
            if parent_info.kind != AttrKind::Complex {
                return Err(FilterError::semantic(format!(
                    "'{parent}' is {} attribute and has no sub-attributes, so '{path}' does not exist",
                    parent_info.kind.describe()
                )));
            }
            let info = self
                .sem
                .lookup_sub(&parent, sub)
                .ok_or_else(|| unknown(path))?;
            return Ok((loc, info, path.to_string()));
        }
        if comparing && parent_info.kind == AttrKind::Complex && parent_info.multi_valued {
            return self.resolve_value_of(parent, loc);
        }
        Ok((loc, parent_info, path.to_string()))
    }

    /// RFC 7644 lets `emails co "x"` stand for `emails.value co "x"`.
    fn resolve_value_of(&self, parent: AttrPath, loc: Loc) -> Result<Resolved, FilterError> {
        let info = self.sem.lookup_sub(&parent, "value").ok_or_else(|| {
            FilterError::semantic(format!(
                "'{parent}' is complex and has no 'value' sub-attribute to compare; compare one of its sub-attributes instead, e.g. '{parent}.<name>'"
            ))
        })?;
        let loc = Loc {
            sub: Some("value".to_string()),
            ..loc
        };
        Ok((loc, info, format!("{parent}.value")))
    }

    fn compile_compare(
        &self,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
        scope: Scope<'_>,
    ) -> Result<Node, FilterError> {
        if *value == CompValue::Null {
            let (loc, _, _) = self.resolve(path, scope, false)?;
            return match op {
                CompareOp::Eq => Ok(Node::Not(Box::new(Node::Present(loc)))),
                CompareOp::Ne => Ok(Node::Present(loc)),
                _ => Err(FilterError::semantic(format!(
                    "null can only be compared with eq or ne, not with {op} (in '{path} {op} null')"
                ))),
            };
        }
        let (loc, info, name) = self.resolve(path, scope, true)?;
        check_operator(info.kind, op, &name)?;
        let lit = literal(info, value, &name)?;
        Ok(Node::Compare { loc, op, lit })
    }

    fn compile_value_path(
        &self,
        path: &AttrPath,
        inner: &Filter,
        scope: Scope<'_>,
        depth: usize,
    ) -> Result<Node, FilterError> {
        if let Scope::Inside(outer) = scope {
            return Err(FilterError::semantic(format!(
                "value filters cannot be nested: '{path}[...]' appears inside the value filter of '{outer}'"
            )));
        }
        if path.sub.is_some() {
            return Err(FilterError::semantic(format!(
                "a value filter must follow an attribute without a sub-attribute, found '{path}[...]'"
            )));
        }
        let info = self.sem.lookup(path).ok_or_else(|| unknown(path))?;
        if info.kind != AttrKind::Complex {
            return Err(FilterError::semantic(format!(
                "'{path}' is {} attribute; a value filter '[...]' applies only to complex attributes",
                info.kind.describe()
            )));
        }
        let loc = Loc {
            extension: self.extension_of(path.urn.as_deref()),
            attr: path.attr.clone(),
            sub: None,
        };
        let inner = self.compile(inner, Scope::Inside(path), depth + 1)?;
        Ok(Node::Each {
            loc,
            inner: Box::new(inner),
        })
    }
}

/// Where a path's values are, their type, and the path as messages name it.
type Resolved = (Loc, AttrInfo, String);

/// Whether `op` applies to values of `kind` at all.
fn check_operator(kind: AttrKind, op: CompareOp, name: &str) -> Result<(), FilterError> {
    let unordered = matches!(
        kind,
        AttrKind::Boolean | AttrKind::Binary | AttrKind::Complex
    );
    if op.is_ordering() && unordered {
        return Err(FilterError::semantic(format!(
            "'{name}' is {} and cannot be ordered, so {op} does not apply; use eq or ne",
            kind.describe()
        )));
    }
    if op.is_substring() && !kind.is_stringy() {
        return Err(FilterError::semantic(format!(
            "operator {op} applies only to string attributes, but '{name}' is {}",
            kind.describe()
        )));
    }
    Ok(())
}

/// The literal as the attribute's values compare with it: folded by the one folding rule,
/// read as an instant for dateTimes.
fn literal(info: AttrInfo, value: &CompValue, name: &str) -> Result<Lit, FilterError> {
    let kind = info.kind;
    let wrong = |expected: String| Err(FilterError::semantic(expected));
    match (kind, value) {
        (_, CompValue::String(s)) if kind.is_stringy() => {
            let fold = case::folds(kind, info.case_exact);
            let text = if fold { case::fold(s) } else { s.clone() };
            Ok(Lit::Str { text, fold })
        }
        (_, v) if kind.is_stringy() => wrong(format!(
            "'{name}' is {}, so the value must be a string in double quotes, not {v}",
            kind.describe()
        )),
        (AttrKind::Boolean, CompValue::Bool(b)) => Ok(Lit::Bool(*b)),
        (AttrKind::Boolean, v) => wrong(format!(
            "'{name}' is a boolean, so the value must be true or false, not {v}"
        )),
        (AttrKind::Decimal | AttrKind::Integer, CompValue::Number(n)) => Ok(Lit::Num(n.clone())),
        (AttrKind::Decimal | AttrKind::Integer, v) => wrong(format!(
            "'{name}' is {}, so the value must be a number, not {v}",
            kind.describe()
        )),
        (AttrKind::DateTime, CompValue::String(s)) => datetime::parse(s).map(Lit::Date).ok_or_else(|| {
            FilterError::semantic(format!(
                "'{name}' is a dateTime, but {value} is not a valid date-time; expected RFC 3339 such as \"2011-05-13T04:42:34Z\""
            ))
        }),
        (AttrKind::DateTime, v) => wrong(format!(
            "'{name}' is a dateTime, so the value must be a quoted date-time such as \"2011-05-13T04:42:34Z\", not {v}"
        )),
        _ => Err(complex_comparison(name)),
    }
}

fn complex_comparison(name: &str) -> FilterError {
    FilterError::semantic(format!(
        "'{name}' is a complex attribute and cannot be compared directly; compare one of its sub-attributes, e.g. '{name}.<sub-attribute> eq ...'"
    ))
}

/// Object member by attribute name: exact key first, then ASCII-case-insensitive.
fn member<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The values of a possibly multi-valued attribute, nulls dropped.
fn each_value(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    let (array, single) = match value {
        Some(Value::Array(items)) => (items.as_slice(), None),
        Some(Value::Null) | None => (&[][..], None),
        Some(other) => (&[][..], Some(other)),
    };
    array.iter().chain(single).filter(|v| !v.is_null())
}

fn container<'v>(ctx: &'v Value, loc: &Loc) -> Option<&'v Value> {
    let base = match &loc.extension {
        Some(urn) => member(ctx, urn)?,
        None => ctx,
    };
    member(base, &loc.attr)
}

/// All non-null values at `loc`, with multi-valued attributes and sub-attributes
/// of multi-valued complex attributes flattened into one list.
fn gather<'v>(ctx: &'v Value, loc: &Loc) -> Vec<&'v Value> {
    let top = container(ctx, loc);
    match &loc.sub {
        None => each_value(top).collect(),
        Some(sub) => each_value(top)
            .flat_map(|element| each_value(member(element, sub)))
            .collect(),
    }
}

/// Presence without descending: SCIM values are at most two levels deep, and a
/// non-recursive test keeps arbitrarily nested input from costing stack.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

impl Node {
    fn eval(&self, ctx: &Value) -> bool {
        match self {
            Node::All(nodes) => nodes.iter().all(|n| n.eval(ctx)),
            Node::Any(nodes) => nodes.iter().any(|n| n.eval(ctx)),
            Node::Not(inner) => !inner.eval(ctx),
            Node::Present(loc) => gather(ctx, loc).into_iter().any(is_present),
            Node::Compare { loc, op, lit } => {
                let values = gather(ctx, loc);
                if values.is_empty() {
                    // RFC 7644 is silent on absent attributes; reading `ne` as "is not
                    // equal" makes it true there, and every other operator false.
                    return *op == CompareOp::Ne;
                }
                values.into_iter().any(|v| compare(v, *op, lit))
            }
            Node::Each { loc, inner } => each_value(container(ctx, loc))
                .filter(|element| element.is_object())
                .any(|element| inner.eval(element)),
        }
    }
}

fn ordering_matches(op: CompareOp, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        CompareOp::Eq => ord == Equal,
        CompareOp::Ne => ord != Equal,
        CompareOp::Gt => ord == Greater,
        CompareOp::Ge => ord != Less,
        CompareOp::Lt => ord == Less,
        CompareOp::Le => ord != Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare(stored: &Value, op: CompareOp, lit: &Lit) -> bool {
    match (stored, lit) {
        (Value::String(s), Lit::Str { text, fold }) => {
            let folded;
            let s = if *fold {
                folded = case::fold(s);
                folded.as_str()
            } else {
                s.as_str()
            };
            match op {
                CompareOp::Co => s.contains(text.as_str()),
                CompareOp::Sw => s.starts_with(text.as_str()),
                CompareOp::Ew => s.ends_with(text.as_str()),
                _ => ordering_matches(op, s.cmp(text.as_str())),
            }
        }
        (Value::Number(n), Lit::Num(m)) => {
            compare_numbers(n, m).is_some_and(|ord| ordering_matches(op, ord))
        }
        (Value::Bool(b), Lit::Bool(c)) => match op {
            CompareOp::Eq => b == c,
            CompareOp::Ne => b != c,
            _ => false,
        },
        (Value::String(s), Lit::Date(when)) => {
            datetime::parse(s).is_some_and(|t| ordering_matches(op, t.cmp(when)))
        }
        _ => false,
    }
}

/// Exact for any pair of 64-bit integers; through f64 once either side has a fraction.
fn compare_numbers(a: &Number, b: &Number) -> Option<std::cmp::Ordering> {
    let exact = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (exact(a), exact(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ast::FilterLimits;
    use super::super::parser::parse_filter;
    use super::*;
    use serde_json::json;

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    struct UserSchema;

    fn info(kind: AttrKind, case_exact: bool, multi_valued: bool) -> AttrInfo {
        AttrInfo {
            kind,
            case_exact,
            multi_valued,
        }
    }

    impl AttrSemantics for UserSchema {
        fn lookup(&self, path: &AttrPath) -> Option<AttrInfo> {
            use AttrKind::*;
            assert!(
                path.sub.is_none(),
                "evaluator passed a sub-attribute to lookup"
            );
            let name = path.attr.to_ascii_lowercase();
            match path.urn.as_deref().map(str::to_ascii_lowercase) {
                None => {}
                Some(u) if u == CORE.to_ascii_lowercase() => {}
                Some(u) if u == ENTERPRISE.to_ascii_lowercase() => {
                    return match name.as_str() {
                        "employeenumber" | "costcenter" => Some(info(String, false, false)),
                        "manager" => Some(info(Complex, false, false)),
                        _ => None,
                    };
                }
                Some(_) => return None,
            }
            Some(match name.as_str() {
                "id" | "externalid" => info(String, true, false),
                "username" | "displayname" | "title" | "usertype" => info(String, false, false),
                "schemas" => info(Reference, true, true),
                "active" => info(Boolean, false, false),
                "logincount" => info(Integer, false, false),
                "score" => info(Decimal, false, false),
                "lastlogin" => info(DateTime, false, false),
                "nicknames" => info(String, false, true),
                "luckynumbers" => info(Integer, false, true),
                "photo" => info(Binary, true, false),
                "name" | "meta" => info(Complex, false, false),
                "emails" | "groups" | "x509certificates" | "roles" => info(Complex, false, true),
                _ => return None,
            })
        }

        fn lookup_sub(&self, parent: &AttrPath, sub: &str) -> Option<AttrInfo> {
            use AttrKind::*;
            let sub = sub.to_ascii_lowercase();
            let parent_name = parent.attr.to_ascii_lowercase();
            Some(match (parent_name.as_str(), sub.as_str()) {
                ("name", "givenname" | "familyname" | "formatted") => info(String, false, false),
                ("meta", "created" | "lastmodified") => info(DateTime, false, false),
                ("meta", "location") => info(Reference, true, false),
                ("emails", "value" | "type" | "display") => info(String, false, false),
                ("emails", "primary") => info(Boolean, false, false),
                ("groups", "value") => info(String, true, false),
                ("groups", "$ref") => info(Reference, true, false),
                ("x509certificates", "value") => info(Binary, true, false),
                ("roles", "display") => info(String, false, false),
                ("manager", "value" | "displayname") => info(String, false, false),
                ("manager", "$ref") => info(Reference, true, false),
                _ => return None,
            })
        }
    }

    fn user() -> Value {
        json!({
            "schemas": [CORE, ENTERPRISE],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Ext-1",
            "userName": "BJensen@Example.com",
            "displayName": "Babs Jensen",
            "title": "",
            "active": true,
            "loginCount": 42,
            "score": 7.5,
            "lastLogin": "2011-05-13T04:42:34Z",
            "nickNames": ["Babs", "BJ"],
            "luckyNumbers": [3, 7],
            "photo": "QUJD",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": null},
            "meta": {
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34.500+02:00",
                "location": "https://example.com/v2/Users/2819c223"
            },
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "groups": [],
            "roles": [{}],
            "x509Certificates": [{"value": "TUlJ"}],
            ENTERPRISE: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
            }
        })
    }

    fn eval_on(filter: &str, resource: &Value) -> Result<bool, FilterError> {
        let parsed = parse_filter(filter, &FilterLimits::default())
            .unwrap_or_else(|e| panic!("{filter}: {e}"));
        matches(&parsed, resource, &UserSchema, &[ENTERPRISE])
    }

    fn check(filter: &str) -> bool {
        eval_on(filter, &user()).unwrap_or_else(|e| panic!("{filter}: {e}"))
    }

    fn eval_error(filter: &str) -> String {
        match eval_on(filter, &user()) {
            Ok(b) => panic!("{filter} evaluated to {b}"),
            Err(e) => {
                assert!(!e.has_position());
                e.to_string()
            }
        }
    }

    #[test]
    fn eq_folds_case_unless_case_exact() {
        assert!(check(r#"userName eq "bjensen@example.com""#));
        assert!(check(r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#));
        assert!(check(r#"externalId eq "Ext-1""#));
        assert!(!check(r#"externalId eq "ext-1""#));
        assert!(check(r#"externalId ne "ext-1""#));
        assert!(!check(r#"userName ne "bjensen@example.com""#));
    }

    #[test]
    fn unicode_case_folding() {
        let r = json!({"displayName": "ÉMILE Straße"});
        assert_eq!(eval_on(r#"displayName eq "émile straße""#, &r), Ok(true));
        assert_eq!(eval_on(r#"displayName sw "ÉM""#, &r), Ok(true));
    }

    #[test]
    fn substring_operators() {
        assert!(check(r#"userName co "JENSEN@""#));
        assert!(check(r#"userName sw "bj""#));
        assert!(check(r#"userName ew ".COM""#));
        assert!(!check(r#"userName sw "jensen""#));
        assert!(!check(r#"userName ew "bj""#));
        assert!(!check(r#"externalId co "ext""#));
        assert!(check(r#"userName co """#));
    }

    #[test]
    fn string_ordering() {
        assert!(check(r#"displayName gt "babs""#));
        assert!(check(r#"displayName ge "Babs Jensen""#));
        assert!(check(r#"displayName lt "C""#));
        assert!(check(r#"displayName le "babs jensen""#));
        assert!(!check(r#"displayName lt "Babs""#));
        assert!(!check(r#"displayName gt "c""#));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(check("loginCount eq 42"));
        assert!(check("loginCount eq 42.0"));
        assert!(check("loginCount eq 4.2e1"));
        assert!(check("loginCount gt 41.5"));
        assert!(check("loginCount ge 42 and loginCount le 42"));
        assert!(check("loginCount lt 100 and loginCount ne 43"));
        assert!(check("score gt 7 and score lt 8 and score eq 7.5"));
        assert!(check("loginCount gt -1"));
        let big = json!({"loginCount": u64::MAX});
        assert_eq!(eval_on("loginCount gt 9223372036854775807", &big), Ok(true));
        assert_eq!(
            eval_on("loginCount eq 18446744073709551615", &big),
            Ok(true)
        );
        assert_eq!(
            eval_on("loginCount gt -9223372036854775808", &big),
            Ok(true)
        );
    }

    #[test]
    fn booleans() {
        assert!(check("active eq true"));
        assert!(check("active ne false"));
        assert!(!check("active eq FALSE"));
        assert!(check("emails.primary eq true"));
        assert_eq!(
            eval_error("active gt true"),
            "'active' is a boolean and cannot be ordered, so gt does not apply; use eq or ne"
        );
        assert_eq!(
            eval_error("active co true"),
            "operator co applies only to string attributes, but 'active' is a boolean"
        );
    }

    #[test]
    fn date_times_compare_as_instants() {
        // 04:42:34.5+02:00 is 02:42:34.5Z.
        assert!(check(r#"meta.lastModified eq "2011-05-13T02:42:34.5Z""#));
        assert!(check(
            r#"meta.lastModified eq "2011-05-12T21:42:34.500000-05:00""#
        ));
        assert!(check(r#"meta.lastModified gt "2011-05-13T02:42:34Z""#));
        assert!(check(r#"meta.lastModified lt "2011-05-13T02:42:34.501Z""#));
        assert!(check(r#"meta.created lt "2011-05-13T04:42:34Z""#));
        assert!(check(
            r#"lastLogin ge "2011-05-13T04:42:34z" and lastLogin le "2011-05-13t04:42:34""#
        ));
        assert!(!check(r#"meta.created gt "2011-01-01T00:00:00Z""#));
        assert_eq!(
            eval_error(r#"meta.created gt "yesterday""#),
            "'meta.created' is a dateTime, but \"yesterday\" is not a valid date-time; expected RFC 3339 such as \"2011-05-13T04:42:34Z\""
        );
        assert_eq!(
            eval_error("meta.created gt 5"),
            "'meta.created' is a dateTime, so the value must be a quoted date-time such as \"2011-05-13T04:42:34Z\", not 5"
        );
        assert!(eval_error(r#"meta.created co "2011""#)
            .starts_with("operator co applies only to string"));
        let bad = json!({"meta": {"created": "not a date"}});
        assert_eq!(
            eval_on(r#"meta.created ne "2011-01-01T00:00:00Z""#, &bad),
            Ok(false)
        );
    }

    #[test]
    fn multi_valued_matches_any_value() {
        assert!(check(r#"emails.value eq "babs@jensen.org""#));
        assert!(check(r#"emails.type eq "work""#));
        assert!(check(r#"nickNames eq "bj""#));
        assert!(check("luckyNumbers gt 5"));
        assert!(!check("luckyNumbers gt 7"));
        assert!(check(r#"emails.value ne "babs@jensen.org""#));
        assert!(check(
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
        ));
        assert!(!check(
            r#"schemas eq "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER""#
        ));
    }

    #[test]
    fn complex_multi_valued_compares_its_value_sub_attribute() {
        assert!(check(r#"emails co "jensen.org""#));
        assert!(check(r#"emails eq "BJENSEN@example.com""#));
        assert!(!check(r#"emails co "nowhere""#));
        assert_eq!(
            eval_error(r#"roles eq "x""#),
            "'roles' is complex and has no 'value' sub-attribute to compare; compare one of its sub-attributes instead, e.g. 'roles.<name>'"
        );
        assert_eq!(
            eval_error(r#"name eq "Barbara""#),
            "'name' is a complex attribute and cannot be compared directly; compare one of its sub-attributes, e.g. 'name.<sub-attribute> eq ...'"
        );
        assert!(check(r#"name.givenName eq "barbara""#));
    }

    #[test]
    fn presence() {
        assert!(check("userName pr"));
        assert!(check("emails pr"));
        assert!(check("emails.value pr"));
        assert!(check("name pr"));
        assert!(check("x509Certificates pr"));
        assert!(!check("title pr"), "empty string is not present");
        assert!(!check("groups pr"), "empty array is not present");
        assert!(!check("roles pr"), "array of empty objects is not present");
        assert!(!check("name.formatted pr"), "null is not present");
        assert!(!check("usertype pr"), "missing is not present");
        assert!(!check("emails.display pr"));
        assert!(check("name.givenName pr"));
        assert!(check("luckyNumbers pr") && check("active pr") && check("loginCount pr"));
    }

    #[test]
    fn absent_attributes() {
        // Absent: eq is false, ne is true, ordering and substring are false.
        assert!(!check(r#"userType eq "Employee""#));
        assert!(check(r#"userType ne "Employee""#));
        assert!(!check(r#"userType co "E""#));
        assert!(!check(r#"userType gt "A""#));
        assert!(check(r#"emails.display ne "x""#));
        assert!(!check(r#"emails.display eq "x""#));
        // eq null is "not pr", ne null is "pr".
        assert!(check("userType eq null"));
        assert!(check("title eq null"));
        assert!(!check("userType ne null"));
        assert!(check("userName ne null"));
        assert!(!check("userName eq null"));
        assert!(!check("name eq null"));
        assert_eq!(
            eval_error("userName gt null"),
            "null can only be compared with eq or ne, not with gt (in 'userName gt null')"
        );
        assert_eq!(eval_on(r#"userName eq "x""#, &json!(null)), Ok(false));
        assert_eq!(eval_on(r#"userName ne "x""#, &json!([1, 2])), Ok(true));
    }

    #[test]
    fn unknown_attributes() {
        assert_eq!(
            eval_error(r#"nickname eq "x""#),
            "unknown attribute 'nickname'"
        );
        assert_eq!(eval_error("nmae.givenName pr"), "unknown attribute 'nmae'");
        assert_eq!(
            eval_error("name.middle pr"),
            "unknown attribute 'name.middle'"
        );
        assert_eq!(
            eval_error("emails[kind pr]"),
            "unknown attribute 'emails.kind'"
        );
        assert_eq!(
            eval_error("urn:example:Foo:userName pr"),
            "unknown attribute 'urn:example:Foo:userName'"
        );
        assert_eq!(
            eval_error("userName.x pr"),
            "'userName' is a string attribute and has no sub-attributes, so 'userName.x' does not exist"
        );
    }

    #[test]
    fn errors_do_not_depend_on_data_or_short_circuit() {
        let empty = json!({});
        assert!(eval_on("emails[kind pr]", &empty).is_err());
        assert!(eval_on("userName pr or bogus pr", &user()).is_err());
        assert!(eval_on("title pr and active gt true", &user()).is_err());
    }

    #[test]
    fn schema_urns_address_core_and_extensions() {
        assert!(check(&format!(r#"{CORE}:userName sw "bjensen""#)));
        assert!(check(&format!(r#"{CORE}:name.familyName eq "jensen""#)));
        assert!(check(&format!(
            r#"{ENTERPRISE}:employeeNumber eq "701984""#
        )));
        assert!(check(&format!(
            r#"{}:manager.value sw "26118915""#,
            ENTERPRISE.to_uppercase()
        )));
        assert!(check(&format!(
            r#"{ENTERPRISE}:manager.displayName eq "john smith""#
        )));
        assert!(check(&format!("{ENTERPRISE}:manager pr")));
        assert!(!check(&format!("{ENTERPRISE}:costCenter pr")));
        // Unqualified names do not reach into the extension.
        assert!(eval_error("employeeNumber pr").starts_with("unknown attribute"));
        let r = json!({ENTERPRISE: {"EMPLOYEENUMBER": "5"}});
        assert_eq!(
            eval_on(&format!(r#"{ENTERPRISE}:employeeNumber eq "5""#), &r),
            Ok(true)
        );
    }

    #[test]
    fn json_keys_match_case_insensitively() {
        let r = json!({"USERNAME": "x", "Emails": [{"VALUE": "a@b", "Type": "work"}]});
        assert_eq!(eval_on(r#"userName eq "x""#, &r), Ok(true));
        assert_eq!(
            eval_on(r#"emails[type eq "work" and value eq "a@b"]"#, &r),
            Ok(true)
        );
        let both = json!({"username": "lower", "userName": "exact"});
        assert_eq!(eval_on(r#"userName eq "exact""#, &both), Ok(true));
    }

    #[test]
    fn value_filters_select_one_element() {
        assert!(check(
            r#"emails[type eq "work" and value co "example.com"]"#
        ));
        assert!(!check(
            r#"emails[type eq "home" and value co "example.com"]"#
        ));
        assert!(check(r#"emails[type eq "home" or primary eq true]"#));
        assert!(check(r#"emails[not (type eq "work")]"#));
        assert!(check(
            r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
        ));
        assert!(!check(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert!(check(r#"emails[type eq "home"].primary ne true"#));
        assert!(check(&format!(
            r#"{ENTERPRISE}:manager[displayName sw "John"]"#
        )));
        assert!(check(r#"name[givenName eq "Barbara"]"#));
        assert!(!check(r#"groups[value pr]"#));
        assert!(!eval_on(r#"emails[type eq "work"]"#, &json!({})).unwrap_or(true));
        assert_eq!(
            eval_error("userName[value pr]"),
            "'userName' is a string attribute; a value filter '[...]' applies only to complex attributes"
        );
        assert_eq!(
            eval_error(r#"emails[value eq 5]"#),
            "'emails.value' is a string, so the value must be a string in double quotes, not 5"
        );
    }

    #[test]
    fn literal_type_mismatches() {
        assert_eq!(
            eval_error(r#"loginCount eq "42""#),
            "'loginCount' is an integer, so the value must be a number, not \"42\""
        );
        assert_eq!(
            eval_error(r#"score gt "1""#),
            "'score' is a decimal, so the value must be a number, not \"1\""
        );
        assert_eq!(
            eval_error(r#"active eq "true""#),
            "'active' is a boolean, so the value must be true or false, not \"true\""
        );
        assert_eq!(
            eval_error("userName eq true"),
            "'userName' is a string, so the value must be a string in double quotes, not true"
        );
        assert_eq!(
            eval_error("loginCount sw 4"),
            "operator sw applies only to string attributes, but 'loginCount' is an integer"
        );
    }

    #[test]
    fn binary_and_complex_cannot_be_ordered() {
        assert_eq!(
            eval_error(r#"photo lt "QUJD""#),
            "'photo' is binary and cannot be ordered, so lt does not apply; use eq or ne"
        );
        assert!(check(r#"photo eq "QUJD""#));
        assert!(!check(r#"photo eq "qujd""#));
        assert_eq!(
            eval_error(r#"x509Certificates ge "TUlJ""#),
            "'x509Certificates.value' is binary and cannot be ordered, so ge does not apply; use eq or ne"
        );
    }

    #[test]
    fn wrong_stored_types_match_nothing() {
        let r = json!({"loginCount": "42", "active": "yes", "userName": 5});
        assert_eq!(eval_on("loginCount eq 42", &r), Ok(false));
        assert_eq!(eval_on("active ne true", &r), Ok(false));
        assert_eq!(eval_on(r#"userName ne "x""#, &r), Ok(false));
    }

    #[test]
    fn logic_and_precedence() {
        // a or b and c == a or (b and c): with a true and c false, true.
        assert!(check(r#"userName pr or title pr and active eq false"#));
        assert!(!check(r#"(userName pr or title pr) and active eq false"#));
        assert!(check(r#"not (title pr)"#));
        assert!(!check(r#"not (userName pr) or title pr"#));
        assert!(check(r#"userType pr or displayName pr or id pr"#));
    }

    #[test]
    fn long_chains_evaluate_without_deep_recursion() {
        let input = vec!["userName pr"; super::super::parser::MAX_TERMS].join(" and ");
        let limits = FilterLimits {
            max_length: 20_000,
            max_depth: 32,
        };
        let f = parse_filter(&input, &limits).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(matches(&f, &user(), &UserSchema, &[ENTERPRISE]), Ok(true));
        let compiled = CompiledFilter::compile(&f, &UserSchema, &[ENTERPRISE]);
        assert!(
            matches!(compiled, Ok(CompiledFilter { root: Node::All(ref v) }) if v.len() == super::super::parser::MAX_TERMS)
        );
    }

    #[test]
    fn hand_built_trees_are_checked() {
        let nested = Filter::ValuePath {
            path: AttrPath::simple("emails"),
            filter: Box::new(Filter::ValuePath {
                path: AttrPath::simple("value"),
                filter: Box::new(Filter::Present(AttrPath::simple("x"))),
            }),
        };
        assert!(matches(&nested, &user(), &UserSchema, &[])
            .unwrap_err()
            .message
            .starts_with("value filters cannot be nested"));
        let mut deep = Filter::Present(AttrPath::simple("userName"));
        for _ in 0..600 {
            deep = Filter::Not(Box::new(deep));
        }
        assert!(matches(&deep, &user(), &UserSchema, &[])
            .unwrap_err()
            .message
            .contains("nested more than 512"));
    }

    #[test]
    fn compiled_filter_is_reusable() {
        let f = parse_filter(r#"emails[type eq "work"]"#, &FilterLimits::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let compiled =
            CompiledFilter::compile(&f, &UserSchema, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(compiled.matches(&user()));
        assert!(!compiled.matches(&json!({"emails": [{"type": "home"}]})));
        assert!(compiled.matches(&json!({"emails": {"type": "WORK"}})));
    }
}
