/// The window's inner size in CSS px, `(width, height)`, for kiosk mode's grid.
pub fn inner_size() -> (f64, f64) {
    let Some(window) = web_sys::window() else {
        return (1280.0, 720.0);
    };
    let read = |value: Result<wasm_bindgen::JsValue, _>| value.ok().and_then(|v| v.as_f64());
    (
        read(window.inner_width()).unwrap_or(1280.0),
        read(window.inner_height()).unwrap_or(720.0),
    )
}
