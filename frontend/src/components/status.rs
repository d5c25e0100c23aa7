use protocol::{Status, StatusLevel};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct StatusProps {
    pub status: Status,
}

/// A coloured pill (ok / warning / critical / unknown) and the message.
#[function_component]
pub fn StatusView(props: &StatusProps) -> Html {
    let Status { level, message } = &props.status;
    let (class, label) = match level {
        StatusLevel::Ok => ("ok", "OK"),
        StatusLevel::Warn => ("warn", "Warning"),
        StatusLevel::Critical => ("critical", "Critical"),
        StatusLevel::Unknown => ("unknown", "Unknown"),
    };
    html! {
        <div class="status">
            <span class={classes!("pill", format!("pill--{class}"))} data-testid="widget-value">
                <span class="pill-dot" aria-hidden="true"></span>
                { label }
            </span>
            if let Some(message) = message {
                <p class="status-message" dir="auto">{ message }</p>
            }
        </div>
    }
}
