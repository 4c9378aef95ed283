//! Sharing equal compiled values during the build: the policies of a repository repeat the
//! same selectors (`name: ingress-nginx`, `app: web`) and `ports` lists across thousands of
//! rules, and each distinct one is kept once, behind an `Arc`.

use crate::hashing::FastSet;
use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use super::policy::PortSpec;
use super::selector::Selector;

/// A set of shared values, usable from the build's parallel policy compilation.
#[derive(Debug)]
pub struct Interner<T: ?Sized> {
    values: Mutex<FastSet<Arc<T>>>,
}

impl<T: ?Sized + Hash + Eq> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            values: Mutex::new(FastSet::default()),
        }
    }
}

impl<T: ?Sized + Hash + Eq> Interner<T> {
    /// The shared copy of `value`, made from it the first time it is seen.
    pub fn intern<V: Borrow<T> + Into<Arc<T>>>(&self, value: V) -> Arc<T> {
        // A panic elsewhere while holding the lock leaves the set whole: every insert is
        // one call, so the poisoned set is still a valid one.
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
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
}
