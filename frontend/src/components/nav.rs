use protocol::DashboardSpec;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::layout;
use crate::route::Route;
use crate::state::Menu;
use crate::widgets::Shared;

#[derive(Properties, PartialEq)]
pub struct DashboardNavProps {
    /// Shared with the stream's state: equal until a snapshot changes it, so
    /// the menu does not re-render with every frame of values.
    pub menu: Shared<Menu>,
    /// The dashboard on screen.
    #[prop_or_default]
    pub current: Option<AttrValue>,
}

/// The menu of declared dashboards, in the server's order, the one on screen
/// marked.
///
/// DOM contract: `data-testid="dashboard-nav"`; each link has
/// `data-dashboard="<name>"`, and the current one `aria-current="page"`.
#[function_component]
pub fn DashboardNav(props: &DashboardNavProps) -> Html {
    let dashboards = &props.menu.dashboards;
    if dashboards.is_empty() {
        return Html::default();
    }
    let current = props.current.as_deref();
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
