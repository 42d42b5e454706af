//! Development tasks of the Mesh Export workspace: code generation and its drift check, and a
//! flaky-test hunt.

pub mod codegen;
pub mod flake;
