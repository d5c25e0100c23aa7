#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pulseboard_fuzz::protocol_decode::check(data);
});
