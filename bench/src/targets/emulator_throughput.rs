//! The emulator's own `get-exports` throughput, so it is known not to be the bottleneck.

use std::sync::Arc;

use super::measure_with_cpu;
use crate::api::{Api, Side};
use crate::emulator::EmulatorProcess;
use crate::plan::{EMULATOR_CONCURRENCY, Plan};
use crate::report::EmulatorThroughput;

/// The emulator's throughput with the lightest client: many connections, bodies not decoded,
/// rounds alternating between the concurrencies.
pub async fn emulator_throughput(
    api: &Arc<Api>,
    emulator: &EmulatorProcess,
    plan: &Plan,
) -> Result<Vec<EmulatorThroughput>, String> {
    let mut out: Vec<EmulatorThroughput> = EMULATOR_CONCURRENCY
        .iter()
        .map(|&concurrency| EmulatorThroughput {
            concurrency,
            rps: Vec::new(),
            cores: Vec::new(),
        })
        .collect();
    for round in 0..plan.emulator_rounds {
        eprintln!(
            "emulator throughput: round {}/{}",
            round + 1,
            plan.emulator_rounds
        );
        for e in &mut out {
            let (measured, cores) = measure_with_cpu(
                api,
                emulator,
                Side::BareNoDecode,
                e.concurrency,
                plan.measurement,
            )
            .await?;
            e.rps.push(measured.rps);
            e.cores.push(cores);
        }
    }
    Ok(out)
}
