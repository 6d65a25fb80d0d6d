//! Nested groups: a resource's direct groups completed with the groups containing them, for
//! either store (each supplies the one query, "which groups directly contain these").

use std::future::Future;

use crate::store::{DirectGroup, GroupRow, Kind, StoreError, StoreResult};

/// Direct memberships (member, group) completed with the groups containing those groups, level by level, each an index probe per id.
/// One recursive CTE did this in a single statement, but Postgres cannot estimate a
/// recursion: it planned sorts and a hash of the whole resources table, ~15 ms for a page
/// of 100 users in one group (more as the directory grows).
pub(crate) async fn expand<F, Fut>(
    direct: Vec<(String, DirectGroup)>,
    mut parent_groups: F,
) -> StoreResult<Vec<GroupRow>>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: Future<Output = StoreResult<Vec<(String, DirectGroup)>>>,
{
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    let mut names: HashMap<String, String> = HashMap::new();
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    let mut by_member: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (child, g) in &direct {
        names.insert(g.group_id.clone(), g.display.clone());
        by_member
            .entry(child.as_str())
            .or_default()
            .push(g.group_id.as_str());
    }
    // Walk up from the direct groups that are themselves members (most are not, and
    // asking about the others would be a round trip that finds nothing); `seen` ends the
    // walk even if a cycle slipped in.
    let mut seen: BTreeSet<String> = direct.iter().map(|(_, g)| g.group_id.clone()).collect();
    let mut frontier: BTreeSet<String> = direct
        .iter()
        .filter(|(_, g)| g.nested)
        .map(|(_, g)| g.group_id.clone())
        .collect();
    while !frontier.is_empty() {
        let asked: Vec<String> = std::mem::take(&mut frontier).into_iter().collect();
        for (child, g) in parent_groups(asked).await? {
            names.insert(g.group_id.clone(), g.display);
            parents.entry(child).or_default().push(g.group_id.clone());
            if seen.insert(g.group_id.clone()) && g.nested {
                frontier.insert(g.group_id);
            }
        }
    }
    let mut out = Vec::new();
    for (member, groups) in by_member {
        let direct_set: BTreeSet<&str> = groups.iter().copied().collect();
        let mut all: BTreeSet<&str> = direct_set.clone();
        let mut stack: Vec<&str> = groups.clone();
        while let Some(g) = stack.pop() {
            for p in parents.get(g).map(Vec::as_slice).unwrap_or_default() {
                if all.insert(p.as_str()) {
                    stack.push(p.as_str());
                }
            }
        }
        let mut rows: Vec<GroupRow> = all
            .into_iter()
            .map(|g| GroupRow {
                member_id: member.to_owned(),
                group_id: g.to_owned(),
                display: names.get(g).cloned().unwrap_or_default(),
                direct: direct_set.contains(g),
            })
            .collect();
        rows.sort_by(|a, b| (&a.display, &a.group_id).cmp(&(&b.display, &b.group_id)));
        out.extend(rows);
    }
    Ok(out)
}

/// Fails with the ids of `wanted` that are not users (absent, or groups) among `found`.
pub(crate) fn require_users(wanted: &[String], found: &[(String, Kind)]) -> StoreResult<()> {
    let bad: Vec<String> = wanted
        .iter()
        .filter(|id| !found.iter().any(|(f, k)| f == *id && *k == Kind::User))
        .cloned()
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(StoreError::UnknownMembers(bad))
    }
}

/// Checks that every member to add was found in the realm and that the group is not among
/// them; returns the groups among them, whose nesting the caller checks for cycles.
pub(crate) fn require_known(
    members: &[String],
    found: &[(String, Kind)],
    group_id: &str,
) -> StoreResult<Vec<String>> {
    let known: std::collections::HashSet<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
    let missing: Vec<String> = members
        .iter()
        .filter(|m| !known.contains(m.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::UnknownMembers(missing));
    }
    let groups: Vec<String> = found
        .iter()
        .filter(|(_, k)| *k == Kind::Group)
        .map(|(id, _)| id.clone())
        .collect();
    if groups.iter().any(|g| g == group_id) {
        return Err(StoreError::MembershipCycle(group_id.to_owned()));
    }
    Ok(groups)
}
