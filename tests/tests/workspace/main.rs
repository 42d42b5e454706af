//! Tests across the workspace's crates: the spec's examples and the reference payloads against
//! the generated types, the codegen drift guard, and whole flows under injected faults.

mod codegen_drift;
mod fault_injection;
mod reference_payloads;
mod spec_examples;
