//! A list page from the rows of a page query: the same columns on both stores (`total_n`,
//! `sort_key`), whatever their SQL.

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::store::query::{Literal, SortKind};
use crate::store::{ListPage, ListQuery, StoreResult, StoredResource};

/// totalResults as the page query carried it; `None` when it must be counted on its own (an
/// empty page past the start has no row to carry it).
pub(crate) fn carried_total<R>(q: &ListQuery, rows: &[R]) -> StoreResult<Option<u64>>
where
    R: Row,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    Ok(match rows.first() {
        Some(row) => Some(row.try_get::<i64, _>("total_n")? as u64),
        None if q.seek.is_none() && q.offset == 0 => Some(0),
        None => None,
    })
}

/// The page: rows in the list's order (a backward seek read them reversed), each with its
/// cursor key.
pub(crate) fn page_from_rows<R>(
    q: &ListQuery,
    mut rows: Vec<R>,
    total: u64,
    resource: impl Fn(&R) -> StoreResult<StoredResource>,
) -> StoreResult<ListPage>
where
    R: Row,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<f64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    if q.seek.as_ref().is_some_and(|s| s.backward) {
        rows.reverse();
    }
    let mut items = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(resource(row)?);
        keys.push(match &q.sort {
            None => None,
            Some(sort) => match sort.kind {
                SortKind::Text => row
                    .try_get::<Option<String>, _>("sort_key")?
                    .map(Literal::String),
                SortKind::Number => row
                    .try_get::<Option<f64>, _>("sort_key")?
                    .map(Literal::Number),
            },
        });
    }
    Ok(ListPage { total, items, keys })
}
