use web_sys::HtmlElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct PlacedProps {
    #[prop_or_default]
    pub class: Classes,
    /// The CSS property that places or sizes it (`top`, `left`, `width`).
    pub property: &'static str,
    /// Its value, e.g. `"42.50%"`.
    pub value: AttrValue,
    /// Decorative (a bar behind a value): hidden from assistive technology.
    #[prop_or_default]
    pub decorative: bool,
    #[prop_or_default]
    pub children: Html,
}

/// A `<span>` whose position or size is computed at run time (a chart's tick,
/// a row's bar).
///
/// Not through a `style="…"` attribute: the server's Content-Security-Policy
/// (`style-src 'self'`) blocks those. The property is written through the
/// CSSOM (`element.style.setProperty`), which the policy allows, after each
/// render in which the value changed; effects run before the browser paints,
/// so the element never shows unplaced.
#[function_component]
pub fn Placed(props: &PlacedProps) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        let property = props.property;
        use_effect_with(props.value.clone(), move |value| {
            if let Some(element) = node.cast::<HtmlElement>() {
                let _ = element.style().set_property(property, value);
            }
        });
    }
    html! {
        <span
            ref={node}
            class={props.class.clone()}
            aria-hidden={props.decorative.then_some("true")}
        >
            { props.children.clone() }
        </span>
    }
}
