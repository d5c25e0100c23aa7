//! The fuzz targets' drivers: each takes the fuzzer's bytes, feeds them to the
//! code under test and panics when a property does not hold. The targets in
//! `fuzz_targets/` only call them; the stable regression tests
//! (`crates/server/tests/fuzz_regressions.rs`,
//! `crates/protocol/tests/fuzz_regressions.rs`) include the same files with
//! `#[path]`, so a saved crash replays in `cargo test` exactly as it failed here
//! (with `replay.rs`, which is theirs, not part of this crate).

pub mod protocol_decode;
pub mod publish_body;
