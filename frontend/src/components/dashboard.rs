use protocol::Size;
use yew::prelude::*;
use yew_router::prelude::*;

use super::clock::use_clock;
use super::not_found::NotFound;
use super::viewport::inner_size;
use super::widget::{WaitingCard, WidgetCard};
use crate::fit::{fit, Fit};
use crate::layout::{Card, Layout};
use crate::liveness::ConnectionState;
use crate::route::Route;
use crate::stream::use_stream;
use crate::wall::OnScreen;
use crate::widgets::Shared;

/// How often widget ages ("updated 3m ago") and staleness are refreshed.
const CLOCK_TICK_MS: u32 = 1_000;

/// The dashboard on screen: its declared cards in order, then the unsorted
/// ones; a placeholder until the stream's `init`, a hint when there are no
/// widgets, and a "not found" page for an unknown dashboard or address. In
/// kiosk mode, every card in one grid fitted to the screen ([`crate::fit`]).
///
/// It renders once per frame with news and once a second for the ages, but
/// its cards only when their own widget changed or their age text moved
/// (see [`super::widget::WidgetCardProps`]): a render costs a pointer
/// comparison per unchanged card.
///
/// DOM contract: `data-testid` = `dashboard-placeholder` | `dashboard` (the
/// declared cards; in kiosk mode, all of them) | `unsorted` (the section of
/// undeclared widgets) | `dashboard-empty` | `dashboard-not-found`.
#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    /// What a wall screen shows: the rotation's dashboard, kiosk mode.
    #[prop_or_default]
    pub screen: OnScreen,
}

#[function_component]
pub fn Dashboard(props: &DashboardProps) -> Html {
    let status = use_stream();
    let view = status.view.clone();
    let screen = &props.screen;
    let now_ms = use_clock(CLOCK_TICK_MS);
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let location = use_location();

    let layout = view
        .has_snapshot()
        .then(|| Layout::of(&view, screen.dashboard.as_deref()))
        .flatten();
    // What the kiosk grid is fitted to: the cards' sizes and the window's.
    let kiosk_input = match &layout {
        Some(layout) if screen.kiosk && !layout.is_empty() => {
            let sizes: Vec<_> = layout
                .cards
                .iter()
                .chain(&layout.unsorted)
                .map(Card::size)
                .collect();
            // Read at every render, and the dashboard renders at least once a
            // second (its clock): a resized window or a turned screen is
            // fitted again within a second, with no listener to keep.
            let (width, height) = inner_size();
            Some((sizes, width, height))
        }
        _ => None,
    };
    // Fitted again only when those change: placing 200 cards on each of the
    // grids tried is a few milliseconds, too much for every frame.
    let kiosk_fit = use_memo(kiosk_input, |input| {
        input
            .as_ref()
            .map(|(sizes, width, height)| fit(sizes, *width, *height))
    });
    use_effect_with(kiosk_fit.clone(), |fit| apply_fit(fit.as_ref().as_ref()));

    if !view.has_snapshot() {
        return placeholder();
    }
    if route == Route::NotFound && screen.dashboard.is_none() {
        let path = location.map(|l| l.path().to_owned()).unwrap_or_default();
        return html! { <NotFound heading={format!("Nothing at {path}")} /> };
    }
    let Some(layout) = layout else {
        let heading = screen
            .missing
            .clone()
            .unwrap_or_else(|| format!("No dashboard named {}", route.dashboard_param()).into());
        return html! { <NotFound {heading} /> };
    };
    if layout.is_empty() {
        return empty();
    }

    let server_now_ms = now_ms + status.clock.offset_ms();
    let grid_class = classes!(
        "grid",
        (status.liveness.connection == ConnectionState::Reconnecting).then_some("grid--stale")
    );
    let cards = |cards: &[Card]| -> Html {
        cards
            .iter()
            .map(|card| card_html(card, None, server_now_ms))
            .collect()
    };
    if let Some(fit) = kiosk_fit.as_ref() {
        // Every card, at its span on the fitted grid.
        let all: Html = layout
            .cards
            .iter()
            .chain(&layout.unsorted)
            .zip(&fit.spans)
            .map(|(card, span)| card_html(card, Some(*span), server_now_ms))
            .collect();
        return html! {
            <section class={classes!(grid_class, "grid--kiosk")} data-testid="dashboard">
                { all }
            </section>
        };
    }
    html! {
        <>
            if !layout.cards.is_empty() {
                <section class={grid_class.clone()} data-testid="dashboard">
                    { cards(&layout.cards) }
                </section>
            }
            if !layout.unsorted.is_empty() {
                <section class="unsorted" data-testid="unsorted" aria-label="Unsorted">
                    // A dashboard that declares nothing (the server's implicit
                    // one) is all "unsorted": a heading would only be noise.
                    if !layout.cards.is_empty() {
                        <h2 class="section-title">{ "Unsorted" }</h2>
                    }
                    <div class={grid_class}>{ cards(&layout.unsorted) }</div>
                </section>
            }
        </>
    }
}

/// A card, at `span` when given (kiosk mode), else at its own size.
fn card_html(card: &Card, span: Option<Size>, server_now_ms: f64) -> Html {
    let size = span.unwrap_or_else(|| card.size());
    match card {
        Card::Waiting(spec) => html! {
            <WaitingCard key={spec.id.as_str()} spec={Shared(spec.clone())} {size} />
        },
        Card::Shown { widget, spec, .. } => html! {
            <WidgetCard
                key={widget.id.as_str()}
                widget={Shared(widget.clone())}
                declared={spec.clone().map(Shared)}
                {size}
                {server_now_ms}
            />
        },
    }
}

/// The kiosk grid's columns, rows and text size, as custom properties of the
/// root element, and `data-kiosk-dense` when its cells are short (kiosk.css
/// reads them, under `data-kiosk` only: outside kiosk mode they may stay).
/// Through the CSSOM, which the server's Content-Security-Policy allows,
/// unlike `style` attributes.
fn apply_fit(fit: Option<&Fit>) {
    let Some(fit) = fit else {
        return;
    };
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
    else {
        return;
    };
    let style = root.style();
    let _ = style.set_property("--kiosk-cols", &fit.cols.to_string());
    let _ = style.set_property("--kiosk-rows", &fit.rows.to_string());
    let _ = style.set_property("--kiosk-font", &format!("{}px", fit.font_px));
    let _ = if fit.dense {
        root.set_attribute("data-kiosk-dense", "")
    } else {
        root.remove_attribute("data-kiosk-dense")
    };
}

/// Skeleton cards, until the first snapshot (and while the session is checked).
pub fn placeholder() -> Html {
    html! {
        <section class="grid grid--placeholder" data-testid="dashboard-placeholder" aria-busy="true">
            { for (0..6).map(|i| html! {
                <div class={classes!("card", "card--skeleton", (i == 4).then_some("card--w2"))}>
                    <div class="skeleton skeleton--title"></div>
                    <div class="skeleton skeleton--value"></div>
                </div>
            }) }
            <p class="placeholder-note">{ "Waiting for the first update from the server…" }</p>
        </section>
    }
}

fn empty() -> Html {
    html! {
        <section class="empty" data-testid="dashboard-empty">
            <h2>{ "No widgets yet" }</h2>
            <p>{ "Anything that can make an HTTP request can create one:" }</p>
            <pre><code>{ format!(
                "curl -H \"Authorization: Bearer $TOKEN\" \\\n     -d '{{\"value\": 42}}' {}/api/widgets/orders",
                origin()
            ) }</code></pre>
        </section>
    }
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// The render path in a real browser: a card re-renders when its widget
/// changed, and only then (`cargo test -p frontend --target
/// wasm32-unknown-unknown`, see .cargo/config.toml).
#[cfg(all(test, target_arch = "wasm32"))]
mod render_tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use protocol::{
        DashboardSpec, Init, Number, ServerEvent, Size, Snapshot, Update, View, Widget, WidgetId,
        WidgetSpec, WidgetValue,
    };
    use wasm_bindgen_test::*;
    use yew::prelude::*;
    use yew_router::prelude::*;

    use super::Dashboard;
    use crate::components::widget::render_count;
    use crate::liveness::{ConnectionState, Liveness};
    use crate::state::ViewState;
    use crate::stream::StreamContext;
    use crate::wall::OnScreen;

    wasm_bindgen_test_configure!(run_in_browser);

    thread_local! {
        static CONTEXT: RefCell<StreamContext> = RefCell::default();
        static SETTER: RefCell<Option<UseStateSetter<StreamContext>>> = RefCell::default();
    }

    /// A dashboard fed by hand instead of by a stream.
    #[function_component]
    fn Harness() -> Html {
        let context = use_state(|| CONTEXT.with(|c| c.borrow().clone()));
        SETTER.with(|s| *s.borrow_mut() = Some(context.setter()));
        let screen = OnScreen {
            dashboard: Some("ops".into()),
            ..OnScreen::default()
        };
        html! {
            <BrowserRouter>
                <ContextProvider<StreamContext> context={(*context).clone()}>
                    <Dashboard {screen} />
                </ContextProvider<StreamContext>>
            </BrowserRouter>
        }
    }

    fn id(s: &str) -> WidgetId {
        WidgetId::parse(s).unwrap()
    }

    fn update(widget: &str, value: f64) -> Update {
        Update {
            id: id(widget),
            title: None,
            value: WidgetValue::Number(Number {
                value,
                ..Number::default()
            }),
            at: js_sys::Date::now() as i64,
            expect_every: None,
        }
    }

    fn publish(view: ViewState) {
        let context = CONTEXT.with(|c| {
            let mut c = c.borrow_mut();
            c.view = Rc::new(view);
            c.clone()
        });
        SETTER.with(|s| s.borrow().as_ref().expect("mounted").set(context));
    }

    #[wasm_bindgen_test]
    async fn only_the_card_whose_widget_changed_renders_again() {
        let names = ["rt.a", "rt.b", "rt.c"];
        let mut view = ViewState::default();
        view.apply(
            ServerEvent::Init(Init {
                protocol_version: protocol::PROTOCOL_VERSION,
                epoch: "e".into(),
                last_event_id: None,
                heartbeat_ms: 1_000,
                build: None,
                view: View {
                    dashboards: vec![DashboardSpec {
                        name: id("ops"),
                        title: None,
                        widgets: names
                            .iter()
                            .map(|n| WidgetSpec {
                                id: id(n),
                                title: None,
                                kind: None,
                                unit: None,
                                size: Size::default(),
                                thresholds: None,
                                expect_every: None,
                            })
                            .collect(),
                        unsorted: true,
                        kiosk: false,
                    }],
                    snapshot: Snapshot {
                        widgets: names.iter().map(|n| Widget::new(update(n, 1.0))).collect(),
                    },
                    ..View::default()
                },
            }),
            None,
        );
        CONTEXT.with(|c| {
            *c.borrow_mut() = StreamContext {
                view: Rc::new(view.clone()),
                liveness: Liveness {
                    connection: ConnectionState::Live,
                    ..Liveness::default()
                },
                ..StreamContext::default()
            }
        });
        let document = web_sys::window().unwrap().document().unwrap();
        let root = document.create_element("div").unwrap();
        document.body().unwrap().append_child(&root).unwrap();
        yew::Renderer::<Harness>::with_root(root.clone()).render();
        yew::scheduler::flush().await;
        let counts = || names.map(render_count::of);
        assert_eq!(counts(), [1, 1, 1], "{}", root.inner_html());

        // A frame with news for b: the state shares a and c with the last one.
        let mut next = view.clone();
        next.apply(ServerEvent::Update(update("rt.b", 2.0)), None);
        publish(next.clone());
        yew::scheduler::flush().await;
        assert_eq!(counts(), [1, 2, 1]);
        let shown = root
            .query_selector(r#"[data-widget-id="rt.b"] [data-testid="widget-value"]"#)
            .unwrap()
            .and_then(|e| e.text_content());
        assert_eq!(shown.as_deref(), Some("2"));

        // A frame without news for these cards (another widget came): none renders.
        let mut other = next.clone();
        other.apply(ServerEvent::Update(update("rt.unsorted", 9.0)), None);
        publish(other);
        yew::scheduler::flush().await;
        assert_eq!(counts(), [1, 2, 1]);

        // Three updates of a in one frame: one render.
        let mut batch = next;
        for value in [3.0, 4.0, 5.0] {
            batch.apply(ServerEvent::Update(update("rt.a", value)), None);
        }
        publish(batch);
        yew::scheduler::flush().await;
        assert_eq!(counts(), [2, 2, 1]);
    }
}
