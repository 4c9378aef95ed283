//! Connection sets: for each protocol, a set of destination ports kept as
//! sorted, disjoint, non-adjacent closed intervals.

use std::fmt;

use smallvec::{SmallVec, smallvec};

/// Inline room for two ranges: most port sets are one port, one range, or every port,
/// and graphs hold millions of them.
type Ranges = SmallVec<[(u16, u16); 2]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Protocol {
    #[serde(rename = "SCTP")]
    Sctp,
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

impl Protocol {
    /// Alphabetical, the order connection sets are printed in.
    pub const ALL: [Protocol; 3] = [Protocol::Sctp, Protocol::Tcp, Protocol::Udp];

    /// `TCP`, `UDP` or `SCTP` (case-insensitive); `None` for anything else.
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Sctp => "SCTP",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

pub const MIN_PORT: u16 = 1;
pub const MAX_PORT: u16 = 65535;

/// A set of ports of one protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSet {
    ranges: Ranges,
}

impl PortSet {
    pub fn all() -> PortSet {
        PortSet {
            ranges: smallvec![(MIN_PORT, MAX_PORT)],
        }
    }

    /// Ports `from..=to`, clamped to 1..=65535; empty when `from > to`.
    pub fn range(from: u16, to: u16) -> PortSet {
        let from = from.max(MIN_PORT);
        if from > to {
            return PortSet::default();
        }
        PortSet {
            ranges: smallvec![(from, to)],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn is_all(&self) -> bool {
        self.ranges.as_slice() == [(MIN_PORT, MAX_PORT)]
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    pub fn contains(&self, port: u16) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= port && port <= b)
    }

    pub fn union(&self, other: &PortSet) -> PortSet {
        if other.ranges.is_empty() || self.is_all() {
            return self.clone();
        }
        if self.ranges.is_empty() || other.is_all() {
            return other.clone();
        }
        let mut all: Ranges = self.ranges.iter().chain(&other.ranges).copied().collect();
        all.sort_unstable();
        let mut merged = Ranges::with_capacity(all.len());
        for (a, b) in all {
            match merged.last_mut() {
                // Adjacent intervals merge too, so equal sets have one representation.
                Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        PortSet { ranges: merged }
    }

    pub fn intersect(&self, other: &PortSet) -> PortSet {
        if self.is_all() {
            return other.clone();
        }
        if other.is_all() {
            return self.clone();
        }
        let mut out = Ranges::new();
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a1, b1) = self.ranges[i];
            let (a2, b2) = other.ranges[j];
            let (a, b) = (a1.max(a2), b1.min(b2));
            if a <= b {
                out.push((a, b));
            }
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        PortSet { ranges: out }
    }

    pub fn subtract(&self, other: &PortSet) -> PortSet {
        let mut out = Ranges::new();
        for &(a, b) in &self.ranges {
            let mut start = u32::from(a);
            let end = u32::from(b);
            for &(c, d) in &other.ranges {
                let (c, d) = (u32::from(c), u32::from(d));
                if d < start || c > end {
                    continue;
                }
                if c > start {
                    out.push((start as u16, (c - 1) as u16));
                }
                start = start.max(d + 1);
            }
            if start <= end {
                out.push((start as u16, end as u16));
            }
        }
        PortSet { ranges: out }
    }

    pub fn is_subset(&self, other: &PortSet) -> bool {
        self.subtract(other).is_empty()
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// Allowed connections: a port set per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnSet {
    ports: [PortSet; 3],
}

impl ConnSet {
    pub fn none() -> ConnSet {
        ConnSet::default()
    }

    pub fn all() -> ConnSet {
        ConnSet {
            ports: [PortSet::all(), PortSet::all(), PortSet::all()],
        }
    }

    pub fn of(protocol: Protocol, ports: PortSet) -> ConnSet {
        let mut set = ConnSet::none();
        set.ports[protocol.index()] = ports;
        set
    }

    pub fn single(protocol: Protocol, port: u16) -> ConnSet {
        ConnSet::of(protocol, PortSet::range(port, port))
    }

    pub fn ports(&self, protocol: Protocol) -> &PortSet {
        &self.ports[protocol.index()]
    }

    pub fn is_empty(&self) -> bool {
        self.ports.iter().all(PortSet::is_empty)
    }

    pub fn is_all(&self) -> bool {
        self.ports.iter().all(PortSet::is_all)
    }

    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.ports(protocol).contains(port)
    }

    pub fn union_with(&mut self, other: &ConnSet) {
        for (mine, theirs) in self.ports.iter_mut().zip(&other.ports) {
            if !theirs.is_empty() && !mine.is_all() {
                *mine = mine.union(theirs);
            }
        }
    }

    pub fn union(&self, other: &ConnSet) -> ConnSet {
        let mut out = self.clone();
        out.union_with(other);
        out
    }

    pub fn intersect(&self, other: &ConnSet) -> ConnSet {
        if self.is_all() {
            return other.clone();
        }
        if other.is_all() {
            return self.clone();
        }
        ConnSet {
            ports: std::array::from_fn(|i| self.ports[i].intersect(&other.ports[i])),
        }
    }

    pub fn subtract(&self, other: &ConnSet) -> ConnSet {
        ConnSet {
            ports: std::array::from_fn(|i| self.ports[i].subtract(&other.ports[i])),
        }
    }

    pub fn is_subset(&self, other: &ConnSet) -> bool {
        self.subtract(other).is_empty()
    }

    /// Non-empty (protocol, ports) pairs in print order.
    pub fn iter(&self) -> impl Iterator<Item = (Protocol, &PortSet)> {
        Protocol::ALL
            .into_iter()
            .map(|p| (p, self.ports(p)))
            .filter(|(_, ports)| !ports.is_empty())
    }
}

/// `All Connections`, `No Connections`, or `TCP 80,443,8000-8080;UDP 53`
/// (protocols in alphabetical order; a protocol with every port prints `TCP 1-65535`).
impl fmt::Display for ConnSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        for (i, (protocol, ports)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{} {ports}", protocol.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u16, u16)]) -> PortSet {
        ranges.iter().fold(PortSet::default(), |acc, &(a, b)| {
            acc.union(&PortSet::range(a, b))
        })
    }

    #[test]
    fn union_merges_overlapping_and_adjacent_ranges() {
        assert_eq!(
            set(&[(80, 80), (81, 90), (100, 200), (150, 300)]).ranges(),
            &[(80, 90), (100, 300)]
        );
        assert_eq!(set(&[(1, 100), (101, 65535)]), PortSet::all());
    }

    #[test]
    fn intersect_and_subtract() {
        let a = set(&[(1, 100), (200, 300)]);
        let b = set(&[(50, 250)]);
        assert_eq!(a.intersect(&b).ranges(), &[(50, 100), (200, 250)]);
        assert_eq!(a.subtract(&b).ranges(), &[(1, 49), (251, 300)]);
        assert_eq!(b.subtract(&a).ranges(), &[(101, 199)]);
        assert!(set(&[(60, 70)]).is_subset(&a));
        assert!(!b.is_subset(&a));
        assert_eq!(
            PortSet::all()
                .subtract(&set(&[(1, 1), (65535, 65535)]))
                .ranges(),
            &[(2, 65534)]
        );
    }

    #[test]
    fn display_follows_the_documented_format() {
        let mut conns = ConnSet::of(Protocol::Tcp, set(&[(80, 80), (443, 443), (8000, 8080)]));
        conns.union_with(&ConnSet::single(Protocol::Udp, 53));
        assert_eq!(conns.to_string(), "TCP 80,443,8000-8080;UDP 53");
        assert_eq!(ConnSet::all().to_string(), "All Connections");
        assert_eq!(ConnSet::none().to_string(), "No Connections");
        let sctp =
            ConnSet::of(Protocol::Sctp, PortSet::all()).union(&ConnSet::single(Protocol::Tcp, 1));
        assert_eq!(sctp.to_string(), "SCTP 1-65535;TCP 1");
    }

    #[test]
    fn all_absorbs_unions() {
        let mut all = ConnSet::all();
        all.union_with(&ConnSet::single(Protocol::Tcp, 80));
        assert!(all.is_all());
        assert!(ConnSet::single(Protocol::Tcp, 80).is_subset(&all));
        assert!(!all.is_subset(&ConnSet::single(Protocol::Tcp, 80)));
    }
}
