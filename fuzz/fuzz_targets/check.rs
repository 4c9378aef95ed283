//! Whole pipeline and both reporters on arbitrary bytes.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use xks_lint::load::Input;
use xks_lint::report::{Format, RenderOptions, render};
use xks_lint::{CheckOptions, analyze};

fuzz_target!(|data: &[u8]| {
    let options = CheckOptions {
        inputs: vec![Input::Memory {
            name: "fuzz.yaml".to_string(),
            bytes: Arc::from(data),
        }],
        ..CheckOptions::default()
    };
    let analysis = analyze(&options);
    for format in [Format::Human, Format::Json, Format::Sarif, Format::Github, Format::Gitlab] {
        let _ = render(format, &analysis, &RenderOptions { color: false, summary: true, ..RenderOptions::default() });
    }
});
