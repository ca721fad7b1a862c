//! The memory pools of a run with a memory limit.
//!
//! [`ActiveFairPool`] (`memory_pool: fair`, a large run's pool) gives each spilling operator that
//! holds memory an equal share. DataFusion's `FairSpillPool` divides the pool by every spilling
//! operator registered, used or not, and checks no total: when few are registered each may take
//! half the pool, and at 10M leads `lead_scores`' two sorts held 0.8 and 0.5 GB of a 2 GiB pool
//! when the merge phase of one of them (which cannot spill) asked for 376 KB, and the run failed
//! (one run in three). When many are registered each gets a sliver: `int_opportunity_stage_entries`
//! ran with sixteen, 128 MB each, and its aggregations spilled three times over. [`ActiveFairPool`]
//! divides by the operators that hold memory (at least [`MIN_SHARES`], so that a sort's merge phase
//! finds room next to it), and keeps [`HEADROOM_SHARE`] of the pool for what cannot spill (hash
//! tables, the merge phases of sorts) and for the first bytes of an operator that has none yet
//! ([`FLOOR_SHARE`]): an operator asked to spill has something to spill, and one that starts is
//! never refused while the pool lasts. When a new operator starts, those holding more than the new
//! share are refused at their next request and spill. Operators that cannot spill take what the
//! pool has, as in DataFusion's pools.
//!
//! [`NoRepartitionSpill`] wraps every pool of a run. A `RepartitionExec` refused memory writes its
//! batches to a spill file, and in DataFusion 55 that path can deadlock (apache/datafusion #24883,
//! fixed after 55.2: when two input tasks spill at once, the reader waits on the older file for a
//! batch that is in the newer one; every worker parks and the query neither returns nor fails).
//! Large runs are where the pool runs dry, so a repartition's batches in flight are counted, as
//! before, but never refused: they are bounded by its channels, a few batches per partition, and
//! what they hold makes the sorts and aggregations around them spill sooner.

use datafusion::common::{resources_datafusion_err, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use std::fmt;
use std::sync::Mutex;

/// A spilling operator's share is the pool divided by at least this many.
pub const MIN_SHARES: usize = 4;

/// The part of the pool (1/n) spilling operators leave to the others once past their floor.
pub const HEADROOM_SHARE: usize = 8;

/// A spilling operator's first bytes (up to 1/n of the pool) are granted while the pool lasts.
pub const FLOOR_SHARE: usize = 64;

/// Whether `consumer` is a repartition's (see [`NoRepartitionSpill`]).
fn is_repartition(consumer: &MemoryConsumer) -> bool {
    consumer.name().starts_with("RepartitionExec")
}

/// Whether `consumer` spills when refused: it can, and it is no repartition.
fn spills(consumer: &MemoryConsumer) -> bool {
    consumer.can_spill() && !is_repartition(consumer)
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

/// The pool; see the module docs.
pub struct ActiveFairPool {
    pool_size: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Bytes held by operators that can spill, and by those that cannot.
    spillable: usize,
    unspillable: usize,
    /// Spilling operators holding memory.
    active: usize,
}

impl State {
    /// Counts `additional` bytes for `reservation`, which DataFusion grows after this call.
    fn add(&mut self, reservation: &MemoryReservation, additional: usize) {
        if spills(reservation.consumer()) {
            if reservation.size() == 0 && additional > 0 {
                self.active += 1;
            }
            self.spillable += additional;
        } else {
            self.unspillable += additional;
        }
    }
}

impl ActiveFairPool {
    pub fn new(pool_size: usize) -> Self {
        ActiveFairPool {
            pool_size,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while the lock was held left counters that are still numbers: carry on.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for ActiveFairPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveFairPool")
            .field("pool_size", &self.pool_size)
            .field("state", &*self.state())
            .finish()
    }
}

impl fmt::Display for ActiveFairPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(self.pool_size, &self.state()))
    }
}

fn describe(pool_size: usize, s: &State) -> String {
    format!(
        "fair(pool_size: {pool_size}, used: {}, spilling operators holding memory: {})",
        s.spillable + s.unspillable,
        s.active
    )
}

impl MemoryPool for ActiveFairPool {
    fn name(&self) -> &str {
        "fair"
    }

    fn register(&self, _consumer: &MemoryConsumer) {}

    fn unregister(&self, _consumer: &MemoryConsumer) {}

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        let mut s = self.state();
        s.add(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        // DataFusion has already taken `shrink` off the reservation's size.
        let mut s = self.state();
        if spills(reservation.consumer()) {
            s.spillable = s.spillable.saturating_sub(shrink);
            if reservation.size() == 0 && shrink > 0 {
                s.active = s.active.saturating_sub(1);
            }
        } else {
            s.unspillable = s.unspillable.saturating_sub(shrink);
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut s = self.state();
        let size = reservation.size();
        let after = s.spillable + s.unspillable + additional;
        let wanted = size + additional;
        let granted = if spills(reservation.consumer()) {
            let active = s.active + usize::from(size == 0);
            let share = self.pool_size.saturating_sub(s.unspillable) / active.max(MIN_SHARES);
            let headroom = self.pool_size / HEADROOM_SHARE;
            (wanted <= self.pool_size / FLOOR_SHARE && after <= self.pool_size)
                || (wanted <= share && after <= self.pool_size.saturating_sub(headroom))
        } else {
            after <= self.pool_size
        };
        if !granted {
            tracing::debug!(
                consumer = reservation.consumer().name(),
                size,
                additional,
                pool = %describe(self.pool_size, &s),
                "memory refused"
            );
            return Err(resources_datafusion_err!(
                "Failed to allocate additional {additional} bytes for {} with {size} bytes \
                 already allocated for this reservation - {} bytes remain available for the \
                 total memory pool: {}",
                reservation.consumer().name(),
                self.pool_size.saturating_sub(s.spillable + s.unspillable),
                // Not `self`: its `Display` takes the lock held here.
                describe(self.pool_size, &s)
            ));
        }
        s.add(reservation, additional);
        Ok(())
    }

    fn reserved(&self) -> usize {
        let s = self.state();
        s.spillable + s.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.pool_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use std::sync::Arc;

    const MB: usize = 1 << 20;

    fn pool(size: usize) -> Arc<dyn MemoryPool> {
        Arc::new(ActiveFairPool::new(size))
    }

    /// A spilling operator named `name`, registered with `pool`.
    fn spilling(pool: &Arc<dyn MemoryPool>, name: impl Into<String>) -> MemoryReservation {
        MemoryConsumer::new(name)
            .with_can_spill(true)
            .register(pool)
    }

    #[test]
    fn a_lone_sort_gets_a_quarter_and_the_next_one_still_starts() {
        let pool = pool(1024 * MB);
        let a = spilling(&pool, "sort a");
        // One operator at work: a quarter of the pool (DataFusion's fair pool: 1/n of all the
        // registered ones, used or not).
        a.try_grow(256 * MB).unwrap();
        let refused = a.try_grow(MB).unwrap_err().to_string();
        assert!(
            refused.contains("for sort a") && refused.contains("fair(pool_size: 1073741824"),
            "past its share, it spills: {refused}"
        );
        // Many more registered, none holding memory: the share does not change.
        let idle: Vec<_> = (0..12)
            .map(|i| spilling(&pool, format!("idle {i}")))
            .collect();
        let b = spilling(&pool, "sort b");
        b.try_grow(200 * MB).unwrap();
        assert_eq!(pool.reserved(), 456 * MB);
        drop(idle);
        // When the first one spills (frees), the second may grow to its share.
        a.free();
        b.try_grow(56 * MB).unwrap();
        assert!(b.try_grow(MB).is_err());
    }

    #[test]
    fn two_sorts_leave_room_for_their_merge_phases() {
        // lead_scores at 10M under DataFusion's fair pool: two sorts took 1.3 GB of 2 GiB and
        // the merge phase of one was refused 376 KB.
        let pool = pool(2048 * MB);
        let sorts: Vec<_> = (0..2)
            .map(|i| spilling(&pool, format!("ExternalSorter[{i}]")))
            .collect();
        for sort in &sorts {
            sort.try_grow(512 * MB).unwrap();
            assert!(sort.try_grow(MB).is_err(), "a quarter each: they spill");
        }
        let merges: Vec<_> = (0..2)
            .map(|i| MemoryConsumer::new(format!("ExternalSorterMerge[{i}]")).register(&pool))
            .collect();
        for merge in &merges {
            merge.try_grow(512 * MB).unwrap();
        }
    }

    #[test]
    fn operators_that_cannot_spill_take_what_is_left_and_new_ones_get_their_floor() {
        let pool = pool(1024 * MB);
        let hash = MemoryConsumer::new("hash join").register(&pool);
        hash.try_grow(900 * MB).unwrap();
        let sort = spilling(&pool, "sort");
        // Share: (1024 - 900) / 4 = 31 MB, but the headroom (128 MB) is already in use, so only
        // the floor (16 MB) is granted.
        sort.try_grow(16 * MB).unwrap();
        assert!(sort.try_grow(MB).is_err());
        // What cannot spill may use the whole pool.
        hash.try_grow(1024 * MB - 916 * MB).unwrap();
        assert!(hash.try_grow(1).is_err());
        let late = spilling(&pool, "late");
        assert!(late.try_grow(1).is_err(), "nothing left at all");
    }

    #[test]
    fn shares_shrink_as_operators_start_and_grow_as_they_finish() {
        let pool = pool(800 * MB);
        let ops: Vec<_> = (0..8).map(|i| spilling(&pool, format!("op {i}"))).collect();
        for op in &ops {
            op.try_grow(10 * MB).unwrap();
        }
        // Eight at work: 100 MB each at most.
        assert!(ops[0].try_grow(90 * MB).is_ok());
        assert!(ops[1].try_grow(91 * MB).is_err());
        for op in &ops[2..] {
            op.free();
        }
        // Two left: a quarter each (the minimum number of shares), within the headroom.
        assert!(ops[1].try_grow(190 * MB).is_ok());
        assert!(ops[1].try_grow(MB).is_err());
    }

    #[test]
    fn repartitions_are_counted_but_never_refused() {
        for pool in [
            Arc::new(NoRepartitionSpill::new(ActiveFairPool::new(100 * MB))) as Arc<dyn MemoryPool>,
            Arc::new(NoRepartitionSpill::new(GreedyMemoryPool::new(100 * MB))),
        ] {
            let hash = MemoryConsumer::new("HashJoinInput[0]").register(&pool);
            hash.try_grow(100 * MB).unwrap();
            let repartition = spilling(&pool, "RepartitionExec[1]");
            repartition.try_grow(8 * MB).unwrap();
            assert_eq!(pool.reserved(), 108 * MB);
            // Everything else is refused as the inner pool would.
            let sort = spilling(&pool, "ExternalSorter[0]");
            assert!(sort.try_grow(1).is_err(), "{pool}");
            repartition.free();
            assert_eq!(pool.reserved(), 100 * MB);
            hash.free();
            sort.try_grow(MB).unwrap();
            assert_eq!(pool.reserved(), MB);
        }
    }
}
