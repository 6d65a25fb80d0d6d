//! The Argument and Attribute Reference of each page in `docs/`, generated from the schemas,
//! so the docs cannot say something the provider does not do. The pages' other sections are
//! written by hand; a test fails when a page's reference is stale.

use crate::spec::{Field, Flow, Kind, Mode};

pub const BEGIN: &str = "<!-- reference: generated from the schema; \
    regenerate with SCIMD_TF_DOCS_WRITE=1 cargo test -p terraform-provider-scimd docs -->";
pub const END: &str = "<!-- end of generated reference -->";

fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Str => "String",
        Kind::Int => "Number",
        Kind::Bool => "Boolean",
        Kind::StrSet => "Set of String",
        Kind::StrMap => "Map of String",
    }
}

fn line(f: &Field, what: &str) -> String {
    let mut tags = vec![kind(f.kind).to_owned(), what.to_owned()];
    if f.replace && f.mode != Mode::Computed && f.flow != Flow::Local {
        tags.push("forces replacement".into());
    }
    if f.sensitive {
        tags.push("sensitive".into());
    }
    let tags: Vec<&str> = tags
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .collect();
    format!("- `{}` ({}) {}\n", f.name, tags.join(", "), f.doc)
}

/// The generated block, markers included.
pub fn reference(fields: &[Field], extra_attributes: &[(&str, &str, &str)]) -> String {
    let mut out = format!("{BEGIN}\n## Argument Reference\n\n");
    for f in fields.iter().filter(|f| f.mode == Mode::Required) {
        out += &line(f, "Required");
    }
    for f in fields
        .iter()
        .filter(|f| matches!(f.mode, Mode::Optional | Mode::Defaulted))
    {
        out += &line(f, "Optional");
    }
    out += "\n## Attribute Reference\n\nIn addition to the arguments above:\n\n";
    for f in fields.iter().filter(|f| f.mode == Mode::Computed) {
        out += &line(f, "");
    }
    for (name, ty, doc) in extra_attributes {
        out += &format!("- `{name}` ({ty}) {doc}\n");
    }
    out += END;
    out
}

/// The page with its generated block replaced; `None` when the page has no markers.
pub fn splice(page: &str, block: &str) -> Option<String> {
    let start = page.find(BEGIN)?;
    let end = page[start..].find(END)? + start + END.len();
    Some(format!("{}{block}{}", &page[..start], &page[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data;
    use crate::resources::ALL;
    use std::path::PathBuf;

    fn pages() -> Vec<(PathBuf, String)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs");
        let mut pages: Vec<(PathBuf, String)> = ALL
            .iter()
            .map(|s| {
                let path = dir.join("resources").join(format!("{}.md", s.type_name));
                (path, reference(s.fields, &[]))
            })
            .collect();
        pages.push((
            dir.join("data-sources/realm.md"),
            reference(data::REALM_FIELDS, &[]),
        ));
        pages.push((
            dir.join("data-sources/tokens.md"),
            reference(data::TOKENS_FIELDS, &[data::TOKENS_ATTRIBUTE]),
        ));
        pages
    }

    #[test]
    fn docs_reference_sections_match_the_schema() {
        let write = std::env::var("SCIMD_TF_DOCS_WRITE").is_ok_and(|v| v == "1");
        let mut stale = Vec::new();
        for (path, block) in pages() {
            let page = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let fresh = splice(&page, &block)
                .unwrap_or_else(|| panic!("{} has no generated-reference markers", path.display()));
            if fresh != page {
                if write {
                    std::fs::write(&path, fresh).expect("write the page");
                } else {
                    stale.push(path.display().to_string());
                }
            }
        }
        assert!(
            stale.is_empty(),
            "stale reference in {stale:?}: run SCIMD_TF_DOCS_WRITE=1 cargo test -p terraform-provider-scimd docs"
        );
    }

    #[test]
    fn a_forced_replacement_and_a_secret_are_said_so() {
        let block = reference(crate::resources::TOKEN_SPEC.fields, &[]);
        assert!(block.contains("- `name` (String, Required, forces replacement)"));
        assert!(block.contains("- `token_value` (String, sensitive)"));
        assert!(splice("a\nb", &block).is_none());
    }
}
