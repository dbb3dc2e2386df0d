//! CPU time spent on the thread that runs a piece of work: each poll of a
//! future timed on the thread that runs it, so that a request's time on a
//! shared runtime thread counts for it alone, wherever the runtime moves it
//! between polls.
//!
//! A poll never blocks, so the time inside it is the thread working for the
//! request: CPU time, plus any moment the kernel preempted the thread. It is
//! read from the monotonic clock, which the vDSO serves without a system
//! call; the per-thread CPU clock (`CLOCK_THREAD_CPUTIME_ID`) would be exact
//! but costs a system call a read, four a request, which cut `GET
//! /participant/{id}` by several percent (docs/performance.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The CPU time this thread has used so far (a system call): for work that
/// runs on one thread from start to end, read twice.
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    match read {
        0 => Duration::new(now.tv_sec as u64, now.tv_nsec as u32),
        _ => Duration::ZERO,
    }
}

/// CPU time added up across futures and threads, in nanoseconds.
#[derive(Clone, Default)]
pub struct CpuMeter(Arc<AtomicU64>);

impl CpuMeter {
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }

    /// `future`, its CPU time counted here.
    pub fn measure<F: Future>(&self, future: F) -> Measured<F> {
        Measured { future, meter: self.clone() }
    }
}

pin_project_lite::pin_project! {
    /// A future whose polls' CPU time goes to a [`CpuMeter`].
    pub struct Measured<F> {
        #[pin]
        future: F,
        meter: CpuMeter,
    }
}

impl<F: Future> Future for Measured<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let started = Instant::now();
        let polled = this.future.poll(cx);
        this.meter.0.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_done_inside_a_measured_future_is_counted() {
        let meter = CpuMeter::default();
        let spin = async {
            let until = thread_cpu_time() + Duration::from_millis(20);
            while thread_cpu_time() < until {}
        };
        futures_executor(meter.measure(spin));
        assert!(meter.total() >= Duration::from_millis(20), "{:?}", meter.total());
    }

    fn futures_executor<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("a runtime").block_on(future)
    }
}
