//! ORDER BY and keyset-seek SQL for sorted and cursor-paged lists. Sort keys come from the
//! schema (never from client text), so they are written into the SQL as quoted literals.

use super::{Bind, Dialect};
use crate::store::query::{Field, Literal, Seek, Sort, SortKind};

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// On Postgres, ids are `uuid` and instants `timestamptz`: they order as themselves (a uuid's
/// order is its canonical text's; an instant's, its fixed-width text's), and a text value
/// compared with them is cast to their type.
fn native_type(d: Dialect, field: &Field) -> Option<&'static str> {
    match (d, field) {
        (Dialect::Postgres, Field::Id) => Some("uuid"),
        (Dialect::Postgres, Field::Created | Field::LastModified) => Some("timestamptz"),
        _ => None,
    }
}

/// A bound text value as the column's type wants it.
pub(crate) fn typed_param(d: Dialect, field: &Field, ph: &str) -> String {
    match native_type(d, field) {
        Some(t) => format!("CAST({ph} AS {t})"),
        None => ph.to_owned(),
    }
}

/// A Postgres instant as scimd writes it in text (RFC 3339, UTC, milliseconds).
pub(crate) fn instant_text(col: &str) -> String {
    format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
}

/// The sort key as the text (or number) a cursor carries.
pub(crate) fn key_text_expr(d: Dialect, sort: &Sort) -> String {
    match (native_type(d, &sort.field), &sort.field) {
        (Some(_), Field::Id) => "CAST(id AS text)".to_owned(),
        (Some(_), Field::Created) => instant_text("created"),
        (Some(_), Field::LastModified) => instant_text("last_modified"),
        _ => key_expr(d, sort),
    }
}

/// The sort key expression; text keys compare in byte order on both backends.
pub(crate) fn key_expr(d: Dialect, sort: &Sort) -> String {
    if native_type(d, &sort.field).is_some() {
        return match sort.field {
            Field::Created => "created",
            Field::LastModified => "last_modified",
            _ => "id",
        }
        .to_owned();
    }
    let raw = match &sort.field {
        Field::Id => "id".to_owned(),
        Field::NameFolded => "name_ci".to_owned(),
        Field::ExternalId => "external_id".to_owned(),
        Field::Created => "created".to_owned(),
        Field::LastModified => "last_modified".to_owned(),
        Field::Json(path) => match d {
            Dialect::Postgres => format!(
                "jsonb_extract_path_text(data, {})",
                path.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ")
            ),
            Dialect::Sqlite => {
                let mut p = String::from("$");
                for k in path {
                    p.push_str(".\"");
                    p.push_str(&k.replace('"', "\\\""));
                    p.push('"');
                }
                format!("json_extract(data, {})", quote(&p))
            }
        },
        // Membership and array elements are not sortable; the service never asks.
        Field::Element(_) | Field::GroupIds | Field::MemberIds => "NULL".to_owned(),
    };
    match (sort.kind, d) {
        (SortKind::Number, Dialect::Postgres) => format!(
            "(CASE {raw} WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 \
             ELSE CAST({raw} AS double precision) END)"
        ),
        (SortKind::Number, Dialect::Sqlite) => format!("CAST({raw} AS REAL)"),
        // Folded as scim::fold folds (the filter's and the evaluator's rule), then in byte
        // order. Postgres: ICU's root-locale lower case (migration 10's `scimd_lower`), not
        // the database locale's; SQLite: a collation that compares scim::fold of each side.
        (SortKind::Text, _) => {
            let fold = sort.fold && !matches!(sort.field, Field::NameFolded);
            match (d, fold) {
                (Dialect::Postgres, true) => {
                    format!("(lower({raw} COLLATE scimd_lower) COLLATE \"C\")")
                }
                (Dialect::Postgres, false) => format!("({raw} COLLATE \"C\")"),
                (Dialect::Sqlite, true) => format!("({raw} COLLATE scimd_fold)"),
                (Dialect::Sqlite, false) => format!("({raw})"),
            }
        }
    }
}

/// ORDER BY for a page; `backward` reverses it exactly (for a previous-page cursor).
pub(crate) fn order_by(d: Dialect, sort: Option<&Sort>, backward: bool) -> String {
    let Some(sort) = sort else {
        return if backward { "id DESC" } else { "id ASC" }.to_owned();
    };
    let e = key_expr(d, sort);
    if never_null(&sort.field) {
        // Ties go the sort's own way, so the whole order is one index read forwards or
        // backwards; `DESC, id ASC` made Postgres sort every matching row (all users, for an
        // unfiltered descending list) to return a page.
        let dir = if sort.descending != backward {
            "DESC"
        } else {
            "ASC"
        };
        return format!("{e} {dir}, id {dir}");
    }
    let (dir, nulls, id) = match (sort.descending, backward) {
        (false, false) => ("ASC", "NULLS LAST", "ASC"),
        (true, false) => ("DESC", "NULLS LAST", "ASC"),
        (false, true) => ("DESC", "NULLS FIRST", "DESC"),
        (true, true) => ("ASC", "NULLS FIRST", "DESC"),
    };
    format!("{e} {dir} {nulls}, id {id}")
}

/// Columns every row has, so a seek on them needs no NULL branch.
fn never_null(field: &Field) -> bool {
    matches!(
        field,
        Field::Id | Field::NameFolded | Field::Created | Field::LastModified
    )
}

/// The condition selecting rows after (or before) the seek position in the forward order.
pub(crate) fn seek_condition(
    d: Dialect,
    sort: Option<&Sort>,
    seek: &Seek,
    binds: &mut Vec<Bind>,
) -> String {
    binds.push(Bind::Str(seek.id.clone()));
    let id = typed_param(d, &Field::Id, &format!("${}", binds.len()));
    let Some(sort) = sort else {
        return if seek.backward {
            format!("id < {id}")
        } else {
            format!("id > {id}")
        };
    };
    let e = key_expr(d, sort);
    // In the forward order a "later" key is greater when ascending, smaller when descending.
    let later = if sort.descending { "<" } else { ">" };
    let earlier = if sort.descending { ">" } else { "<" };
    match &seek.key {
        None if !seek.backward => format!("({e} IS NULL AND id > {id})"),
        None => format!("({e} IS NOT NULL OR ({e} IS NULL AND id < {id}))"),
        Some(k) => {
            binds.push(match k {
                Literal::Number(n) => Bind::F64(*n),
                Literal::String(s) => Bind::Str(s.clone()),
                Literal::Bool(b) => Bind::F64(if *b { 1.0 } else { 0.0 }),
            });
            let k = typed_param(d, &sort.field, &format!("${}", binds.len()));
            if never_null(&sort.field) {
                // `key >= k AND (...)` repeats what the disjunction implies, but in a form an
                // index range can start from: without it a page deep in a cursor walk scans
                // the index from the first row (the cost grew with depth).
                // Ties follow the sort direction here (see `order_by`), so "after" is one
                // comparison for key and id alike.
                let op = if sort.descending != seek.backward {
                    "<"
                } else {
                    ">"
                };
                format!("({e} {op}= {k} AND ({e} {op} {k} OR id {op} {id}))")
            } else if seek.backward {
                format!("({e} IS NOT NULL AND ({e} {earlier} {k} OR ({e} = {k} AND id < {id})))")
            } else {
                format!("({e} {later} {k} OR ({e} = {k} AND id > {id}) OR {e} IS NULL)")
            }
        }
    }
}
