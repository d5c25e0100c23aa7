fn main() {
    yew::Renderer::<frontend::App>::new().render();
}
