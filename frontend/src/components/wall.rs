use std::rc::Rc;

use gloo_timers::callback::Timeout;
use yew::prelude::*;
use yew_router::prelude::*;

use super::badge::ConnectionBadge;
use super::dashboard::Dashboard;
use crate::app::{DocumentTitle, Header};
use crate::layout::current;
use crate::liveness::ConnectionState;
use crate::route::Route;
use crate::stream::use_stream;
use crate::wake_lock::WakeLock;
use crate::wall::{Entry, OnScreen, Rotation, WallMode};

#[derive(Properties, PartialEq)]
pub struct WallScreenProps {
    /// Kiosk and rotation, as the address asks ([`WallMode::parse`]).
    pub wall: Rc<WallMode>,
}

/// What a stream's page shows: the header and the dashboard, or, on a wall
/// screen, the dashboard alone (kiosk mode), maybe rotating.
///
/// Kiosk mode (`?kiosk`, or a dashboard declared with `kiosk = true`): no
/// header, and the connection badge only while the stream is not live; the
/// root element gets `data-kiosk` (kiosk.css hides the cursor and the
/// scrollbars and fits the grid to the screen), and a screen wake lock is
/// held where the browser offers one.
#[function_component]
pub fn WallScreen(props: &WallScreenProps) -> Html {
    let status = use_stream();
    let view = status.view.clone();
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    // A few entries, rebuilt at each render; the rotation's timer restarts
    // only when they change.
    let entries = Rc::new(props.wall.entries(&view.menu, route.dashboard_param()));
    let on_screen = use_rotation(entries.clone());
    let kiosk =
        props.wall.kiosk || current(&view, on_screen.as_deref()).is_some_and(|spec| spec.kiosk);
    use_effect_with(kiosk, |&kiosk| {
        mark_root(kiosk);
        let lock = kiosk.then(WakeLock::hold);
        move || drop(lock)
    });

    let missing = match &props.wall.rotation {
        Some(Rotation::Playlist(name)) if entries.is_empty() => {
            Some(AttrValue::from(format!("No playlist named {name}")))
        }
        _ => None,
    };
    let screen = OnScreen {
        dashboard: on_screen.map(AttrValue::from),
        kiosk,
        missing,
    };
    let live = status.liveness.connection == ConnectionState::Live;
    html! {
        <>
            <DocumentTitle screen={screen.clone()} />
            if !kiosk {
                <Header screen={screen.clone()} />
            } else if !live {
                <div class="kiosk-badge">
                    <ConnectionBadge />
                </div>
            }
            <main class="main">
                <Dashboard {screen} />
            </main>
        </>
    }
}

/// The dashboard a rotation shows now: each entry for its seconds, round and
/// round; `None` without entries. Nothing else changes when it moves on: the
/// stream carries every entry's widgets all along.
#[hook]
fn use_rotation(entries: Rc<Vec<Entry>>) -> Option<String> {
    let step = use_state(|| 0_usize);
    {
        let step = step.clone();
        use_effect_with((entries.clone(), *step), move |(entries, current)| {
            let timer = (!entries.is_empty()).then(|| {
                let (current, count) = (*current, entries.len());
                let seconds = entries[current % count].seconds;
                Timeout::new(seconds.saturating_mul(1_000), move || {
                    step.set((current + 1) % count)
                })
            });
            move || drop(timer)
        });
    }
    (!entries.is_empty()).then(|| entries[*step % entries.len()].dashboard.clone())
}

/// `data-kiosk` on the root element while in kiosk mode.
fn mark_root(kiosk: bool) {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    else {
        return;
    };
    let _ = if kiosk {
        root.set_attribute("data-kiosk", "")
    } else {
        root.remove_attribute("data-kiosk")
    };
}
