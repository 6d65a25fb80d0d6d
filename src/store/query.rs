//! Storage-neutral list queries: the service lowers a SCIM filter into a `Predicate` over
//! columns and JSON paths, and each SQL dialect compiles it with bound parameters.

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Predicate>,
    pub offset: u64,
    /// Zero asks for the total only.
    pub limit: u32,
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
