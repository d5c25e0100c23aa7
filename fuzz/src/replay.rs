//! Replays a fuzz target's inputs on stable, in plain `cargo test` (included
//! with `#[path]` by `crates/{protocol,server}/tests/fuzz_regressions.rs`,
//! not part of the fuzz crate): every seed of `fuzz/corpus/<target>/` and
//! every input that once made the target fail, kept in
//! `fuzz/regressions/<target>/`, goes through the target's own driver, so the
//! properties checked are exactly the fuzzer's.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

/// The files of `fuzz/<dir>/<target>/` (dotfiles such as `.gitkeep` are not
/// inputs), at least `at_least` of them, or the test fails: fewer means the
/// directory was not found or was emptied.
fn inputs(dir: &str, target: &str, at_least: usize) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(dir)
        .join(target);
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory").path())
        .filter(|path| {
            path.is_file() && !path.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= at_least,
        "only {} inputs in {}: {files:?}",
        files.len(),
        dir.display()
    );
    files
}

/// Runs every file through `check` (which panics when a property fails and
/// says whether it accepted the input); returns those it panicked on and
/// those it refused.
fn replay(files: &[PathBuf], check: fn(&[u8]) -> bool) -> (Vec<&PathBuf>, Vec<&PathBuf>) {
    let (mut failed, mut refused) = (Vec::new(), Vec::new());
    for path in files {
        let input = fs::read(path).expect("a readable input");
        match panic::catch_unwind(|| check(&input)) {
            Err(_) => failed.push(path),
            Ok(false) => refused.push(path),
            Ok(true) => {}
        }
    }
    (failed, refused)
}

/// Every seed passes the driver's checks and is accepted: seeds are valid.
pub fn seeds_pass(target: &str, at_least: usize, check: fn(&[u8]) -> bool) {
    let seeds = inputs("corpus", target, at_least);
    let (failed, refused) = replay(&seeds, check);
    assert!(
        failed.is_empty(),
        "failing seeds (see the panics above): {failed:#?}"
    );
    assert!(
        refused.is_empty(),
        "seeds are valid inputs, yet refused: {refused:#?}"
    );
}

/// Every saved failure now passes the driver's checks.
pub fn saved_failures_pass(target: &str, at_least: usize, check: fn(&[u8]) -> bool) {
    let saved = inputs("regressions", target, at_least);
    let (failed, _) = replay(&saved, check);
    assert!(
        failed.is_empty(),
        "failing inputs (see the panics above): {failed:#?}"
    );
}
