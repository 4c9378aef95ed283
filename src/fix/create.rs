//! Fixes that create a file beside an existing one: the directory's kustomization (which
//! must list the new file, or it would never be deployed) and the names already taken
//! there. Built once per rule run from [`Sources`], so each fix looks a directory up in
//! constant time.

use crate::hashing::{FastMap, FastSet};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::diagnostic::Edit;
use crate::fix::text;
use crate::load::Sources;
use crate::load::yaml::Node;
use crate::span::{FileId, Pos, Span};

/// Every file the analysis read, by directory.
#[derive(Debug, Default)]
pub struct Directories {
    /// The kustomization file of each directory that has one (the first, as kustomize
    /// reads them).
    kustomizations: FastMap<PathBuf, usize>,
    /// Every file read, normalized.
    files: FastSet<PathBuf>,
    /// Per kustomization asked about: where a new `resources:` entry goes (`None`: it
    /// cannot be listed safely). Parsed once, however many fixes list a file there.
    appends: RefCell<FastMap<FileId, Option<SeqEnd>>>,
}

impl Directories {
    pub fn index(sources: &Sources) -> Self {
        let mut index = Directories::default();
        for (at, file) in sources.files.iter().enumerate() {
            let path = crate::load::normalize(&file.path);
            let is_kustomization = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| crate::load::kustomization::FILE_NAMES.contains(&n));
            if let (true, Some(dir)) = (is_kustomization, path.parent()) {
                index.kustomizations.entry(dir.to_path_buf()).or_insert(at);
            }
            index.files.insert(path);
        }
        index
    }

    /// The directory of a file the analysis read.
    pub fn dir_of(sources: &Sources, file: FileId) -> Option<PathBuf> {
        let source = sources.get(file)?;
        Some(crate::load::normalize(&source.path).parent()?.to_path_buf())
    }

    pub fn kustomization(&self, dir: &Path) -> Option<FileId> {
        self.kustomizations
            .get(dir)
            .map(|&index| FileId::new(index))
    }

    /// Whether the analysis read a file `name` in `dir` (the engine also checks the disk).
    pub fn has_file(&self, dir: &Path, name: &str) -> bool {
        self.files.contains(&dir.join(name))
    }

    /// The edit that lists `file_name` in the `resources:` of `kustomization`: appended
    /// after the last entry, at its indentation. `None` when that cannot be done safely (no
    /// block-style `resources:` list with one-line entries), since a file the kustomization
    /// does not list would never be deployed. The kustomization is read once per index.
    pub fn list_in_kustomization(
        &self,
        sources: &Sources,
        kustomization: FileId,
        file_name: &str,
    ) -> Option<Edit> {
        let mut appends = self.appends.borrow_mut();
        let end = appends.entry(kustomization).or_insert_with(|| {
            let file = sources.get(kustomization)?;
            let stream = crate::load::yaml::parse_stream(&file.text);
            let resources = stream.documents.first()?.root.get("resources")?;
            block_seq_end(&file.text, resources)
        });
        Some(end.as_ref()?.edit(kustomization, &[file_name.to_string()]))
    }
}

/// Where items appended to a block sequence go: the point after its last item's line, the
/// text before that item's value (indentation and `- `), and whether a line break is missing.
#[derive(Debug, Clone)]
struct SeqEnd {
    at: Pos,
    prefix: String,
    newline: bool,
}

impl SeqEnd {
    fn edit(&self, file: FileId, items: &[String]) -> Edit {
        let mut replacement = if self.newline {
            "\n".to_string()
        } else {
            String::new()
        };
        for item in items {
            replacement.push_str(&self.prefix);
            replacement.push_str(item);
            replacement.push('\n');
        }
        Edit {
            file,
            span: Span::point(self.at),
            replacement,
        }
    }
}

/// The edit appending `items` (YAML scalars as they are to be written) to the block
/// sequence `seq` of `text`, after its last item and at its indentation. `None` unless the
/// last item is a one-line scalar after a `- ` that begins its line and nothing but a
/// comment follows it.
pub fn append_to_block_seq(text: &str, file: FileId, seq: &Node, items: &[String]) -> Option<Edit> {
    Some(block_seq_end(text, seq)?.edit(file, items))
}

fn block_seq_end(text: &str, seq: &Node) -> Option<SeqEnd> {
    let (last, _) = seq.as_seq()?.split_last()?;
    last.as_scalar()?;
    let start = last.span.start.byte as usize;
    let line = text::line_start(text, start);
    let prefix = text.get(line..start)?;
    let dash = prefix.trim_end().strip_suffix('-')?;
    if !dash.bytes().all(|b| b == b' ') || !last.span.is_one_line(text) {
        return None;
    }
    let end = last.span.end.byte as usize;
    if !text::rest_is_blank_or_comment(text, end) {
        return None;
    }
    let at = text::line_end(text, end);
    Some(SeqEnd {
        newline: !text.get(..at)?.ends_with('\n'),
        at: Pos::of_byte(text, at),
        prefix: prefix.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(text: &str, items: &[&str]) -> Option<String> {
        let stream = crate::load::yaml::parse_stream(text);
        let seq = stream.documents.first()?.root.get("list")?;
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        let edit = append_to_block_seq(text, FileId::new(0), seq, &items)?;
        Some(crate::fix::apply(text, &[edit]))
    }

    #[test]
    fn appends_at_the_indentation_of_the_last_item() {
        assert_eq!(
            append("list:\n  - a # one\nnext: 1\n", &["b", "c"]).as_deref(),
            Some("list:\n  - a # one\n  - b\n  - c\nnext: 1\n")
        );
        assert_eq!(
            append("list:\n- a", &["b"]).as_deref(),
            Some("list:\n- a\n- b\n")
        );
        // Flow style, several items on a line, or a multi-line last item: no edit.
        assert_eq!(append("list: [a]\n", &["b"]), None);
        assert_eq!(append("list:\n  - a\n  - |\n    b\n", &["c"]), None);
        assert_eq!(append("list:\n  - {x: 1}\n", &["c"]), None);
    }
}
