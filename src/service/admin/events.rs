//! The change feed: a realm's event log read in order from a position, optionally waiting
//! (long poll) until something arrives.

use std::time::Duration;

use serde::Serialize;

use super::{AdminError, AdminResult, AdminService};
use crate::service::admin::Actor;
use crate::store::{Event, EventOp, EventPos, EventQuery, Subject};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
pub const MAX_WAIT_SECONDS: u64 = 60;
/// Other servers' writes wake readers through the database's notices; should those be cut,
/// a waiting reader still looks again this often.
const RECHECK: Duration = Duration::from_millis(500);

/// What a reader asks for, as the query string says it.
#[derive(Debug, Default, Clone)]
pub struct FeedRequest {
    pub after: Option<String>,
    pub limit: Option<u32>,
    pub wait_seconds: Option<u64>,
    pub resource_type: Option<String>,
    pub operation: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct EventView {
    /// The event's place in the realm's log; `after=<id>` reads what follows it.
    pub id: String,
    pub at: String,
    pub actor: String,
    pub request_id: Option<String>,
    pub operation: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub version: Option<i64>,
    pub changed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members_added: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members_removed: Option<Vec<String>>,
    /// Admin actions and denials: which (`token.rotate`, `scim.auth.denied`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Admin actions: what was touched, as a path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Admin actions and denials: the audit record's detail (never a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            id: e.pos.to_string(),
            at: e.at,
            actor: e.actor,
            request_id: e.request_id,
            operation: e.operation.name(),
            resource_type: e.resource_type.name(),
            resource_id: e.resource_id,
            version: e.version,
            changed: e.changed,
            members_added: e.members_added,
            members_removed: e.members_removed,
            action: e.action,
            target: e.target,
            detail: e.detail,
        }
    }
}

/// A page of the feed. `next_cursor` is always there: the last event's id, or (nothing new)
/// the position read from, so a reader can poll with it as it is.
#[derive(Debug, Serialize)]
pub struct EventList {
    pub items: Vec<EventView>,
    pub next_cursor: String,
}

/// The query a request names, checked.
fn query(req: &FeedRequest) -> AdminResult<EventQuery> {
    let after = req
        .after
        .as_deref()
        .map(|a| {
            EventPos::parse(a).ok_or_else(|| {
                AdminError::invalid(
                    "after",
                    format!("after is an event id from an earlier page (like '812.40'), not '{a}'"),
                )
            })
        })
        .transpose()?;
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let resource_types = list(req.resource_type.as_deref(), "resource_type", |t| {
        Subject::parse(t).ok_or_else(|| {
            let known: Vec<_> = Subject::ALL.iter().map(|s| s.name()).collect();
            format!(
                "resource_type is one or more (comma-separated) of {}, not '{t}'",
                known.join(", ")
            )
        })
    })?;
    let operations = list(req.operation.as_deref(), "operation", |o| {
        EventOp::parse(o).ok_or_else(|| {
            let known: Vec<_> = EventOp::ALL.iter().map(|o| o.name()).collect();
            format!(
                "operation is one or more (comma-separated) of {}, not '{o}'",
                known.join(", ")
            )
        })
    })?;
    Ok(EventQuery {
        after,
        limit,
        resource_types,
        operations,
    })
}

/// A comma-separated filter, each name checked.
fn list<T>(
    text: Option<&str>,
    field: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> AdminResult<Vec<T>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|n| parse(n.trim()).map_err(|d| AdminError::invalid(field, d)))
        .collect()
}

impl AdminService {
    pub async fn read_events(
        &self,
        actor: &Actor,
        tenant: &str,
        realm: &str,
        req: &FeedRequest,
    ) -> AdminResult<EventList> {
        let q = query(req)?;
        let wait = req.wait_seconds.unwrap_or(0);
        if wait > MAX_WAIT_SECONDS {
            return Err(AdminError::invalid(
                "wait",
                format!("wait is 0 to {MAX_WAIT_SECONDS} seconds"),
            ));
        }
        let realm = self.realm_of(actor, tenant, realm).await?;
        if let Some(after) = q.after {
            let pruned = self.store.events_pruned_through(&realm.id).await?;
            if let Some(mark) = pruned.filter(|m| after < *m) {
                return Err(AdminError::Gone(format!(
                    "the events after {after} up to {mark} were pruned (the realm keeps events \
                     for its event_retention_days / event_retention_count); what this reader \
                     had not read is lost. Read on from 'after={mark}', or from the start of \
                     what is kept by leaving 'after' out, and resynchronise from the SCIM \
                     endpoints if the gap matters"
                )));
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        let mut q = q;
        loop {
            // Registered before the read: a write committed between the read and the wait
            // still wakes this reader.
            let written = self.events_written.notified();
            let page = self.store.read_events(&realm.id, &q).await?;
            // Past what a filter passed over, even on an empty page: the next read (this
            // one's, while it waits, or the reader's) does not look at those events again.
            q.after = page.scanned_to.or(q.after);
            let now = tokio::time::Instant::now();
            if !page.events.is_empty() || now >= deadline {
                return Ok(EventList {
                    items: page.events.into_iter().map(EventView::from).collect(),
                    next_cursor: q.after.unwrap_or_default().to_string(),
                });
            }
            if page.scanned_to.is_some() {
                // A filter passed over a whole scan: look on at once.
                continue;
            }
            let pause = (deadline - now).min(RECHECK);
            let _ = tokio::time::timeout(pause, written).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(after: Option<&str>, limit: Option<u32>) -> FeedRequest {
        FeedRequest {
            after: after.map(str::to_owned),
            limit,
            ..FeedRequest::default()
        }
    }

    #[test]
    fn positions_are_two_whole_numbers() {
        assert_eq!(
            query(&req(Some("812.40"), None)).unwrap().after,
            Some(EventPos {
                major: 812,
                seq: 40
            })
        );
        for bad in ["812", "a.b", "1.-2", ".4", "1.2.3", " 1.2"] {
            assert!(query(&req(Some(bad), None)).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_and_filters_are_checked() {
        assert_eq!(query(&req(None, None)).unwrap().limit, DEFAULT_LIMIT);
        assert!(query(&req(None, Some(0))).is_err());
        assert!(query(&req(None, Some(MAX_LIMIT + 1))).is_err());
        let mut r = req(None, None);
        r.resource_type = Some("Users".into());
        assert!(query(&r).is_err());
        r.resource_type = Some("Group".into());
        r.operation = Some("update".into());
        assert!(query(&r).is_err());
        r.operation = Some("patch".into());
        let q = query(&r).unwrap();
        assert_eq!(
            (q.resource_types, q.operations),
            (vec![Subject::Group], vec![EventOp::Patch])
        );
        r.resource_type = Some("User,Group".into());
        r.operation = Some("admin, denied".into());
        let q = query(&r).unwrap();
        assert_eq!(
            (q.resource_types, q.operations),
            (
                vec![Subject::User, Subject::Group],
                vec![EventOp::Admin, EventOp::Denied]
            )
        );
        r.resource_type = Some("User,".into());
        assert!(query(&r).is_err());
    }
}
