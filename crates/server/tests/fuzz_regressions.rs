//! Replays the `publish_body` fuzz target on stable, in plain `cargo test`:
//! every seed of `fuzz/corpus/publish_body/` and every input that once made the
//! target fail, kept in `fuzz/regressions/publish_body/`, goes through the
//! target's own driver (`fuzz/src/publish_body.rs`, included below), so the
//! properties checked are exactly the fuzzer's. `scripts/fuzz.sh` runs the
//! fuzzer itself (nightly).

#[path = "../../../fuzz/src/publish_body.rs"]
mod publish_body;

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

/// Fewer seeds than this means the corpus was not found or was emptied.
const SEEDS_AT_LEAST: usize = 15;
/// Inputs kept in the regressions directory when this was written: fewer
/// means they were lost.
const SAVED_AT_LEAST: usize = 1;

/// The files of `fuzz/<dir>/publish_body/` (dotfiles such as `.gitkeep` are not
/// inputs).
fn inputs(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(dir)
        .join("publish_body");
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory").path())
        .filter(|path| {
            path.is_file() && !path.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .collect();
    files.sort();
    files
}

/// Runs every file through the driver; returns those it panicked on and
/// those it refused (did not accept).
fn replay(files: &[PathBuf]) -> (Vec<&PathBuf>, Vec<&PathBuf>) {
    let (mut failed, mut refused) = (Vec::new(), Vec::new());
    for path in files {
        let input = fs::read(path).expect("a readable input");
        match panic::catch_unwind(|| publish_body::check(&input)) {
            Err(_) => failed.push(path),
            Ok(false) => refused.push(path),
            Ok(true) => {}
        }
    }
    (failed, refused)
}

#[test]
fn every_seed_of_publish_body_is_accepted() {
    let seeds = inputs("corpus");
    assert!(
        seeds.len() >= SEEDS_AT_LEAST,
        "only {} seeds: {seeds:?}",
        seeds.len()
    );
    let (failed, refused) = replay(&seeds);
    assert!(
        failed.is_empty(),
        "failing seeds (see the panics above): {failed:#?}"
    );
    assert!(
        refused.is_empty(),
        "seeds are valid bodies, yet not accepted: {refused:#?}"
    );
}

#[test]
fn every_saved_failure_of_publish_body_passes() {
    let saved = inputs("regressions");
    assert!(
        saved.len() >= SAVED_AT_LEAST,
        "only {} saved failures: {saved:?}",
        saved.len()
    );
    let (failed, _) = replay(&saved);
    assert!(
        failed.is_empty(),
        "failing inputs (see the panics above): {failed:#?}"
    );
}
