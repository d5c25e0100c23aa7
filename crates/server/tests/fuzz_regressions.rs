//! The `publish_body` fuzz target's seeds and saved failures, replayed on stable
//! through the target's own driver (`fuzz/src/publish_body.rs`); how:
//! `fuzz/src/replay.rs`. `scripts/fuzz.sh` runs the fuzzer itself (nightly).

#[path = "../../../fuzz/src/publish_body.rs"]
mod publish_body;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn every_seed_passes_and_is_accepted() {
    replay::seeds_pass("publish_body", 15, publish_body::check);
}

#[test]
fn every_saved_failure_passes() {
    replay::saved_failures_pass("publish_body", 1, publish_body::check);
}
