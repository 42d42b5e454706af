//! Development tasks of the Mesh Export workspace: code generation and its drift check, the
//! semantic diff of two API definitions, and a flaky-test hunt.

pub mod codegen;
pub mod flake;
pub mod spec_diff;
