//! The protocol-level error: an HTTP status, an optional RFC 7644 §3.12 `scimType`, and a detail
//! written for the person reading it.

use std::fmt;

// One list yields the enum, its wire names and `ScimType::ALL`, so the published `scimType`
// enumeration (/openapi.json) cannot miss a value the server sends.
macro_rules! scim_types {
    ($($variant:ident => $wire:literal),* $(,)?) => {
        /// RFC 7644 §3.12 `scimType` values scimd produces.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ScimType {
            $($variant),*
        }

        impl ScimType {
            pub const ALL: &'static [ScimType] = &[$(ScimType::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ScimType::$variant => $wire),*
                }
            }
        }
    };
}

scim_types! {
    InvalidFilter => "invalidFilter",
    TooMany => "tooMany",
    Uniqueness => "uniqueness",
    Mutability => "mutability",
    InvalidSyntax => "invalidSyntax",
    InvalidPath => "invalidPath",
    NoTarget => "noTarget",
    InvalidValue => "invalidValue",
    InvalidVers => "invalidVers",
    Sensitive => "sensitive",
    InvalidCursor => "invalidCursor",
    ExpiredCursor => "expiredCursor",
    InvalidCount => "invalidCount",
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }

    /// The RFC 7644 §3.12 Error message body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [crate::scim::urn::ERROR],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = serde_json::Value::String(t.as_str().to_owned());
        }
        body
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl std::error::Error for ScimError {}
