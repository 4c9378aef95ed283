//! What Flux's kustomize-controller does around a kustomize build, without a cluster:
//! resolving `spec.path` inside the repository, and `spec.postBuild` variable
//! substitution (`${var}` with defaults, as Flux's envsubst fork does).

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

/// `spec.path` joined to the repository root the way Flux joins it (SecureJoin): the
/// path is always relative to the root, whether written `apps`, `./apps` or `/apps`,
/// and `..` stops at the root instead of leaving it. Lexical only: symbolic links are
/// the load stage's business.
pub fn secure_join(root: &Path, path: &str) -> PathBuf {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let mut joined = root.to_path_buf();
    joined.extend(parts);
    joined
}

/// What to do with `${var}` when `var` is not defined and has no default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undefined {
    /// Flux (without strict mode) substitutes the empty string.
    Empty,
    /// Some variables come from where xks-lint cannot see (a ConfigMap in the cluster):
    /// leave the reference as written rather than invent a value.
    Keep,
}

/// Nesting of `${a:=${b:=...}}` defaults.
const MAX_NESTING: usize = 32;

/// Why a substitution was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubstError {
    /// An expression xks-lint does not evaluate (`${var/a/b}`, `${var:1}` ...): left as written.
    Unsupported(String),
    /// The result would exceed `limit` bytes.
    TooLarge,
}

/// Variable names Flux accepts.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Expands `${var}`, `${var:=default}`, `${var:-default}`, `${var=default}`,
/// `${var-default}`, `${#var}` and the case operators `^ ^^ , ,,` in `text`.
/// `$${` writes a literal `${`; `$var` without braces is left alone, as Flux does.
/// Returns `Cow::Borrowed` when nothing changed. The output is at most `limit` bytes.
pub fn envsubst<'a>(
    text: &'a str,
    lookup: &dyn Fn(&str) -> Option<String>,
    undefined: Undefined,
    limit: usize,
) -> Result<Cow<'a, str>, SubstError> {
    if !text.contains("${") {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::new();
    expand(text, lookup, undefined, limit, 0, &mut out)?;
    if out == text {
        Ok(Cow::Borrowed(text))
    } else {
        Ok(Cow::Owned(out))
    }
}

fn push_limited(out: &mut String, piece: &str, limit: usize) -> Result<(), SubstError> {
    if out.len().saturating_add(piece.len()) > limit {
        return Err(SubstError::TooLarge);
    }
    out.push_str(piece);
    Ok(())
}

/// Byte index of the `}` closing the expression whose body starts at `text[0]`,
/// counting nested `${ ... }`.
fn closing_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    undefined: Undefined,
    limit: usize,
    nesting: usize,
    out: &mut String,
) -> Result<(), SubstError> {
    if nesting > MAX_NESTING {
        return Err(SubstError::Unsupported(
            "defaults nested too deeply".to_string(),
        ));
    }
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        push_limited(out, &rest[..at], limit)?;
        let after = &rest[at..];
        if let Some(escaped) = after.strip_prefix("$${") {
            push_limited(out, "${", limit)?;
            rest = escaped;
            continue;
        }
        let Some(body_and_rest) = after.strip_prefix("${") else {
            push_limited(out, "$", limit)?;
            rest = &after[1..];
            continue;
        };
        let Some(close) = closing_brace(body_and_rest) else {
            // No closing brace: not an expression.
            push_limited(out, after, limit)?;
            return Ok(());
        };
        let body = &body_and_rest[..close];
        let whole = &after[..close + 3];
        rest = &body_and_rest[close + 1..];
        match evaluate(body, lookup, undefined, limit, nesting, out)? {
            true => {}
            false => push_limited(out, whole, limit)?,
        }
    }
    push_limited(out, rest, limit)
}

/// Writes the value of one `${body}` to `out`; false when it is to stay as written.
fn evaluate(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    undefined: Undefined,
    limit: usize,
    nesting: usize,
    out: &mut String,
) -> Result<bool, SubstError> {
    let (length, body) = match body.strip_prefix('#') {
        Some(name) => (true, name),
        None => (false, body),
    };
    let name_end = body
        .char_indices()
        .find(|(i, c)| !(*c == '_' || c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())))
        .map_or(body.len(), |(i, _)| i);
    let (name, operator) = body.split_at(name_end);
    if name.is_empty() {
        return Err(SubstError::Unsupported(format!("`${{{body}}}`")));
    }
    let value = lookup(name);
    let unresolved = |out: &mut String| match undefined {
        Undefined::Empty => Ok(true),
        Undefined::Keep => {
            let _ = out;
            Ok(false)
        }
    };
    if length {
        if !operator.is_empty() {
            return Err(SubstError::Unsupported(format!("`${{#{body}}}`")));
        }
        return match value {
            Some(v) => push_limited(out, &v.chars().count().to_string(), limit).map(|()| true),
            None => unresolved(out),
        };
    }
    let default = [":=", ":-", "=", "-"]
        .iter()
        .find_map(|op| operator.strip_prefix(op).map(|d| (op.starts_with(':'), d)));
    if let Some((empty_too, default)) = default {
        let use_default = match &value {
            None => true,
            Some(v) => empty_too && v.is_empty(),
        };
        return if use_default {
            let mut nested = String::new();
            expand(default, lookup, undefined, limit, nesting + 1, &mut nested)?;
            push_limited(out, &nested, limit).map(|()| true)
        } else {
            push_limited(out, value.as_deref().unwrap_or_default(), limit).map(|()| true)
        };
    }
    let transform: fn(&str) -> String = match operator {
        "" => str::to_string,
        "^^" => str::to_uppercase,
        ",," => str::to_lowercase,
        "^" => |v| change_first(v, true),
        "," => |v| change_first(v, false),
        _ => return Err(SubstError::Unsupported(format!("`${{{body}}}`"))),
    };
    match value {
        Some(v) => push_limited(out, &transform(&v), limit).map(|()| true),
        None => unresolved(out),
    }
}

fn change_first(value: &str, upper: bool) -> String {
    let mut chars = value.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let first: String = if upper {
                first.to_uppercase().collect()
            } else {
                first.to_lowercase().collect()
            };
            first + chars.as_str()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subst(text: &str, undefined: Undefined) -> Result<String, SubstError> {
        let lookup = |name: &str| match name {
            "app" => Some("web".to_string()),
            "empty" => Some(String::new()),
            "Mixed" => Some("hello World".to_string()),
            _ => None,
        };
        envsubst(text, &lookup, undefined, 1000).map(Cow::into_owned)
    }

    #[test]
    fn expands_like_flux() {
        let cases = [
            ("name: ${app}", "name: web"),
            ("${app}-${app}", "web-web"),
            ("$app stays", "$app stays"),
            ("$${app} is escaped", "${app} is escaped"),
            ("${missing}", ""),
            ("${missing:=def}", "def"),
            ("${missing:-def}", "def"),
            ("${missing=def}", "def"),
            ("${empty:=def}", "def"),
            ("${empty=def}", ""),
            ("${empty-def}", ""),
            ("${missing:=${app}-x}", "web-x"),
            ("${#app}", "3"),
            ("${Mixed^^}", "HELLO WORLD"),
            ("${Mixed^}", "Hello World"),
            ("${Mixed,,}", "hello world"),
            ("cost $5 and ${unclosed", "cost $5 and ${unclosed"),
            ("${app", "${app"),
            ("no dollar", "no dollar"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                subst(input, Undefined::Empty).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn unknown_sources_keep_undefined_references() {
        assert_eq!(
            subst("${missing}/${app}/${missing:=d}", Undefined::Keep).as_deref(),
            Ok("${missing}/web/d")
        );
    }

    #[test]
    fn unsupported_and_oversized_are_errors() {
        assert!(matches!(
            subst("${app/w/W}", Undefined::Empty),
            Err(SubstError::Unsupported(_))
        ));
        assert!(matches!(
            subst("${}", Undefined::Empty),
            Err(SubstError::Unsupported(_))
        ));
        let big = "${app}".repeat(400);
        assert_eq!(subst(&big, Undefined::Empty), Err(SubstError::TooLarge));
        let deep = format!("{}x{}", "${m:=".repeat(40), "}".repeat(40));
        assert!(subst(&deep, Undefined::Empty).is_err());
    }

    #[test]
    fn paths_join_like_flux() {
        let root = Path::new("/repo");
        for (path, expected) in [
            ("apps", "/repo/apps"),
            ("./apps", "/repo/apps"),
            ("/apps", "/repo/apps"),
            ("../../x", "/repo/x"),
            ("apps/../../etc", "/repo/etc"),
            ("", "/repo"),
            ("./", "/repo"),
        ] {
            assert_eq!(secure_join(root, path), PathBuf::from(expected), "{path}");
        }
    }

    #[test]
    fn names_follow_flux_rules() {
        assert!(valid_name("cluster_name"));
        assert!(valid_name("_x1"));
        assert!(!valid_name("1x"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name(""));
    }
}
