use gloo_timers::callback::Interval;
use yew::prelude::*;

/// The browser's clock, re-read every `tick_ms`: a component that shows ages
/// or countdowns re-renders on each tick.
#[hook]
pub fn use_clock(tick_ms: u32) -> f64 {
    let now = use_state(js_sys::Date::now);
    {
        let now = now.setter();
        use_effect_with(tick_ms, move |&tick_ms| {
            let interval = Interval::new(tick_ms, move || now.set(js_sys::Date::now()));
            move || drop(interval)
        });
    }
    *now
}
