use yew::prelude::*;

/// A kind this build does not know (the server is newer): said so, quietly,
/// instead of breaking the dashboard.
#[function_component]
pub fn UnknownView() -> Html {
    html! {
        <p class="unsupported" data-testid="widget-value">{ "Unsupported widget" }</p>
    }
}
