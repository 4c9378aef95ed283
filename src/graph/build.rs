//! Building the graph from the model: namespaces and their labels (with what XKS adds),
//! pod classes in a canonical order, the repository's policies then XKS's implicit ones,
//! the admin tiers, the IP segments, and the indices evaluation reads (which policies
//! select which classes, which namespaces each peer's selector matches, connections per
//! named-port list). Evaluation itself is in `mod.rs`.

use crate::hashing::FastMap;
use ecow::EcoString;
use std::collections::BTreeMap;

use rayon::prelude::*;

use super::intern::PolicyInterner;
use super::ip::{self, IpRange};
use super::policy::{self, PeerKind};
use super::ports::{ConnSet, Protocol};
use super::selector::{self, Labels, Selector};
use super::{
    BitSet, Graph, GraphOptions, MAX_NAMED_CACHE, METADATA_NAME_LABEL, Member, NO_CLASS,
    NO_NAMESPACE_SET, NamespaceInfo, PodClass, Semantics, XKS_KIND_LABEL, XKS_NAME_LABEL, admin,
};
use crate::model::{Model, Typed};

/// Namespace label index and each namespace's labels, in `Graph::namespaces` order.
type NamespaceLabels<'a> = (
    FastMap<&'a str, FastMap<&'a str, Vec<usize>>>,
    Vec<&'a Labels>,
);

/// What one core's share of the objects says about namespaces: the Namespace objects in
/// order, and the namespaces holding workloads and policies.
#[derive(Default)]
struct NamespacesSeen<'a> {
    objects: Vec<&'a crate::model::Object>,
    workloads: crate::hashing::FastSet<&'a str>,
    policies: crate::hashing::FastSet<&'a str>,
}

impl<'a> NamespacesSeen<'a> {
    /// `self` is the earlier share: its Namespace objects stay first.
    fn merge(mut self, later: NamespacesSeen<'a>) -> NamespacesSeen<'a> {
        self.objects.extend(later.objects);
        self.workloads.extend(later.workloads);
        self.policies.extend(later.policies);
        self
    }
}

/// What the policies selecting one class make of it: whether they isolate it per direction,
/// and its rules per direction in policy order.
#[derive(Default)]
struct ClassRules {
    isolated_ingress: bool,
    isolated_egress: bool,
    ingress: Vec<usize>,
    egress: Vec<usize>,
}

/// Namespaces (indices) whose labels match `selector`: through the index when the selector
/// pins a key, else by asking each.
fn namespaces_matching(
    index: &NamespaceLabels<'_>,
    count: usize,
    selector: &Selector,
) -> Vec<usize> {
    let (by_label, labels) = index;
    let pinned = selector.requirements.iter().find_map(|r| match r {
        selector::Requirement::In(key, values) => Some((key, values)),
        _ => None,
    });
    let candidates: Vec<usize> = match pinned {
        Some((key, values)) => {
            let mut out: Vec<usize> = values
                .iter()
                .filter_map(|v| by_label.get(key.as_str()).and_then(|m| m.get(v)))
                .flatten()
                .copied()
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        }
        None => (0..count).collect(),
    };
    candidates
        .into_iter()
        .filter(|&i| labels.get(i).is_some_and(|l| selector.matches(l)))
        .collect()
}

impl Graph {
    pub fn build(model: &Model, options: &GraphOptions) -> Graph {
        let xks = options.semantics == Semantics::Xks;
        let settings = &options.xks;

        // Namespaces and their labels. Which namespaces hold workloads or policies is read
        // from every object on every core (hundreds of thousands of objects share a few
        // namespaces); the few Namespace objects are then applied in order, so a label
        // written twice keeps the later value.
        let NamespacesSeen {
            objects: namespace_objects,
            workloads: with_workloads,
            policies: with_policies,
        } = model
            .objects
            .par_iter()
            .fold(NamespacesSeen::default, |mut seen, object| {
                match &object.typed {
                    Typed::Namespace(_) if !object.name.is_empty() => {
                        seen.objects.push(object);
                    }
                    Typed::Workload(_) => {
                        seen.workloads.insert(object.namespace.as_str());
                    }
                    Typed::NetworkPolicy(_) => {
                        seen.policies.insert(object.namespace.as_str());
                    }
                    _ => {}
                }
                seen
            })
            .reduce(NamespacesSeen::default, NamespacesSeen::merge);
        let mut namespaces: BTreeMap<String, NamespaceInfo> = BTreeMap::new();
        let mut declared: BTreeMap<String, Labels> = BTreeMap::new();
        for object in namespace_objects {
            declared
                .entry(object.name.to_string())
                .or_default()
                .extend(object.labels());
            namespaces.entry(object.name.to_string()).or_default();
        }
        for namespace in with_workloads {
            namespaces
                .entry(namespace.to_string())
                .or_default()
                .has_workloads = true;
        }
        for namespace in with_policies {
            namespaces.entry(namespace.to_string()).or_default();
        }
        if xks {
            for endpoint in &settings.endpoints {
                namespaces.entry(endpoint.namespace.clone()).or_default();
            }
        }
        for (name, info) in namespaces.iter_mut() {
            info.platform = xks && settings.platform_namespaces.contains(name);
            info.tenant = xks
                && match &settings.tenant_namespaces {
                    Some(tenants) => tenants.contains(name),
                    None => info.has_workloads && !info.platform,
                };
            if xks {
                // The labels the platform puts on its namespaces (its Terraform).
                info.labels.insert(XKS_NAME_LABEL.to_string(), name.clone());
                if info.tenant {
                    info.labels
                        .insert(XKS_KIND_LABEL.to_string(), "tenant".to_string());
                } else if info.platform {
                    info.labels
                        .insert(XKS_KIND_LABEL.to_string(), "platform".to_string());
                }
            }
            if let Some(labels) = declared.get(name) {
                info.labels.extend(labels.iter());
            }
            info.labels
                .insert(METADATA_NAME_LABEL.to_string(), name.clone());
        }

        // Pod classes, in a canonical order whatever the input order.
        type ClassKey = (
            String,
            Labels,
            Vec<(String, Protocol, u16)>,
            Option<usize>,
            bool,
        );
        // Each workload's key and member are made on every core, then sorted and grouped:
        // the same classes, in the same key order, as a sorted map filled one by one.
        let mut keyed: Vec<(ClassKey, Member)> = model
            .objects
            .par_iter()
            .filter_map(|object| match &object.typed {
                Typed::Workload(workload) => Some((object, workload)),
                _ => None,
            })
            .map(|(object, workload)| {
                // hostNetwork pods use the node's address: policies neither select them nor
                // match them with pod selectors (the CNI's view), unless asked to treat them
                // as pods.
                let host_network = workload.host_network && !options.host_network_as_pods;
                let mut ports: Vec<(String, Protocol, u16)> = workload
                    .named_ports
                    .iter()
                    .filter_map(|p| {
                        let protocol = match &p.protocol {
                            Some(text) => Protocol::parse(text)?,
                            None => Protocol::Tcp,
                        };
                        let number = u16::try_from(p.container_port).ok()?;
                        Some((p.name.clone(), protocol, number))
                    })
                    .collect();
                ports.sort();
                ports.dedup();
                // Kept by the class: exactly its length, not the growth of `collect`.
                ports.shrink_to_fit();
                let key = (
                    object.namespace.to_string(),
                    workload.pod_labels().clone(),
                    ports,
                    None,
                    host_network,
                );
                let member = Member {
                    label: format!("{}/{}[{}]", object.namespace, object.name, object.kind),
                    object: Some(object.id),
                    endpoint: None,
                };
                (key, member)
            })
            .collect();
        if xks {
            for (i, endpoint) in settings.endpoints.iter().enumerate() {
                let mut ports = endpoint.ports.clone();
                ports.sort();
                let key = (
                    endpoint.namespace.clone(),
                    endpoint.pod_labels.clone(),
                    ports,
                    Some(i),
                    false,
                );
                let member = Member {
                    label: format!("{{{}}}", endpoint.id),
                    object: None,
                    endpoint: Some(i),
                };
                keyed.push((key, member));
            }
        }
        // Members of a class are sorted below, so equal keys need no stable order here.
        keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Each run of equal keys is one class, built on every core (the key and members
        // are taken out of the sorted list, not copied).
        let classes: Vec<PodClass> = keyed
            .par_chunk_by_mut(|a, b| a.0 == b.0)
            .map(|run| {
                let mut members: Vec<Member> =
                    run.iter_mut().map(|(_, m)| std::mem::take(m)).collect();
                members.sort();
                let (namespace, labels, ports, endpoint, host_network) = run
                    .first_mut()
                    .map(|(key, _)| std::mem::take(key))
                    .unwrap_or_default();
                PodClass {
                    namespace,
                    labels,
                    ports,
                    members,
                    endpoint,
                    host_network,
                }
            })
            .collect();
        drop(keyed);
        // Per object id, its class: ids are dense (indexes into the model's objects).
        let mut class_of_object = vec![NO_CLASS; model.objects.len()];
        for (c, class) in classes.iter().enumerate() {
            for object in class.members.iter().filter_map(|m| m.object) {
                if let Some(slot) = class_of_object.get_mut(object.0) {
                    *slot = u32::try_from(c).unwrap_or(NO_CLASS);
                }
            }
        }
        // Namespaces by index; classes are sorted by namespace, so each namespace's are a run.
        let namespace_index: FastMap<String, usize> = namespaces
            .keys()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let mut namespace_classes = vec![0..0; namespaces.len()];
        let mut namespace_has_host = vec![false; namespaces.len()];
        let mut host_classes = Vec::new();
        let mut class_namespace = Vec::with_capacity(classes.len());
        for (c, class) in classes.iter().enumerate() {
            let ns = namespace_index.get(&class.namespace).copied().unwrap_or(0);
            class_namespace.push(ns);
            if class.host_network {
                host_classes.push(c);
                if let Some(flag) = namespace_has_host.get_mut(ns) {
                    *flag = true;
                }
            }
            let run = &mut namespace_classes[ns];
            if run.start == run.end {
                *run = c..c + 1;
            } else {
                run.end = c + 1;
            }
        }
        // Each namespace's label index from its own run of classes, on every core.
        let label_index: Vec<FastMap<EcoString, FastMap<EcoString, Vec<usize>>>> =
            namespace_classes
                .par_iter()
                .map(|run| {
                    let mut index: FastMap<EcoString, FastMap<EcoString, Vec<usize>>> =
                        FastMap::default();
                    for c in run.clone() {
                        for (key, value) in &classes[c].labels {
                            index
                                .entry(EcoString::from(key))
                                .or_default()
                                .entry(EcoString::from(value))
                                .or_default()
                                .push(c);
                        }
                    }
                    // Most label values are on one class, pushed into room for four.
                    for by_value in index.values_mut() {
                        by_value.values_mut().for_each(Vec::shrink_to_fit);
                    }
                    index
                })
                .collect();

        // Policies: the repository's, in a canonical order, then XKS's implicit ones.
        let mut repo_policies: Vec<_> = model
            .objects
            .par_iter()
            .filter_map(|o| match &o.typed {
                Typed::NetworkPolicy(spec) => Some((o, spec)),
                _ => None,
            })
            .collect();
        repo_policies.par_sort_by(|(a, _), (b, _)| {
            (&a.namespace, &a.name, a.file, a.document, a.item).cmp(&(
                &b.namespace,
                &b.name,
                b.file,
                b.document,
                b.item,
            ))
        });
        // Each policy compiles on its own (in parallel, collected in order); its rules are
        // then numbered after those of the policies before it. Equal selectors and `ports`
        // lists are shared as they are compiled, never held once per rule.
        let interner = PolicyInterner::default();
        let compiled: Vec<(policy::Policy, Vec<policy::PolicyRule>)> = repo_policies
            .par_iter()
            .enumerate()
            .map(|(index, (object, spec))| {
                let mut own_rules = Vec::new();
                let compiled =
                    policy::compile_repo_policy(object, spec, index, &mut own_rules, &interner);
                (compiled, own_rules)
            })
            .collect();
        // The platform's policies (each tenant's default deny and allowances) are compiled
        // the same way, after the repository's, so both lists are sized once: pushing the
        // platform's rules onto a list sized for the repository's alone doubled it.
        let mut platform: Vec<(policy::Policy, Vec<policy::PolicyRule>)> = Vec::new();
        if xks {
            let tenants: Vec<&String> = namespaces
                .iter()
                .filter(|(_, info)| info.tenant)
                .map(|(name, _)| name)
                .collect();
            // Namespaces holding a default-deny of their own: one pass, not one per namespace.
            let with_default_deny: crate::hashing::FastSet<&str> = repo_policies
                .iter()
                .filter(|(o, _)| {
                    o.name == settings.default_deny_name
                        || settings.default_deny_names.iter().any(|n| *n == o.name)
                })
                .map(|(o, _)| o.namespace.as_str())
                .collect();
            // (namespace, name) of the repository's policies: which allowances a namespace
            // already has is a lookup, not a scan of every policy per namespace.
            let repo_names: crate::hashing::FastSet<(&str, &str)> = repo_policies
                .iter()
                .map(|(o, _)| (o.namespace.as_str(), o.name.as_str()))
                .collect();
            for namespace in tenants {
                let present = with_default_deny.contains(namespace.as_str());
                if !present {
                    let index = compiled.len() + platform.len();
                    let mut own_rules = Vec::new();
                    let policy = policy::xks_default_deny(
                        namespace,
                        settings,
                        index,
                        &mut own_rules,
                        &interner,
                    );
                    platform.push((policy, own_rules));
                }
                for allowance in &settings.allowances {
                    let present =
                        repo_names.contains(&(namespace.as_str(), allowance.policy_name.as_str()));
                    if !present {
                        let index = compiled.len() + platform.len();
                        let mut own_rules = Vec::new();
                        let policy = policy::xks_allowance(
                            namespace,
                            allowance,
                            index,
                            &mut own_rules,
                            &interner,
                        );
                        platform.push((policy, own_rules));
                    }
                }
            }
        }
        let rule_count = compiled
            .iter()
            .chain(&platform)
            .map(|(_, own)| own.len())
            .sum();
        let mut policies = Vec::with_capacity(compiled.len() + platform.len());
        let mut rules = Vec::with_capacity(rule_count);
        for (mut compiled, own_rules) in compiled.into_iter().chain(platform) {
            let offset = rules.len();
            for id in &mut compiled.rules {
                *id += offset;
            }
            rules.extend(own_rules);
            policies.push(compiled);
        }

        let mut admin = admin::AdminSet::compile(model);

        // IP segments.
        let mut ranges: Vec<IpRange> = admin.ranges().collect();
        for rule in &rules {
            for peer in rule.peers.iter().flatten() {
                if let PeerKind::Ip(block) = &peer.kind {
                    ranges.extend(block.parts.iter().copied());
                }
            }
        }
        let segments = ip::partition(&ranges);
        admin.index(&namespaces, &classes, &segments, &options.xks.node_cidrs);

        // Which policies select which classes.
        let n = classes.len();
        let mut graph = Graph {
            options: options.clone(),
            namespaces,
            classes,
            policies,
            rules,
            admin,
            segments,
            host_classes,
            namespace_has_host,
            policy_classes: Vec::new(),
            class_policies: Vec::new(),
            namespace_classes,
            namespace_index,
            class_namespace,
            label_index,
            rule_first_peer: Vec::new(),
            peer_namespace_set: Vec::new(),
            namespace_sets: Vec::new(),
            class_of_object,
            ingress_rules: vec![Vec::new(); n],
            egress_rules: vec![Vec::new(); n],
            isolated_ingress: vec![false; n],
            isolated_egress: vec![false; n],
            rule_fixed: Vec::new(),
            fixed_conns: Vec::new(),
            class_port_list: Vec::new(),
            rule_named: Vec::new(),
            named_rows: Vec::new(),
        };
        let selections: Vec<Vec<usize>> = graph
            .policies
            .par_iter()
            .map(|policy| graph.classes_matching(&policy.namespace, &policy.pod_selector))
            .collect();
        // Per class, the policies selecting it in policy order; then, from those alone, its
        // isolation and its rules per direction, every class on its own core. (Pushed one by
        // one into hundreds of thousands of lists, then shrunk, this was the longest stretch
        // of the build on one thread.)
        let mut selecting: Vec<(usize, usize)> = selections
            .iter()
            .enumerate()
            .flat_map(|(p, selected)| selected.iter().map(move |&c| (c, p)))
            .collect();
        selecting.par_sort_unstable();
        let mut class_policies = vec![Vec::new(); n];
        for run in selecting.chunk_by(|a, b| a.0 == b.0) {
            if let Some(list) = run.first().and_then(|&(c, _)| class_policies.get_mut(c)) {
                *list = run.iter().map(|&(_, p)| p).collect();
            }
        }
        drop(selecting);
        let per_class: Vec<ClassRules> = class_policies
            .par_iter()
            .map(|policies| {
                let mut class = ClassRules::default();
                for policy in policies.iter().filter_map(|&p| graph.policies.get(p)) {
                    class.isolated_ingress |= policy.isolates_ingress;
                    class.isolated_egress |= policy.isolates_egress;
                    for &r in &policy.rules {
                        match graph.rules[r].direction {
                            policy::Direction::Ingress if policy.isolates_ingress => {
                                class.ingress.push(r)
                            }
                            policy::Direction::Egress if policy.isolates_egress => {
                                class.egress.push(r)
                            }
                            _ => {}
                        }
                    }
                }
                // Kept for the graph's life: exactly their length.
                class.ingress.shrink_to_fit();
                class.egress.shrink_to_fit();
                class
            })
            .collect();
        for (c, class) in per_class.into_iter().enumerate() {
            graph.isolated_ingress[c] = class.isolated_ingress;
            graph.isolated_egress[c] = class.isolated_egress;
            graph.ingress_rules[c] = class.ingress;
            graph.egress_rules[c] = class.egress;
        }
        graph.policy_classes = selections;
        graph.class_policies = class_policies;

        // Per distinct namespace selector of the peers, the namespaces it matches: the only
        // set computed ahead; which pods a peer matches is evaluated when asked.
        let namespace_count = graph.namespaces.len();
        // Namespace label index (key → value → namespaces): a selector pinning `name` finds
        // its namespace without asking every namespace, for every peer.
        let mut namespace_labels: FastMap<&str, FastMap<&str, Vec<usize>>> = FastMap::default();
        let mut namespace_label_sets: Vec<&Labels> = Vec::with_capacity(namespace_count);
        for (i, info) in graph.namespaces.values().enumerate() {
            namespace_label_sets.push(&info.labels);
            for (key, value) in &info.labels {
                namespace_labels
                    .entry(key)
                    .or_default()
                    .entry(value)
                    .or_default()
                    .push(i);
            }
        }
        let namespace_labels = (namespace_labels, namespace_label_sets);
        // Selectors are interned, so equal ones are one allocation: its address is the key.
        let mut set_of_selector: FastMap<*const Selector, u32> = FastMap::default();
        let mut distinct_selectors: Vec<&Selector> = Vec::new();
        let mut rule_first_peer = Vec::with_capacity(graph.rules.len());
        let mut peer_namespace_set = Vec::new();
        for rule in &graph.rules {
            rule_first_peer.push(u32::try_from(peer_namespace_set.len()).unwrap_or(u32::MAX));
            for peer in rule.peers.iter().flatten() {
                let set = match &peer.kind {
                    PeerKind::Pods {
                        namespaces: Some(selector),
                        ..
                    } => {
                        let next = u32::try_from(distinct_selectors.len()).unwrap_or(u32::MAX);
                        *set_of_selector
                            .entry(std::sync::Arc::as_ptr(selector))
                            .or_insert_with(|| {
                                distinct_selectors.push(selector);
                                next
                            })
                    }
                    _ => NO_NAMESPACE_SET,
                };
                peer_namespace_set.push(set);
            }
        }
        let namespace_sets: Vec<BitSet> = distinct_selectors
            .par_iter()
            .map(|selector| {
                let mut bits = BitSet::with_len(namespace_count);
                for i in namespaces_matching(&namespace_labels, namespace_count, selector) {
                    bits.insert(i);
                }
                bits
            })
            .collect();
        graph.rule_first_peer = rule_first_peer;
        graph.peer_namespace_set = peer_namespace_set;
        graph.namespace_sets = namespace_sets;
        // Connections of the rules without named ports, computed on every core, then kept
        // once per distinct set (numbered in rule order).
        let conns: Vec<Option<ConnSet>> = graph
            .rules
            .par_iter()
            .map(|r| (!r.has_named_ports()).then(|| r.conns_for(&[])))
            .collect();
        let mut fixed_ids: FastMap<ConnSet, u32> = FastMap::default();
        let mut fixed_conns: Vec<ConnSet> = Vec::new();
        graph.rule_fixed = conns
            .into_iter()
            .map(|conns| {
                let conns = conns?;
                let next = u32::try_from(fixed_conns.len()).ok()?;
                Some(*fixed_ids.entry(conns).or_insert_with_key(|conns| {
                    fixed_conns.push(conns.clone());
                    next
                }))
            })
            .collect();
        graph.fixed_conns = fixed_conns;
        // Named ports resolve per destination: once per distinct port list, not per pair.
        type PortList<'a> = &'a [(String, Protocol, u16)];
        let mut port_lists: FastMap<PortList, u32> = FastMap::default();
        let class_port_list: Vec<u32> = graph
            .classes
            .iter()
            .map(|c| {
                let next = u32::try_from(port_lists.len()).unwrap_or(u32::MAX);
                *port_lists.entry(c.ports.as_slice()).or_insert(next)
            })
            .collect();
        let mut lists: Vec<(PortList, u32)> = port_lists.into_iter().collect();
        lists.sort_by_key(|(_, id)| *id);
        let mut budget = MAX_NAMED_CACHE;
        // Rows by the rule's `ports` (what `conns_for` reads besides the port list).
        let mut rows: FastMap<&[policy::PortSpec], u32> = FastMap::default();
        let mut named_rows: Vec<Vec<ConnSet>> = Vec::new();
        let rule_named: Vec<Option<u32>> = graph
            .rules
            .iter()
            .zip(&graph.rule_fixed)
            .map(|(rule, fixed)| {
                let ports = match (fixed, &rule.ports) {
                    (None, Some(ports)) => &ports[..],
                    _ => return None,
                };
                if let Some(&row) = rows.get(ports) {
                    return Some(row);
                }
                if budget < lists.len() {
                    return None;
                }
                budget -= lists.len();
                let row = u32::try_from(named_rows.len()).ok()?;
                named_rows.push(lists.iter().map(|(list, _)| rule.conns_for(list)).collect());
                rows.insert(ports, row);
                Some(row)
            })
            .collect();
        graph.class_port_list = class_port_list;
        graph.rule_named = rule_named;
        graph.named_rows = named_rows;
        graph
    }
}
