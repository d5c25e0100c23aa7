use protocol::Text;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct TextProps {
    pub text: Text,
}

/// Free text; line breaks are kept.
#[function_component]
pub fn TextView(props: &TextProps) -> Html {
    html! {
        <p class="text-body" data-testid="widget-value" dir="auto">{ &props.text.text }</p>
    }
}
