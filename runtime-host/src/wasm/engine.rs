//! The wasmtime engine: the pooling allocator, tuned for a fresh instance per
//! request, and the epoch clock that enforces request deadlines.

use crate::limits::Limits;
use anyhow::Result;
use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// What a freed slot keeps mapped, of its linear memory, tables and async
/// stack. A request of ours dirties well under this (a few hundred KiB).
const KEEP_RESIDENT: usize = 4 << 20;

/// How often the epoch advances; a deadline is a number of these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

pub fn new_engine(limits: &Limits) -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(limits.max_instances)
        // A component built by Rust holds a few core instances, one memory
        // and a couple of tables.
        .total_core_instances(limits.max_instances * 4)
        .total_memories(limits.max_instances)
        .total_tables(limits.max_instances * 2)
        .total_stacks(limits.max_instances)
        .max_memory_size(limits.memory)
        // A freed slot keeps its first KEEP_RESIDENT bytes mapped: they are
        // reset in place (only the pages the instance dirtied, where the
        // kernel's PAGEMAP_SCAN is available), so the next instance neither
        // faults them back in nor pays an madvise for them.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto)
        // Freed slots go back at once: a batched slot waits for its batch,
        // and the next request would land on a cold one.
        .decommit_batch_size(1);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] for as long as the engine
/// lives, on a plain thread so a busy runtime cannot delay it.
pub fn start_epoch_clock(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-clock".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch clock thread");
}

/// The deadline, in epoch ticks, for a request timeout.
pub fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1
}
