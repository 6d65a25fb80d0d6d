//! Storage-neutral list queries: the service lowers a SCIM filter into a `Predicate` over
//! columns and JSON paths, and each SQL dialect compiles it with bound parameters.

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Predicate>,
    pub offset: u64,
    /// Zero asks for the total only.
    pub limit: u32,
    /// `None`: by id.
    pub sort: Option<Sort>,
    /// Keyset position (cursor paging); `offset` is then ignored.
    pub seek: Option<Seek>,
}

/// How a sort key compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKind {
    Text,
    Number,
}

/// Order by one field, nulls last, ties broken by id.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub field: Field,
    pub descending: bool,
    /// Compare case-insensitively (caseExact=false).
    pub fold: bool,
    pub kind: SortKind,
}

/// A keyset position: the sort key and id of the row a page starts after (or, `backward`,
/// ends before).
#[derive(Debug, Clone, PartialEq)]
pub struct Seek {
    pub key: Option<Literal>,
    pub id: String,
    pub backward: bool,
}

/// A page of a list, with the sort key of each row (for cursors).
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub total: u64,
    pub items: Vec<crate::store::StoredResource>,
    pub keys: Vec<Option<Literal>>,
}

/// Where a compared value lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Id,
    /// The realm-unique name (userName / displayName), stored folded for case-insensitive use.
    NameFolded,
    ExternalId,
    Created,
    LastModified,
    /// A JSON path inside the stored attributes: keys from the top, e.g. ["name", "givenName"]
    /// or ["urn:...:enterprise:2.0:User", "manager", "value"].
    Json(Vec<String>),
    /// Inside `AnyElement`: a key of the current array element (`None`: the element itself).
    Element(Option<String>),
    /// Ids of the groups a resource is a direct member of (`groups.value`).
    GroupIds,
    /// Ids of the direct members of a group (`members.value`).
    MemberIds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    True,
    False,
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    /// `fold`: compare case-insensitively (the attribute is caseExact=false).
    Compare {
        field: Field,
        op: Op,
        value: Literal,
        fold: bool,
    },
    Present(Field),
    /// True when any element of the JSON array at `array` satisfies `pred` (whose fields are
    /// `Field::Element`).
    AnyElement {
        array: Vec<String>,
        pred: Box<Predicate>,
    },
}
