//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use xks_lint::load::Input;
use xks_lint::{Analysis, CheckOptions, analyze};

pub fn analyze_paths(paths: &[&Path]) -> Analysis {
    analyze(&options_for(paths))
}

pub fn options_for(paths: &[&Path]) -> CheckOptions {
    CheckOptions {
        inputs: paths.iter().map(|p| Input::Path(p.to_path_buf())).collect(),
        ..CheckOptions::default()
    }
}

/// Every finding with its full location, label, help and related locations: what snapshots pin down.
pub fn describe(analysis: &Analysis) -> String {
    let mut out = String::new();
    for d in &analysis.diagnostics {
        let s = d.location.span;
        out.push_str(&format!(
            "{}:{}:{}-{}:{} {}[{}] {}\n",
            analysis.sources.display(d.location.file),
            s.start.line,
            s.start.col,
            s.end.line,
            s.end.col,
            d.severity.as_str(),
            d.rule,
            d.message
        ));
        if let Some(label) = &d.label {
            out.push_str(&format!("  label: {label}\n"));
        }
        if let Some(help) = &d.help {
            out.push_str(&format!("  help: {}\n", help.replace('\n', "\n        ")));
        }
        for r in &d.related {
            let rs = r.location.span;
            out.push_str(&format!(
                "  related: {}:{}:{} {}\n",
                analysis.sources.display(r.location.file),
                rs.start.line,
                rs.start.col,
                r.message
            ));
        }
    }
    out
}
