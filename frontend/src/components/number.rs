use protocol::Number;
use yew::prelude::*;

use crate::format;

#[derive(Properties, PartialEq)]
pub struct NumberProps {
    pub number: Number,
}

/// A big figure, with an arrow and the change since the previous value.
#[function_component]
pub fn NumberView(props: &NumberProps) -> Html {
    let Number {
        value,
        unit,
        previous,
    } = &props.number;
    let unit = unit.as_deref();
    let (figure, free_unit) = format::value_parts(*value, unit);
    let delta = previous.and_then(|previous| format::delta(*value, previous, unit));
    html! {
        <div class="number">
            <div class="big-value" data-testid="widget-value">
                { figure }
                if let Some(unit) = free_unit {
                    <span class="unit">{ " " }{ unit }</span>
                }
            </div>
            if let Some((trend, change)) = delta {
                <div class={classes!("delta", format!("delta--{}", trend.class()))}>
                    <span class="delta-arrow" aria-hidden="true">{ trend.arrow() }</span>
                    { change }
                </div>
            }
        </div>
    }
}
