//! `Shared<T>`: the children of a YAML collection, shared between trees until one of
//! them changes.

use super::*;

/// The children of a collection, shared by every tree that holds them until one of them
/// changes them (copy on write): cloning a tree is a reference count per collection at its
/// top, and a kustomize view that sets one field copies only the collections on that
/// field's path. One allocation holds the reference count, the capacity and the children
/// (`ecow::EcoVec`), so sharing costs a collection no more than a `Vec` did. Reads see a
/// slice; every method that changes the children first takes a private copy when they are
/// shared, so code that edits a tree never sees the change in another.
#[derive(Clone)]
pub struct Shared<T>(ecow::EcoVec<T>);

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared(ecow::EcoVec::new())
    }
}

impl<T> Deref for Shared<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> Shared<T> {
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<T: Clone> From<Vec<T>> for Shared<T> {
    fn from(items: Vec<T>) -> Self {
        Shared(items.into())
    }
}

impl<T: Clone> FromIterator<T> for Shared<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Shared(iter.into_iter().collect())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The changing half of a `Vec`'s interface, each copying shared children first.
impl<T: Clone> Shared<T> {
    /// The children as an owned `Vec` (moved out when no other tree shares them).
    pub fn into_vec(self) -> Vec<T> {
        self.0.into_iter().collect()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.make_mut().iter_mut()
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.0.make_mut().get_mut(index)
    }

    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.0.make_mut().last_mut()
    }

    pub fn first_mut(&mut self) -> Option<&mut T> {
        self.0.make_mut().first_mut()
    }

    /// Adds `value` at the end. A full collection grows by an eighth (at least one),
    /// not `EcoVec`'s doubling: collections are sized exactly when parsed, and a
    /// transformer adding one key (`metadata.namespace` on every object) would otherwise
    /// leave each edited mapping half empty. Still geometric, so pushes stay linear.
    pub fn push(&mut self, value: T) {
        let len = self.0.len();
        if len == self.0.capacity() || !self.0.is_unique() {
            let target = len.saturating_add(1).saturating_add(len / 8);
            let mut grown = ecow::EcoVec::with_capacity(target);
            // Moves the children when this tree holds the only reference, clones them
            // otherwise (copy on write).
            grown.extend(std::mem::take(&mut self.0));
            self.0 = grown;
        }
        self.0.push(value);
    }

    /// Inserts `value` at `index`, or at the end when `index` is past it.
    pub fn insert(&mut self, index: usize, value: T) {
        let index = index.min(self.0.len());
        self.0.insert(index, value);
    }

    /// Removes the child at `index` (callers check it is one, as with `Vec::remove`).
    pub fn remove(&mut self, index: usize) -> T {
        self.0.remove(index)
    }

    pub fn retain(&mut self, keep: impl FnMut(&mut T) -> bool) {
        self.0.retain(keep);
    }

    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn extend(&mut self, items: impl IntoIterator<Item = T>) {
        self.0.extend(items);
    }
}

impl<T: Clone> IntoIterator for Shared<T> {
    type Item = T;
    type IntoIter = ecow::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Shared<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a, T: Clone> IntoIterator for &'a mut Shared<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.make_mut().iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::Shared;

    #[test]
    fn a_push_copies_only_the_pushed_tree_and_grows_by_an_eighth() {
        let original: Shared<u32> = (0..16).collect();
        let mut copy = original.clone();
        copy.push(16);
        assert_eq!(original.as_slice(), (0..16).collect::<Vec<_>>().as_slice());
        assert_eq!(copy.as_slice(), (0..17).collect::<Vec<_>>().as_slice());
        assert_eq!(copy.0.capacity(), 16 + 1 + 2);
        // Sized exactly (as parsed), held once: one more slot, not twice the size.
        let mut exact: Shared<u32> = (0..3).collect();
        exact.push(3);
        assert_eq!(exact.0.capacity(), 4);
        // Many pushes: the slack stays within an eighth, and every value is kept.
        let mut grown = Shared::default();
        for value in 0..10_000u32 {
            grown.push(value);
        }
        assert!(grown.0.capacity() <= 10_000 + 10_000 / 8 + 1);
        assert!(grown.iter().copied().eq(0..10_000));
    }
}
