//! A wall screen stays awake: where the browser offers the Screen Wake Lock
//! API, kiosk mode holds a `screen` wake lock, and takes it again whenever the
//! tab becomes visible (browsers release it when the tab is hidden).
//!
//! Reached through `js_sys::Reflect`: web-sys's `WakeLock` bindings are
//! behind its unstable-API flag, and a browser without the API (or one that
//! refuses the lock: no user activation, a battery saver) simply keeps its
//! own screen timeout. Nothing here can fail the page.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use yew::platform::spawn_local;

/// A screen wake lock, held (and taken again whenever the tab becomes visible
/// again) until dropped.
pub struct WakeLock {
    shared: Rc<Shared>,
    on_visible: Option<Closure<dyn FnMut()>>,
}

#[derive(Default)]
struct Shared {
    /// The `WakeLockSentinel` the browser granted, if any.
    sentinel: RefCell<Option<JsValue>>,
    /// Dropped: a lock granted after that is released at once.
    dropped: Cell<bool>,
}

impl WakeLock {
    pub fn hold() -> WakeLock {
        let shared = Rc::new(Shared::default());
        request(&shared);
        let document = web_sys::window().and_then(|w| w.document());
        let on_visible = document.and_then(|document| {
            let weak = Rc::downgrade(&shared);
            let target = document.clone();
            let closure = Closure::<dyn FnMut()>::new(move || {
                if let Some(shared) = weak.upgrade() {
                    if !target.hidden() {
                        request(&shared);
                    }
                }
            });
            document
                .add_event_listener_with_callback(
                    "visibilitychange",
                    closure.as_ref().unchecked_ref(),
                )
                .ok()
                .map(|()| closure)
        });
        WakeLock { shared, on_visible }
    }
}

impl Drop for WakeLock {
    fn drop(&mut self) {
        self.shared.dropped.set(true);
        if let Some(sentinel) = self.shared.sentinel.borrow_mut().take() {
            release(&sentinel);
        }
        if let (Some(closure), Some(document)) = (
            self.on_visible.take(),
            web_sys::window().and_then(|w| w.document()),
        ) {
            let _ = document.remove_event_listener_with_callback(
                "visibilitychange",
                closure.as_ref().unchecked_ref(),
            );
        }
    }
}

/// `navigator.wakeLock.request("screen")`, keeping the sentinel it grants.
fn request(shared: &Rc<Shared>) {
    let Some(promise) = call_request() else {
        return;
    };
    let weak = Rc::downgrade(shared);
    spawn_local(async move {
        let Ok(sentinel) = JsFuture::from(promise).await else {
            return;
        };
        match weak.upgrade() {
            Some(shared) if !shared.dropped.get() => {
                if let Some(old) = shared.sentinel.replace(Some(sentinel)) {
                    release(&old);
                }
            }
            _ => release(&sentinel),
        }
    });
}

fn call_request() -> Option<Promise> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let wake_lock = Reflect::get(&navigator, &"wakeLock".into()).ok()?;
    if wake_lock.is_undefined() || wake_lock.is_null() {
        return None;
    }
    let request: Function = Reflect::get(&wake_lock, &"request".into())
        .ok()?
        .dyn_into()
        .ok()?;
    request
        .call1(&wake_lock, &JsValue::from_str("screen"))
        .ok()?
        .dyn_into()
        .ok()
}

fn release(sentinel: &JsValue) {
    let release = Reflect::get(sentinel, &"release".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    if let Some(release) = release {
        // A promise; its outcome does not matter.
        let _ = release.call0(sentinel);
    }
}
