//! The `protocol_decode` fuzz target's seeds and saved failures, replayed on stable
//! through the target's own driver (`fuzz/src/protocol_decode.rs`); how:
//! `fuzz/src/replay.rs`. `scripts/fuzz.sh` runs the fuzzer itself (nightly).

#[path = "../../../fuzz/src/protocol_decode.rs"]
mod protocol_decode;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn every_seed_passes_and_is_accepted() {
    replay::seeds_pass("protocol_decode", 10, protocol_decode::check);
}

#[test]
fn every_saved_failure_passes() {
    replay::saved_failures_pass("protocol_decode", 2, protocol_decode::check);
}
