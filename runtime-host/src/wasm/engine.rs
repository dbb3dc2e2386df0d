//! The wasmtime engines: one per compiler tier, with the same settings but
//! the compiler; the pooling allocator, tuned for a fresh instance per
//! request; and the epoch clock that enforces request deadlines.

use crate::handler::Tier;
use crate::limits::Limits;
use anyhow::Result;
use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy};

/// What a freed slot keeps mapped, of its linear memory, tables and async
/// stack. A request of ours dirties well under this (a few hundred KiB).
const KEEP_RESIDENT: usize = 4 << 20;

/// How often the epoch advances; a deadline is a number of these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Which compilers a host uses (`--compiler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compiler {
    /// Winch first, so a new version serves within milliseconds; Cranelift
    /// in the background, switched in when ready. A version whose
    /// Cranelift code is already in the compile cache starts on it.
    #[default]
    Tiered,
    /// Cranelift only: every version waits for the optimised code.
    Cranelift,
    /// Winch only (Cranelift where Winch cannot compile a component): for
    /// measuring the baseline tier.
    Winch,
}

impl std::str::FromStr for Compiler {
    type Err = String;

    fn from_str(name: &str) -> Result<Compiler, String> {
        match name {
            "tiered" => Ok(Compiler::Tiered),
            "cranelift" => Ok(Compiler::Cranelift),
            "winch" => Ok(Compiler::Winch),
            other => Err(format!("{other:?}: the compilers are tiered, cranelift and winch")),
        }
    }
}

/// A code generator's engine: a version compiled by one engine runs only in
/// stores of that same engine.
pub struct Engines {
    pub cranelift: Engine,
    /// `None` with `--compiler cranelift`: its pool would sit unused.
    pub winch: Option<Engine>,
}

impl Engines {
    pub fn new(limits: &Limits, compiler: Compiler) -> Result<Engines> {
        let winch = match compiler {
            Compiler::Cranelift => None,
            Compiler::Tiered | Compiler::Winch => Some(new_engine(limits, Tier::Winch)?),
        };
        Ok(Engines { cranelift: new_engine(limits, Tier::Cranelift)?, winch })
    }

    /// The engine of `tier`, if this host has one.
    pub fn get(&self, tier: Tier) -> Option<&Engine> {
        match tier {
            Tier::Cranelift => Some(&self.cranelift),
            Tier::Winch => self.winch.as_ref(),
        }
    }

    pub fn all(&self) -> impl Iterator<Item = &Engine> {
        std::iter::once(&self.cranelift).chain(self.winch.as_ref())
    }
}

pub fn new_engine(limits: &Limits, tier: Tier) -> Result<Engine> {
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
        .strategy(match tier {
            Tier::Winch => Strategy::Winch,
            Tier::Cranelift => Strategy::Cranelift,
        })
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
