//! Lowers a parsed SCIM filter onto storage fields, using the schema registry for each
//! attribute's place, type and case rules. The store then compiles the result to SQL.

use chrono::{DateTime, Datelike, Utc};

use crate::clock;
use crate::scim::datetime;
use crate::scim::filter::{parse_filter, AttrPath, CompValue, CompareOp, Filter, FilterLimits};
use crate::scim::resolve::{Owner, PathError, ResolvedPath};
use crate::scim::schema::{common, AttrType, Attribute, Registry, ResourceKind, ResourceSchema};
use crate::scim::{folds, ScimError};
use crate::store::query::{Field, Literal, Op, Predicate};

pub fn lower_filter(
    kind: ResourceKind,
    text: &str,
    limits: &FilterLimits,
) -> Result<Predicate, ScimError> {
    let filter = parse_filter(text, limits)
        .map_err(|e| ScimError::invalid_filter(format!("invalid filter: {e}")))?;
    if holds_nul(&filter) {
        return Err(ScimError::invalid_filter(
            "invalid filter: a value in it contains NUL (U+0000), which no stored value holds \
             (and PostgreSQL cannot compare); remove it",
        ));
    }
    let schema = Registry::get().resource(kind);
    lower(schema, &filter)
}

/// Whether a compared string holds NUL (written as the escape `\u0000`), chains walked
/// without recursion.
fn holds_nul(f: &Filter) -> bool {
    match f {
        Filter::And(..) => chain(f, true).into_iter().any(holds_nul),
        Filter::Or(..) => chain(f, false).into_iter().any(holds_nul),
        Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => holds_nul(inner),
        Filter::Compare {
            value: CompValue::String(s),
            ..
        } => s.contains('\0'),
        Filter::Compare { .. } | Filter::Present(_) => false,
    }
}

/// Where an attribute path lands, with the definition that governs its comparisons.
enum Target<'a> {
    Column(Field, &'a Attribute),
    Json(Vec<String>, &'a Attribute),
    /// A sub-attribute (or the value) of the multi-valued attribute `of`, stored at `array`:
    /// matched per element, by the definition `def`.
    Elements {
        array: Vec<String>,
        sub: Option<String>,
        def: &'a Attribute,
        of: &'a Attribute,
    },
    Relation(Field),
    ResourceType,
}

/// The operands of the `and` (`is_and`) or `or` chain at `f`, left to right, gathered without
/// recursion. The parser makes `a or b or c` the left-deep `Or(Or(a, b), c)`, as deep as the
/// chain is long: lowering it one level per operand ran a 4,000-character filter of 450 `or`s
/// off the thread's stack and aborted the process. One flat n-ary predicate per chain keeps the
/// depth to the nesting of parentheses, which the parser bounds.
fn chain(f: &Filter, is_and: bool) -> Vec<&Filter> {
    let mut operands = Vec::new();
    let mut cur = f;
    while let (Filter::And(l, r), true) | (Filter::Or(l, r), false) = (cur, is_and) {
        operands.push(&**r);
        cur = l;
    }
    operands.push(cur);
    operands.reverse();
    operands
}

/// Lowers each operand of a chain and joins them with the chain's operator.
fn lower_chain(
    f: &Filter,
    is_and: bool,
    mut each: impl FnMut(&Filter) -> Result<Predicate, ScimError>,
) -> Result<Predicate, ScimError> {
    let preds = chain(f, is_and)
        .into_iter()
        .map(&mut each)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if is_and {
        Predicate::And(preds)
    } else {
        Predicate::Or(preds)
    })
}

fn lower(schema: &ResourceSchema, f: &Filter) -> Result<Predicate, ScimError> {
    Ok(match f {
        Filter::And(..) => lower_chain(f, true, |o| lower(schema, o))?,
        Filter::Or(..) => lower_chain(f, false, |o| lower(schema, o))?,
        Filter::Not(a) => Predicate::Not(Box::new(lower(schema, a)?)),
        Filter::Present(path) => present(schema, path)?,
        // `eq null` is exactly "not pr" and `ne null` exactly "pr", of the attribute as named:
        // `emails eq null` asks about the emails, not about their `value`s.
        Filter::Compare {
            path,
            op,
            value: CompValue::Null,
        } => match op {
            CompareOp::Eq => Predicate::Not(Box::new(present(schema, path)?)),
            CompareOp::Ne => present(schema, path)?,
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' can be compared with null only by eq or ne"
                )))
            }
        },
        Filter::Compare { path, op, value } => {
            let target = resolve(schema, path)?;
            compare(schema, path, target, *op, value)?
        }
        Filter::ValuePath { path, filter } => lower_value_path(schema, path, filter)?,
    })
}

/// `attr[filter]`: some element of `attr` satisfies `filter`.
fn lower_value_path(
    schema: &ResourceSchema,
    path: &AttrPath,
    filter: &Filter,
) -> Result<Predicate, ScimError> {
    let element_field = |sub: &str| Field::Element(Some(sub.to_owned()));
    match resolve(schema, path)? {
        Target::Relation(field) => lower_relation(field, filter),
        // `name[givenName eq "x"]`: a singular complex attribute is its own one element.
        Target::Json(object, def) if def.kind == AttrType::Complex && !def.multi_valued => {
            let inner = lower_element(def, filter, &|sub| {
                let mut p = object.clone();
                p.push(sub.to_owned());
                Field::Json(p)
            })?;
            Ok(Predicate::And(vec![
                Predicate::Present(Field::Json(object)),
                inner,
            ]))
        }
        Target::Elements { array, of, .. } | Target::Json(array, of)
            if path.sub.is_none() && of.multi_valued && of.kind == AttrType::Complex =>
        {
            Ok(Predicate::AnyElement {
                array,
                pred: Box::new(lower_element(of, filter, &element_field)?),
            })
        }
        _ => Err(ScimError::invalid_filter(format!(
            "'{path}[...]' needs a multi-valued complex attribute such as emails"
        ))),
    }
}

/// `members[value eq "id"]` and `groups[value eq "id"]`: the membership table.
fn lower_relation(field: Field, f: &Filter) -> Result<Predicate, ScimError> {
    match f {
        Filter::And(..) => lower_chain(f, true, |o| lower_relation(field.clone(), o)),
        Filter::Or(..) => lower_chain(f, false, |o| lower_relation(field.clone(), o)),
        Filter::Compare { path, op, value } if path.attr.eq_ignore_ascii_case("value") => {
            let CompValue::String(s) = value else {
                return Err(ScimError::invalid_filter("member ids are strings"));
            };
            Ok(Predicate::Compare {
                field,
                op: map_op(*op),
                value: Literal::String(s.clone()),
                fold: false,
            })
        }
        _ => Err(ScimError::invalid_filter(
            "membership can be filtered by 'value' only, e.g. members[value eq \"<id>\"]",
        )),
    }
}

/// The filter inside `attr[...]`, whose names are sub-attributes of `attr`; `field` says where
/// a sub-attribute of the element being tested lives.
fn lower_element(
    def: &Attribute,
    f: &Filter,
    field: &dyn Fn(&str) -> Field,
) -> Result<Predicate, ScimError> {
    Ok(match f {
        Filter::And(..) => lower_chain(f, true, |o| lower_element(def, o, field))?,
        Filter::Or(..) => lower_chain(f, false, |o| lower_element(def, o, field))?,
        Filter::Not(a) => Predicate::Not(Box::new(lower_element(def, a, field)?)),
        Filter::Present(p) => {
            let sub = element_sub(def, p)?;
            Predicate::Present(field(&sub.name))
        }
        Filter::Compare { path, op, value } => {
            let sub = element_sub(def, path)?;
            compare_typed(
                field(&sub.name),
                sub,
                &format!("{}.{}", def.name, sub.name),
                *op,
                value,
            )?
        }
        Filter::ValuePath { .. } => {
            return Err(ScimError::invalid_filter(
                "a value filter cannot contain another value filter",
            ))
        }
    })
}

fn element_sub<'a>(def: &'a Attribute, p: &AttrPath) -> Result<&'a Attribute, ScimError> {
    def.sub(&p.attr).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "unknown attribute '{}.{}' in filter",
            def.name, p.attr
        ))
    })
}

/// `attr pr`: whether the attribute as named has a value. `emails pr` asks for any email at
/// all, unlike `emails eq "x"`, which compares the emails' `value`s.
fn present(schema: &ResourceSchema, path: &AttrPath) -> Result<Predicate, ScimError> {
    Ok(match resolve(schema, path)? {
        Target::Column(field, _) | Target::Relation(field) => Predicate::Present(field),
        Target::Json(p, _) => Predicate::Present(Field::Json(p)),
        // Stored multi-valued attributes are never empty arrays (see `validate`).
        Target::Elements { array, .. } if path.sub.is_none() => {
            Predicate::Present(Field::Json(array))
        }
        Target::Elements { array, sub, .. } => Predicate::AnyElement {
            array,
            pred: Box::new(Predicate::Present(Field::Element(sub))),
        },
        Target::ResourceType => Predicate::True,
    })
}

/// Where an attribute path lands in storage, resolved once against the schema.
fn resolve<'a>(schema: &'a ResourceSchema, path: &AttrPath) -> Result<Target<'a>, ScimError> {
    let p = match schema.resolve(path) {
        Ok(p) => p,
        Err(e) => return Err(unresolved(schema, path, e)),
    };
    if matches!(p.owner, Owner::Common) {
        return common_target(p, path);
    }
    let core = matches!(p.owner, Owner::Core(_));
    if core && p.attr.name == schema.kind.name_attr() && p.sub.is_none() {
        return Ok(Target::Column(Field::NameFolded, p.attr));
    }
    if let Some(field) = relation(schema.kind, p.attr).filter(|_| core) {
        return match p.sub_name() {
            None | Some("value") => Ok(Target::Relation(field)),
            Some(_) => Err(membership_only(path, p.attr)),
        };
    }
    Ok(json_target(p))
}

/// The message for a path that names no attribute: `meta` and membership sub-attributes that
/// do not exist get the same advice as those that exist but cannot be filtered.
fn unresolved(schema: &ResourceSchema, path: &AttrPath, e: PathError<'_>) -> ScimError {
    match e.attr() {
        Some(a) if std::ptr::eq(a, meta_attr()) => meta_not_filterable(path),
        Some(a) if relation(schema.kind, a).is_some() => membership_only(path, a),
        _ => ScimError::invalid_filter(format!("unknown attribute '{path}' in filter")),
    }
}

fn meta_attr() -> &'static Attribute {
    common().attr("meta").expect("meta is a common attribute")
}

fn meta_not_filterable(path: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!(
        "'{path}' cannot be filtered; use meta.created, meta.lastModified or meta.resourceType"
    ))
}

fn membership_only(path: &AttrPath, attr: &Attribute) -> ScimError {
    ScimError::invalid_filter(format!(
        "'{path}' cannot be filtered; filter membership by '{}.value'",
        attr.name
    ))
}

/// `id`, `externalId` and `meta.*` live in columns of their own.
fn common_target<'a>(p: ResolvedPath<'a>, path: &AttrPath) -> Result<Target<'a>, ScimError> {
    let field = match (p.attr.name.as_str(), p.sub_name()) {
        ("id", None) => Field::Id,
        ("externalId", None) => Field::ExternalId,
        ("meta", Some("created")) => Field::Created,
        ("meta", Some("lastModified")) => Field::LastModified,
        ("meta", Some("resourceType")) => return Ok(Target::ResourceType),
        _ => return Err(meta_not_filterable(path)),
    };
    Ok(Target::Column(field, p.def()))
}

/// The membership relation behind a core attribute, if it is one.
fn relation(kind: ResourceKind, attr: &Attribute) -> Option<Field> {
    match (kind, attr.name.as_str()) {
        (ResourceKind::User, "groups") => Some(Field::GroupIds),
        (ResourceKind::Group, "members") => Some(Field::MemberIds),
        _ => None,
    }
}

/// An attribute inside the JSON data: per element when it is multi-valued.
fn json_target(p: ResolvedPath<'_>) -> Target<'_> {
    let of = p.attr;
    if !of.multi_valued {
        return Target::Json(p.json_path(), p.def());
    }
    let array = ResolvedPath { sub: None, ..p }.json_path();
    let sub = match p.sub {
        Some(sd) => Some(sd),
        // `emails eq "x"` means the element's `value` (RFC 7644 §3.4.2.2).
        None if of.kind == AttrType::Complex => match of.sub("value") {
            Some(v) => Some(v),
            None => return Target::Json(array, of),
        },
        None => None,
    };
    Target::Elements {
        array,
        sub: sub.map(|s| s.name.clone()),
        def: sub.unwrap_or(of),
        of,
    }
}

fn compare(
    schema: &ResourceSchema,
    path: &AttrPath,
    target: Target<'_>,
    op: CompareOp,
    value: &CompValue,
) -> Result<Predicate, ScimError> {
    let name = path.to_string();
    match target {
        Target::Column(field, def) => compare_typed(field, def, &name, op, value),
        Target::Json(p, def) => compare_typed(Field::Json(p), def, &name, op, value),
        Target::Elements {
            array, sub, def, ..
        } => compare_elements(array, Field::Element(sub), def, &name, op, value),
        Target::Relation(field) => compare_relation(field, &name, op, value),
        Target::ResourceType => compare_resource_type(schema.kind, op, value),
    }
}

/// A comparison of the values of a multi-valued attribute: true when any value matches.
fn compare_elements(
    array: Vec<String>,
    field: Field,
    def: &Attribute,
    name: &str,
    op: CompareOp,
    value: &CompValue,
) -> Result<Predicate, ScimError> {
    let cmp = compare_typed(field.clone(), def, name, op, value)?;
    if op != CompareOp::Ne {
        return Ok(Predicate::AnyElement {
            array,
            pred: Box::new(cmp),
        });
    }
    // A multi-valued `ne` holds when ANY value differs, or when there is no value at
    // all: `emails.value ne "a"` is false only when every address present is "a".
    let has = Predicate::AnyElement {
        array: array.clone(),
        pred: Box::new(Predicate::Present(field.clone())),
    };
    let differs = Predicate::AnyElement {
        array,
        pred: Box::new(Predicate::And(vec![Predicate::Present(field), cmp])),
    };
    Ok(Predicate::Or(vec![Predicate::Not(Box::new(has)), differs]))
}

fn compare_relation(
    field: Field,
    name: &str,
    op: CompareOp,
    value: &CompValue,
) -> Result<Predicate, ScimError> {
    let CompValue::String(s) = value else {
        return Err(ScimError::invalid_filter(format!(
            "'{name}' holds ids: compare it with a quoted string"
        )));
    };
    if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
        return Err(ScimError::invalid_filter(format!(
            "'{name}' supports eq and ne only"
        )));
    }
    Ok(Predicate::Compare {
        field,
        op: map_op(op),
        value: Literal::String(s.clone()),
        fold: false,
    })
}

/// `meta.resourceType` is known from the list being searched: all of it or none.
fn compare_resource_type(
    kind: ResourceKind,
    op: CompareOp,
    value: &CompValue,
) -> Result<Predicate, ScimError> {
    let CompValue::String(s) = value else {
        return Err(ScimError::invalid_filter("meta.resourceType is a string"));
    };
    let equal = s.eq_ignore_ascii_case(kind.name());
    match (op, equal) {
        (CompareOp::Eq, true) | (CompareOp::Ne, false) => Ok(Predicate::True),
        (CompareOp::Eq, false) | (CompareOp::Ne, true) => Ok(Predicate::False),
        _ => Err(ScimError::invalid_filter(
            "meta.resourceType supports eq and ne only",
        )),
    }
}

/// One comparison of a stored value with a literal, checked against the attribute's type.
fn compare_typed(
    field: Field,
    def: &Attribute,
    name: &str,
    op: CompareOp,
    value: &CompValue,
) -> Result<Predicate, ScimError> {
    match (def.kind, value) {
        (_, CompValue::Null) => compare_null(field, name, op),
        (AttrType::DateTime, CompValue::String(s)) => compare_date(field, name, op, s),
        _ => {
            let literal = literal(def.kind, name, op, value)?;
            Ok(compare_literal(
                field,
                op,
                literal,
                folds(def.kind, def.case_exact),
            ))
        }
    }
}

fn compare_null(field: Field, name: &str, op: CompareOp) -> Result<Predicate, ScimError> {
    match op {
        CompareOp::Eq => Ok(Predicate::Not(Box::new(Predicate::Present(field)))),
        CompareOp::Ne => Ok(Predicate::Present(field)),
        _ => Err(ScimError::invalid_filter(format!(
            "'{name}' can be compared with null only by eq or ne"
        ))),
    }
}

fn compare_date(field: Field, name: &str, op: CompareOp, s: &str) -> Result<Predicate, ScimError> {
    if op.is_substring() {
        return Err(ScimError::invalid_filter(format!(
            "'{name}' is a dateTime: co, sw and ew do not apply"
        )));
    }
    // The one dateTime reader, so that exactly the literals the evaluator takes are taken.
    let t = datetime::parse(s).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "'{name}' is a dateTime: compare it with an RFC 3339 value such as \
             \"2024-01-31T12:00:00Z\", not \"{s}\""
        ))
    })?;
    Ok(compare_instant(field, op, t))
}

/// The literal as the store compares it, when the operator applies to the attribute's type.
fn literal(
    kind: AttrType,
    name: &str,
    op: CompareOp,
    value: &CompValue,
) -> Result<Literal, ScimError> {
    let refuse = |why: String| Err(ScimError::invalid_filter(why));
    match (kind, value) {
        (AttrType::Complex, _) => refuse(format!(
            "'{name}' is complex: filter one of its sub-attributes, e.g. {name}.value"
        )),
        (AttrType::Boolean, CompValue::Bool(_)) if op.is_substring() || op.is_ordering() => refuse(
            format!("'{name}' is a boolean: it can be compared with eq or ne only"),
        ),
        (AttrType::Boolean, CompValue::Bool(b)) => Ok(Literal::Bool(*b)),
        (AttrType::Integer | AttrType::Decimal, CompValue::Number(_)) if op.is_substring() => {
            refuse(format!("'{name}' is a number: co, sw and ew do not apply"))
        }
        (AttrType::Integer | AttrType::Decimal, CompValue::Number(n)) => {
            Ok(Literal::Number(n.as_f64().unwrap_or_default()))
        }
        (AttrType::Binary, CompValue::String(_)) if op.is_ordering() => {
            refuse(format!("'{name}' is binary and cannot be ordered"))
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, CompValue::String(s)) => {
            Ok(Literal::String(s.clone()))
        }
        (k, v) => refuse(format!(
            "'{name}' is of type {} and cannot be compared with {v:?}",
            type_name(k)
        )),
    }
}

fn compare_literal(field: Field, op: CompareOp, literal: Literal, fold: bool) -> Predicate {
    // Some clients encode twice, so `"a%40b.com"` arrives meaning "a@b.com" (COMPAT 3). An eq
    // on such a value matches either reading.
    let decoded = match (op, &literal) {
        (CompareOp::Eq, Literal::String(s)) => percent_decoded(s),
        _ => None,
    };
    let cmp = |field: Field, value: Literal| Predicate::Compare {
        field,
        op: map_op(op),
        value,
        fold,
    };
    match decoded {
        Some(decoded) => Predicate::Or(vec![
            cmp(field.clone(), literal),
            cmp(field, Literal::String(decoded)),
        ]),
        None => cmp(field, literal),
    }
}

/// A dateTime comparison. Stored instants (meta.created, meta.lastModified) are fixed-width UTC
/// text with whole milliseconds in years 0000-9999 (see `clock`), so text order is time order;
/// a literal is brought to the same form, and a finer or out-of-range literal is resolved here.
fn compare_instant(field: Field, op: CompareOp, t: DateTime<Utc>) -> Predicate {
    if !(0..=9999).contains(&t.year()) {
        return beyond_stored_range(field, op, t.year() < 0);
    }
    let cmp = |op: Op, value: String| Predicate::Compare {
        field,
        op,
        value: Literal::String(value),
        fold: false,
    };
    // `clock::format` truncates to the millisecond, as the stored text was.
    let millis = clock::format(t);
    if t.timestamp_subsec_nanos() % 1_000_000 == 0 {
        return cmp(map_op(op), millis);
    }
    // Between two whole milliseconds: no stored value equals it, and a stored value is later
    // exactly when it is later than the millisecond before it.
    match op {
        CompareOp::Eq => Predicate::False,
        CompareOp::Ne => Predicate::True,
        CompareOp::Gt | CompareOp::Ge => cmp(Op::Gt, millis),
        _ => cmp(Op::Le, millis),
    }
}

/// A literal before year 0000 (`before_all`) or after 9999: every stored instant is later (or
/// earlier) than it.
fn beyond_stored_range(field: Field, op: CompareOp, before_all: bool) -> Predicate {
    let later = matches!(op, CompareOp::Gt | CompareOp::Ge);
    let earlier = matches!(op, CompareOp::Lt | CompareOp::Le);
    match op {
        CompareOp::Ne => Predicate::True,
        _ if (later && before_all) || (earlier && !before_all) => Predicate::Present(field),
        _ => Predicate::False,
    }
}

/// The value with %XX escapes decoded, when it has any and they decode to UTF-8.
fn percent_decoded(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
    (decoded != s).then(|| decoded.into_owned())
}

fn type_name(k: AttrType) -> &'static str {
    match k {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
    }
}

fn map_op(op: CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Contains,
        CompareOp::Sw => Op::StartsWith,
        CompareOp::Ew => Op::EndsWith,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower_user(filter: &str) -> Result<Predicate, String> {
        lower_filter(ResourceKind::User, filter, &FilterLimits::default()).map_err(|e| e.detail)
    }

    fn compare_of(p: Predicate) -> (Field, bool) {
        match p {
            Predicate::Compare { field, fold, .. } => (field, fold),
            Predicate::AnyElement { pred, .. } => compare_of(*pred),
            other => panic!("not a comparison: {other:?}"),
        }
    }

    #[test]
    fn comparisons_fold_by_the_one_case_rule() {
        let fold = |f: &str| compare_of(lower_user(f).unwrap()).1;
        assert!(fold(r#"userName eq "A""#));
        assert!(fold(r#"name.givenName sw "A""#));
        assert!(fold(r#"emails.value co "A""#));
        assert!(!fold(r#"externalId eq "A""#));
        assert!(!fold(r#"id eq "A""#));
        // Binary is base64: its case is data, whatever caseExact says.
        assert!(!fold(r#"x509Certificates.value eq "QUJD""#));
    }

    #[test]
    fn common_attributes_land_in_their_columns() {
        let field = |f: &str| compare_of(lower_user(f).unwrap()).0;
        assert_eq!(field(r#"ID eq "x""#), Field::Id);
        assert_eq!(
            field(r#"urn:ietf:params:scim:schemas:core:2.0:User:externalId eq "x""#),
            Field::ExternalId
        );
        assert_eq!(
            field(r#"meta.created gt "2011-05-13 04:42:34Z""#),
            Field::Created
        );
        assert_eq!(
            lower_user(r#"meta.resourceType eq "User""#),
            Ok(Predicate::True)
        );
        for bad in ["meta.location pr", "meta.nope pr", "meta pr"] {
            assert!(
                lower_user(bad).unwrap_err().contains("cannot be filtered"),
                "{bad}"
            );
        }
        assert!(lower_user("members.x pr")
            .unwrap_err()
            .contains("unknown attribute"));
        let groups = lower_user("groups.display pr").unwrap_err();
        assert!(
            groups.contains("filter membership by 'groups.value'"),
            "{groups}"
        );
    }
}
