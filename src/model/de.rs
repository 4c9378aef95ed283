//! Typing straight from the YAML tree: a `serde::Deserializer` over [`Node`] that gives
//! every type exactly what decoding [`Node::to_json`]'s `serde_json::Value` gave it,
//! without building that value first.
//!
//! The same value: scalars resolve by YAML 1.1 ([`Scalar::resolve`]; tags and quoting
//! included); integers and finite floats become `serde_json::Number`s, non-finite floats
//! stay their text; mapping keys are their raw text (non-scalar keys are left out), in the
//! sorted order of a `serde_json::Map` with the last of repeated keys winning. The same
//! errors: the error type is `serde_json::Error` and every type mismatch is reported with
//! the `Unexpected` the `Value` deserializer would name, so messages (`invalid type:
//! string "x", expected i32`) and `serde_path_to_error` paths do not change.
//!
//! Recursion follows the tree, as `to_json` did: the parser bounds a document's depth
//! ([`crate::limits::MAX_DEPTH`]).

use serde::de::{
    self, DeserializeSeed, EnumAccess, Error as _, MapAccess, SeqAccess, Unexpected, VariantAccess,
    Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Number};
use smallvec::SmallVec;

use crate::load::yaml::{Node, NodeKind, Resolved, Scalar};

/// How a subtree is read, for the metadata leniency of `lenient_metadata` (labels and
/// annotations that are not strings are read as their JSON text, so the rest of the
/// object is still typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    /// A pod template: its `metadata` is read as [`Mode::Metadata`].
    Template,
    /// Object metadata: its `labels` and `annotations` mappings are lenient.
    Metadata,
    /// A mapping whose values are read as text whatever they are.
    LenientMap,
    /// A value read as text: a string as written, null as "", anything else as its JSON.
    LenientText,
}

impl Mode {
    fn child(self, key: &str, value: &Node) -> Mode {
        match self {
            Mode::Template if key == "metadata" => Mode::Metadata,
            Mode::Metadata
                if (key == "labels" || key == "annotations")
                    && matches!(value.kind, NodeKind::Map(_, _)) =>
            {
                Mode::LenientMap
            }
            Mode::LenientMap => Mode::LenientText,
            _ => Mode::Plain,
        }
    }
}

/// Deserializes `T` from `node` as from `node.to_json()`.
pub fn from_node<'de, T: serde::Deserialize<'de>>(node: &'de Node, mode: Mode) -> Result<T, Error> {
    T::deserialize(NodeDeserializer { node, mode })
}

#[derive(Clone, Copy)]
pub struct NodeDeserializer<'de> {
    node: &'de Node,
    mode: Mode,
}

impl<'de> NodeDeserializer<'de> {
    pub fn new(node: &'de Node, mode: Mode) -> Self {
        NodeDeserializer { node, mode }
    }

    fn value(&self) -> Value<'de> {
        if self.mode == Mode::LenientText {
            return match Value::of(self.node) {
                Value::Str(text) => Value::Str(text),
                Value::Null => Value::Str(""),
                _ => Value::Owned(self.node.to_json().to_string()),
            };
        }
        Value::of(self.node)
    }
}

/// The string `to_json` makes of `node`, if it makes a string of it.
pub fn json_str(node: &Node) -> Option<&str> {
    match Value::of(node) {
        Value::Str(text) => Some(text),
        _ => None,
    }
}

/// The integer `to_json` makes of `node`, if it makes an integer of it.
pub fn json_int(node: &Node) -> Option<i64> {
    match &node.kind {
        NodeKind::Scalar {
            value, style, tag, ..
        } => match Scalar::of(value, style, tag).resolve() {
            Resolved::Int(number) => Some(number),
            _ => None,
        },
        _ => None,
    }
}

/// The boolean `to_json` makes of `node`, if it makes a boolean of it.
pub fn json_bool(node: &Node) -> Option<bool> {
    match Value::of(node) {
        Value::Bool(b) => Some(b),
        _ => None,
    }
}

/// Whether `to_json` makes null of `node`.
pub fn json_is_null(node: &Node) -> bool {
    matches!(Value::of(node), Value::Null)
}

/// What `to_json` makes of a node, without copying it.
enum Value<'de> {
    Null,
    Bool(bool),
    Number(Number),
    Str(&'de str),
    Owned(String),
    Seq(&'de [Node]),
    Map(&'de [(Node, Node)]),
}

impl<'de> Value<'de> {
    fn of(node: &'de Node) -> Value<'de> {
        match &node.kind {
            NodeKind::Scalar {
                value, style, tag, ..
            } => match Scalar::of(value, style, tag).resolve() {
                Resolved::Null => Value::Null,
                Resolved::Bool(b) => Value::Bool(b),
                Resolved::Int(i) => Value::Number(Number::from(i)),
                Resolved::Float(f) => match Number::from_f64(f) {
                    Some(number) => Value::Number(number),
                    None => Value::Str(value.as_str()),
                },
                Resolved::Str => Value::Str(value.as_str()),
            },
            NodeKind::Seq(items, _) => Value::Seq(items),
            NodeKind::Map(entries, _) => Value::Map(entries),
        }
    }

    /// As `serde_json::Value::unexpected` names it.
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Unexpected::Unsigned(u)
                } else if let Some(i) = n.as_i64() {
                    Unexpected::Signed(i)
                } else {
                    Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::Str(s) => Unexpected::Str(s),
            Value::Owned(s) => Unexpected::Str(s),
            Value::Seq(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }

    fn invalid_type(&self, expected: &dyn de::Expected) -> Error {
        Error::invalid_type(self.unexpected(), expected)
    }
}

/// A mapping's entries as a `serde_json::Map` holds them: keyed by the raw text of scalar
/// keys, sorted, the last of repeated keys kept.
fn json_entries(entries: &[(Node, Node)]) -> SmallVec<[(&str, &Node); 8]> {
    let mut out: SmallVec<[(&str, &Node); 8]> = entries
        .iter()
        .filter_map(|(key, value)| Some((key.as_scalar()?.value.as_str(), value)))
        .collect();
    if !out.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        // Stable: repeated keys stay in document order, and the last one replaces the rest.
        out.sort_by(|a, b| a.0.cmp(b.0));
        out.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                *earlier = *later;
            }
            same
        });
    }
    out
}

fn visit_seq<'de, V: Visitor<'de>>(items: &'de [Node], visitor: V) -> Result<V::Value, Error> {
    let mut access = NodeSeq {
        items: items.iter(),
    };
    let value = visitor.visit_seq(&mut access)?;
    if access.items.len() == 0 {
        Ok(value)
    } else {
        Err(Error::invalid_length(
            items.len(),
            &"fewer elements in array",
        ))
    }
}

fn visit_map<'de, V: Visitor<'de>>(
    entries: &'de [(Node, Node)],
    mode: Mode,
    visitor: V,
) -> Result<V::Value, Error> {
    let entries = json_entries(entries);
    let len = entries.len();
    let mut access = NodeMap {
        entries: entries.into_iter(),
        value: None,
        mode,
    };
    let value = visitor.visit_map(&mut access)?;
    if access.entries.len() == 0 {
        Ok(value)
    } else {
        Err(Error::invalid_length(len, &"fewer elements in map"))
    }
}

fn visit_str<'de, V: Visitor<'de>>(value: Value<'de>, visitor: V) -> Result<V::Value, Error> {
    match value {
        Value::Str(s) => visitor.visit_borrowed_str(s),
        Value::Owned(s) => visitor.visit_string(s),
        other => Err(other.invalid_type(&visitor)),
    }
}

macro_rules! deserialize_number {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.value() {
                Value::Number(n) => n.deserialize_any(visitor),
                other => Err(other.invalid_type(&visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => n.deserialize_any(visitor),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Owned(s) => visitor.visit_string(s),
            Value::Seq(items) => visit_seq(items, visitor),
            Value::Map(entries) => visit_map(entries, self.mode, visitor),
        }
    }

    deserialize_number!(
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value() {
            Value::Map(entries) => {
                let entries = json_entries(entries);
                match entries.as_slice() {
                    [(variant, value)] => visitor.visit_enum(NodeEnum {
                        variant: Variant::Borrowed(variant),
                        value: Some(value),
                    }),
                    _ => Err(Error::invalid_value(
                        Unexpected::Map,
                        &"map with a single key",
                    )),
                }
            }
            Value::Str(s) => visitor.visit_enum(NodeEnum {
                variant: Variant::Borrowed(s),
                value: None,
            }),
            Value::Owned(s) => visitor.visit_enum(NodeEnum {
                variant: Variant::Owned(s),
                value: None,
            }),
            other => Err(Error::invalid_type(other.unexpected(), &"string or map")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            Value::Bool(b) => visitor.visit_bool(b),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visit_str(self.value(), visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visit_str(self.value(), visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visit_str(self.value(), visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visit_str(self.value(), visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            Value::Seq(items) => visit_seq(items, visitor),
            other => visit_str(other, visitor),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            Value::Null => visitor.visit_unit(),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            Value::Seq(items) => visit_seq(items, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            Value::Map(entries) => visit_map(entries, self.mode, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value() {
            Value::Seq(items) => visit_seq(items, visitor),
            Value::Map(entries) => visit_map(entries, self.mode, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct NodeSeq<'de> {
    items: std::slice::Iter<'de, Node>,
}

impl<'de> SeqAccess<'de> for NodeSeq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(NodeDeserializer::new(node, Mode::Plain))
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct NodeMap<'de> {
    entries: smallvec::IntoIter<[(&'de str, &'de Node); 8]>,
    value: Option<(&'de str, &'de Node)>,
    mode: Mode,
}

impl<'de> MapAccess<'de> for NodeMap<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some((key, value));
                seed.deserialize(KeyDeserializer { key }).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        match self.value.take() {
            Some((key, node)) => {
                seed.deserialize(NodeDeserializer::new(node, self.mode.child(key, node)))
            }
            None => Err(Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A variant name of an externally tagged enum.
enum Variant<'de> {
    Borrowed(&'de str),
    Owned(String),
}

struct NodeEnum<'de> {
    variant: Variant<'de>,
    value: Option<&'de Node>,
}

impl<'de> EnumAccess<'de> for NodeEnum<'de> {
    type Error = Error;
    type Variant = NodeVariant<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeVariant<'de>), Error> {
        let variant = match self.variant {
            Variant::Borrowed(name) => {
                seed.deserialize(de::value::BorrowedStrDeserializer::<Error>::new(name))?
            }
            Variant::Owned(name) => {
                seed.deserialize(de::value::StringDeserializer::<Error>::new(name))?
            }
        };
        Ok((variant, NodeVariant { value: self.value }))
    }
}

struct NodeVariant<'de> {
    value: Option<&'de Node>,
}

impl<'de> VariantAccess<'de> for NodeVariant<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            Some(node) => serde::Deserialize::deserialize(NodeDeserializer::new(node, Mode::Plain)),
            None => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.value {
            Some(node) => seed.deserialize(NodeDeserializer::new(node, Mode::Plain)),
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.value.map(Value::of) {
            Some(Value::Seq([])) => visitor.visit_unit(),
            Some(Value::Seq(items)) => visit_seq(items, visitor),
            Some(other) => Err(Error::invalid_type(other.unexpected(), &"tuple variant")),
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value.map(Value::of) {
            Some(Value::Map(entries)) => visit_map(entries, Mode::Plain, visitor),
            Some(other) => Err(Error::invalid_type(other.unexpected(), &"struct variant")),
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

/// A mapping key: its text, as serde_json's map keys are read (numbers and booleans
/// parsed from the text when the type asks for one).
struct KeyDeserializer<'de> {
    key: &'de str,
}

macro_rules! deserialize_numeric_key {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            if !self
                .key
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'-')
            {
                return Err(Error::custom(
                    "invalid value: expected key to be a number in quotes",
                ));
            }
            let mut parser = serde_json::Deserializer::from_str(self.key);
            let number = de::Deserializer::$method(&mut parser, visitor)?;
            parser.end().map_err(|_| {
                Error::custom("invalid value: expected key to be a number in quotes")
            })?;
            Ok(number)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for KeyDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.key)
    }

    deserialize_numeric_key!(
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    );

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.key {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(Error::invalid_type(Unexpected::Str(other), &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let key: de::value::BorrowedStrDeserializer<'de, Error> =
            de::value::BorrowedStrDeserializer::new(self.key);
        de::Deserializer::deserialize_enum(key, name, variants, visitor)
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct
        map struct identifier ignored_any
    }
}

/// A label or annotation value as the metadata leniency reads it: a string as written,
/// null as "", anything else as its JSON text.
pub fn lenient_text(node: &Node) -> String {
    match Value::of(node) {
        Value::Str(text) => text.to_string(),
        Value::Null => String::new(),
        _ => node.to_json().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_stream;
    use k8s_openapi::api::core::v1::{NamespaceSpec, PodSpec, PodTemplateSpec, ServiceSpec};
    use k8s_openapi::api::networking::v1::{IngressSpec, NetworkPolicySpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;

    type Outcome = Result<String, (String, String)>;

    /// The reference: what typing did before, through `to_json` and a `Value`, with the
    /// metadata leniency applied to the `Value`.
    fn through_json<T: DeserializeOwned + std::fmt::Debug>(node: &Node, mode: Mode) -> Outcome {
        fn lenient(mut meta: serde_json::Value) -> serde_json::Value {
            for field in ["labels", "annotations"] {
                if let Some(serde_json::Value::Object(map)) = meta.get_mut(field) {
                    for value in map.values_mut() {
                        let text = match &*value {
                            serde_json::Value::String(_) => continue,
                            serde_json::Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        *value = serde_json::Value::String(text);
                    }
                }
            }
            meta
        }
        let mut json = node.to_json();
        match mode {
            Mode::Metadata => json = lenient(json),
            Mode::Template => {
                if let Some(meta) = json.get_mut("metadata") {
                    *meta = lenient(meta.take());
                }
            }
            _ => {}
        }
        serde_path_to_error::deserialize::<_, T>(json)
            .map(|value| format!("{value:?}"))
            .map_err(|e| (e.inner().to_string(), e.path().to_string()))
    }

    fn from_tree<T: DeserializeOwned + std::fmt::Debug>(node: &Node, mode: Mode) -> Outcome {
        let direct = from_node::<T>(node, mode).map(|value| format!("{value:?}"));
        let tracked = serde_path_to_error::deserialize::<_, T>(NodeDeserializer::new(node, mode))
            .map(|value| format!("{value:?}"))
            .map_err(|e| (e.inner().to_string(), e.path().to_string()));
        assert_eq!(
            direct.as_ref().map_err(|e| e.to_string()),
            tracked.as_ref().map_err(|(m, _)| m.clone()),
            "tracking the path changes nothing"
        );
        tracked
    }

    /// Whether a direct reading took `node`; when it did, what it read must be what
    /// decoding as `K` (in `mode`) and converting give, and decoding must succeed.
    fn read_as_decoded<K, M>(
        node: &Node,
        mode: Mode,
        direct: Option<M>,
        convert: impl FnOnce(K) -> M,
    ) -> bool
    where
        K: DeserializeOwned,
        M: PartialEq + std::fmt::Debug,
    {
        let Some(direct) = direct else {
            return false;
        };
        let decoded = from_node::<K>(node, mode);
        assert!(
            decoded.is_ok(),
            "read directly but decoding fails: {:?} from {:?}",
            decoded.err().map(|e| e.to_string()),
            node.to_json()
        );
        if let Ok(decoded) = decoded {
            assert_eq!(direct, convert(decoded), "{:?}", node.to_json());
        }
        true
    }

    /// Whether the direct reading of a NetworkPolicy spec took `node` (an Ingress spec's
    /// is held to decoding the same way).
    fn direct_agrees(node: &Node) -> bool {
        let ingress = crate::model::direct::ingress_spec(node);
        read_as_decoded::<IngressSpec, _>(node, Mode::Plain, ingress, From::from);
        let policy = crate::model::direct::policy_spec(node);
        read_as_decoded::<NetworkPolicySpec, _>(node, Mode::Plain, policy, From::from)
    }

    /// Whether the direct reading of a pod template took `node`: the workload read must be
    /// the one the decoded template gives.
    fn template_agrees(node: &Node) -> bool {
        use crate::model::{Workload, WorkloadKind::Deployment};
        let direct = crate::model::direct::pod_template(node)
            .map(|parts| Workload::from_parts(Deployment, parts));
        read_as_decoded::<PodTemplateSpec, _>(node, Mode::Template, direct, |template| {
            Workload::of(Deployment, template)
        })
    }

    /// Each of `odds` (a document's text) is refused by the direct reading `reads`, and
    /// decodes as through JSON.
    fn refused_and_decoded(odds: &[&str], reads: impl Fn(&Node) -> bool) {
        for odd in odds {
            let root = &documents(odd)[0];
            assert!(!reads(root), "{odd}");
            same_both_ways(root);
        }
    }

    /// Every type the model decodes, both ways, for `node`; the number of decodes that
    /// succeeded (so tests can check they exercise both outcomes).
    fn same_both_ways(node: &Node) -> usize {
        direct_agrees(node);
        template_agrees(node);
        if crate::model::direct::plain_metadata(node) {
            let decoded = from_node::<ObjectMeta>(node, Mode::Metadata);
            assert!(
                decoded.is_ok(),
                "plain metadata fails to decode: {:?} from {:?}",
                decoded.err().map(|e| e.to_string()),
                node.to_json()
            );
        }
        let mut ok = 0;
        macro_rules! check {
            ($($ty:ty => $mode:expr),* $(,)?) => {$(
                let expected = through_json::<$ty>(node, $mode);
                assert_eq!(
                    from_tree::<$ty>(node, $mode),
                    expected,
                    "{} from {:?}",
                    stringify!($ty),
                    node.to_json()
                );
                ok += usize::from(expected.is_ok());
            )*};
        }
        check!(
            serde_json::Value => Mode::Plain,
            ObjectMeta => Mode::Metadata,
            PodTemplateSpec => Mode::Template,
            PodSpec => Mode::Plain,
            ServiceSpec => Mode::Plain,
            NetworkPolicySpec => Mode::Plain,
            IngressSpec => Mode::Plain,
            NamespaceSpec => Mode::Plain,
            crate::model::crd::CertificateSpec => Mode::Plain,
            crate::model::crd::IssuerSpec => Mode::Plain,
            crate::model::crd::GatewaySpec => Mode::Plain,
            crate::model::crd::HttpRouteSpec => Mode::Plain,
            std::collections::BTreeMap<String, serde_json::Value> => Mode::Plain,
            std::collections::BTreeMap<u16, String> => Mode::Plain,
            Vec<Option<bool>> => Mode::Plain,
            (i64, f64) => Mode::Plain,
        );
        ok
    }

    fn documents(text: &str) -> Vec<Node> {
        parse_stream(text)
            .documents
            .into_iter()
            .map(|d| d.root)
            .collect()
    }

    /// Values YAML 1.1 reads in surprising ways, and values of each JSON type.
    const SCALARS: &[&str] = &[
        "yes",
        "Off",
        "y",
        "~",
        "null",
        "",
        "0755",
        "0x1f",
        "0o17",
        "0b101",
        "1_000",
        "-42",
        "+7",
        "1.5",
        "1e3",
        "-.inf",
        ".nan",
        ".NaN",
        "1e400",
        "08",
        "99999999999999999999",
        "-9223372036854775809",
        "100m",
        "1.2.3",
        "TCP",
        "UDP",
        "http",
        "80",
        "65536",
        "-1",
        "'10'",
        "\"yes\"",
        "!!str 10",
        "!!int 7",
        "!!null x",
        "!!bool yes",
        "!custom v",
        "true",
        "x",
        "[]",
        "{}",
        "[80, http]",
        "{a: 1}",
        "[{name: http, port: 80}]",
        "2024-01-01T00:00:00Z",
        "{1: a, 2: b}",
        "{true: a}",
        "[1, 2]",
    ];

    /// The objects typing sees, each kind with fields of every shape.
    const BASES: &str = r#"
metadata: {name: a, labels: {app: web, n: 10, b: yes, f: 1.50, z: ~, l: [1]}, annotations: {x: {y: 1}}, generation: 3}
spec:
  hostNetwork: true
  containers:
    - name: c
      image: i
      ports: [{name: http, containerPort: 8080, protocol: TCP}, {containerPort: 9090}]
      resources: {requests: {cpu: 100m, memory: 1Gi}}
      env: [{name: A, value: "1"}, {name: B, valueFrom: {secretKeyRef: {name: s, key: k}}}]
      readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 5}
      livenessProbe: {tcpSocket: {port: 8080}, failureThreshold: 3}
      securityContext: {runAsNonRoot: true, runAsUser: 1000, capabilities: {drop: [ALL]}}
      volumeMounts: [{name: v, mountPath: /etc/v, readOnly: true}]
  securityContext: {fsGroup: 2000, seccompProfile: {type: RuntimeDefault}}
  volumes: [{name: v, configMap: {name: c, defaultMode: 420}}, {name: e, emptyDir: {}}]
  initContainers: [{name: i, image: i, command: [sh, -c, "true"]}]
---
type: ClusterIP
selector: {app: web}
ports: [{name: http, port: 80, targetPort: http}, {port: 443, targetPort: 8443, protocol: TCP}]
---
podSelector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: In, values: [a]}]}
policyTypes: [Ingress, Egress]
ingress: [{from: [{namespaceSelector: {matchLabels: {name: x}}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}], ports: [{port: 80}, {port: http, endPort: 90}]}]
egress: [{to: [{podSelector: {}}]}]
---
ingressClassName: nginx
rules: [{host: a.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]
tls: [{hosts: [a.example.com], secretName: t}]
---
secretName: s
dnsNames: [a.example.com]
issuerRef: {name: le, kind: ClusterIssuer}
acme: {server: https://acme.example.com, solvers: [{http01: {ingress: {class: nginx}}}]}
gatewayClassName: g
listeners: [{name: https, port: 443, protocol: HTTPS, hostname: a.example.com, tls: {certificateRefs: [{name: c}]}}]
parentRefs: [{name: gw, sectionName: https}]
hostnames: [a.example.com]
---
finalizers: [kubernetes]
"#;

    #[test]
    #[allow(clippy::disallowed_macros)] // a skipped test says so on the test output
    fn real_manifests_decode_as_through_json() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        if !corpus.is_dir() {
            eprintln!("SKIPPED: corpus {} is not present", corpus.display());
            return;
        }
        let mut pending = vec![corpus];
        let (mut nodes, mut decoded, mut direct, mut templates) = (0, 0, 0, 0);
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
                    && let Ok(text) = std::fs::read_to_string(&path)
                {
                    for root in documents(&text) {
                        for node in [Some(&root), root.get("metadata"), root.get("spec")]
                            .into_iter()
                            .flatten()
                            .chain(root.path(&["spec", "template"]))
                        {
                            nodes += 1;
                            decoded += same_both_ways(node);
                            direct += usize::from(direct_agrees(node));
                            templates += usize::from(template_agrees(node));
                        }
                    }
                }
            }
        }
        assert!(
            nodes > 500 && decoded > nodes && direct > 20 && templates > 20,
            "{nodes} nodes, {decoded} decodes, {direct} specs and {templates} templates read directly"
        );
    }

    #[test]
    fn a_plain_policy_is_read_directly_and_an_odd_one_is_decoded() {
        let bases = documents(BASES);
        assert!(direct_agrees(&bases[2]), "the base NetworkPolicy spec");
        assert!(
            crate::model::direct::ingress_spec(&bases[3])
                .is_some_and(|spec| spec.path_backends.len() == 1),
            "the base Ingress spec"
        );
        refused_and_decoded(
            &[
                "rules: [{http: {paths: [{backend: {service: {port: {number: x}}}}]}}]\n",
                "rules: [{http: {paths: [{pathType: 1}]}}]\n",
                "rules: [{host: [a]}]\n",
                "defaultBackend: {resource: {kind: [x]}}\n",
                "tls: [{hosts: a}]\n",
                "rules: {http: {}}\n",
            ],
            |root| crate::model::direct::ingress_spec(root).is_some(),
        );
        let metadata = bases[0].get("metadata");
        assert!(metadata.is_some_and(crate::model::direct::plain_metadata));
        for odd in [
            "{name: 1}",
            "{name: [a]}",
            "{labels: x}",
            "{generation: x}",
            "{finalizers: [1]}",
            "{creationTimestamp: yesterday}",
        ] {
            let root = &documents(&format!("metadata: {odd}\n"))[0];
            let metadata = root.get("metadata");
            assert!(
                metadata.is_some_and(|m| !crate::model::direct::plain_metadata(m)),
                "{odd}"
            );
            if let Some(metadata) = metadata {
                same_both_ways(metadata);
            }
        }
        refused_and_decoded(
            &[
                "ingress: [{ports: [{port: 1.5}]}]\n",
                "ingress: [{ports: [{port: 99999999999}]}]\n",
                "egress: [{ports: [{endPort: x}]}]\n",
                "podSelector: {matchLabels: {a: yes}}\n",
                "podSelector: {matchLabels: {a: 1}}\n",
                "podSelector: [{matchLabels: {a: b}}]\n",
                "policyTypes: Ingress\n",
                "egress: [{to: [{ipBlock: {cidr: [10.0.0.0/8]}}]}]\n",
                "podSelector:\n  matchLabels:\n    ? [a]\n    : b\n",
            ],
            |root| crate::model::direct::policy_spec(root).is_some(),
        );
    }

    #[test]
    fn a_plain_pod_template_is_read_directly_and_an_odd_one_is_decoded() {
        let bases = documents(BASES);
        assert!(template_agrees(&bases[0]), "the base pod template");
        let parts = crate::model::direct::pod_template(&bases[0]);
        assert!(parts.is_some_and(|p| p.host_network && p.named_ports.len() == 1));
        refused_and_decoded(
            &[
                "spec: {containers: [{name: c, ports: [{containerPort: x}]}]}\n",
                "spec: {containers: [{name: c, ports: [{containerPort: 99999999999}]}]}\n",
                "spec: {containers: [{name: c, resources: {limits: {cpu: 1}}}]}\n",
                "spec: {containers: [{name: c, env: [{name: a, valueFrom: {fileKeyRef: {}}}]}]}\n",
                "spec: {containers: [{name: c, lifecycle: {}}]}\n",
                "spec: {containers: [{name: c, livenessProbe: {httpGet: {port: 1.5}}}]}\n",
                "spec: {affinity: {}}\n",
                "spec: {containers: [{name: c, args: [~]}]}\n",
                "spec: {containers: [{name: [c]}]}\n",
                "spec: {containers: [{name: c, args: [1]}]}\n",
                "spec: {containers: {name: c}}\n",
                "spec: {hostNetwork: maybe}\n",
                "spec: {volumes: [{name: v, hostPath: {path: /}}]}\n",
                "spec: {nodeSelector: {a: 1}}\n",
                "spec: {priority: 1.5}\n",
                "metadata: {creationTimestamp: yesterday}\n",
                "metadata: [a]\n",
                "status: {}\n",
                "spec: {? [a] : b}\n",
            ],
            |root| crate::model::direct::pod_template(root).is_some(),
        );
        for plain in [
            "{}\n",
            "metadata: ~\nspec: ~\n",
            "metadata: {labels: {a: 1, b: ~, c: [x]}}\nspec: {containers: ~}\n",
            "spec: {hostNetwork: yes, hostNetwork: false, containers: [{name: c, ports: [{name: a}, {name: a, containerPort: 1}]}]}\n",
        ] {
            let root = &documents(plain)[0];
            assert!(template_agrees(root), "{plain}");
        }
    }

    #[test]
    fn every_odd_scalar_decodes_as_through_json() {
        for scalar in SCALARS {
            for text in [
                format!("v: {scalar}\n"),
                format!("metadata: {{labels: {{a: {scalar}}}, annotations: {scalar}}}\n"),
                format!(
                    "spec: {{containers: [{{name: c, ports: [{{containerPort: {scalar}}}]}}]}}\n"
                ),
                format!(
                    "metadata: {{labels: {{{scalar}: a}}}}\nspec: {{nodeSelector: {{{scalar}: a}}, containers: [{{name: c, resources: {{limits: {{{scalar}: 1m}}}}, livenessProbe: {{httpGet: {{port: {scalar}}}, periodSeconds: {scalar}}}, securityContext: {{runAsUser: {scalar}, capabilities: {{drop: [{scalar}]}}}}}}], securityContext: {{supplementalGroups: [{scalar}]}}, volumes: [{{name: v, configMap: {{name: c, defaultMode: {scalar}}}}}]}}\n"
                ),
                format!(
                    "metadata: {{labels: {{a: {scalar}}}}}\nspec: {{hostNetwork: {scalar}, priority: {scalar}, nodeSelector: {{a: {scalar}}}, containers: [{{name: {scalar}, args: [{scalar}], env: [{{name: a, value: {scalar}}}], resources: {{limits: {{cpu: {scalar}}}}}, ports: [{{name: {scalar}, protocol: {scalar}, hostPort: {scalar}, containerPort: 80}}]}}]}}\n"
                ),
                format!("ports: [{{port: {scalar}, targetPort: {scalar}}}]\n"),
                format!("{scalar}: {scalar}\n"),
            ] {
                for root in documents(&text) {
                    same_both_ways(&root);
                    if let Some(v) = root.get("v") {
                        same_both_ways(v);
                    }
                }
            }
        }
    }

    #[test]
    fn repeated_and_unsorted_keys_decode_as_through_json() {
        for text in [
            "spec: {hostNetwork: true, hostNetwork: false, containers: []}\n",
            "z: 1\na: 2\nz: 3\nm: {b: 1, a: 2, b: x}\n",
            "metadata: {labels: {b: 1, a: 2, b: yes}, labels: {c: 3}}\n",
            "selector: {app: a}\nports: [{port: 80}]\nselector: [x]\n",
            "? [a]\n: 1\nb: 2\n",
            // Two errors: the first in key order is reported, not the first written.
            "type: 1\nports: x\n",
            "ports: x\nports: [{port: 80}]\n",
            "spec: {containers: 1, containers: [{name: a, ports: [{containerPort: x}]}]}\n",
        ] {
            for root in documents(text) {
                same_both_ways(&root);
            }
        }
    }

    /// Replaces the `index`th node (pre-order, keys and values) with `with`.
    fn replace(node: &mut Node, index: &mut usize, with: &Node) -> bool {
        if *index == 0 {
            *node = with.clone();
            return true;
        }
        *index -= 1;
        match &mut node.kind {
            NodeKind::Scalar { .. } => false,
            NodeKind::Seq(items, _) => items.iter_mut().any(|n| replace(n, index, with)),
            NodeKind::Map(entries, _) => entries
                .iter_mut()
                .any(|(k, v)| replace(k, index, with) || replace(v, index, with)),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any node of a typical object replaced by an odd value (a type error deep in a
        /// pod spec, a number where a string goes, a map where a label goes) fails with
        /// the same message at the same path, or decodes to the same value.
        #[test]
        fn mutated_objects_decode_as_through_json(
            base in 0usize..6,
            at in 0usize..200,
            scalar in 0usize..SCALARS.len(),
            twice in proptest::option::of((0usize..200, 0usize..SCALARS.len())),
        ) {
            let bases = documents(BASES);
            let mut root = bases[base % bases.len()].clone();
            let with = |i: usize| documents(&format!("v: {}\n", SCALARS[i]))[0]
                .get("v")
                .cloned()
                .unwrap_or_else(|| Node::synthetic_str("", Default::default(), None));
            let size = root.expanded_size();
            replace(&mut root, &mut (at % size), &with(scalar));
            if let Some((at, scalar)) = twice {
                let size = root.expanded_size();
                replace(&mut root, &mut (at % size), &with(scalar));
            }
            same_both_ways(&root);
        }
    }
}
