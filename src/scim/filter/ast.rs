//! The filter syntax tree, its limits and error type, and the canonical `Display` form that re-parses to the same tree.

use std::fmt;

/// Bounds applied while parsing, so that a hostile filter cannot exhaust memory or stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterLimits {
    /// Longest accepted input, in characters.
    pub max_length: usize,
    /// Deepest accepted nesting of `(`, `not (` and `[`.
    pub max_depth: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            max_length: 4096,
            max_depth: 32,
        }
    }
}

/// Why a filter or PATCH path was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 0-based character offset into the input, or [`FilterError::NO_POSITION`]
    /// when the problem is not tied to a place in the text (evaluation errors such
    /// as an unknown attribute, which are found after parsing and without spans).
    pub position: usize,
    pub message: String,
}

impl FilterError {
    /// Marks an error found while resolving or evaluating an already-parsed filter.
    pub const NO_POSITION: usize = usize::MAX;

    pub fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }

    /// An error about the meaning of a filter rather than about a place in its text.
    pub fn semantic(message: impl Into<String>) -> Self {
        Self::new(Self::NO_POSITION, message)
    }

    pub fn has_position(&self) -> bool {
        self.position != Self::NO_POSITION
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_position() {
            write!(f, "at position {}: {}", self.position, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for FilterError {}

/// A parsed filter.
///
/// Logical chains are left-associative, so `a and b and c` is
/// `And(And(a, b), c)`; the depth of such a chain is bounded by the input length
/// limit, and the evaluator and `Display` walk chains iteratively.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// attr[filter] — the inner filter's paths are relative to `attr` (their `urn` is None and `attr` is the sub-attribute name)
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// `[urn ":"] attr ["." sub]`, with names spelled as the client wrote them;
/// resolving them case-insensitively is the consumer's job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path with neither schema URN nor sub-attribute.
    pub fn simple(attr: impl Into<String>) -> Self {
        Self {
            urn: None,
            attr: attr.into(),
            sub: None,
        }
    }

    /// The same path without its sub-attribute, i.e. the attribute that owns it.
    pub fn parent(&self) -> Self {
        Self {
            urn: self.urn.clone(),
            attr: self.attr.clone(),
            sub: None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Operator keywords are case-insensitive (RFC 7644 §3.4.2.2).
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison literal. dateTime values are strings here; only the consumer
/// knows the attribute's type and so whether to read one as an instant.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `s` as a JSON string literal, which is exactly what the filter lexer reads back.
pub(super) fn write_json_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\u{08}' => f.write_str("\\b")?,
            '\u{0C}' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Logic {
    And,
    Or,
}

impl Logic {
    fn of(filter: &Filter) -> Option<(Logic, &Filter, &Filter)> {
        match filter {
            Filter::And(l, r) => Some((Logic::And, l, r)),
            Filter::Or(l, r) => Some((Logic::Or, l, r)),
            _ => None,
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Logic::And => " and ",
            Logic::Or => " or ",
        }
    }
}

/// Prints the canonical form: lower-case keywords, JSON literals, and only the
/// parentheses that precedence and left-associativity require, so that
/// `parse(display(f)) == f` for every tree the parser can produce.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(..) | Filter::Or(..) => write_chain(f, self),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

/// Walks the left spine of a same-operator chain iteratively: left-associative
/// chains grow with input length rather than with nesting, so recursing along
/// them would tie stack use to the length limit instead of the depth limit.
fn write_chain(f: &mut fmt::Formatter<'_>, top: &Filter) -> fmt::Result {
    let Some((logic, _, _)) = Logic::of(top) else {
        return write!(f, "{top}");
    };
    let mut rights = Vec::new();
    let mut cur = top;
    while let Some((l, left, right)) = Logic::of(cur) {
        if l != logic {
            break;
        }
        rights.push(right);
        cur = left;
    }
    // The leftmost operand needs parentheses only if it binds looser than the
    // chain (an `or` under an `and`).
    write_operand(f, cur, logic == Logic::And && matches!(cur, Filter::Or(..)))?;
    for right in rights.into_iter().rev() {
        f.write_str(logic.keyword())?;
        // A right operand that is itself a chain of the same or looser operator was
        // parenthesised in the source; an `and` under an `or` was not.
        let needs = matches!(
            (logic, right),
            (_, Filter::Or(..)) | (Logic::And, Filter::And(..))
        );
        write_operand(f, right, needs)?;
    }
    Ok(())
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse_filter;
    use super::super::path::parse_patch_path;
    use super::*;

    fn roundtrip(input: &str) -> String {
        let limits = FilterLimits::default();
        let parsed = parse_filter(input, &limits).unwrap_or_else(|e| panic!("{input}: {e}"));
        let printed = parsed.to_string();
        let reparsed = parse_filter(&printed, &limits).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(parsed, reparsed, "{input} -> {printed}");
        printed
    }

    #[test]
    fn display_is_canonical() {
        let cases = [
            (r#"userName EQ "bjensen""#, r#"userName eq "bjensen""#),
            ("a PR Or b pr AND c pr", "a pr or b pr and c pr"),
            ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
            ("((a pr and b pr)) and c pr", "a pr and b pr and c pr"),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("(a pr and b pr) or c pr", "a pr and b pr or c pr"),
            (
                "a pr and (b pr or c pr) and d pr",
                "a pr and (b pr or c pr) and d pr",
            ),
            ("not(a pr or b pr)", "not (a pr or b pr)"),
            (
                "x eq TRUE and y eq Null and z eq -1.50",
                "x eq true and y eq null and z eq -1.5",
            ),
            (
                r#"emails[type eq "work"].value eq "x""#,
                r#"emails[type eq "work" and value eq "x"]"#,
            ),
            (
                r#"emails[type eq "a" or type eq "b"].value pr"#,
                r#"emails[(type eq "a" or type eq "b") and value pr]"#,
            ),
            (r#"x eq "a\u0001\/\"\\""#, r#"x eq "a\u0001/\"\\""#),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName pr",
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName pr",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(roundtrip(input), expected, "{input}");
        }
    }

    #[test]
    fn hand_built_right_nested_chains_get_parentheses() {
        let p = |n: &str| Filter::Present(AttrPath::simple(n));
        let f = Filter::And(
            Box::new(p("a")),
            Box::new(Filter::And(Box::new(p("b")), Box::new(p("c")))),
        );
        assert_eq!(f.to_string(), "a pr and (b pr and c pr)");
        let f = Filter::And(
            Box::new(Filter::Or(Box::new(p("a")), Box::new(p("b")))),
            Box::new(Filter::Or(Box::new(p("c")), Box::new(p("d")))),
        );
        assert_eq!(f.to_string(), "(a pr or b pr) and (c pr or d pr)");
    }

    #[test]
    fn error_display() {
        assert_eq!(FilterError::new(3, "bad").to_string(), "at position 3: bad");
        let e = FilterError::semantic("unknown attribute 'x'");
        assert!(!e.has_position());
        assert_eq!(e.to_string(), "unknown attribute 'x'");
        assert_eq!(
            FilterLimits::default(),
            FilterLimits {
                max_length: 4096,
                max_depth: 32
            }
        );
    }

    /// xorshift64*: deterministic, dependency-free randomness for property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const NAMES: &[&str] = &[
        "userName", "emails", "value", "type", "not", "and", "or", "pr", "eq", "true", "null",
        "$ref", "a-b_1", "X", "NAME",
    ];
    const URNS: &[&str] = &[
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:x",
        "a.b:c",
    ];

    fn random_path(rng: &mut Rng, inside: bool) -> AttrPath {
        let attr = rng.pick(NAMES).to_string();
        if inside {
            return AttrPath::simple(attr);
        }
        let urn = (rng.below(3) == 0).then(|| rng.pick(URNS).to_string());
        let sub = (rng.below(3) == 0).then(|| rng.pick(NAMES).to_string());
        AttrPath { urn, attr, sub }
    }

    fn random_value(rng: &mut Rng) -> CompValue {
        match rng.below(7) {
            0 => CompValue::Null,
            1 => CompValue::Bool(rng.below(2) == 0),
            2 => CompValue::Number((rng.next() as i64).into()),
            3 => CompValue::Number(rng.next().into()),
            4 => {
                let f = f64::from_bits(rng.next());
                serde_json::Number::from_f64(f)
                    .map(CompValue::Number)
                    .unwrap_or(CompValue::Null)
            }
            _ => {
                let len = rng.below(8);
                let s = (0..len)
                    .map(|_| match rng.below(6) {
                        0 => char::from_u32(rng.below(0x20) as u32).unwrap_or('x'),
                        1 => ['"', '\\', '/', ']', ')', ' '][rng.below(6)],
                        2 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('é'),
                        _ => char::from(b'a' + rng.below(26) as u8),
                    })
                    .collect();
                CompValue::String(s)
            }
        }
    }

    fn random_filter(rng: &mut Rng, depth: usize, inside: bool) -> Filter {
        let leaf = depth == 0 || rng.below(3) == 0;
        if leaf {
            return match rng.below(if inside { 2 } else { 3 }) {
                0 => Filter::Present(random_path(rng, inside)),
                1 => Filter::Compare {
                    path: random_path(rng, inside),
                    op: CompareOp::ALL[rng.below(9)],
                    value: random_value(rng),
                },
                _ => Filter::ValuePath {
                    path: AttrPath {
                        sub: None,
                        ..random_path(rng, false)
                    },
                    filter: Box::new(random_filter(rng, depth.saturating_sub(1), true)),
                },
            };
        }
        let l = Box::new(random_filter(rng, depth - 1, inside));
        match rng.below(3) {
            0 => Filter::Not(l),
            1 => Filter::And(l, Box::new(random_filter(rng, depth - 1, inside))),
            _ => Filter::Or(l, Box::new(random_filter(rng, depth - 1, inside))),
        }
    }

    #[test]
    fn random_trees_round_trip_through_display() {
        let limits = FilterLimits::default();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let f = random_filter(&mut rng, 6, false);
            let printed = f.to_string();
            let reparsed = parse_filter(&printed, &limits);
            assert_eq!(reparsed.as_ref(), Ok(&f), "{printed}");
        }
    }

    const SOUP: &[&str] = &[
        "(",
        ")",
        "[",
        "]",
        ".",
        " and ",
        " or ",
        "not ",
        " pr",
        " eq ",
        " GT ",
        "\"x\"",
        "\"",
        "1",
        "-",
        "1e5",
        "emails",
        "value",
        "urn:a:b:c",
        "name.givenName",
        "'",
        "=",
        "\\",
        "é",
        " ",
        "true",
        "null",
        ":",
        "$ref",
        "\"\\u",
        "\"\\ud800\"",
        "\t",
        "0.",
        "a.",
        "..",
        "$",
        "a pr",
        "a pr",
        " and ",
        " or ",
        "b eq \"v\"",
        "b eq \"v\"",
        "emails[value pr]",
        "not (",
    ];

    #[test]
    fn token_soup_never_panics_and_accepted_input_round_trips() {
        let limits = FilterLimits::default();
        let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let len = 1 + rng.below(12);
            let input: String = (0..len).map(|_| rng.pick(SOUP)).collect();
            if let Ok(f) = parse_filter(&input, &limits) {
                accepted += 1;
                assert_eq!(
                    parse_filter(&f.to_string(), &limits).as_ref(),
                    Ok(&f),
                    "{input}"
                );
            }
            if let Ok(p) = parse_patch_path(&input, &limits) {
                assert_eq!(
                    parse_patch_path(&p.to_string(), &limits).as_ref(),
                    Ok(&p),
                    "{input}"
                );
            }
        }
        assert!(accepted > 50, "soup too hostile: {accepted}");
    }
}
