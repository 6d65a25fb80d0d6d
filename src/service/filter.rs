//! Lowers a parsed SCIM filter onto storage fields, using the schema registry for each
//! attribute's place, type and case rules. The store then compiles the result to SQL.

use crate::scim::filter::{
    parse_date_time, parse_filter, AttrPath, CompValue, CompareOp, Filter, FilterLimits, UtcInstant,
};
use crate::scim::schema::{AttrType, Attribute, Registry, ResourceKind, ResourceSchema};
use crate::scim::ScimError;
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
    Column(Field, AttrType, bool),
    Json(Vec<String>, &'a Attribute),
    /// A sub-attribute (or the value) of a multi-valued attribute: matched per element.
    Elements(Vec<String>, Option<String>, &'a Attribute),
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
        Filter::ValuePath { path, filter } => match resolve(schema, path)? {
            Target::Relation(field) => lower_relation(field, filter)?,
            // `name[givenName eq "x"]`: a singular complex attribute is its own one element.
            Target::Json(object, def) if def.kind == AttrType::Complex && !def.multi_valued => {
                let inner = lower_element(def, filter, &|sub| {
                    let mut p = object.clone();
                    p.push(sub.to_owned());
                    Field::Json(p)
                })?;
                Predicate::And(vec![Predicate::Present(Field::Json(object)), inner])
            }
            Target::Elements(array, _, _) | Target::Json(array, _) => {
                let def = array_attr(schema, path).ok_or_else(|| {
                    ScimError::invalid_filter(format!(
                        "'{path}[...]' needs a multi-valued complex attribute such as emails"
                    ))
                })?;
                Predicate::AnyElement {
                    array,
                    pred: Box::new(lower_element(def, filter, &|sub| {
                        Field::Element(Some(sub.to_owned()))
                    })?),
                }
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}[...]' needs a multi-valued complex attribute such as emails"
                )))
            }
        },
    })
}

/// The definition behind `attr[...]`, when it is a multi-valued complex attribute.
fn array_attr<'a>(schema: &'a ResourceSchema, path: &AttrPath) -> Option<&'a Attribute> {
    if path.sub.is_some() {
        return None;
    }
    let s = match &path.urn {
        None => &schema.core,
        Some(u) => schema.schema(u)?,
    };
    s.attr(&path.attr)
        .filter(|d| d.multi_valued && d.kind == AttrType::Complex)
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
                sub.kind,
                sub.case_exact,
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
        Target::Column(field, _, _) | Target::Relation(field) => Predicate::Present(field),
        Target::Json(p, _) => Predicate::Present(Field::Json(p)),
        // Stored multi-valued attributes are never empty arrays (see `validate`).
        Target::Elements(array, _, _) if path.sub.is_none() => {
            Predicate::Present(Field::Json(array))
        }
        Target::Elements(array, sub, _) => Predicate::AnyElement {
            array,
            pred: Box::new(Predicate::Present(Field::Element(sub))),
        },
        Target::ResourceType => Predicate::True,
    })
}

fn resolve<'a>(schema: &'a ResourceSchema, path: &AttrPath) -> Result<Target<'a>, ScimError> {
    let unknown = || ScimError::invalid_filter(format!("unknown attribute '{path}' in filter"));
    let (s, in_core) = match &path.urn {
        None => (&schema.core, true),
        Some(u) => {
            let s = schema.schema(u).ok_or_else(unknown)?;
            (s, s.id == schema.core.id)
        }
    };
    let attr = path.attr.as_str();
    let sub = path.sub.as_deref();
    if in_core {
        let common = match (
            attr.to_ascii_lowercase().as_str(),
            sub.map(str::to_ascii_lowercase),
        ) {
            ("id", None) => Some(Target::Column(Field::Id, AttrType::String, true)),
            ("externalid", None) => Some(Target::Column(Field::ExternalId, AttrType::String, true)),
            ("meta", Some(s)) if s == "created" => {
                Some(Target::Column(Field::Created, AttrType::DateTime, true))
            }
            ("meta", Some(s)) if s == "lastmodified" => Some(Target::Column(
                Field::LastModified,
                AttrType::DateTime,
                true,
            )),
            ("meta", Some(s)) if s == "resourcetype" => Some(Target::ResourceType),
            ("meta", _) => {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' cannot be filtered; use meta.created, meta.lastModified or \
                     meta.resourceType"
                )))
            }
            _ => None,
        };
        if let Some(t) = common {
            return Ok(t);
        }
    }
    let def = s.attr(attr).ok_or_else(unknown)?;
    if in_core {
        let name_attr = match schema.kind {
            ResourceKind::User => "userName",
            ResourceKind::Group => "displayName",
        };
        if def.name == name_attr && sub.is_none() {
            return Ok(Target::Column(Field::NameFolded, AttrType::String, false));
        }
        let relation = match (schema.kind, def.name.as_str()) {
            (ResourceKind::User, "groups") => Some(Field::GroupIds),
            (ResourceKind::Group, "members") => Some(Field::MemberIds),
            _ => None,
        };
        if let Some(field) = relation {
            return match sub {
                None => Ok(Target::Relation(field)),
                Some(s) if s.eq_ignore_ascii_case("value") => Ok(Target::Relation(field)),
                Some(_) => Err(ScimError::invalid_filter(format!(
                    "'{path}' cannot be filtered; filter membership by '{}.value'",
                    def.name
                ))),
            };
        }
    }
    let mut json_path = Vec::with_capacity(3);
    if !in_core {
        json_path.push(s.id.clone());
    }
    json_path.push(def.name.clone());
    match (def.multi_valued, sub) {
        (true, Some(sub)) => {
            let sd = def.sub(sub).ok_or_else(unknown)?;
            Ok(Target::Elements(json_path, Some(sd.name.clone()), sd))
        }
        // `emails eq "x"` means the element's `value` (RFC 7644 §3.4.2.2).
        (true, None) if def.kind == AttrType::Complex => match def.sub("value") {
            Some(v) => Ok(Target::Elements(json_path, Some(v.name.clone()), v)),
            None => Ok(Target::Json(json_path, def)),
        },
        (true, None) => Ok(Target::Elements(json_path, None, def)),
        (false, Some(sub)) => {
            let sd = def.sub(sub).ok_or_else(unknown)?;
            json_path.push(sd.name.clone());
            Ok(Target::Json(json_path, sd))
        }
        (false, None) => Ok(Target::Json(json_path, def)),
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
        Target::Column(field, kind, case_exact) => {
            compare_typed(field, kind, case_exact, &name, op, value)
        }
        Target::Json(p, def) => {
            compare_typed(Field::Json(p), def.kind, def.case_exact, &name, op, value)
        }
        Target::Elements(array, sub, def) => {
            let field = Field::Element(sub);
            let cmp = compare_typed(field.clone(), def.kind, def.case_exact, &name, op, value)?;
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
        Target::Relation(field) => {
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
        Target::ResourceType => {
            let CompValue::String(s) = value else {
                return Err(ScimError::invalid_filter("meta.resourceType is a string"));
            };
            let equal = s.eq_ignore_ascii_case(schema.kind.name());
            Ok(match (op, equal) {
                (CompareOp::Eq, true) | (CompareOp::Ne, false) => Predicate::True,
                (CompareOp::Eq, false) | (CompareOp::Ne, true) => Predicate::False,
                _ => {
                    return Err(ScimError::invalid_filter(
                        "meta.resourceType supports eq and ne only",
                    ))
                }
            })
        }
    }
}

fn compare_typed(
    field: Field,
    kind: AttrType,
    case_exact: bool,
    name: &str,
    op: CompareOp,
    value: &CompValue,
) -> Result<Predicate, ScimError> {
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    if let CompValue::Null = value {
        return match op {
            CompareOp::Eq => Ok(Predicate::Not(Box::new(Predicate::Present(field)))),
            CompareOp::Ne => Ok(Predicate::Present(field)),
            _ => Err(ScimError::invalid_filter(format!(
                "'{name}' can be compared with null only by eq or ne"
            ))),
        };
    }
    let literal = match (kind, value) {
        (AttrType::Complex, _) => {
            return Err(ScimError::invalid_filter(format!(
                "'{name}' is complex: filter one of its sub-attributes, e.g. {name}.value"
            )))
        }
        (AttrType::Boolean, CompValue::Bool(b)) => {
            if substring || ordering {
                return Err(ScimError::invalid_filter(format!(
                    "'{name}' is a boolean: it can be compared with eq or ne only"
                )));
            }
            Literal::Bool(*b)
        }
        (AttrType::Integer | AttrType::Decimal, CompValue::Number(n)) => {
            if substring {
                return Err(ScimError::invalid_filter(format!(
                    "'{name}' is a number: co, sw and ew do not apply"
                )));
            }
            Literal::Number(n.as_f64().unwrap_or_default())
        }
        (AttrType::DateTime, CompValue::String(s)) => {
            if substring {
                return Err(ScimError::invalid_filter(format!(
                    "'{name}' is a dateTime: co, sw and ew do not apply"
                )));
            }
            // The evaluator's parser, so that exactly the same literals are accepted.
            let t = parse_date_time(s).ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "'{name}' is a dateTime: compare it with an RFC 3339 value such as \
                     \"2024-01-31T12:00:00Z\", not \"{s}\""
                ))
            })?;
            return Ok(compare_instant(field, op, t));
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, CompValue::String(s)) => {
            if ordering && kind == AttrType::Binary {
                return Err(ScimError::invalid_filter(format!(
                    "'{name}' is binary and cannot be ordered"
                )));
            }
            Literal::String(s.clone())
        }
        (k, v) => {
            return Err(ScimError::invalid_filter(format!(
                "'{name}' is of type {} and cannot be compared with {v:?}",
                type_name(k)
            )))
        }
    };
    let fold = !case_exact && matches!(kind, AttrType::String | AttrType::Reference);
    // Some clients encode twice, so `"a%40b.com"` arrives meaning "a@b.com" (COMPAT 3). An eq
    // on such a value matches either reading.
    if let (CompareOp::Eq, Literal::String(s)) = (op, &literal) {
        if let Some(decoded) = percent_decoded(s) {
            let decoded = Predicate::Compare {
                field: field.clone(),
                op: Op::Eq,
                value: Literal::String(decoded),
                fold,
            };
            let raw = Predicate::Compare {
                field,
                op: Op::Eq,
                value: literal,
                fold,
            };
            return Ok(Predicate::Or(vec![raw, decoded]));
        }
    }
    Ok(Predicate::Compare {
        field,
        op: map_op(op),
        value: literal,
        fold,
    })
}

/// A dateTime comparison. Stored instants (meta.created, meta.lastModified) are fixed-width UTC
/// text with whole milliseconds in years 0000-9999 (see `clock`), so text order is time order;
/// a literal is brought to the same form, and a finer or out-of-range literal is resolved here.
fn compare_instant(field: Field, op: CompareOp, t: UtcInstant) -> Predicate {
    // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", or a sign or a fifth year digit outside 0000-9999.
    let text = t.to_rfc3339();
    let before_all = text.starts_with('-');
    let after_all = !before_all && text.as_bytes().get(4) != Some(&b'-');
    let cmp = |op: Op, value: String| Predicate::Compare {
        field: field.clone(),
        op,
        value: Literal::String(value),
        fold: false,
    };
    if before_all || after_all {
        // Every stored value is later (or earlier) than the literal.
        let later = matches!(op, CompareOp::Gt | CompareOp::Ge);
        let earlier = matches!(op, CompareOp::Lt | CompareOp::Le);
        return match op {
            CompareOp::Ne => Predicate::True,
            _ if (later && before_all) || (earlier && after_all) => {
                Predicate::Present(field.clone())
            }
            _ => Predicate::False,
        };
    }
    let millis = format!("{}Z", &text[..23]);
    if t.nanos % 1_000_000 == 0 {
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
