//! Sharing equal compiled values during the build: the policies of a repository repeat the
//! same selectors (`name: ingress-nginx`, `app: web`) and `ports` lists across thousands of
//! rules, and each distinct one is kept once, behind an `Arc`.

use crate::hashing::FastSet;
use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use super::policy::PortSpec;
use super::selector::Selector;

/// A set of shared values, usable from the build's parallel policy compilation. Split
/// into shards by the value's hash, each behind its own lock: with one lock, the cores
/// compiling policies queued on it (perf at 5,000 workloads: 2.9 % of the run's CPU in
/// the interner, a quarter of that waiting for the lock).
#[derive(Debug)]
pub struct Interner<T: ?Sized> {
    /// Picks the shard; each shard's set hashes with its own state.
    state: ahash::RandomState,
    shards: Box<[Mutex<FastSet<Arc<T>>>]>,
}

/// Enough shards that two values rarely meet at one lock on a machine's few cores.
const SHARDS: usize = 64;

impl<T: ?Sized + Hash + Eq> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            state: ahash::RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FastSet::default()))
                .collect(),
        }
    }
}

impl<T: ?Sized + Hash + Eq> Interner<T> {
    /// The shared copy of `value`, made from it the first time it is seen.
    pub fn intern<V: Borrow<T> + Into<Arc<T>>>(&self, value: V) -> Arc<T> {
        let hash = self.state.hash_one(value.borrow());
        // The remainder is below `SHARDS`, so the conversion is exact.
        let shard = usize::try_from(hash % SHARDS as u64).unwrap_or(0);
        let Some(shard) = self.shards.get(shard) else {
            return value.into();
        };
        // A panic elsewhere while holding the lock leaves the set whole: every insert is
        // one call, so the poisoned set is still a valid one.
        let mut values = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = values.get(value.borrow()) {
            return Arc::clone(shared);
        }
        let shared: Arc<T> = value.into();
        values.insert(Arc::clone(&shared));
        shared
    }
}

/// What compiled NetworkPolicies share: selectors and `ports` lists.
#[derive(Debug, Default)]
pub struct PolicyInterner {
    pub selectors: Interner<Selector>,
    pub ports: Interner<[PortSpec]>,
}

impl PolicyInterner {
    pub fn selector(&self, selector: Selector) -> Arc<Selector> {
        self.selectors.intern(selector)
    }

    pub fn ports(&self, ports: Vec<PortSpec>) -> Arc<[PortSpec]> {
        self.ports.intern(ports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ports::{PortSet, Protocol};

    #[test]
    fn equal_values_share_one_allocation() {
        let interner = PolicyInterner::default();
        let a = interner.selector(Selector::from_labels([("app", "web")]));
        let b = interner.selector(Selector::from_labels([("app", "web")]));
        let c = interner.selector(Selector::from_labels([("app", "db")]));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        let http = || vec![PortSpec::Numbers(Protocol::Tcp, PortSet::range(80, 80))];
        assert!(Arc::ptr_eq(
            &interner.ports(http()),
            &interner.ports(http())
        ));
    }

    /// Values spread over every shard, interned from several threads at once in two
    /// orders: each value ends with one shared copy, distinct values with distinct ones.
    #[test]
    fn values_interned_from_many_threads_share_one_copy_each() {
        use rayon::prelude::*;
        let interner = PolicyInterner::default();
        let make = |i: usize| Selector::from_labels([("app", format!("w{i}").as_str())]);
        let forward: Vec<Arc<Selector>> = (0..2000)
            .into_par_iter()
            .map(|i| interner.selector(make(i)))
            .collect();
        let backward: Vec<Arc<Selector>> = (0..2000)
            .into_par_iter()
            .rev()
            .map(|i| interner.selector(make(i)))
            .collect();
        for (i, (a, b)) in forward.iter().zip(backward.iter().rev()).enumerate() {
            assert!(Arc::ptr_eq(a, b), "value {i}");
            assert_eq!(**a, make(i));
        }
        assert!(!Arc::ptr_eq(&forward[0], &forward[1]));
    }
}
