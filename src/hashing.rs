//! Hash tables keyed by what the repository writes (names, ids, paths) or by positions
//! in it, looked up once or more per object.
//!
//! ahash is randomly seeded per table (from the operating system's random source): the
//! input may be hostile, so no fixed-seed hash. std's SipHash on such tables was a
//! measurable share of the build and of the one-thread stretches between parallel ones
//! (perf; see DESIGN.md, "Speed").

use std::collections::{HashMap, HashSet};

pub type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;
pub type FastSet<T> = HashSet<T, ahash::RandomState>;

/// For each item, the position of the earliest item equal to it (its own position when none
/// before it is). Items are hashed on every core and grouped by sorting (hash, position)
/// pairs, rather than inserted one by one into a table on one thread; in a group of equal
/// hashes each item is compared with the distinct ones before it, so a collision costs a
/// comparison, never a wrong answer. `hash` must give equal items equal hashes.
pub fn earliest_equal<T: Sync>(
    items: &[T],
    hash: impl Fn(&T) -> u64 + Sync,
    equal: impl Fn(&T, &T) -> bool,
) -> Vec<usize> {
    use rayon::prelude::*;
    let mut keys: Vec<(u64, usize)> = items
        .par_iter()
        .enumerate()
        .map(|(at, item)| (hash(item), at))
        .collect();
    keys.par_sort_unstable();
    let mut earliest: Vec<usize> = (0..items.len()).collect();
    for group in keys.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        // Sorted by position within the group: the distinct ones are met earliest first.
        let mut distinct: Vec<usize> = Vec::new();
        for &(_, at) in group {
            match distinct.iter().find(|&&d| equal(&items[d], &items[at])) {
                Some(&first) => earliest[at] = first,
                None => distinct.push(at),
            }
        }
    }
    earliest
}

#[cfg(test)]
mod tests {
    use super::earliest_equal;

    /// Against a quadratic scan, with a hash that collides on purpose (by length) and one
    /// that never does.
    #[test]
    fn earliest_equal_matches_a_scan() {
        let words = [
            "a", "bb", "a", "cc", "bb", "dd", "a", "e", "cc", "ff", "bb", "gg",
        ];
        let expected: Vec<usize> = (0..words.len())
            .map(|i| (0..=i).find(|&j| words[j] == words[i]).unwrap_or(i))
            .collect();
        let by_length = earliest_equal(&words, |w| w.len() as u64, |a, b| a == b);
        assert_eq!(by_length, expected);
        let state = ahash::RandomState::new();
        let exact = earliest_equal(&words, |w| state.hash_one(w), |a, b| a == b);
        assert_eq!(exact, expected);
        assert!(earliest_equal(&[] as &[&str], |w| w.len() as u64, |a, b| a == b).is_empty());
    }
}
