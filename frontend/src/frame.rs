//! Once per animation frame: events that arrive together are rendered together.
//!
//! The stream folds each event into its state as it arrives, which is cheap,
//! and asks for one render at the next animation frame, which is not: a
//! batch of 200 updates, or a burst of replayed ones, costs one render pass
//! instead of 200. Browsers pause animation frames in a hidden tab; there a
//! timer stands in (throttled by the browser to about one a second), so a
//! background tab still keeps its document current, at little cost.

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// The stand-in for animation frames in a hidden tab.
const HIDDEN_TAB_MS: i32 = 250;

/// Runs `callback` once, before the next paint (or soon, in a hidden tab).
pub fn next_frame(callback: Rc<dyn Fn()>) {
    let Some(window) = web_sys::window() else {
        callback();
        return;
    };
    let hidden = window.document().is_some_and(|d| d.hidden());
    let run = callback.clone();
    let closure = Closure::once_into_js(move || run());
    let scheduled = if hidden {
        window
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                closure.unchecked_ref(),
                HIDDEN_TAB_MS,
            )
            .is_ok()
    } else {
        window
            .request_animation_frame(closure.unchecked_ref())
            .is_ok()
    };
    if !scheduled {
        // Never happens in a browser; if it did, render at once rather than never.
        callback();
    }
}
