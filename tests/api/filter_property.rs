//! Filters, property-tested: random Users and random filters, and the database (SQLite and
//! Postgres) must select exactly the users the reference evaluator
//! (`scimd::scim::filter::matches`) selects; where the evaluator rejects a filter the server
//! must answer 400 invalidFilter.
//!
//! Values come from small pools (mixed case, non-ASCII, look-alike letters such as the Kelvin
//! sign and dotted capital I) and literals mostly from the stored values themselves, recased and
//! cut, so that filters hit. Filters nest and/or/not/parentheses three deep, with value paths,
//! URN-qualified paths, `meta.lastModified` instants at millisecond edges, and names, keywords
//! and literals in random case.
//!
//! The run is deterministic: `SCIMD_PROP_SEED=<u64>` picks another seed (the seed in use is
//! printed), `SCIMD_PROP_CASES=<n>` another number of filters per backend.
//!
//! Deliberately not generated: '%' in literals (an `eq` literal with %XX escapes also matches
//! its decoded form, COMPAT 3, which the evaluator does not know), capital 'Σ' (lower-cased by
//! context in Rust, always to 'σ' in SQL; see `store::sql::filter::fold_expr`), `meta.*` other
//! than created/lastModified, and `groups` (a membership relation, filterable by value only).

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Duration, FixedOffset, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use scimd::scim::filter::{
    matches, parse_filter, AttrInfo, AttrKind, AttrPath, AttrSemantics, FilterLimits,
};
use scimd::scim::schema::Registry;
use scimd::scim::semantics::SchemaSemantics;

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(database_and_evaluator_select_the_same_users);

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const USERS: usize = 60;
const DEFAULT_CASES: usize = 400;
const DEFAULT_SEED: u64 = 0x5C1D_F117_E2C0_FFEE;

// ---------------------------------------------------------------------------------------------
// Randomness

/// xorshift64*, seeded through splitmix64 so that any seed (even 0) gives a good stream.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with the given probability in percent.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Value pools: case variants of the same word, non-ASCII letters whose SQL lower-casing is
// not Rust's (É, Ö, Ü, Ω, Cyrillic, Greek), letters whose lower case is ASCII or two
// characters (Kelvin sign, dotted capital I), and no '%' and no capital sigma.

const USER_NAMES: &[&str] = &[
    "alice",
    "Alice",
    "BOB",
    "bob",
    "Émile",
    "émile",
    "ÖZGÜR",
    "özgür",
    "Zoë",
    "ZOË",
    "İlkay",
    "ilkay",
    "\u{212A}elvin",
    "kelvin",
    "straße",
    "STRASSE",
    "ΑΘΗΝΑ",
    "αθηνα",
    "Мария",
    "МАРИЯ",
    "ǅemal",
    "o'brien",
];
const DISPLAY_NAMES: &[&str] = &[
    "Alice Smith",
    "alice smith",
    "ALICE SMITH",
    "Émile Zola",
    "ÉMILE ZOLA",
    "émile zola",
    "Özgür Ünal",
    "ÖZGÜR ÜNAL",
    "\u{212A}elvin Klein",
    "kelvin klein",
    "Straße",
    "STRASSE",
    "ΑΘΗΝΑ Παππά",
    "Мария Иванова",
    "МАРИЯ ИВАНОВА",
    "İlkay Gündoğan",
    "ilkay gündoğan",
    "Zoë",
    "ZOË",
    "ǅemal",
    "quote\"d",
    "back\\slash",
    "under_score",
    "Ωmega",
    "ωmega",
];
const TITLES: &[&str] = &[
    "Engineer",
    "engineer",
    "ENGINEER",
    "Senior Engineer",
    "Señor",
    "SEÑOR",
    "Ärztin",
    "ärztin",
    "ÄRZTIN",
    "Manager",
    "VP",
    "vp",
    "Ωmega Lead",
];
const GIVEN_NAMES: &[&str] = &[
    "Barbara",
    "barbara",
    "BARBARA",
    "Émile",
    "ÉMILE",
    "Jürgen",
    "JÜRGEN",
    "Øyvind",
    "øyvind",
    "Zoë",
    "Ἀλέξανδρος",
    "İbrahim",
    "ibrahim",
];
const FAMILY_NAMES: &[&str] = &[
    "Jensen",
    "jensen",
    "JENSEN",
    "Müller",
    "MÜLLER",
    "müller",
    "Ørsted",
    "O'Neil",
    "Smith",
    "SMITH",
    "Ivanov",
    "ИВАНОВ",
    "иванов",
    "\u{212B}ngström",
    "ångström",
];
const EMAIL_LOCALS: &[&str] = &[
    "alice",
    "Alice",
    "BOB",
    "émile",
    "ÉMILE",
    "zoë",
    "\u{212A}elvin",
    "kelvin",
    "j.smith",
];
const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "Example.COM",
    "work.example",
    "WORK.EXAMPLE",
    "ünïcode.de",
    "ÜNÏCODE.DE",
];
const EMAIL_TYPES: &[&str] = &["work", "home", "other", "Work", "HOME"];
const EMAIL_DISPLAYS: &[&str] = &["Office", "office", "Privé", "PRIVÉ"];
const EXTERNAL_IDS: &[&str] = &["EXT-1", "ext-1", "Ext-2", "ÉXT-3", "éxt-3", "x"];
const DEPARTMENTS: &[&str] = &["R&D", "r&d", "Sales", "SALES", "Ärzte", "ärzte", "Finance"];
const EMPLOYEE_NUMBERS: &[&str] = &["001", "42", "0042", "A-7", "a-7", "Ω-9", "\u{2126}-9"];
const MANAGERS: &[&str] = &["mgr-1", "MGR-1", "Mgr-2", "chef-É", "chef-é"];
/// A literal with more distinct non-ASCII letters than SQLite folds with nested `replace`.
const WIDE: &str = "ärztin àáâãåæçèéêëìíîïðñòóôõöøùúûüýþ абвгдежзийклмнопрстуфхцчшщъыьэюя";
/// Characters for literals made up from nothing.
const JUNK: &[char] = &[
    'a', 'B', 'e', 'É', 'é', 'ö', 'Ö', 'z', 'K', '\u{212A}', 'İ', 'i', ' ', '.', '@', '-', '"',
    '\\', 'ß', 'Ω', 'ω', '\u{2126}', 'Я', 'я', '0', '9',
];

fn random_user(rng: &mut Rng, i: usize) -> Value {
    let mut u = Map::new();
    // userName is unique ignoring case; the suffix keeps it so.
    u.insert(
        "userName".into(),
        json!(format!(
            "{}{}{i}",
            rng.pick(USER_NAMES),
            rng.pick(&[".", "-", ""])
        )),
    );
    if rng.chance(75) {
        u.insert("displayName".into(), json!(rng.pick(DISPLAY_NAMES)));
    }
    if rng.chance(60) {
        u.insert("title".into(), json!(rng.pick(TITLES)));
    }
    match rng.below(10) {
        0..=3 => {
            u.insert("active".into(), json!(true));
        }
        4..=6 => {
            u.insert("active".into(), json!(false));
        }
        _ => {}
    }
    if rng.chance(70) {
        let mut name = Map::new();
        if rng.chance(80) {
            name.insert("givenName".into(), json!(rng.pick(GIVEN_NAMES)));
        }
        if rng.chance(80) {
            name.insert("familyName".into(), json!(rng.pick(FAMILY_NAMES)));
        }
        u.insert("name".into(), Value::Object(name));
    }
    let emails: Vec<Value> = (0..rng.below(4))
        .map(|_| {
            let mut e = Map::new();
            if rng.chance(90) {
                let v = format!("{}@{}", rng.pick(EMAIL_LOCALS), rng.pick(EMAIL_DOMAINS));
                e.insert("value".into(), json!(v));
            }
            if rng.chance(80) {
                e.insert("type".into(), json!(rng.pick(EMAIL_TYPES)));
            }
            if rng.chance(40) {
                e.insert("primary".into(), json!(rng.chance(60)));
            }
            if rng.chance(20) {
                e.insert("display".into(), json!(rng.pick(EMAIL_DISPLAYS)));
            }
            Value::Object(e)
        })
        .collect();
    if !emails.is_empty() {
        u.insert("emails".into(), Value::Array(emails));
    }
    if rng.chance(60) {
        u.insert("externalId".into(), json!(rng.pick(EXTERNAL_IDS)));
    }
    if rng.chance(70) {
        let mut ent = Map::new();
        if rng.chance(70) {
            ent.insert("department".into(), json!(rng.pick(DEPARTMENTS)));
        }
        if rng.chance(60) {
            ent.insert("employeeNumber".into(), json!(rng.pick(EMPLOYEE_NUMBERS)));
        }
        if rng.chance(50) {
            ent.insert("manager".into(), json!({"value": rng.pick(MANAGERS)}));
        }
        u.insert(ENTERPRISE.into(), Value::Object(ent));
    }
    let mut schemas = vec![json!(CORE)];
    if u.contains_key(ENTERPRISE) {
        schemas.push(json!(ENTERPRISE));
    }
    u.insert("schemas".into(), Value::Array(schemas));
    Value::Object(u)
}

// ---------------------------------------------------------------------------------------------
// The oracle's view of the schema

/// The registry as the evaluator reads it, plus what the server filters on beside the schema
/// documents: `meta.created` and `meta.lastModified` (dateTime; RFC 7643 §3.1 common
/// attributes, which the User schema document does not list).
struct Oracle<'a>(SchemaSemantics<'a>);

fn is_core(path: &AttrPath) -> bool {
    path.urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(CORE))
}

const META: AttrInfo = AttrInfo {
    kind: AttrKind::Complex,
    case_exact: false,
    multi_valued: false,
};

impl AttrSemantics for Oracle<'_> {
    fn lookup(&self, path: &AttrPath) -> Option<AttrInfo> {
        if is_core(path) {
            if path.attr.eq_ignore_ascii_case("meta") {
                return Some(META);
            }
            // `SchemaSemantics` knows `id`/`externalId` only unqualified or under the core URN
            // spelled exactly; URNs are case-insensitive everywhere else.
            if ["id", "externalId"]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&path.attr))
            {
                return self.0.lookup(&AttrPath::simple(path.attr.clone()));
            }
        }
        self.0.lookup(path)
    }

    fn lookup_sub(&self, parent: &AttrPath, sub: &str) -> Option<AttrInfo> {
        if is_core(parent) && parent.attr.eq_ignore_ascii_case("meta") {
            return ["created", "lastModified"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(sub))
                .then_some(AttrInfo {
                    kind: AttrKind::DateTime,
                    case_exact: false,
                    multi_valued: false,
                });
        }
        self.0.lookup_sub(parent, sub)
    }
}

// ---------------------------------------------------------------------------------------------
// Filters

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Str,
    Bool,
    Date,
}

/// A comparable path outside value filters: how it is spelled, where its values are in the
/// canonical JSON (for literals that hit), and its type.
struct Leaf {
    name: &'static str,
    ext: bool,
    keys: &'static [&'static str],
    ty: Ty,
}

const fn leaf(name: &'static str, keys: &'static [&'static str], ty: Ty) -> Leaf {
    Leaf {
        name,
        ext: false,
        keys,
        ty,
    }
}

const fn ext_leaf(name: &'static str, keys: &'static [&'static str]) -> Leaf {
    Leaf {
        name,
        ext: true,
        keys,
        ty: Ty::Str,
    }
}

const LEAVES: &[Leaf] = &[
    leaf("userName", &["userName"], Ty::Str),
    leaf("userName", &["userName"], Ty::Str),
    leaf("displayName", &["displayName"], Ty::Str),
    leaf("displayName", &["displayName"], Ty::Str),
    leaf("title", &["title"], Ty::Str),
    leaf("nickName", &["nickName"], Ty::Str),
    leaf("active", &["active"], Ty::Bool),
    leaf("emails", &["emails", "value"], Ty::Str),
    leaf("emails.value", &["emails", "value"], Ty::Str),
    leaf("emails.type", &["emails", "type"], Ty::Str),
    leaf("emails.display", &["emails", "display"], Ty::Str),
    leaf("emails.primary", &["emails", "primary"], Ty::Bool),
    leaf("name.givenName", &["name", "givenName"], Ty::Str),
    leaf("name.familyName", &["name", "familyName"], Ty::Str),
    leaf("externalId", &["externalId"], Ty::Str),
    leaf("id", &["id"], Ty::Str),
    leaf("meta.lastModified", &["meta", "lastModified"], Ty::Date),
    leaf("meta.created", &["meta", "created"], Ty::Date),
    ext_leaf("department", &[ENTERPRISE, "department"]),
    ext_leaf("employeeNumber", &[ENTERPRISE, "employeeNumber"]),
    ext_leaf("manager.value", &[ENTERPRISE, "manager", "value"]),
];

/// Paths only tested for presence (or `eq null` / `ne null`).
const PRESENCE_ONLY: &[(&str, bool)] = &[
    ("name", false),
    ("emails", false),
    ("manager", true),
    ("name.middleName", false),
    ("nickName", false),
];

/// A complex attribute for value filters `attr[...]`, with its sub-attributes.
struct Complex {
    name: &'static str,
    ext: bool,
    keys: &'static [&'static str],
    subs: &'static [(&'static str, Ty)],
}

const COMPLEX: &[Complex] = &[
    Complex {
        name: "emails",
        ext: false,
        keys: &["emails"],
        subs: &[
            ("value", Ty::Str),
            ("type", Ty::Str),
            ("display", Ty::Str),
            ("primary", Ty::Bool),
        ],
    },
    Complex {
        name: "emails",
        ext: false,
        keys: &["emails"],
        subs: &[("value", Ty::Str), ("type", Ty::Str), ("primary", Ty::Bool)],
    },
    Complex {
        name: "name",
        ext: false,
        keys: &["name"],
        subs: &[
            ("givenName", Ty::Str),
            ("familyName", Ty::Str),
            ("middleName", Ty::Str),
        ],
    },
    Complex {
        name: "manager",
        ext: true,
        keys: &[ENTERPRISE, "manager"],
        subs: &[("value", Ty::Str)],
    },
];

/// Whole leaves the evaluator and the server must both reject.
const INVALID: &[&str] = &[
    "active gt true",
    "active co \"t\"",
    "active eq \"true\"",
    "name eq \"x\"",
    "userName eq 5",
    "userName eq true",
    "userName lt null",
    "emails[bogus pr]",
    "emails[primary ge false]",
    "department eq \"Sales\"",
    "nosuch pr",
    "name.nosuch eq \"x\"",
    "meta.lastModified co \"2024\"",
    "meta.lastModified sw \"2024-01-01T00:00:00Z\"",
    "meta.lastModified gt \"yesterday\"",
    "meta.lastModified gt \"2024-01-01 00:00:00Z\"",
    "meta.lastModified gt 5",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"x\"",
    "urn:example:Nope:userName pr",
];

/// Every string or boolean found under `keys`, arrays flattened, across all users.
fn values_at(users: &[Value], keys: &[&str]) -> Vec<Value> {
    fn walk(v: &Value, keys: &[&str], out: &mut Vec<Value>) {
        match (v, keys.split_first()) {
            (Value::Array(items), _) => items.iter().for_each(|i| walk(i, keys, out)),
            (Value::Null, None) => {}
            (_, None) => out.push(v.clone()),
            (Value::Object(o), Some((k, rest))) => {
                if let Some(next) = o.get(*k) {
                    walk(next, rest, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for u in users {
        walk(u, keys, &mut out);
    }
    out
}

struct Gen<'a> {
    rng: Rng,
    users: &'a [Value],
}

impl Gen<'_> {
    /// ASCII letters flipped at random: attribute names, URNs and keywords are case-insensitive.
    fn recase_ascii(&mut self, s: &str) -> String {
        let flip = self.rng.chance(40);
        s.chars()
            .map(|c| {
                if flip && self.rng.chance(35) {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                } else {
                    c
                }
            })
            .collect()
    }

    /// Literal text in another case, Unicode-aware (so 'ß' may become "SS").
    fn recase_unicode(&mut self, s: &str) -> String {
        match self.rng.below(6) {
            0 => s.to_uppercase(),
            1 => s.to_lowercase(),
            2 => s
                .chars()
                .map(|c| {
                    if self.rng.chance(50) {
                        c.to_uppercase().collect::<String>()
                    } else {
                        c.to_lowercase().collect()
                    }
                })
                .collect(),
            _ => s.to_owned(),
        }
    }

    fn keyword(&mut self, k: &str) -> String {
        self.recase_ascii(k)
    }

    fn path(&mut self, name: &str, ext: bool) -> String {
        let name = self.recase_ascii(name);
        if ext {
            format!("{}:{name}", self.recase_ascii(ENTERPRISE))
        } else if self.rng.chance(12) {
            format!("{}:{name}", self.recase_ascii(CORE))
        } else {
            name
        }
    }

    fn op(&mut self, ty: Ty) -> &'static str {
        match ty {
            Ty::Str => self.rng.pick(&[
                "eq", "eq", "eq", "ne", "ne", "co", "co", "sw", "sw", "ew", "ew", "gt", "ge", "lt",
                "le",
            ]),
            Ty::Bool => self.rng.pick(&["eq", "eq", "ne"]),
            Ty::Date => self
                .rng
                .pick(&["eq", "ne", "gt", "gt", "ge", "lt", "lt", "le"]),
        }
    }

    fn string_literal(&mut self, keys: &[&str], op: &str) -> String {
        if self.rng.chance(2) {
            // So many distinct letters that SQLite folds in a loop instead of nested calls.
            return self.recase_unicode(WIDE);
        }
        let found = values_at(self.users, keys);
        let base: String = if !found.is_empty() && self.rng.chance(75) {
            let i = self.rng.below(found.len());
            found[i].as_str().unwrap_or("").to_owned()
        } else if self.rng.chance(75) {
            let pools = [
                USER_NAMES,
                DISPLAY_NAMES,
                TITLES,
                GIVEN_NAMES,
                FAMILY_NAMES,
                EMAIL_TYPES,
                DEPARTMENTS,
                MANAGERS,
            ];
            let pool = self.rng.pick(&pools);
            self.rng.pick(pool).to_owned()
        } else {
            let len = self.rng.below(5);
            (0..len).map(|_| self.rng.pick(JUNK)).collect()
        };
        let chars: Vec<char> = base.chars().collect();
        let cut =
            matches!(op, "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le") || self.rng.chance(5);
        let text: String = if cut && !chars.is_empty() && self.rng.chance(80) {
            let n = chars.len();
            let (from, to) = match op {
                "sw" => (0, 1 + self.rng.below(n)),
                "ew" => (self.rng.below(n), n),
                _ => {
                    let a = self.rng.below(n);
                    (a, a + 1 + self.rng.below(n - a))
                }
            };
            chars[from..to].iter().collect()
        } else {
            base
        };
        self.recase_unicode(&text)
    }

    fn date_literal(&mut self) -> String {
        if self.rng.chance(4) {
            return self
                .rng
                .pick(&[
                    "9999-12-31T23:59:59-05:00",
                    "0000-01-01T00:00:00+05:00",
                    "2000-01-01T00:00:00Z",
                    "2999-01-01T00:00:00Z",
                    "2016-12-31T23:59:60Z",
                ])
                .to_owned();
        }
        let which = self.rng.pick(&["created", "lastModified"]);
        let found = values_at(self.users, &["meta", which]);
        let i = self.rng.below(found.len());
        let stored = found[i].as_str().unwrap_or_default().to_owned();
        let t: DateTime<Utc> = DateTime::parse_from_rfc3339(&stored)
            .expect("stored instants are RFC 3339")
            .with_timezone(&Utc);
        let shift = match self.rng.below(8) {
            0 => Duration::milliseconds(1),
            1 => Duration::milliseconds(-1),
            2 => Duration::microseconds(1),
            3 => Duration::microseconds(-1),
            4 => Duration::microseconds(500),
            5 => Duration::seconds(if self.rng.chance(50) { 1 } else { -1 }),
            _ => Duration::zero(),
        };
        let t = t + shift;
        let digits = self.rng.pick(&[
            SecondsFormat::Millis,
            SecondsFormat::Millis,
            SecondsFormat::Micros,
            SecondsFormat::Nanos,
            SecondsFormat::Secs,
            SecondsFormat::AutoSi,
        ]);
        let text = match self.rng.below(5) {
            0 => {
                let east = FixedOffset::east_opt(2 * 3600 + 30 * 60).expect("valid offset");
                t.with_timezone(&east).to_rfc3339_opts(digits, false)
            }
            1 => {
                let west = FixedOffset::west_opt(5 * 3600).expect("valid offset");
                t.with_timezone(&west).to_rfc3339_opts(digits, false)
            }
            // No offset: xsd:dateTime allows it; read as UTC.
            2 => t
                .to_rfc3339_opts(digits, true)
                .trim_end_matches('Z')
                .to_owned(),
            3 => t.to_rfc3339_opts(digits, true).to_ascii_lowercase(),
            _ => t.to_rfc3339_opts(digits, true),
        };
        text
    }

    fn literal(&mut self, ty: Ty, keys: &[&str], op: &str) -> String {
        match ty {
            Ty::Str => {
                let s = self.string_literal(keys, op);
                json!(s).to_string()
            }
            Ty::Bool => {
                let b = if self.rng.chance(50) { "true" } else { "false" };
                self.recase_ascii(b)
            }
            Ty::Date => json!(self.date_literal()).to_string(),
        }
    }

    /// `path op value`, `path pr`, or a comparison with null.
    fn comparison(&mut self, path: String, ty: Ty, keys: &[&str]) -> String {
        match self.rng.below(20) {
            0 | 1 => format!("{path} {}", self.keyword("pr")),
            2 => {
                let op = self.rng.pick(&["eq", "ne"]);
                let op = self.keyword(op);
                format!("{path} {op} {}", self.keyword("null"))
            }
            _ => {
                let op = self.op(ty);
                let lit = self.literal(ty, keys, op);
                format!("{path} {} {lit}", self.keyword(op))
            }
        }
    }

    fn leaf(&mut self) -> String {
        match self.rng.below(100) {
            0..=3 => self.rng.pick(INVALID).to_owned(),
            4..=9 => {
                let (name, ext) = self.rng.pick(PRESENCE_ONLY);
                let p = self.path(name, ext);
                match self.rng.below(3) {
                    0 => format!("{p} {} {}", self.keyword("eq"), self.keyword("null")),
                    1 => format!("{p} {} {}", self.keyword("ne"), self.keyword("null")),
                    _ => format!("{p} {}", self.keyword("pr")),
                }
            }
            10..=29 => self.value_path(),
            _ => {
                let l = &LEAVES[self.rng.below(LEAVES.len())];
                let p = self.path(l.name, l.ext);
                self.comparison(p, l.ty, l.keys)
            }
        }
    }

    /// `attr[filter]`, sometimes followed by `.sub op value`.
    fn value_path(&mut self) -> String {
        let c = &COMPLEX[self.rng.below(COMPLEX.len())];
        let inner = self.sub_filter(c, 2);
        let p = self.path(c.name, c.ext);
        if self.rng.chance(25) {
            let (sub, ty) = self.rng.pick(c.subs);
            let mut keys = c.keys.to_vec();
            keys.push(sub);
            let sub = self.recase_ascii(sub);
            let tail = self.comparison(sub, ty, &keys);
            format!("{p}[{inner}].{tail}")
        } else {
            format!("{p}[{inner}]")
        }
    }

    fn sub_filter(&mut self, c: &Complex, depth: usize) -> String {
        let terms = if depth == 0 { 1 } else { 1 + self.rng.below(2) };
        let mut out = String::new();
        for i in 0..terms {
            if i > 0 {
                let k = if self.rng.chance(50) { "and" } else { "or" };
                out.push_str(&format!(" {} ", self.keyword(k)));
            }
            let term = if depth > 0 && self.rng.chance(15) {
                let inner = self.sub_filter(c, depth - 1);
                format!("{} ({inner})", self.keyword("not"))
            } else if depth > 0 && self.rng.chance(15) {
                format!("({})", self.sub_filter(c, depth - 1))
            } else {
                let (sub, ty) = self.rng.pick(c.subs);
                let mut keys = c.keys.to_vec();
                keys.push(sub);
                let sub = self.recase_ascii(sub);
                self.comparison(sub, ty, &keys)
            };
            out.push_str(&term);
        }
        out
    }

    /// A chain of one to three terms joined by and/or with no parentheses (so precedence
    /// decides), each term a leaf, a parenthesised filter or a negation.
    fn filter(&mut self, depth: usize) -> String {
        let terms = if depth == 0 { 1 } else { 1 + self.rng.below(3) };
        let mut out = String::new();
        for i in 0..terms {
            if i > 0 {
                let k = if self.rng.chance(50) { "and" } else { "or" };
                out.push_str(&format!(" {} ", self.keyword(k)));
            }
            let term = match self.rng.below(10) {
                0 | 1 if depth > 0 => {
                    let not = self.keyword("not");
                    let space = if self.rng.chance(50) { " " } else { "" };
                    format!("{not}{space}({})", self.filter(depth - 1))
                }
                2 | 3 if depth > 0 => format!("({})", self.filter(depth - 1)),
                _ => self.leaf(),
            };
            out.push_str(&term);
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The test

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")))
}

fn ids(users: &[Value]) -> Vec<String> {
    users
        .iter()
        .map(|u| u["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn database_and_evaluator_select_the_same_users(app: &TestApp) {
    let seed = env_number("SCIMD_PROP_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number("SCIMD_PROP_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    eprintln!("filter property test: SCIMD_PROP_SEED={seed:#x}, {cases} filters");
    let started = Instant::now();
    let mut rng = Rng::new(seed);

    for i in 0..USERS {
        let body = random_user(&mut rng, i);
        let r = app.post("/Users", body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.body);
    }
    let all = app.get("/Users?count=1000").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let users: Vec<Value> = all.body["Resources"]
        .as_array()
        .expect("a list response")
        .clone();
    assert_eq!(users.len(), USERS);
    let user_ids = ids(&users);

    let registry = Registry::get();
    let oracle = Oracle(SchemaSemantics(&registry.user));
    let ext_urns = oracle.0.extension_urns();
    let limits = FilterLimits::default();

    let mut gen = Gen { rng, users: &users };
    let (mut rejected, mut selective, mut failures) = (0usize, 0usize, Vec::new());
    for case in 0..cases {
        let text = loop {
            let t = gen.filter(3);
            if t.len() <= 1500 {
                break t;
            }
        };
        // The oracle.
        let expected: Result<BTreeSet<String>, String> = parse_filter(&text, &limits)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                let mut hit = BTreeSet::new();
                for (u, id) in users.iter().zip(&user_ids) {
                    if matches(&f, u, &oracle, &ext_urns).map_err(|e| e.to_string())? {
                        hit.insert(id.clone());
                    }
                }
                Ok(hit)
            });
        // The server.
        let query: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let r = app
            .get(&format!("/Users?filter={query}&count=1000&attributes=id"))
            .await;
        let actual: Result<BTreeSet<String>, String> = match r.status {
            StatusCode::OK => {
                let got: BTreeSet<String> = r.body["Resources"]
                    .as_array()
                    .map(|a| ids(a).into_iter().collect())
                    .unwrap_or_default();
                assert_eq!(
                    r.body["totalResults"].as_u64(),
                    Some(got.len() as u64),
                    "{text}: {}",
                    r.body
                );
                Ok(got)
            }
            StatusCode::BAD_REQUEST if r.body["scimType"] == "invalidFilter" => {
                Err(r.body["detail"].as_str().unwrap_or_default().to_owned())
            }
            status => Err(format!("unexpected {status}: {}", r.body)),
        };
        match (&expected, &actual) {
            (Ok(e), Ok(a)) if e == a => {
                if !e.is_empty() && e.len() < USERS {
                    selective += 1;
                }
            }
            (Err(_), Err(detail)) if !detail.starts_with("unexpected") => rejected += 1,
            _ => {
                let mut report = format!(
                    "case {case}, SCIMD_PROP_SEED={seed:#x}\n  filter: {text}\n  evaluator: {}\n  server: {}",
                    summary(&expected),
                    summary(&actual)
                );
                if let (Ok(e), Ok(a)) = (&expected, &actual) {
                    for (label, only) in [("evaluator only", e - a), ("server only", a - e)] {
                        for id in only.iter().take(3) {
                            let u = users.iter().find(|u| u["id"] == id.as_str());
                            report.push_str(&format!(
                                "\n  {label}: {}",
                                u.map(Value::to_string).unwrap_or_default()
                            ));
                        }
                    }
                }
                failures.push(report);
            }
        }
    }
    eprintln!(
        "filter property test: {cases} filters in {:.1?}: {selective} selected some but not all \
         users, {rejected} rejected by both, {} disagreements",
        started.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} filters disagree; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    // The generator must keep producing filters that discriminate, or the test proves little.
    assert!(
        selective * 3 >= cases,
        "only {selective} of {cases} filters were selective"
    );
}

fn summary(r: &Result<BTreeSet<String>, String>) -> String {
    match r {
        Ok(ids) => format!("{} users", ids.len()),
        Err(e) => format!("error: {e}"),
    }
}
