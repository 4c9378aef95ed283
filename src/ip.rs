//! IP address ranges for `ipBlock` peers: CIDR parsing, `except` holes, and the
//! partition of the address space into disjoint segments the graph uses as nodes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn max(self) -> u128 {
        match self {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        }
    }

    fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// A closed range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    pub family: Family,
    pub start: u128,
    pub end: u128,
}

impl IpRange {
    pub fn universe(family: Family) -> IpRange {
        IpRange {
            family,
            start: 0,
            end: family.max(),
        }
    }

    pub fn address(addr: IpAddr) -> IpRange {
        let (family, value) = split(addr);
        IpRange {
            family,
            start: value,
            end: value,
        }
    }

    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
    /// Host bits below the prefix are ignored, as the API server's CIDR parsing does.
    pub fn parse_cidr(text: &str) -> Result<IpRange, String> {
        let text = text.trim();
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("`{text}` is not a CIDR"))?;
        let (family, value) = split(addr);
        let prefix = match prefix_text {
            Some(p) => p
                .parse::<u32>()
                .ok()
                .filter(|p| *p <= family.bits())
                .ok_or_else(|| format!("`{text}` has an invalid prefix length"))?,
            None => family.bits(),
        };
        let host_bits = family.bits() - prefix;
        let host_mask: u128 = if host_bits == 0 {
            0
        } else if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let start = value & !host_mask & family.max();
        Ok(IpRange {
            family,
            start,
            end: start | host_mask,
        })
    }

    pub fn contains(&self, other: &IpRange) -> bool {
        self.family == other.family && self.start <= other.start && other.end <= self.end
    }

    pub fn overlaps(&self, other: &IpRange) -> bool {
        self.family == other.family && self.start <= other.end && other.start <= self.end
    }

    pub fn contains_addr(&self, addr: IpAddr) -> bool {
        self.contains(&IpRange::address(addr))
    }
}

fn split(addr: IpAddr) -> (Family, u128) {
    match addr {
        IpAddr::V4(v4) => (Family::V4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (Family::V6, u128::from(v6)),
    }
}

fn show(family: Family, value: u128) -> String {
    match family {
        Family::V4 => Ipv4Addr::from(value as u32).to_string(),
        Family::V6 => Ipv6Addr::from(value).to_string(),
    }
}

/// `first-last`, as np-guard's netpol-analyzer writes address ranges.
impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            show(self.family, self.start),
            show(self.family, self.end)
        )
    }
}

/// Removes `holes` from `range`; the result is sorted and disjoint.
pub fn subtract(range: IpRange, holes: &[IpRange]) -> Vec<IpRange> {
    let mut holes: Vec<IpRange> = holes
        .iter()
        .filter(|h| h.overlaps(&range))
        .copied()
        .collect();
    holes.sort();
    let mut out = Vec::new();
    let mut start = Some(range.start);
    for hole in holes {
        let Some(s) = start else { break };
        if hole.start > s {
            out.push(IpRange {
                family: range.family,
                start: s,
                end: (hole.start - 1).min(range.end),
            });
        }
        start = if hole.end >= range.end {
            None
        } else {
            Some(s.max(hole.end + 1))
        };
    }
    if let Some(s) = start
        && s <= range.end
    {
        out.push(IpRange {
            family: range.family,
            start: s,
            end: range.end,
        });
    }
    out
}

/// Sorts and merges overlapping or touching ranges, for printing a group of segments.
pub fn merge(mut ranges: Vec<IpRange>) -> Vec<IpRange> {
    ranges.sort();
    let mut out: Vec<IpRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            // A range ending at the family's last address contains every later one.
            Some(last)
                if last.family == r.family
                    && (last.end == last.family.max() || last.end + 1 >= r.start) =>
            {
                last.end = last.end.max(r.end)
            }
            _ => out.push(r),
        }
    }
    out
}

/// Splits the address space of each family present into the coarsest disjoint
/// segments such that every given range is a union of segments. IPv4 is always
/// present; IPv6 only when some range is IPv6.
pub fn partition(ranges: &[IpRange]) -> Vec<IpRange> {
    let mut out = Vec::new();
    for family in [Family::V4, Family::V6] {
        let mine: Vec<&IpRange> = ranges.iter().filter(|r| r.family == family).collect();
        if family == Family::V6 && mine.is_empty() {
            continue;
        }
        // Cut points: every segment starts at one of them.
        let mut cuts: Vec<u128> = vec![0];
        for r in mine {
            cuts.push(r.start);
            if r.end < family.max() {
                cuts.push(r.end + 1);
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for (i, &start) in cuts.iter().enumerate() {
            let end = cuts.get(i + 1).map(|next| next - 1).unwrap_or(family.max());
            out.push(IpRange { family, start, end });
        }
    }
    out
}

/// The CIDR blocks that exactly cover `range`, in address order, as (first address,
/// prefix length).
pub fn cidrs(range: &IpRange) -> Vec<(u128, u32)> {
    let bits = range.family.bits();
    let mut out = Vec::new();
    let mut start = range.start;
    loop {
        // The largest block aligned at `start` that ends within the range.
        let mut size_bits = start.trailing_zeros().min(bits);
        while size_bits > 0 {
            let last = if size_bits >= 128 {
                Some(u128::MAX)
            } else {
                start.checked_add((1u128 << size_bits) - 1)
            };
            if last.is_some_and(|last| last <= range.end) {
                break;
            }
            size_bits -= 1;
        }
        out.push((start, bits - size_bits));
        let next = if size_bits >= 128 {
            None
        } else {
            start.checked_add(1u128 << size_bits)
        };
        match next {
            Some(next) if next <= range.end && next > start => start = next,
            _ => break,
        }
    }
    out
}

fn show_cidr(family: Family, (start, prefix): (u128, u32)) -> String {
    format!("{}/{prefix}", show(family, start))
}

/// The smallest CIDR block holding every range (all of one family, sorted).
fn hull(family: Family, ranges: &[IpRange]) -> Option<IpRange> {
    let first = ranges.iter().map(|r| r.start).min()?;
    let last = ranges.iter().map(|r| r.end).max()?;
    let bits = family.bits();
    let differing = 128 - (first ^ last).leading_zeros();
    let prefix = bits.saturating_sub(differing);
    let host_mask = if differing >= 128 {
        u128::MAX
    } else {
        (1u128 << differing) - 1
    };
    Some(IpRange {
        family,
        start: first & !host_mask,
        end: (first | host_mask) & family.max(),
    })
    .filter(|_| prefix <= bits)
}

/// At most this many blocks are spelled out in a label; the rest are counted.
const CIDR_LABEL_BLOCKS: usize = 6;

/// Address ranges in CIDR notation, as people write `ipBlock`s: `10.0.0.10/32`,
/// `0.0.0.0/0 except 10.0.0.0/8` when the holes are fewer than the blocks, families
/// separated by `; `, long lists cut after a few blocks (`… +12 more`).
pub fn cidr_label(ranges: &[IpRange]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for family in [Family::V4, Family::V6] {
        let mine = merge(
            ranges
                .iter()
                .filter(|r| r.family == family)
                .copied()
                .collect(),
        );
        if mine.is_empty() {
            continue;
        }
        let direct: Vec<(u128, u32)> = mine.iter().flat_map(cidrs).collect();
        let holes = hull(family, &mine).map(|h| {
            let mut holes: Vec<IpRange> = vec![h];
            for r in &mine {
                holes = holes
                    .iter()
                    .flat_map(|hole| subtract(*hole, &[*r]))
                    .collect();
            }
            (h, holes.iter().flat_map(cidrs).collect::<Vec<_>>())
        });
        let list = |blocks: &[(u128, u32)]| {
            let mut shown: Vec<String> = blocks
                .iter()
                .take(CIDR_LABEL_BLOCKS)
                .map(|b| show_cidr(family, *b))
                .collect();
            if blocks.len() > CIDR_LABEL_BLOCKS {
                shown.push(format!("… +{} more", blocks.len() - CIDR_LABEL_BLOCKS));
            }
            shown.join(", ")
        };
        match holes {
            Some((h, holes)) if !holes.is_empty() && 1 + holes.len() < direct.len() => {
                let whole = cidrs(&h);
                let head = whole
                    .first()
                    .map(|b| show_cidr(family, *b))
                    .unwrap_or_default();
                parts.push(format!("{head} except {}", list(&holes)));
            }
            _ => parts.push(list(&direct)),
        }
    }
    parts.join("; ")
}

/// The ranges of a listing label (`first-last,first-last`), as [`IpRange`]'s `Display`
/// writes them; `None` when the label is not one.
pub fn parse_ranges(label: &str) -> Option<Vec<IpRange>> {
    label
        .split(',')
        .map(|part| {
            let (a, b) = part.split_once('-')?;
            let (fa, start) = split(a.parse().ok()?);
            let (fb, end) = split(b.parse().ok()?);
            (fa == fb && start <= end).then_some(IpRange {
                family: fa,
                start,
                end,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> IpRange {
        IpRange::parse_cidr(text).unwrap()
    }

    #[test]
    fn parses_cidrs_and_addresses() {
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0-255.255.255.255");
        assert_eq!(cidr("10.1.2.3/8").to_string(), "10.0.0.0-10.255.255.255");
        assert_eq!(cidr("172.20.0.10").to_string(), "172.20.0.10-172.20.0.10");
        assert_eq!(
            cidr("2001:db8::/32").to_string(),
            "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(cidr("::/0"), IpRange::universe(Family::V6));
        assert!(IpRange::parse_cidr("10.0.0.0/33").is_err());
        assert!(IpRange::parse_cidr("ten/8").is_err());
    }

    #[test]
    fn except_punches_holes() {
        let holes = [cidr("10.0.0.0/8"), cidr("192.168.0.0/16")];
        let parts: Vec<String> = subtract(cidr("0.0.0.0/0"), &holes)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            parts,
            [
                "0.0.0.0-9.255.255.255",
                "11.0.0.0-192.167.255.255",
                "192.169.0.0-255.255.255.255"
            ]
        );
        assert!(subtract(cidr("10.0.0.0/8"), &[cidr("0.0.0.0/0")]).is_empty());
        assert_eq!(
            subtract(cidr("10.0.0.0/8"), &[cidr("10.0.0.0/9")]),
            [cidr("10.128.0.0/9")]
        );
    }

    #[test]
    fn partition_covers_the_space_with_disjoint_segments() {
        let parts = partition(&[cidr("10.0.0.0/8"), cidr("10.1.0.0/16"), cidr("0.0.0.0/0")]);
        let text: Vec<String> = parts.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "0.0.0.0-9.255.255.255",
                "10.0.0.0-10.0.255.255",
                "10.1.0.0-10.1.255.255",
                "10.2.0.0-10.255.255.255",
                "11.0.0.0-255.255.255.255"
            ]
        );
        assert_eq!(merge(parts), [IpRange::universe(Family::V4)]);
        // Overlapping input (a namespace summary's union) merges too, up to the last address.
        assert_eq!(
            merge(vec![
                cidr("0.0.0.0/0"),
                cidr("10.0.0.10/32"),
                cidr("10.0.0.0/8")
            ]),
            [IpRange::universe(Family::V4)]
        );
    }

    fn label(cidrs: &[&str], holes: &[&str]) -> String {
        let holes: Vec<IpRange> = holes.iter().map(|h| cidr(h)).collect();
        let ranges: Vec<IpRange> = cidrs
            .iter()
            .flat_map(|c| subtract(cidr(c), &holes))
            .collect();
        cidr_label(&ranges)
    }

    #[test]
    fn labels_in_cidr_notation() {
        assert_eq!(label(&["10.0.0.10/32"], &[]), "10.0.0.10/32");
        assert_eq!(
            label(&["10.0.0.10/32", "169.254.20.10/32"], &[]),
            "10.0.0.10/32, 169.254.20.10/32"
        );
        assert_eq!(label(&["0.0.0.0/0"], &[]), "0.0.0.0/0");
        assert_eq!(
            label(&["0.0.0.0/0"], &["10.0.0.0/8"]),
            "0.0.0.0/0 except 10.0.0.0/8"
        );
        assert_eq!(
            label(
                &["0.0.0.0/0"],
                &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
            ),
            "0.0.0.0/0 except 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"
        );
        assert_eq!(label(&["10.1.2.3/8"], &[]), "10.0.0.0/8");
        // A range that is not one block: two blocks beat a hull with two holes.
        assert_eq!(
            label(&["10.0.0.0/31", "10.0.0.2/32"], &[]),
            "10.0.0.0/31, 10.0.0.2/32"
        );
        assert_eq!(label(&["::/0"], &[]), "::/0");
        assert_eq!(
            label(&["0.0.0.0/0", "2001:db8::/32"], &[]),
            "0.0.0.0/0; 2001:db8::/32"
        );
        assert_eq!(label(&["::/0"], &["fd00::/8"]), "::/0 except fd00::/8");
        let many: Vec<String> = (0..20).map(|i| format!("10.0.{}.1/32", i * 2)).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(label(&many, &[]).ends_with("10.0.10.1/32, … +14 more"));
    }

    #[test]
    fn cidrs_cover_exactly() {
        for (start, end) in [
            (0u128, 9),
            (5, 5),
            (1, 254),
            (0, u128::from(u32::MAX)),
            (7, 1 << 20),
        ] {
            let range = IpRange {
                family: Family::V4,
                start,
                end,
            };
            let blocks = cidrs(&range);
            let mut next = start;
            for (first, prefix) in &blocks {
                assert_eq!(*first, next);
                next = first + (1u128 << (32 - prefix));
            }
            assert_eq!(next, end + 1, "{start}-{end}");
        }
        assert_eq!(cidrs(&IpRange::universe(Family::V6)), [(0, 0)]);
    }

    #[test]
    fn listing_labels_parse_back() {
        let ranges = vec![cidr("10.0.0.0/8"), cidr("2001:db8::/32")];
        let text: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        assert_eq!(parse_ranges(&text.join(",")), Some(ranges));
        assert_eq!(parse_ranges("tenant-a/web[Deployment]"), None);
        assert_eq!(parse_ranges("10.0.0.9-10.0.0.1"), None);
    }
}
