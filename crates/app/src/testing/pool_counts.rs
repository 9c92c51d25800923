//! The abnormal-pool counts behind the warning on the round page and the commander's dashboard,
//! shared between the pages that show them.
//!
//! Every open page re-reads its figures on each `progress` event (at most once a second), and
//! counting a round's abnormal pools walks every member of every pool: tens of milliseconds of the
//! database once a round has thousands of pools. A dozen screens at headquarters would keep a core
//! busy with counts that change only when results come in. So one server reads the counts of a
//! round and scope once, and the pages asking in the next [`PoolCounts::TTL`] share them.
//!
//! What changes the counts forgets them at once: results applied to a round's tubes (a new pool, a
//! pool released or confirmed by its re-tests) and a registration into a tube whose result is in
//! (a late member can bring the pool into a scope); the callers say so with
//! [`PoolCounts::forget_round`], and so do the other servers sharing the database when they hear
//! of it. Anything else (a person moving house) is read again once the TTL has passed. Who may
//! read the counts is still checked by the caller on every request.

use std::{collections::HashMap, sync::Arc};

use bulwark_domain::{Millis, access::Scope, testing::RoundId};
use bulwark_store::{Store, StoreResult, testing::AbnormalPoolCounts};

#[derive(Default)]
pub struct PoolCounts {
    slots: std::sync::Mutex<Slots>,
}

/// One slot per round and scope; its lock makes the pages that miss at the same moment wait for
/// one read instead of each making its own. Forgetting a round drops its slots: a read still
/// under way then fills a slot nobody finds any more.
type Slots = HashMap<(RoundId, String), Arc<tokio::sync::Mutex<Option<Kept>>>>;

#[derive(Clone, Copy)]
struct Kept {
    counts: AbnormalPoolCounts,
    read_at: Millis,
}

impl PoolCounts {
    /// How long counts serve other pages: invisible on pages that say "as of HH:MM".
    pub const TTL: Millis = 2_000;
    /// Rounds times scopes being looked at; past this the slots start again (a few bytes each).
    const MAX_SLOTS: usize = 10_000;

    /// The round's abnormal pools may have changed: the next page reads them again.
    pub fn forget_round(&self, round: RoundId) {
        self.slots.lock().expect("pool counts").retain(|(r, _), _| *r != round);
    }

    /// Any round's abnormal pools may have changed (news of them may have been missed).
    pub fn forget_all(&self) {
        self.slots.lock().expect("pool counts").clear();
    }

    /// The counts of `round` inside `scope`, from a read made less than a TTL ago when nothing
    /// has changed them since, else read now (once, for every page asking meanwhile).
    pub(crate) async fn get(
        &self,
        store: &dyn Store,
        round: RoundId,
        scope: &Scope,
        now: Millis,
    ) -> StoreResult<AbnormalPoolCounts> {
        self.get_or_read(round, scope, now, || store.abnormal_pool_counts(round, scope)).await
    }

    async fn get_or_read<Read, Counted>(
        &self,
        round: RoundId,
        scope: &Scope,
        now: Millis,
        read: Read,
    ) -> StoreResult<AbnormalPoolCounts>
    where
        Read: FnOnce() -> Counted,
        Counted: std::future::Future<Output = StoreResult<AbnormalPoolCounts>>,
    {
        let slot = {
            let mut slots = self.slots.lock().expect("pool counts");
            let key = (round, scope.path.clone());
            if slots.len() >= Self::MAX_SLOTS && !slots.contains_key(&key) {
                slots.clear();
            }
            slots.entry(key).or_default().clone()
        };
        let mut kept = slot.lock().await;
        if let Some(k) = *kept
            && now >= k.read_at
            && now - k.read_at < Self::TTL
        {
            return Ok(k.counts);
        }
        let counts = read().await?;
        *kept = Some(Kept { counts, read_at: now });
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn scope(path: &str) -> Scope {
        Scope { area: 1, path: path.into() }
    }

    /// A read that counts itself and answers `total` pools, all open.
    async fn read(reads: &AtomicUsize, total: usize) -> StoreResult<AbnormalPoolCounts> {
        reads.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Ok(AbnormalPoolCounts { total, open: total })
    }

    /// The total `counts` answer for `round` in `scope` at `now`, a read answering `total`.
    async fn total(
        counts: &PoolCounts,
        reads: &AtomicUsize,
        round: RoundId,
        path: &str,
        now: Millis,
        total: usize,
    ) -> usize {
        counts.get_or_read(round, &scope(path), now, || read(reads, total)).await.unwrap().total
    }

    #[tokio::test]
    async fn shared_for_a_ttl_per_round_and_scope_and_forgotten_at_once() {
        let counts = PoolCounts::default();
        let reads = AtomicUsize::new(0);
        let c = &counts;
        let r = &reads;
        assert_eq!(total(c, r, 7, "/1/", 1_000, 1).await, 1);
        assert_eq!(total(c, r, 7, "/1/", 2_999, 2).await, 1, "shared inside the TTL");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert_eq!(total(c, r, 7, "/1/2/", 1_500, 3).await, 3, "another scope reads its own");
        assert_eq!(total(c, r, 8, "/1/", 1_500, 4).await, 4, "another round reads its own");
        assert_eq!(total(c, r, 7, "/1/", 3_000, 5).await, 5, "read again at the TTL");
        assert_eq!(total(c, r, 7, "/1/", 2_000, 6).await, 6, "a clock set back reads again");
        counts.forget_round(7);
        assert_eq!(total(c, r, 7, "/1/", 2_001, 7).await, 7, "forgotten: read again at once");
        assert_eq!(total(c, r, 8, "/1/", 2_001, 8).await, 4, "other rounds keep theirs");
        assert_eq!(reads.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn pages_missing_together_wait_for_one_read() {
        let counts = PoolCounts::default();
        let reads = AtomicUsize::new(0);
        let town = scope("/1/");
        let pages: Vec<_> = (0..5).map(|i| counts.get_or_read(7, &town, 1_000 + i, || read(&reads, 2))).collect();
        for answer in futures_util::future::join_all(pages).await {
            assert_eq!(answer.unwrap().total, 2);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_change_during_a_read_is_not_served_over() {
        let counts = PoolCounts::default();
        let town = scope("/1/");
        let answer = counts
            .get_or_read(7, &town, 1_000, || async {
                // Results come in while the counts are being read.
                counts.forget_round(7);
                Ok(AbnormalPoolCounts { total: 1, open: 1 })
            })
            .await;
        assert_eq!(answer.unwrap().total, 1, "the read answers its own page");
        let reads = AtomicUsize::new(0);
        let next = counts.get_or_read(7, &town, 1_001, || read(&reads, 2)).await;
        assert_eq!((next.unwrap().total, reads.load(Ordering::SeqCst)), (2, 1), "the next page reads again");
    }
}
