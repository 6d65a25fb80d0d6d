//! The PatchOp message (RFC 7644 §3.5.2) read into operations; keys and op names in any case
//! (COMPAT 17, 18).

use serde_json::Value;

use crate::scim::error::{ScimError, ScimType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    /// Every operation, in the order error messages and /openapi.json list them; the parser
    /// reads names through this list, so an operation left out of it cannot be sent.
    pub const ALL: [OpKind; 3] = [OpKind::Add, OpKind::Replace, OpKind::Remove];

    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone)]
pub struct PatchOp {
    pub kind: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Reads a PatchOp message into at most `max_ops` operations.
pub fn parse_request(body: Value, max_ops: usize) -> Result<Vec<PatchOp>, ScimError> {
    let ops = operations(body)?;
    if ops.len() > max_ops {
        return Err(ScimError::new(
            400,
            Some(ScimType::TooMany),
            format!(
                "a PATCH may carry at most {max_ops} operations; this one has {}",
                ops.len()
            ),
        ));
    }
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

/// The non-empty `Operations` array of the body.
fn operations(body: Value) -> Result<Vec<Value>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body is a JSON object with an \"Operations\" array",
        ));
    };
    let ops = body
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("operations"))
        .map(|(_, v)| v)
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body has no \"Operations\" array"))?;
    match ops {
        Value::Array(ops) if ops.is_empty() => {
            Err(ScimError::invalid_syntax("\"Operations\" is empty"))
        }
        Value::Array(ops) => Ok(ops),
        _ => Err(ScimError::invalid_syntax("\"Operations\" must be an array")),
    }
}

fn parse_op(i: usize, op: Value) -> Result<PatchOp, ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax(format!(
            "operation {i} is not a JSON object"
        )));
    };
    let mut kind = None;
    let mut path = None;
    let mut value = None;
    for (k, v) in op {
        match k.to_ascii_lowercase().as_str() {
            "op" => kind = Some(op_kind(i, &v)?),
            "path" => path = op_path(i, v)?,
            "value" => value = Some(v),
            _ => {}
        }
    }
    let kind =
        kind.ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} has no \"op\"")))?;
    Ok(PatchOp { kind, path, value })
}

fn op_kind(i: usize, v: &Value) -> Result<OpKind, ScimError> {
    v.as_str().and_then(OpKind::named).ok_or_else(|| {
        ScimError::invalid_syntax(format!(
            "operation {i}: \"op\" must be add, replace or remove, got {v}"
        ))
    })
}

/// A blank or null path is no path.
fn op_path(i: usize, v: Value) -> Result<Option<String>, ScimError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(Some(s)),
        Value::Null | Value::String(_) => Ok(None),
        other => Err(ScimError::bad_request(
            ScimType::InvalidPath,
            format!("operation {i}: \"path\" must be a string, got {other}"),
        )),
    }
}
