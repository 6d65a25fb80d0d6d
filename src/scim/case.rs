//! The one case-folding rule for attribute values: which attributes compare case-insensitively
//! and how a value is folded. Filter evaluation, filter lowering, sorting and the stored
//! folded name all fold through here, so a value that matches a filter sorts where it matches.

use super::schema::AttrType;

/// A value as it compares when its attribute is not caseExact: Unicode lower case, the same in
/// every consumer (SQL `lower()` folds ASCII only on SQLite and by locale on PostgreSQL, so
/// SQL that folds must reproduce this, not call `lower()` alone).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Whether values of an attribute compare folded. Only text that people type folds: binary is
/// base64, where case is data, and dateTimes compare as instants.
pub fn folds(kind: AttrType, case_exact: bool) -> bool {
    !case_exact && matches!(kind, AttrType::String | AttrType::Reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_unicode_lower_case() {
        assert_eq!(fold("ÉMILE Straße"), "émile straße");
        assert_eq!(fold("BJensen@Example.COM"), "bjensen@example.com");
    }

    #[test]
    fn only_case_insensitive_text_folds() {
        assert!(folds(AttrType::String, false));
        assert!(folds(AttrType::Reference, false));
        assert!(!folds(AttrType::String, true));
        assert!(!folds(AttrType::Binary, false));
        assert!(!folds(AttrType::DateTime, false));
    }
}
