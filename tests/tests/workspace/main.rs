//! Tests across the workspace's crates: the spec's examples and the reference payloads against
//! the generated types, the codegen drift guard, whole flows under injected faults, and every
//! committed fuzz input replayed.

#[path = "../../../crates/mesh-export/fuzz/oracles/mod.rs"]
mod api_fuzz_oracles;
mod codegen_drift;
mod fault_injection;
#[path = "../../../fuzz/oracles/mod.rs"]
mod fuzz_oracles;
mod fuzz_replay;
mod layering;
mod reference_payloads;
mod schema_round_trip;
mod spec_examples;
