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
