#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pulseboard_fuzz::publish_body::check(data);
});
