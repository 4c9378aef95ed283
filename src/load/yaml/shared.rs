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

    pub fn push(&mut self, value: T) {
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
