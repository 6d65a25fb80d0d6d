//! What a SCIM write records in the event log: who, which request, which attributes changed,
//! which members came and went. The store writes it in the write's own transaction.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::resources::RealmCtx;
use crate::store::{EventOp, MemberChange, NewEvent};

/// The attributes whose values differ between two documents (absent counts as a value).
/// An extension's attributes are named one by one (`urn:...:enterprise:2.0:User:department`),
/// since "the enterprise extension changed" tells a consumer little.
pub fn changed_attributes(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut names = BTreeSet::new();
    for key in before.keys().chain(after.keys()) {
        let (b, a) = (before.get(key), after.get(key));
        if b == a {
            continue;
        }
        match (b, a) {
            (b, a) if key.starts_with("urn:") && is_object_or_none(b) && is_object_or_none(a) => {
                let empty = Map::new();
                let inner =
                    |v: Option<&Value>| v.and_then(Value::as_object).unwrap_or(&empty).clone();
                let (b, a) = (inner(b), inner(a));
                for sub in b.keys().chain(a.keys()) {
                    if b.get(sub) != a.get(sub) {
                        names.insert(format!("{key}:{sub}"));
                    }
                }
            }
            _ => {
                names.insert(key.clone());
            }
        }
    }
    names.into_iter().collect()
}

fn is_object_or_none(v: Option<&Value>) -> bool {
    v.is_none_or(Value::is_object)
}

/// Every attribute a new resource has.
pub fn created_attributes(doc: &Map<String, Value>) -> Vec<String> {
    changed_attributes(&Map::new(), doc)
}

/// Members a delta adds and removes. A delta that first clears the list does not say who
/// left: `None` there.
pub fn member_delta(change: &MemberChange) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let removed = (!change.clear).then(|| change.remove.clone());
    (Some(change.add.clone()), removed)
}

/// Members added and removed between two lists.
pub fn list_delta(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let (b, a): (BTreeSet<&String>, BTreeSet<&String>) =
        (before.iter().collect(), after.iter().collect());
    (
        a.difference(&b).map(|s| (*s).clone()).collect(),
        b.difference(&a).map(|s| (*s).clone()).collect(),
    )
}

impl RealmCtx {
    /// An event of this request.
    pub fn event(&self, operation: EventOp, changed: Vec<String>) -> NewEvent {
        NewEvent {
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            operation,
            changed,
            members_added: None,
            members_removed: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn changed_attributes_name_what_differs_and_extension_attributes_one_by_one() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let before = map(json!({"userName": "a", "active": true, "title": "x",
            ent: {"department": "R&D", "costCenter": "1"}}));
        let after = map(json!({"userName": "a", "active": false,
            ent: {"department": "Sales", "costCenter": "1"}, "nickName": "b"}));
        assert_eq!(
            changed_attributes(&before, &after),
            vec![
                "active".to_owned(),
                "nickName".into(),
                "title".into(),
                format!("{ent}:department")
            ]
        );
        assert!(changed_attributes(&before, &before).is_empty());
    }

    #[test]
    fn a_list_delta_says_who_came_and_who_left() {
        let (added, removed) = list_delta(&["a".into(), "b".into()], &["b".into(), "c".into()]);
        assert_eq!(
            (added, removed),
            (vec!["c".to_owned()], vec!["a".to_owned()])
        );
    }

    #[test]
    fn a_delta_that_clears_the_list_does_not_claim_to_know_who_left() {
        let change = MemberChange {
            clear: true,
            add: vec!["x".into()],
            ..Default::default()
        };
        assert_eq!(member_delta(&change), (Some(vec!["x".into()]), None));
    }
}
