//! Compiles a storage-neutral `Predicate` to a SQL condition with bound parameters, per dialect.
//! Values are always bound; only JSON keys chosen by the schema (never by the client) and fixed
//! literals are written into the SQL text.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use super::Dialect;
use crate::store::query::{Field, Literal, Op, Predicate};

#[derive(Debug, Clone)]
pub(super) enum Bind {
    Str(String),
    F64(f64),
}

impl Bind {
    pub(super) fn bind<'q>(
        &self,
        q: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        match self {
            Bind::Str(s) => q.bind(s.clone()),
            Bind::F64(f) => q.bind(*f),
        }
    }
}

struct Ctx<'a> {
    d: Dialect,
    binds: &'a mut Vec<Bind>,
    /// The SQL alias of the array element inside an `AnyElement`, when compiling one.
    element: Option<String>,
    depth: usize,
}

impl Ctx<'_> {
    fn push(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
}

pub(super) fn compile(p: &Predicate, d: Dialect, binds: &mut Vec<Bind>) -> String {
    let mut ctx = Ctx {
        d,
        binds,
        element: None,
        depth: 0,
    };
    pred(&mut ctx, p)
}

fn pred(c: &mut Ctx<'_>, p: &Predicate) -> String {
    match p {
        Predicate::True => "1 = 1".into(),
        Predicate::False => "1 = 0".into(),
        Predicate::And(ps) => join(c, ps, " AND ", "1 = 1"),
        Predicate::Or(ps) => join(c, ps, " OR ", "1 = 0"),
        // A comparison on an absent attribute is NULL in SQL; COALESCE makes `not` see false.
        Predicate::Not(inner) => format!("NOT COALESCE(({}), 1 = 0)", pred(c, inner)),
        Predicate::Present(f) => present(c, f),
        Predicate::Compare {
            field,
            op,
            value,
            fold,
        } => compare(c, field, *op, value, *fold),
        Predicate::AnyElement { array, pred: inner } => {
            c.depth += 1;
            let alias = format!("e{}", c.depth);
            let outer = c.element.replace(alias.clone());
            let body = pred(c, inner);
            c.element = outer;
            c.depth -= 1;
            let arr = json_path_expr(c, array, false);
            match c.d {
                Dialect::Postgres => format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({arr}) = 'array' THEN {arr} ELSE '[]'::jsonb END) AS {alias}(v) WHERE {body})"
                ),
                Dialect::Sqlite => format!(
                    "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type({arr}) = 'array' THEN {arr} ELSE '[]' END) AS {alias} WHERE {body})"
                ),
            }
        }
    }
}

fn join(c: &mut Ctx<'_>, ps: &[Predicate], sep: &str, empty: &str) -> String {
    if ps.is_empty() {
        return empty.into();
    }
    let parts: Vec<String> = ps.iter().map(|p| format!("({})", pred(c, p))).collect();
    parts.join(sep)
}

/// A JSON path as a SQL expression. `text`: the scalar as text (Postgres) / native (SQLite);
/// otherwise the JSON value itself.
fn json_path_expr(c: &mut Ctx<'_>, path: &[String], text: bool) -> String {
    match c.d {
        Dialect::Postgres => {
            let keys: Vec<String> = path.iter().map(|k| c.push(Bind::Str(k.clone()))).collect();
            let f = if text {
                "jsonb_extract_path_text"
            } else {
                "jsonb_extract_path"
            };
            format!("{f}(data, {})", keys.join(", "))
        }
        // json_extract gives scalars natively and arrays/objects as JSON text: both uses fit.
        Dialect::Sqlite => {
            let ph = c.push(Bind::Str(sqlite_path(path)));
            format!("json_extract(data, {ph})")
        }
    }
}

fn sqlite_path(path: &[String]) -> String {
    let mut p = String::from("$");
    for k in path {
        p.push_str(".\"");
        p.push_str(&k.replace('"', "\\\""));
        p.push('"');
    }
    p
}

/// The SQL expression of a field, as text for strings (and native numbers on SQLite).
fn field_expr(c: &mut Ctx<'_>, f: &Field) -> String {
    match f {
        Field::Id => "id".into(),
        Field::NameFolded => "name_ci".into(),
        Field::ExternalId => "external_id".into(),
        Field::Created => "created".into(),
        Field::LastModified => "last_modified".into(),
        Field::Json(path) => json_path_expr(c, path, true),
        Field::Element(sub) => {
            let alias = c.element.clone().unwrap_or_else(|| "e".into());
            match (c.d, sub) {
                (Dialect::Postgres, Some(k)) => {
                    let ph = c.push(Bind::Str(k.clone()));
                    format!("({alias}.v ->> {ph})")
                }
                (Dialect::Postgres, None) => format!("({alias}.v #>> '{{}}')"),
                (Dialect::Sqlite, Some(k)) => {
                    let ph = c.push(Bind::Str(sqlite_path(std::slice::from_ref(k))));
                    format!("json_extract({alias}.value, {ph})")
                }
                (Dialect::Sqlite, None) => format!("{alias}.value"),
            }
        }
        // Only reachable through `relation`, which builds its own EXISTS.
        Field::GroupIds | Field::MemberIds => "NULL".into(),
    }
}

fn present(c: &mut Ctx<'_>, f: &Field) -> String {
    match f {
        Field::GroupIds | Field::MemberIds => relation(c, f, None),
        _ => {
            let e = field_expr(c, f);
            format!("{e} IS NOT NULL")
        }
    }
}

/// `groups.value` / `members.value` live in the membership table.
fn relation(c: &mut Ctx<'_>, f: &Field, cond: Option<(Op, &Literal)>) -> String {
    let (col, key) = match f {
        Field::GroupIds => ("m.group_id", "m.member_id"),
        _ => ("m.member_id", "m.group_id"),
    };
    let extra = match cond {
        None => String::new(),
        Some((op, lit)) => format!(" AND {}", scalar_cmp(c, col.to_owned(), op, lit, false)),
    };
    format!("EXISTS (SELECT 1 FROM members m WHERE {key} = resources.id{extra})")
}

fn compare(c: &mut Ctx<'_>, f: &Field, op: Op, v: &Literal, fold: bool) -> String {
    if matches!(f, Field::GroupIds | Field::MemberIds) {
        if op == Op::Ne {
            let inner = relation(c, f, Some((Op::Eq, v)));
            return format!("NOT {inner}");
        }
        return relation(c, f, Some((op, v)));
    }
    let expr = field_expr(c, f);
    // The name column is stored folded; folding it again would only cost an index.
    let folded_col = matches!(f, Field::NameFolded);
    let expr = if fold && !folded_col {
        format!("lower({expr})")
    } else {
        expr
    };
    let cmp = scalar_cmp(c, expr.clone(), op, v, fold);
    if op == Op::Ne {
        // An absent attribute is "not equal" to any value.
        format!("({expr} IS NULL OR {cmp})")
    } else {
        cmp
    }
}

fn scalar_cmp(c: &mut Ctx<'_>, expr: String, op: Op, v: &Literal, fold: bool) -> String {
    match v {
        Literal::Bool(b) => {
            let lit = match (c.d, b) {
                (Dialect::Postgres, true) => "'true'",
                (Dialect::Postgres, false) => "'false'",
                (Dialect::Sqlite, true) => "1",
                (Dialect::Sqlite, false) => "0",
            };
            let sql_op = if op == Op::Ne { "<>" } else { "=" };
            format!("{expr} {sql_op} {lit}")
        }
        Literal::Number(n) => {
            let ph = c.push(Bind::F64(*n));
            let e = match c.d {
                Dialect::Postgres => format!("CAST({expr} AS double precision)"),
                Dialect::Sqlite => expr,
            };
            format!("{e} {} {ph}", ordering_op(op))
        }
        Literal::String(s) => {
            let s = if fold { s.to_lowercase() } else { s.clone() };
            match op {
                Op::Contains | Op::StartsWith | Op::EndsWith if s.is_empty() => {
                    format!("{expr} IS NOT NULL")
                }
                Op::Contains => {
                    let ph = c.push(Bind::Str(s));
                    match c.d {
                        Dialect::Postgres => format!("strpos({expr}, {ph}) > 0"),
                        Dialect::Sqlite => format!("instr({expr}, {ph}) > 0"),
                    }
                }
                Op::StartsWith => {
                    let ph = c.push(Bind::Str(s));
                    match c.d {
                        Dialect::Postgres => format!("starts_with({expr}, {ph})"),
                        Dialect::Sqlite => format!("substr({expr}, 1, length({ph})) = {ph}"),
                    }
                }
                Op::EndsWith => {
                    let ph = c.push(Bind::Str(s));
                    match c.d {
                        Dialect::Postgres => format!("right({expr}, char_length({ph})) = {ph}"),
                        Dialect::Sqlite => format!("substr({expr}, -length({ph})) = {ph}"),
                    }
                }
                _ => {
                    let ph = c.push(Bind::Str(s));
                    let e = match c.d {
                        // Byte order, the same on both backends and in the evaluator.
                        Dialect::Postgres => format!("{expr} COLLATE \"C\""),
                        Dialect::Sqlite => expr,
                    };
                    format!("{e} {} {ph}", ordering_op(op))
                }
            }
        }
    }
}

fn ordering_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
        // Substring operators on numbers are rejected before lowering.
        Op::Contains | Op::StartsWith | Op::EndsWith => "=",
    }
}
