//! The memory limiter of an instance's store, which also keeps the peak of
//! the linear memory its instance used: what a request cost in memory.

use wasmtime::{ResourceLimiter, StoreLimits};

/// [`StoreLimits`], and the most linear memory, across all of the
/// instance's memories, that it has allowed at once.
pub struct MeteredLimits {
    limits: StoreLimits,
    used: usize,
    peak: usize,
}

impl MeteredLimits {
    pub fn new(limits: StoreLimits) -> Self {
        MeteredLimits { limits, used: 0, peak: 0 }
    }

    /// Bytes of linear memory at the peak, so far.
    pub fn peak(&self) -> usize {
        self.peak
    }
}

impl ResourceLimiter for MeteredLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.used = (self.used + desired).saturating_sub(current);
            self.peak = self.peak.max(self.used);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::StoreLimitsBuilder;

    #[test]
    fn the_peak_adds_up_memories_and_ignores_refused_growth() {
        let mut limits = MeteredLimits::new(StoreLimitsBuilder::new().memory_size(1 << 20).build());
        assert!(limits.memory_growing(0, 64 << 10, None).unwrap());
        assert!(limits.memory_growing(0, 128 << 10, None).unwrap());
        assert!(limits.memory_growing(64 << 10, 256 << 10, None).unwrap());
        assert!(!limits.memory_growing(256 << 10, 2 << 20, None).unwrap());
        assert_eq!(limits.peak(), (256 + 128) << 10);
    }
}
