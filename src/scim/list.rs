//! RFC 7644 §3.4.2.4 index paging and the ListResponse message.

use serde_json::Value;

use super::error::ScimError;
use super::urn;

/// Paging limits from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default_count: u32,
    pub max_count: u32,
}

/// A resolved page request: 1-based `start_index`, `count` already capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub start_index: u64,
    pub count: u32,
}

impl Page {
    /// RFC 7644 §3.4.2.4: startIndex < 1 is read as 1, a negative count as 0, and a count above
    /// the server's maximum is capped to it. Non-numbers are a client error.
    pub fn parse(
        start_index: Option<&str>,
        count: Option<&str>,
        limits: PageLimits,
    ) -> Result<Self, ScimError> {
        let start_index = match start_index.map(str::trim).filter(|s| !s.is_empty()) {
            None => 1,
            Some(s) => s.parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("startIndex must be an integer, got \"{s}\""))
            })?,
        };
        let count = match count.map(str::trim).filter(|s| !s.is_empty()) {
            None => i64::from(limits.default_count),
            Some(s) => s.parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("count must be an integer, got \"{s}\""))
            })?,
        };
        Ok(Self {
            start_index: start_index.max(1) as u64,
            count: count.clamp(0, i64::from(limits.max_count)) as u32,
        })
    }

    pub fn offset(&self) -> u64 {
        self.start_index - 1
    }
}

/// The ListResponse body. `Resources` is always present, even when empty (COMPAT 4).
pub fn list_response(total: u64, page: Page, resources: Vec<Value>) -> Value {
    serde_json::json!({
        "schemas": [urn::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": page.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: PageLimits = PageLimits {
        default_count: 100,
        max_count: 500,
    };

    #[test]
    fn start_index_below_one_is_one_and_count_is_capped() {
        let p = Page::parse(Some("-5"), Some("100000"), L).unwrap();
        assert_eq!(
            p,
            Page {
                start_index: 1,
                count: 500
            }
        );
        let p = Page::parse(None, Some("-1"), L).unwrap();
        assert_eq!(p.count, 0);
    }

    #[test]
    fn non_numeric_count_is_invalid_value() {
        let e = Page::parse(None, Some("ten"), L).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.detail.contains("count"));
    }
}
