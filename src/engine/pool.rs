//! [`NoRepartitionSpill`]: a memory pool that never refuses a repartition.
//!
//! A `RepartitionExec` refused memory writes its batches to a spill file, and in DataFusion 55
//! that path can deadlock (apache/datafusion #24883, fixed after 55.2: when two input tasks spill
//! at once, the reader waits on the older file for a batch that is in the newer one; every worker
//! parks and the query neither returns nor fails). Large runs are where the pool runs dry, so every
//! pool of a run is wrapped: a repartition's batches in flight are counted, as before, but never
//! refused. They are bounded by its channels, a few batches per partition, and what they hold
//! makes the sorts and aggregations around them spill sooner.

use datafusion::common::Result;
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use std::fmt;

/// Whether `consumer` is a repartition's.
fn is_repartition(consumer: &MemoryConsumer) -> bool {
    consumer.name().starts_with("RepartitionExec")
}

/// `inner`, except that repartitions are never refused memory (see the module docs).
#[derive(Debug)]
pub struct NoRepartitionSpill<P> {
    inner: P,
}

impl<P> NoRepartitionSpill<P> {
    pub fn new(inner: P) -> Self {
        NoRepartitionSpill { inner }
    }
}

impl<P: fmt::Display> fmt::Display for NoRepartitionSpill<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<P: MemoryPool> MemoryPool for NoRepartitionSpill<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        if is_repartition(reservation.consumer()) {
            self.inner.grow(reservation, additional);
            return Ok(());
        }
        self.inner.try_grow(reservation, additional)
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::{FairSpillPool, GreedyMemoryPool};
    use std::sync::Arc;

    const MB: usize = 1 << 20;

    #[test]
    fn repartitions_are_counted_but_never_refused() {
        for pool in [
            Arc::new(NoRepartitionSpill::new(FairSpillPool::new(100 * MB))) as Arc<dyn MemoryPool>,
            Arc::new(NoRepartitionSpill::new(GreedyMemoryPool::new(100 * MB))),
        ] {
            let hash = MemoryConsumer::new("HashJoinInput[0]").register(&pool);
            hash.try_grow(100 * MB).unwrap();
            let repartition = MemoryConsumer::new("RepartitionExec[1]")
                .with_can_spill(true)
                .register(&pool);
            repartition.try_grow(8 * MB).unwrap();
            assert_eq!(pool.reserved(), 108 * MB);
            // Everything else is refused as the inner pool would.
            let sort = MemoryConsumer::new("ExternalSorter[0]")
                .with_can_spill(true)
                .register(&pool);
            assert!(sort.try_grow(1).is_err(), "{pool}");
            repartition.free();
            assert_eq!(pool.reserved(), 100 * MB);
            hash.free();
            sort.try_grow(MB).unwrap();
            assert_eq!(pool.reserved(), MB);
        }
    }
}
