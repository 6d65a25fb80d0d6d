//! Request handlers, one module per endpoint family.

pub mod discovery;
pub mod health;
pub mod openapi;
pub mod resources;
