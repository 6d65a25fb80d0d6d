//! Attribute paths: a PATCH operation's `path` and `sortBy`. A path that parses must print
//! to a form that parses back to the same path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::scim::filter::{parse_patch_path, FilterLimits};
use scimd::scim::schema::ResourceKind;
use scimd::service::sort::resolve_sort;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = FilterLimits::default();
    if let Ok(path) = parse_patch_path(text, &limits) {
        let printed = path.to_string();
        match parse_patch_path(&printed, &limits) {
            Ok(again) => assert_eq!(again, path, "{text:?} printed as {printed:?}"),
            Err(e) => assert!(
                printed.chars().count() > limits.max_length,
                "{text:?} printed as {printed:?}, which does not parse: {e}"
            ),
        }
    }
    for kind in [ResourceKind::User, ResourceKind::Group] {
        for order in [None, Some("descending")] {
            let _ = resolve_sort(kind, Some(text), order);
        }
    }
});
