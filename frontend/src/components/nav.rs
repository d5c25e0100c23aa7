use protocol::DashboardSpec;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::layout::{self, current_name};
use crate::route::Route;
use crate::stream::use_dashboard;

/// The menu of declared dashboards, in the server's order, the one on screen
/// marked.
///
/// DOM contract: `data-testid="dashboard-nav"`; each link has
/// `data-dashboard="<name>"`, and the current one `aria-current="page"`.
#[function_component]
pub fn DashboardNav() -> Html {
    let store = use_dashboard();
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let dashboards = &store.view.dashboards;
    if dashboards.is_empty() {
        return Html::default();
    }
    let current = current_name(&store.view, store.has_snapshot(), route.dashboard_param())
        .filter(|_| route != Route::NotFound);
    html! {
        <nav class="dashboard-nav" data-testid="dashboard-nav" aria-label="Dashboards">
            { for dashboards.iter().map(|spec| html! {
                <DashboardLink
                    spec={spec.clone()}
                    default={dashboards[0].name.to_string()}
                    current={current == Some(spec.name.as_str())}
                />
            }) }
        </nav>
    }
}

#[derive(Properties, PartialEq)]
pub struct DashboardLinkProps {
    pub spec: DashboardSpec,
    /// The default dashboard's name: its link is `/`.
    pub default: AttrValue,
    #[prop_or_default]
    pub current: bool,
}

/// A link to a dashboard that navigates in place (pushState, no reload),
/// while a modified or middle click still opens a new tab as usual.
#[function_component]
pub fn DashboardLink(props: &DashboardLinkProps) -> Html {
    let navigator = use_navigator();
    let name = props.spec.name.as_str();
    let route = Route::to_dashboard(name, Some(&props.default));
    let href = route.to_path();
    let onclick = Callback::from(move |event: MouseEvent| {
        let plain = event.button() == 0
            && !(event.meta_key() || event.ctrl_key() || event.shift_key() || event.alt_key());
        if let (true, Some(navigator)) = (plain, &navigator) {
            event.prevent_default();
            navigator.push(&route);
        }
    });
    html! {
        <a
            class={classes!("dashboard-link", props.current.then_some("dashboard-link--current"))}
            {href}
            {onclick}
            data-dashboard={name.to_owned()}
            aria-current={props.current.then_some("page")}
        >
            { layout::title(&props.spec) }
        </a>
    }
}
