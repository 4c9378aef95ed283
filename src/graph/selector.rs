//! Kubernetes label selectors: `matchLabels` and `matchExpressions`
//! (`In`, `NotIn`, `Exists`, `DoesNotExist`), all requirements ANDed.

use std::collections::BTreeMap;

use ecow::EcoString;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::model::specs::SelectorSpec;

use crate::model::validation::{is_label_key, is_label_value};

/// A label map of a pod or a namespace (see [`crate::model::specs::LabelMap`]).
pub type Labels = crate::model::specs::LabelMap;

/// The values of an `In` or `NotIn` requirement: sorted, without duplicates, in one
/// allocation of exactly their number (a selector is compiled per policy peer, so a
/// one-value set must not cost a B-tree node). Keys and values are `EcoString`s, as in
/// [`crate::model::specs::LabelMap`]: short ones inline, long ones shared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Values(Box<[EcoString]>);

impl Values {
    pub fn contains(&self, value: &str) -> bool {
        self.0.binary_search_by(|v| v.as_str().cmp(value)).is_ok()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// In sorted order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.iter().map(EcoString::as_str)
    }
}

impl<V: Into<EcoString>> FromIterator<V> for Values {
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Values {
        let mut values: Vec<EcoString> = iter.into_iter().map(Into::into).collect();
        values.sort_unstable();
        values.dedup();
        Values(values.into_boxed_slice())
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = &'a str;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, EcoString>, fn(&'a EcoString) -> &'a str>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(EcoString::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requirement {
    In(EcoString, Values),
    NotIn(EcoString, Values),
    Exists(EcoString),
    DoesNotExist(EcoString),
    /// An operator the API server rejects, or `In`/`NotIn` without values: such a
    /// policy cannot exist in a cluster, so the selector matches nothing.
    Invalid(String),
}

/// A compiled selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

impl Selector {
    pub fn everything() -> Selector {
        Selector::default()
    }

    pub fn from_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Selector {
        Selector {
            requirements: labels
                .into_iter()
                .map(|(k, v)| Requirement::In(k.into(), Values::from_iter([v])))
                .collect(),
        }
    }

    pub fn compile(selector: &LabelSelector) -> Selector {
        let no_labels = BTreeMap::new();
        Selector::compile_parts(
            selector
                .match_labels
                .as_ref()
                .unwrap_or(&no_labels)
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            selector.match_expressions.as_deref().unwrap_or_default(),
        )
    }

    /// A selector as the model keeps it (see [`crate::model::specs`]).
    pub fn compile_spec(selector: &SelectorSpec) -> Selector {
        Selector::compile_parts(selector.match_labels.iter(), &selector.match_expressions)
    }

    fn compile_parts<'a>(
        match_labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
        match_expressions: &[LabelSelectorRequirement],
    ) -> Selector {
        // Exactly one requirement per label and expression, allocated once.
        let mut requirements = Vec::with_capacity(match_labels.len() + match_expressions.len());
        for (key, value) in match_labels {
            // A label key or value the API server rejects cannot be on any pod, and the
            // policy holding it is rejected: the requirement matches nothing.
            if !is_label_key(key) || !is_label_value(value) {
                requirements.push(Requirement::Invalid(format!("{key}={value}")));
                continue;
            }
            requirements.push(Requirement::In(key.into(), Values::from_iter([value])));
        }
        for expression in match_expressions {
            let key = EcoString::from(expression.key.as_str());
            let values: Values = expression
                .values
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            if !is_label_key(&key) || !values.iter().all(is_label_value) {
                requirements.push(Requirement::Invalid(format!(
                    "{key} {}",
                    expression.operator
                )));
                continue;
            }
            requirements.push(match expression.operator.as_str() {
                "In" if !values.is_empty() => Requirement::In(key, values),
                "NotIn" if !values.is_empty() => Requirement::NotIn(key, values),
                "Exists" if values.is_empty() => Requirement::Exists(key),
                "DoesNotExist" if values.is_empty() => Requirement::DoesNotExist(key),
                other => Requirement::Invalid(format!("{key} {other}")),
            });
        }
        Selector { requirements }
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn is_valid(&self) -> bool {
        !self
            .requirements
            .iter()
            .any(|r| matches!(r, Requirement::Invalid(_)))
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::In(k, values) => labels.get(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => labels.get(k).is_none_or(|v| !values.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::Invalid(_) => false,
        })
    }

    /// The labels of a pure `matchLabels` selector (every requirement a single-value `In`).
    pub fn as_match_labels(&self) -> Option<Labels> {
        self.requirements
            .iter()
            .map(|r| match r {
                Requirement::In(k, values) if values.len() == 1 => values
                    .iter()
                    .next()
                    .map(|v| (k.clone(), EcoString::from(v))),
                _ => None,
            })
            .collect()
    }

    /// Values a key is pinned to (an `In` requirement), if any.
    pub fn pinned_values(&self, key: &str) -> Option<&Values> {
        self.requirements.iter().find_map(|r| match r {
            Requirement::In(k, values) if k == key => Some(values),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn every_operator() {
        let selector = Selector::compile(&LabelSelector {
            match_labels: Some(
                labels(&[("app", "web")])
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            match_expressions: Some(vec![
                expression("tier", "In", &["a", "b"]),
                expression("env", "NotIn", &["prod"]),
                expression("team", "Exists", &[]),
                expression("legacy", "DoesNotExist", &[]),
            ]),
        });
        let good = labels(&[("app", "web"), ("tier", "a"), ("team", "x")]);
        assert!(selector.matches(&good));
        let mut prod = good.clone();
        prod.insert("env", "prod");
        assert!(!selector.matches(&prod));
        let mut legacy = good.clone();
        legacy.insert("legacy", "");
        assert!(!selector.matches(&legacy));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "x")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "a")])));
    }

    #[test]
    fn empty_matches_all_and_invalid_matches_nothing() {
        assert!(Selector::compile(&LabelSelector::default()).matches(&Labels::new()));
        let invalid = Selector::compile(&LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expression("app", "Equals", &["x"])]),
        });
        assert!(!invalid.is_valid());
        assert!(!invalid.matches(&labels(&[("app", "x")])));
    }

    #[test]
    fn keys_and_values_the_api_server_rejects_match_nothing() {
        // NotIn would match a pod without the key; with a key no pod can carry, the
        // selector (and its policy) is rejected, so it matches nothing.
        let bad_key = Selector::compile(&LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expression("bad key!", "NotIn", &["x"])]),
        });
        assert!(!bad_key.matches(&labels(&[("app", "x")])));
        let bad_value = Selector::compile(&LabelSelector {
            match_labels: Some([("app".to_string(), "-web".to_string())].into()),
            match_expressions: None,
        });
        assert!(!bad_value.is_valid());
        assert!(!bad_value.matches(&labels(&[("app", "-web")])));
    }
}
