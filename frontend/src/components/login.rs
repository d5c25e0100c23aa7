use wasm_bindgen::JsValue;
use web_sys::HtmlInputElement;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::session::{LoginOutcome, Notice, SessionAction, SessionHandle};

#[derive(Properties, PartialEq)]
pub struct LoginFormProps {
    /// Why the form shows, if not the first visit.
    #[prop_or_default]
    pub notice: Option<Notice>,
}

/// The form a server with viewer tokens shows instead of the dashboard: one
/// password field, a button, and a line for what went wrong.
///
/// DOM contract (the end-to-end tests rely on it): `data-testid` =
/// `login-form`, `login-token` (the field, labelled "Viewer token"),
/// `login-submit`, `login-error` (always present, empty until a problem) and
/// `login-notice` (why the form is back, when it is).
#[function_component]
pub fn LoginForm(props: &LoginFormProps) -> Html {
    let session = use_context::<SessionHandle>();
    let input = use_node_ref();
    let busy = use_state(|| false);
    let error = use_state(|| None::<String>);

    // Focus the field when the form appears (an `autofocus` attribute only
    // works for the page's first render).
    {
        let input = input.clone();
        use_effect_with((), move |_| {
            if let Some(input) = input.cast::<HtmlInputElement>() {
                let _ = input.focus();
            }
        });
    }
    use_effect_with((), |_| {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title("Log in · Pulseboard");
        }
    });

    let onsubmit = {
        let (input, busy, error) = (input.clone(), busy.clone(), error.clone());
        let session = session.map(|session| session.dispatcher());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if *busy {
                return;
            }
            let Some(field) = input.cast::<HtmlInputElement>() else {
                return;
            };
            let token = field.value();
            if token.trim().is_empty() {
                error.set(Some("Enter the viewer token.".to_owned()));
                let _ = field.focus();
                return;
            }
            busy.set(true);
            error.set(None);
            let (busy, error, session) = (busy.clone(), error.clone(), session.clone());
            spawn_local(async move {
                let outcome = api::log_in(&token).await;
                busy.set(false);
                match outcome {
                    LoginOutcome::Accepted(status) => {
                        if let Some(session) = session {
                            session.dispatch(SessionAction::LoggedIn(status));
                        }
                    }
                    outcome => {
                        error.set(outcome.message());
                        // Ready for another try: the wrong token selected.
                        field.select();
                        let _ = field.focus();
                    }
                }
            });
        })
    };

    let problem = (*error).clone();
    let notice = props.notice.filter(|_| problem.is_none());
    html! {
        <section class="login" aria-labelledby="login-title">
            <form class="login-form" data-testid="login-form" {onsubmit} novalidate=true>
                <h2 class="login-title" id="login-title">{ "Log in to the dashboard" }</h2>
                <p class="login-hint">
                    { "This Pulseboard shows its widgets to viewers with a token. Ask whoever runs it for one." }
                </p>
                if let Some(notice) = notice {
                    <p
                        class={classes!("login-notice", notice.is_problem().then_some("login-notice--problem"))}
                        data-testid="login-notice"
                        role="status"
                    >
                        { notice.message() }
                    </p>
                }
                // For password managers, which file a secret under a user name.
                <input
                    type="text"
                    name="username"
                    autocomplete="username"
                    value="Pulseboard viewer"
                    readonly=true
                    hidden=true
                />
                <label class="login-label" for="viewer-token">{ "Viewer token" }</label>
                <input
                    ref={input}
                    class="login-input"
                    id="viewer-token"
                    name="token"
                    type="password"
                    autocomplete="current-password"
                    spellcheck="false"
                    required=true
                    aria-invalid={problem.is_some().then_some("true")}
                    aria-describedby="login-error"
                    data-testid="login-token"
                />
                <p class="login-error" id="login-error" data-testid="login-error" role="alert">
                    { problem.unwrap_or_default() }
                </p>
                <button
                    class="button button--primary login-submit"
                    type="submit"
                    disabled={*busy}
                    aria-busy={busy.then_some("true")}
                    data-testid="login-submit"
                >
                    { if *busy { "Logging in…" } else { "Log in" } }
                </button>
            </form>
        </section>
    }
}

/// "Log out" in the header, while a viewer token is required: ends the
/// session on the server (which clears the cookie) and shows the form.
///
/// DOM contract: `data-testid="logout-button"`.
#[function_component]
pub fn LogoutButton() -> Html {
    let session = use_context::<SessionHandle>();
    let busy = use_state(|| false);
    let onclick = {
        let busy = busy.clone();
        let session = session.map(|session| session.dispatcher());
        Callback::from(move |_: MouseEvent| {
            if *busy {
                return;
            }
            busy.set(true);
            let (busy, session) = (busy.clone(), session.clone());
            spawn_local(async move {
                let confirmed = api::log_out().await;
                if !confirmed {
                    web_sys::console::warn_1(&JsValue::from_str(
                        "pulseboard: DELETE /api/session failed; showing the login form anyway",
                    ));
                }
                busy.set(false);
                // Either way the stream closes (the gate unmounts it): what
                // the user asked for is that this screen stops showing data.
                if let Some(session) = session {
                    session.dispatch(SessionAction::LoggedOut { confirmed });
                }
            });
        })
    };
    html! {
        <button
            class="button logout"
            type="button"
            {onclick}
            disabled={*busy}
            data-testid="logout-button"
        >
            { "Log out" }
        </button>
    }
}
