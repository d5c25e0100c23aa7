use yew::prelude::*;

use crate::stream::WindowListener;

/// The window's inner size in CSS px, `(width, height)`, re-read on `resize`
/// (a wall screen rotated, a browser window resized), for kiosk mode's grid.
#[hook]
pub fn use_viewport() -> (f64, f64) {
    let size = use_state(inner_size);
    {
        let size = size.setter();
        use_effect_with((), move |_| {
            let listener = WindowListener::new("resize", move || size.set(inner_size()));
            move || drop(listener)
        });
    }
    *size
}

fn inner_size() -> (f64, f64) {
    let Some(window) = web_sys::window() else {
        return (1280.0, 720.0);
    };
    let read = |value: Result<wasm_bindgen::JsValue, _>| value.ok().and_then(|v| v.as_f64());
    (
        read(window.inner_width()).unwrap_or(1280.0),
        read(window.inner_height()).unwrap_or(720.0),
    )
}
