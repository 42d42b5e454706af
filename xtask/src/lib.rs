//! Development tasks of the Mesh Export workspace: code generation and its drift check, and
//! the semantic diff of two API definitions.

pub mod codegen;
pub mod spec_diff;
