//! `get-exports` through the mesh-export stack against bare reqwest, sequential and
//! concurrent, and the breakdown variants between them that locate the difference.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::measure_with_cpu;
use crate::api::{self, Api, Measured, Side};
use crate::emulator::EmulatorProcess;
use crate::plan::{CONCURRENT, Plan};
use crate::report::{self, ApiComparison, BreakdownRow};

/// A breakdown variant: a side as it is, or the stack with its tracing filtered out.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Side(Side),
    StackTracingOff,
}

/// The breakdown variants, from bare reqwest towards the full stack, with their labels.
const BREAKDOWN: [(Variant, &str); 7] = [
    (Variant::Side(Side::Bare), report::LABEL_BARE),
    (
        Variant::Side(Side::BareWithStackHeaders),
        report::LABEL_HEADERS,
    ),
    (
        Variant::Side(Side::GeneratedBearerOnly),
        report::LABEL_GENERATED,
    ),
    (
        Variant::Side(Side::GeneratedTokenCache),
        report::LABEL_TOKEN_CACHE,
    ),
    (
        Variant::Side(Side::StackNoRetries),
        report::LABEL_NO_RETRIES,
    ),
    (Variant::StackTracingOff, report::LABEL_NO_TRACING),
    (Variant::Side(Side::Stack), report::LABEL_STACK),
];

/// The stack versus bare reqwest, sequential and concurrent, in rounds that measure the two as
/// A B B A in short slices, then the breakdown variants that locate the difference, in
/// rotating order.
pub async fn compare_api(
    api: &Arc<Api>,
    emulator: &EmulatorProcess,
    plan: &Plan,
) -> Result<Vec<ApiComparison>, String> {
    eprintln!("warming up");
    for side in [Side::Stack, Side::Bare] {
        api::measure(api, side, CONCURRENT, plan.warmup).await?;
        api::measure(api, side, 1, plan.warmup / 2).await?;
    }
    let mut comparisons = Vec::new();
    for concurrency in [1, CONCURRENT] {
        comparisons.push(compare_at(api, emulator, plan, concurrency).await?);
    }
    Ok(comparisons)
}

/// Every round of the comparison at one concurrency.
async fn compare_at(
    api: &Arc<Api>,
    emulator: &EmulatorProcess,
    plan: &Plan,
    concurrency: usize,
) -> Result<ApiComparison, String> {
    let mut cmp = ApiComparison {
        concurrency,
        stack: Vec::new(),
        bare: Vec::new(),
        stack_cpu_us: Vec::new(),
        bare_cpu_us: Vec::new(),
        emulator_cores: Vec::new(),
        breakdown: BREAKDOWN
            .iter()
            .map(|&(_, label)| BreakdownRow {
                label,
                rps: Vec::new(),
                cpu_us: Vec::new(),
            })
            .collect(),
    };
    for round in 0..plan.rounds {
        eprintln!(
            "get-exports, concurrency {concurrency}: round {}/{}",
            round + 1,
            plan.rounds
        );
        measure_sides(api, emulator, plan, round, &mut cmp).await?;
        measure_breakdown(api, emulator, plan, round, &mut cmp).await?;
    }
    Ok(cmp)
}

/// One round of the two sides the target judges, measured in short slices in the order
/// A B B A, repeated: what the machine does during the round (other processes, which core a
/// thread lands on) changes within a fraction of a second and falls on both alike, where
/// measurements a second apart differed by more than the few percent judged.
async fn measure_sides(
    api: &Arc<Api>,
    emulator: &EmulatorProcess,
    plan: &Plan,
    round: usize,
    cmp: &mut ApiComparison,
) -> Result<(), String> {
    let (first, second) = if round.is_multiple_of(2) {
        (Side::Stack, Side::Bare)
    } else {
        (Side::Bare, Side::Stack)
    };
    let slice = plan.slice();
    let (mut stack_slices, mut bare_slices) = (Vec::new(), Vec::new());
    for _ in 0..plan.slice_groups {
        for side in [first, second, second, first] {
            let measured = measure_with_cpu(api, emulator, side, cmp.concurrency, slice).await?;
            match side {
                Side::Stack => stack_slices.push(measured),
                _ => bare_slices.push(measured),
            }
        }
    }
    // Each side's slices, as one measurement with its emulator cores.
    let stack = Measured::joined(&stack_slices);
    let bare = Measured::joined(&bare_slices);
    cmp.stack.push(stack.0.rps);
    cmp.stack_cpu_us.push(stack.0.cpu_us);
    cmp.emulator_cores.push(stack.1);
    cmp.bare.push(bare.0.rps);
    cmp.bare_cpu_us.push(bare.0.cpu_us);
    Ok(())
}

/// One round of the breakdown variants, each measured as one block, in an order that rotates
/// from round to round and reverses on odd rounds.
async fn measure_breakdown(
    api: &Arc<Api>,
    emulator: &EmulatorProcess,
    plan: &Plan,
    round: usize,
    cmp: &mut ApiComparison,
) -> Result<(), String> {
    let mut order: Vec<Variant> = BREAKDOWN.iter().map(|&(variant, _)| variant).collect();
    order.rotate_left(round % BREAKDOWN.len());
    if round % 2 == 1 {
        order.reverse();
    }
    for variant in order {
        let side = match variant {
            Variant::Side(side) => side,
            Variant::StackTracingOff => Side::Stack,
        };
        api::TRACING_ON.store(variant != Variant::StackTracingOff, Ordering::Relaxed);
        let measured =
            measure_with_cpu(api, emulator, side, cmp.concurrency, plan.measurement).await;
        api::TRACING_ON.store(true, Ordering::Relaxed);
        let (measured, _) = measured?;
        let at = BREAKDOWN
            .iter()
            .position(|&(v, _)| v == variant)
            .expect("every variant is a breakdown row");
        cmp.breakdown[at].rps.push(measured.rps);
        cmp.breakdown[at].cpu_us.push(measured.cpu_us);
    }
    Ok(())
}
