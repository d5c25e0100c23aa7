use yew::prelude::*;

use crate::stream::use_dashboard;

/// The connection indicator in the header.
///
/// DOM contract (the end-to-end test relies on it): `data-testid="connection-badge"`
/// and `data-state` = `connecting` | `live` | `reconnecting`.
#[function_component]
pub fn ConnectionBadge() -> Html {
    let store = use_dashboard();
    let state = store.connection;
    html! {
        <span
            class={classes!("badge", format!("badge--{}", state.as_str()))}
            data-testid="connection-badge"
            data-state={state.as_str()}
            role="status"
            aria-live="polite"
        >
            <span class="badge-dot" aria-hidden="true"></span>
            { state.label() }
        </span>
    }
}
