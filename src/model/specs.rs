//! What the analysis keeps of a Service's and a NetworkPolicy's `spec`.
//!
//! Both are decoded as their k8s-openapi types first, so a schema error is reported as for
//! any field, and then moved into these: the same fields, but every label map held as one
//! sorted slice ([`LabelMap`]) instead of a B-tree. A B-tree allocates a node of room for
//! eleven entries for its first label, about half a kilobyte, and a policy holds one per
//! selector; a repository of 100,000 workloads held ~400 MB of them.

use ecow::EcoString;
use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::api::networking::v1::IngressServiceBackend;
use k8s_openapi::api::networking::v1::{IPBlock, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

/// A label map (`matchLabels`, a Service's `selector`): key-sorted, one entry per key,
/// in one allocation of exactly its length.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelMap(Box<[(EcoString, EcoString)]>);

impl LabelMap {
    pub fn new() -> LabelMap {
        LabelMap::default()
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`, replacing what it held. Linear in the map's size: label
    /// maps are small, and read far more often than built.
    pub fn insert(&mut self, key: impl Into<EcoString>, value: impl Into<EcoString>) {
        let (key, value) = (key.into(), value.into());
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(i) => {
                if let Some(entry) = self.0.get_mut(i) {
                    entry.1 = value;
                }
            }
            Err(i) => {
                let mut entries = std::mem::take(&mut self.0).into_vec();
                entries.insert(i, (key, value));
                self.0 = entries.into_boxed_slice();
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// In key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<'a> IntoIterator for &'a LabelMap {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (EcoString, EcoString)>,
        fn(&'a (EcoString, EcoString)) -> (&'a str, &'a str),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<EcoString>, V: Into<EcoString>> Extend<(K, V)> for LabelMap {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let entries = std::mem::take(&mut self.0).into_vec();
        *self = entries
            .into_iter()
            .chain(iter.into_iter().map(|(k, v)| (k.into(), v.into())))
            .collect();
    }
}

/// Later entries win over earlier ones with the same key, as when collecting a `BTreeMap`.
/// Keys and values are `EcoString`s: most labels (`app`, `tier`, a name) fit its 15 inline
/// bytes and cost no allocation, and a longer one is shared, not copied, when a label map
/// is cloned (the graph's pod classes hold their pods' labels).
impl<K: Into<EcoString>, V: Into<EcoString>> FromIterator<(K, V)> for LabelMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> LabelMap {
        let mut entries: Vec<(EcoString, EcoString)> = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        // Stable: among equal keys the last written stays last, and is the one kept.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(EcoString, EcoString)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match kept.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => kept.push(entry),
            }
        }
        LabelMap(kept.into_boxed_slice())
    }
}

/// A label selector, its `matchLabels` as a [`LabelMap`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectorSpec {
    pub match_labels: LabelMap,
    pub match_expressions: Box<[LabelSelectorRequirement]>,
}

impl From<LabelSelector> for SelectorSpec {
    fn from(selector: LabelSelector) -> SelectorSpec {
        SelectorSpec {
            match_labels: selector.match_labels.into_iter().flatten().collect(),
            match_expressions: selector.match_expressions.unwrap_or_default().into(),
        }
    }
}

/// `spec` of a NetworkPolicy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySpec {
    pub pod_selector: Option<SelectorSpec>,
    pub policy_types: Option<Vec<String>>,
    pub ingress: Option<Vec<PolicyRuleSpec>>,
    pub egress: Option<Vec<PolicyRuleSpec>>,
}

/// An ingress rule (`from`) or an egress rule (`to`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyRuleSpec {
    pub peers: Option<Vec<PeerSpec>>,
    pub ports: Option<Vec<NetworkPolicyPort>>,
}

/// A `from` or `to` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerSpec {
    /// Boxed: most peers are selectors, and a peer is held per `from`/`to` entry of
    /// every policy (48 bytes inline, 8 boxed).
    pub ip_block: Option<Box<IPBlock>>,
    pub namespace_selector: Option<SelectorSpec>,
    pub pod_selector: Option<SelectorSpec>,
}

impl From<k8s_openapi::api::networking::v1::NetworkPolicyPeer> for PeerSpec {
    fn from(peer: k8s_openapi::api::networking::v1::NetworkPolicyPeer) -> PeerSpec {
        PeerSpec {
            ip_block: peer.ip_block.map(Box::new),
            namespace_selector: peer.namespace_selector.map(SelectorSpec::from),
            pod_selector: peer.pod_selector.map(SelectorSpec::from),
        }
    }
}

fn peers(
    peers: Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicyPeer>>,
) -> Option<Vec<PeerSpec>> {
    peers.map(|peers| peers.into_iter().map(PeerSpec::from).collect())
}

/// What a rule is made of as written: its peers (`from` or `to`) and its ports.
type WrittenRule = (
    Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicyPeer>>,
    Option<Vec<NetworkPolicyPort>>,
);

/// The rules of one direction, each split into its peers and ports.
fn rules<R>(rules: Option<Vec<R>>, split: fn(R) -> WrittenRule) -> Option<Vec<PolicyRuleSpec>> {
    rules.map(|rules| {
        rules
            .into_iter()
            .map(|rule| {
                let (written_peers, ports) = split(rule);
                PolicyRuleSpec {
                    peers: peers(written_peers),
                    ports,
                }
            })
            .collect()
    })
}

impl From<k8s_openapi::api::networking::v1::NetworkPolicySpec> for PolicySpec {
    fn from(spec: k8s_openapi::api::networking::v1::NetworkPolicySpec) -> PolicySpec {
        PolicySpec {
            pod_selector: spec.pod_selector.map(SelectorSpec::from),
            policy_types: spec.policy_types,
            ingress: rules(spec.ingress, |rule| (rule.from, rule.ports)),
            egress: rules(spec.egress, |rule| (rule.to, rule.ports)),
        }
    }
}

/// `spec` of a Service: what the analysis reads of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceSpec {
    pub selector: Option<LabelMap>,
    pub ports: Option<Vec<ServicePort>>,
    pub type_: Option<String>,
}

impl From<k8s_openapi::api::core::v1::ServiceSpec> for ServiceSpec {
    fn from(spec: k8s_openapi::api::core::v1::ServiceSpec) -> ServiceSpec {
        ServiceSpec {
            selector: spec.selector.map(|labels| labels.into_iter().collect()),
            ports: spec.ports,
            type_: spec.type_,
        }
    }
}

/// `spec` of an Ingress: its class and its Service backends, all the analysis reads of it
/// (hosts, paths and TLS are read from the tree where a rule needs their spans). The
/// whole k8s-openapi `IngressSpec` kept per Ingress was about 0.7 kB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngressSpec {
    pub ingress_class_name: Option<String>,
    /// `spec.defaultBackend.service`.
    pub default_backend: Option<IngressServiceBackend>,
    /// `spec.rules[i].http.paths[j].backend.service`, with `i` and `j`, in document order.
    pub path_backends: Vec<(usize, usize, IngressServiceBackend)>,
}

impl From<k8s_openapi::api::networking::v1::IngressSpec> for IngressSpec {
    fn from(spec: k8s_openapi::api::networking::v1::IngressSpec) -> IngressSpec {
        let path_backends = spec
            .rules
            .into_iter()
            .flatten()
            .enumerate()
            .flat_map(|(i, rule)| {
                rule.http
                    .into_iter()
                    .flat_map(|http| http.paths)
                    .enumerate()
                    .filter_map(move |(j, path)| Some((i, j, path.backend.service?)))
            })
            .collect();
        IngressSpec {
            ingress_class_name: spec.ingress_class_name,
            default_backend: spec.default_backend.and_then(|backend| backend.service),
            path_backends,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> LabelMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_label_map_reads_like_the_btree_it_replaces() {
        let pairs = [("b", "2"), ("a", "1"), ("c", "3"), ("a", "9")];
        let labels = map(&pairs);
        let btree: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(labels.len(), btree.len());
        assert!(
            labels
                .iter()
                .eq(btree.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        );
        for key in ["a", "b", "c", "d", ""] {
            assert_eq!(labels.get(key), btree.get(key).map(String::as_str), "{key}");
        }
        assert!(LabelMap::default().is_empty());
        let mut grown = LabelMap::new();
        let mut tree = std::collections::BTreeMap::new();
        for (k, v) in [("m", "1"), ("a", "2"), ("z", "3"), ("m", "4")] {
            grown.insert(k.to_string(), v.to_string());
            tree.insert(k.to_string(), v.to_string());
        }
        grown.extend([
            ("b".to_string(), "5".to_string()),
            ("z".to_string(), "6".to_string()),
        ]);
        tree.extend([
            ("b".to_string(), "5".to_string()),
            ("z".to_string(), "6".to_string()),
        ]);
        assert!(
            grown
                .iter()
                .eq(tree.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        );
        assert!(grown.contains_key("b") && !grown.contains_key("c"));
    }
}
