//! At most once per animation frame: events that arrive together are
//! rendered together.
//!
//! The stream folds each event into its state as it arrives, which is cheap,
//! and asks for one render, which is not: a batch of 200 updates, or a burst
//! of replayed ones, costs one render pass instead of 200. When nothing was
//! rendered for a frame's time, the render runs as soon as the events already
//! queued are in (a zero timeout runs after them): a lone update is not held
//! back for a frame. Otherwise it waits for the next animation frame.
//! Browsers pause animation frames in a hidden tab; there a timer stands in
//! (throttled by the browser to about one a second), so a background tab
//! still keeps its document current, at little cost.

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// The stand-in for animation frames in a hidden tab.
const HIDDEN_TAB_MS: i32 = 250;
/// A frame's time at 60 Hz.
pub const FRAME_MS: f64 = 16.0;

/// Runs `callback` once: after the events already queued when `now` (the
/// last render was a frame ago or more), else before the next paint (or
/// soon, in a hidden tab).
pub fn next_frame(callback: Rc<dyn Fn()>, now: bool) {
    let Some(window) = web_sys::window() else {
        callback();
        return;
    };
    let hidden = window.document().is_some_and(|d| d.hidden());
    let run = callback.clone();
    let closure = Closure::once_into_js(move || run());
    let scheduled = if hidden || now {
        let delay = if hidden { HIDDEN_TAB_MS } else { 0 };
        window
            .set_timeout_with_callback_and_timeout_and_arguments_0(closure.unchecked_ref(), delay)
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
