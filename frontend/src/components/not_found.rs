use yew::prelude::*;

use super::nav::DashboardLink;
use crate::stream::use_view;

#[derive(Properties, PartialEq)]
pub struct NotFoundProps {
    /// "No dashboard named X", "Nothing at /x".
    pub heading: AttrValue,
}

/// What a wrong address shows: what is wrong, and the way to every real dashboard.
///
/// DOM contract: `data-testid="dashboard-not-found"`, links with `data-dashboard`.
#[function_component]
pub fn NotFound(props: &NotFoundProps) -> Html {
    let view = use_view();
    let dashboards = &view.menu.dashboards;
    html! {
        <section class="empty" data-testid="dashboard-not-found">
            <h2>{ &props.heading }</h2>
            if let Some(default) = dashboards.first() {
                <p>{ "These dashboards exist:" }</p>
                <ul class="dashboard-list">
                    { for dashboards.iter().map(|spec| html! {
                        <li>
                            <DashboardLink spec={spec.clone()} default={default.name.to_string()} />
                        </li>
                    }) }
                </ul>
            }
        </section>
    }
}
