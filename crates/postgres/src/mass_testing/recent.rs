//! Rounds and sites as read a moment ago.
//!
//! Every scan needs its round and its site (with lanes); reading them took six round trips per
//! registration, more than storing it. Copies are kept for [`FRESH_FOR`]: this server drops them
//! as soon as it changes one itself, and a change made through another server (a queue length, an
//! area merged into another) is seen within that time.

use bulwark_domain::testing::{Round, RoundId, Site, SiteId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a copy answers without reading the database again.
const FRESH_FOR: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct Recent {
    rounds: Mutex<HashMap<RoundId, (Instant, Round)>>,
    sites: Mutex<HashMap<SiteId, (Instant, Site)>>,
}

fn fresh<K: std::hash::Hash + Eq, V: Clone>(map: &Mutex<HashMap<K, (Instant, V)>>, key: &K) -> Option<V> {
    let map = map.lock().expect("recent rounds and sites");
    map.get(key).filter(|(at, _)| at.elapsed() < FRESH_FOR).map(|(_, v)| v.clone())
}

impl Recent {
    pub(crate) fn round(&self, id: RoundId) -> Option<Round> {
        fresh(&self.rounds, &id)
    }

    pub(crate) fn site(&self, id: SiteId) -> Option<Site> {
        fresh(&self.sites, &id)
    }

    pub(crate) fn keep_round(&self, round: &Round, read_at: Instant) {
        self.rounds.lock().expect("recent rounds and sites").insert(round.id, (read_at, round.clone()));
    }

    pub(crate) fn keep_site(&self, site: &Site, read_at: Instant) {
        self.sites.lock().expect("recent rounds and sites").insert(site.id, (read_at, site.clone()));
    }

    pub(crate) fn forget_site(&self, id: SiteId) {
        self.sites.lock().expect("recent rounds and sites").remove(&id);
    }

    /// After a change to the area tree: rounds and sites may name other areas now.
    pub(crate) fn forget_all(&self) {
        self.rounds.lock().expect("recent rounds and sites").clear();
        self.sites.lock().expect("recent rounds and sites").clear();
    }
}
