//! Which build of the SPA a page runs, and which one a server serves.
//!
//! trunk names the wasm bundle `<crate>-<hash>_bg.wasm`, the hash changing
//! with its content, and `index.html` preloads it. That hash is the build id:
//! the server reads it from the `index.html` it serves, the SPA from the
//! document it was loaded with, both with these functions, so they cannot
//! disagree on what a build id is.

/// The suffix wasm-bindgen gives the bundle.
const WASM_SUFFIX: &str = "_bg.wasm";

/// The build id in a bundle's file name or URL (`/frontend-d08d6976370bd525_bg.wasm`
/// → `d08d6976370bd525`): the hex digits after the last `-`, 8 to 64 of them.
pub fn build_id_of_asset(href: &str) -> Option<&str> {
    let name = href.rsplit('/').next()?;
    let stem = name.strip_suffix(WASM_SUFFIX)?;
    let (_, hash) = stem.rsplit_once('-')?;
    let hex = hash.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && (8..=64).contains(&hash.len())).then_some(hash)
}

/// The build id of the first wasm bundle an `index.html` names, if any.
pub fn build_id_in_html(html: &str) -> Option<&str> {
    html.match_indices(WASM_SUFFIX).find_map(|(end, _)| {
        let start = html[..end]
            .rfind(|c: char| c == '"' || c == '\'' || c.is_whitespace() || c == '=')
            .map_or(0, |i| i + 1);
        build_id_of_asset(&html[start..end + WASM_SUFFIX.len()])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_trunks_wasm_name() {
        assert_eq!(
            build_id_of_asset("/frontend-d08d6976370bd525_bg.wasm"),
            Some("d08d6976370bd525")
        );
        assert_eq!(
            build_id_of_asset("http://host:8080/app/my-app-0123abcd_bg.wasm"),
            Some("0123abcd")
        );
        for not_one in [
            "/frontend-d08d6976370bd525.js",
            "/frontend_bg.wasm",
            "/frontend-xyz12345678_bg.wasm",
            "/frontend-abc_bg.wasm",
            "",
        ] {
            assert_eq!(build_id_of_asset(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn the_first_bundle_an_index_preloads() {
        let html = r#"<script type="module" src="/boot-925ac6a44d4672f7.js"></script>
  <link rel="modulepreload" href="/frontend-d08d6976370bd525.js"><link rel="preload" href="/frontend-d08d6976370bd525_bg.wasm" as="fetch" type="application/wasm"></head>"#;
        assert_eq!(build_id_in_html(html), Some("d08d6976370bd525"));
        assert_eq!(build_id_in_html("<html>no bundle</html>"), None);
        assert_eq!(build_id_in_html("href=x_bg.wasm _bg.wasm"), None);
    }
}
