//! Development tasks of the Mesh Export workspace: code generation and its drift check.

pub mod codegen;
