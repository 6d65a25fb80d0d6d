//! List pages, the same on both stores: the page query (filter, seek, order, limit, with
//! totalResults riding along), and the page read back from its rows. What differs per engine
//! (the columns it selects, how the realm parameter compares) is the store's `Lists`.

use sqlx::{ColumnIndex, Decode, Row, Type};

use super::filter::compile;
use super::sort::{key_text_expr, order_by, seek_condition};
use super::{Bind, Dialect};
use crate::store::query::{Literal, SortKind};
use crate::store::{Kind, ListPage, ListQuery, StoreResult, StoredResource};

/// A store's list queries over `resources`.
pub(crate) struct Lists {
    pub dialect: Dialect,
    /// The realm parameter (`$1`) as the realm column compares with it.
    pub realm_param: &'static str,
    /// The resource's columns, as the store's row reader wants them.
    pub cols: &'static str,
    /// A `related` column: whether the resource has membership rows.
    pub related: &'static str,
}

impl Lists {
    /// The WHERE clause (and its binds) of a list query, without the seek.
    pub fn where_clause(&self, realm_id: &str, kind: Kind, q: &ListQuery) -> (String, Vec<Bind>) {
        let mut binds = vec![
            Bind::Str(realm_id.to_owned()),
            Bind::Str(kind.name().to_owned()),
        ];
        let mut where_sql = format!("realm_id = {} AND kind = $2", self.realm_param);
        if let Some(f) = &q.filter {
            let sql = compile(f, self.dialect, &mut binds);
            where_sql.push_str(" AND (");
            where_sql.push_str(&sql);
            where_sql.push(')');
        }
        (where_sql, binds)
    }

    /// totalResults as a scalar subquery: unfiltered, the trigger-maintained counts (`$1`
    /// realm, `$2` kind, as in every list's WHERE); filtered, a real count.
    fn total_sql(&self, q: &ListQuery, where_sql: &str) -> String {
        if q.filter.is_none() {
            format!(
                "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM resource_counts \
                 WHERE realm_id = {} AND kind = $2)",
                self.realm_param
            )
        } else {
            format!("(SELECT COUNT(*) FROM resources WHERE {where_sql})")
        }
    }

    /// The count alone (a page of zero, or an empty page past the start), as column `n`.
    pub fn count_query(&self, q: &ListQuery, where_sql: &str) -> String {
        format!("SELECT {} AS n", self.total_sql(q, where_sql))
    }

    /// The page query of a list, with its binds. The filter's binds
    /// come first and keep their numbers, so the count subquery can reuse them: totalResults
    /// rides on the page query instead of a second round trip.
    pub fn page_query(&self, realm_id: &str, kind: Kind, q: &ListQuery) -> (String, Vec<Bind>) {
        let d = self.dialect;
        let (mut where_sql, mut binds) = self.where_clause(realm_id, kind, q);
        let count_where = where_sql.clone();
        let backward = q.seek.as_ref().is_some_and(|s| s.backward);
        if let Some(seek) = &q.seek {
            let cond = seek_condition(d, q.sort.as_ref(), seek, &mut binds);
            where_sql.push_str(" AND ");
            where_sql.push_str(&cond);
        }
        let key_col = match &q.sort {
            Some(sort) => format!(", {} AS sort_key", key_text_expr(d, sort)),
            None => String::new(),
        };
        // LIMIT and OFFSET as literals (numbers the service bounded, never client text): a
        // generic plan takes `LIMIT $n` to want a tenth of the rows, and on Postgres, which
        // plans scimd's statements generically, that sorted a whole realm for a page of 100
        // (cursor page 1 at 100k users: 13 ms of Postgres CPU, against 1.3 with the limit
        // known). A page size is one of a few values, so the statement cache still serves.
        let limit_offset = if q.seek.is_some() {
            format!("LIMIT {}", q.limit)
        } else {
            format!("LIMIT {} OFFSET {}", q.limit, q.offset)
        };
        let total = self.total_sql(q, &count_where);
        let order = order_by(d, q.sort.as_ref(), backward);
        let (cols, related) = (self.cols, self.related);
        let sql = if q.seek.is_none() && q.offset > 0 {
            // Deferred join: the OFFSET walks an index-only scan of ids (sort indexes carry
            // the key and id), and only the page's rows are read from the table. Skipping
            // 500,000 rows this way reads no row data; the plain OFFSET fetched every one.
            format!(
                "SELECT {cols}{key_col}, {total} AS total_n, {related} FROM resources \
                 WHERE realm_id = {} AND id IN \
                 (SELECT id FROM resources WHERE {where_sql} ORDER BY {order} {limit_offset}) \
                 ORDER BY {order}",
                self.realm_param
            )
        } else {
            format!(
                "SELECT {cols}{key_col}, {total} AS total_n, {related} \
                 FROM resources WHERE {where_sql} ORDER BY {order} {limit_offset}"
            )
        };
        (sql, binds)
    }
}

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
