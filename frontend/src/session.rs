//! Viewer sessions: whether the dashboard may stream, or the login form shows.
//!
//! A server started with `--viewer-token` answers the API and the event
//! stream only to a browser holding its `pulseboard_session` cookie (HttpOnly:
//! the SPA never sees it). `GET /api/session` says whether a token is
//! required and whether this browser is logged in; `POST` logs in, `DELETE`
//! logs out. The [`Gate`] decides what the page shows from those answers:
//! nothing yet (the first answer is pending), the dashboard, or the form.
//!
//! An EventSource cannot see HTTP status codes, so a stream refused with 401
//! looks like any dropped connection. The stream module therefore asks
//! `GET /api/session` after each stream error, before its next attempt, and
//! feeds the answer here ([`SessionAction::Seen`]): a session that ended
//! (expired, revoked, logged out in another tab) closes the stream for good
//! and brings the form back, instead of retrying forever.
//!
//! Pure: no web APIs, so every rule is unit-tested natively; `api` does the
//! requests and `components::login` the views.

use std::rc::Rc;

use serde::Deserialize;
use yew::{Reducible, UseReducerHandle};

/// What components get from the session context: the gate (deref) and dispatch.
pub type SessionHandle = UseReducerHandle<Gate>;

/// The answer of `GET /api/session` (and of a successful `POST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct SessionStatus {
    /// The server was started with viewer tokens.
    pub required: bool,
    /// This browser holds a valid session cookie (always true when none is required).
    pub authenticated: bool,
}

impl SessionStatus {
    /// `{"required": bool, "authenticated": bool}`; anything else is an error
    /// (an older server without the endpoint answers a 404 body, say).
    pub fn parse(body: &str) -> Result<SessionStatus, String> {
        serde_json::from_str(body).map_err(|err| format!("not a session ({err}): {body}"))
    }

    /// The dashboard is closed to this browser until it logs in.
    pub fn logged_out(&self) -> bool {
        self.required && !self.authenticated
    }
}

/// Why the login form shows, when it is not simply the first visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The stream found the session gone (expired, revoked, ended elsewhere).
    SessionEnded,
    /// The "Log out" button did it.
    LoggedOut,
    /// The "Log out" button was pressed but the server could not be reached:
    /// the cookie may still be valid.
    LogoutUnconfirmed,
}

impl Notice {
    pub fn message(self) -> &'static str {
        match self {
            Notice::SessionEnded => "Your session ended; log in again.",
            Notice::LoggedOut => "You are logged out.",
            Notice::LogoutUnconfirmed => {
                "Logged out here, but the server could not be reached: \
                 the session may still be valid until it expires."
            }
        }
    }

    /// Whether it reports a problem (an alert) rather than a plain status.
    pub fn is_problem(self) -> bool {
        !matches!(self, Notice::LoggedOut)
    }
}

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gate {
    /// The first `GET /api/session` is under way: no stream yet.
    #[default]
    Checking,
    /// The dashboard, with its stream. `required`: the server asks for a
    /// viewer token, so the header offers "Log out".
    Open { required: bool },
    /// The login form instead of the dashboard; no stream.
    Login { notice: Option<Notice> },
}

/// Everything that can change the [`Gate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAction {
    /// The answer to the page's first `GET /api/session`; `None` when it could
    /// not be had (server down, an older server without the endpoint). Then
    /// the stream is tried anyway: its own reconnects cover a server that is
    /// down, and its error check finds out about a login later.
    Checked(Option<SessionStatus>),
    /// What `GET /api/session` said after a stream error.
    Seen(SessionStatus),
    /// The login form's `POST /api/session` was accepted.
    LoggedIn(SessionStatus),
    /// The user logged out; `confirmed` when the server cleared the session.
    LoggedOut { confirmed: bool },
}

impl Gate {
    /// The gate after `action`.
    pub fn next(self, action: SessionAction) -> Gate {
        match (self, action) {
            (Gate::Checking, SessionAction::Checked(status)) => match status {
                Some(status) if status.logged_out() => Gate::Login { notice: None },
                Some(status) => Gate::Open {
                    required: status.required,
                },
                None => Gate::Open { required: false },
            },
            // Only the first answer decides; a late one changes nothing.
            (gate, SessionAction::Checked(_)) => gate,
            (Gate::Open { .. }, SessionAction::Seen(status)) if status.logged_out() => {
                Gate::Login {
                    notice: Some(Notice::SessionEnded),
                }
            }
            // Still welcome; learns whether "Log out" makes sense (the first
            // check may have failed).
            (Gate::Open { .. }, SessionAction::Seen(status)) => Gate::Open {
                required: status.required,
            },
            // The stream is closed outside `Open`: an answer for it is stale.
            (gate, SessionAction::Seen(_)) => gate,
            (Gate::Login { .. } | Gate::Checking, SessionAction::LoggedIn(status)) => Gate::Open {
                required: status.required,
            },
            (gate @ Gate::Open { .. }, SessionAction::LoggedIn(_)) => gate,
            (_, SessionAction::LoggedOut { confirmed }) => Gate::Login {
                notice: Some(if confirmed {
                    Notice::LoggedOut
                } else {
                    Notice::LogoutUnconfirmed
                }),
            },
        }
    }

    /// Whether the dashboard (and its one EventSource) is on the page.
    pub fn streams(self) -> bool {
        matches!(self, Gate::Open { .. })
    }

    /// Whether the header offers "Log out".
    pub fn can_log_out(self) -> bool {
        matches!(self, Gate::Open { required: true })
    }
}

impl Reducible for Gate {
    type Action = SessionAction;

    fn reduce(self: Rc<Self>, action: SessionAction) -> Rc<Self> {
        let next = (*self).next(action);
        if next == *self {
            self
        } else {
            Rc::new(next)
        }
    }
}

/// What a stream error leads to, once `GET /api/session` answered (`None`:
/// it could not be asked, e.g. the server is down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStreamError {
    /// Try again after the backoff, as for any dropped connection.
    Reconnect,
    /// The session is gone: close the stream for good and show the form.
    LogIn,
}

pub fn after_stream_error(status: Option<SessionStatus>) -> AfterStreamError {
    match status {
        Some(status) if status.logged_out() => AfterStreamError::LogIn,
        _ => AfterStreamError::Reconnect,
    }
}

/// How the server answered the login form's `POST /api/session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Accepted(SessionStatus),
    /// 401: wrong token.
    Rejected,
    /// 429: too many attempts; `retry_after_s` from the `Retry-After` header.
    RateLimited {
        retry_after_s: Option<u64>,
    },
    /// Anything else: another status (with the server's message, if any), or
    /// no answer at all.
    Failed(String),
}

impl LoginOutcome {
    /// From the response's status, `Retry-After` header and body.
    pub fn of_response(status: u16, retry_after: Option<&str>, body: &str) -> LoginOutcome {
        match status {
            200..=299 => match SessionStatus::parse(body) {
                Ok(session) if session.authenticated => LoginOutcome::Accepted(session),
                Ok(_) => LoginOutcome::Rejected,
                Err(err) => {
                    LoginOutcome::Failed(format!("unexpected answer from the server ({err})"))
                }
            },
            401 => LoginOutcome::Rejected,
            429 => LoginOutcome::RateLimited {
                retry_after_s: retry_after.and_then(parse_retry_after),
            },
            _ => {
                let message = serde_json::from_str::<ErrorBody>(body)
                    .ok()
                    .and_then(|error| error.message);
                LoginOutcome::Failed(match message {
                    Some(message) => format!("the server answered {status}: {message}"),
                    None => format!("the server answered {status}"),
                })
            }
        }
    }

    /// The form's error line; `None` once logged in.
    pub fn message(&self) -> Option<String> {
        match self {
            LoginOutcome::Accepted(_) => None,
            LoginOutcome::Rejected => Some("That token is not valid.".to_owned()),
            LoginOutcome::RateLimited {
                retry_after_s: Some(seconds),
            } => Some(format!(
                "Too many attempts. Try again in {}.",
                duration_words(*seconds)
            )),
            LoginOutcome::RateLimited {
                retry_after_s: None,
            } => Some("Too many attempts. Wait a moment and try again.".to_owned()),
            LoginOutcome::Failed(why) => Some(format!("Could not log in: {why}.")),
        }
    }
}

/// The API's error body, `{"error": "...", "message": "..."}`: the message.
#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

/// `value` as a JSON string literal, quotes included (the login body has one
/// string in it: not worth serde_json's serializer in the bundle).
pub fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `Retry-After` in seconds. The HTTP-date form is not worth a date parser
/// here: it reads as unknown (the message then says "a moment").
pub fn parse_retry_after(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// "1 second", "45 seconds", "2 minutes" (rounded up: never promises too early).
pub fn duration_words(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds < 60 {
        plural(seconds.max(1), "second")
    } else {
        plural(seconds.div_ceil(60), "minute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: SessionStatus = SessionStatus {
        required: false,
        authenticated: true,
    };
    const IN: SessionStatus = SessionStatus {
        required: true,
        authenticated: true,
    };
    const OUT: SessionStatus = SessionStatus {
        required: true,
        authenticated: false,
    };

    #[test]
    fn status_parses_the_server_answer() {
        assert_eq!(
            SessionStatus::parse(r#"{"required": true, "authenticated": false}"#),
            Ok(OUT)
        );
        assert_eq!(
            SessionStatus::parse(r#"{"authenticated":true,"required":false,"extra":1}"#),
            Ok(OPEN)
        );
        // An older server's 404, or a proxy's HTML page.
        assert!(SessionStatus::parse(r#"{"error":"not_found","message":"no route"}"#).is_err());
        assert!(SessionStatus::parse("<html>").is_err());
        assert!(SessionStatus::parse(r#"{"required":"yes","authenticated":true}"#).is_err());
        assert!(OUT.logged_out());
        assert!(!IN.logged_out());
        assert!(!OPEN.logged_out());
    }

    #[test]
    fn the_first_check_decides_between_form_and_dashboard() {
        assert_eq!(Gate::default(), Gate::Checking);
        assert!(!Gate::Checking.streams());
        assert_eq!(
            Gate::Checking.next(SessionAction::Checked(Some(OUT))),
            Gate::Login { notice: None }
        );
        let open = Gate::Checking.next(SessionAction::Checked(Some(IN)));
        assert_eq!(open, Gate::Open { required: true });
        assert!(open.streams() && open.can_log_out());
        let open = Gate::Checking.next(SessionAction::Checked(Some(OPEN)));
        assert_eq!(open, Gate::Open { required: false });
        assert!(open.streams() && !open.can_log_out());
        // No answer: stream anyway; the stream's own checks take over.
        assert_eq!(
            Gate::Checking.next(SessionAction::Checked(None)),
            Gate::Open { required: false }
        );
        // A late answer to the first check changes nothing.
        let login = Gate::Login { notice: None };
        assert_eq!(login.next(SessionAction::Checked(Some(IN))), login);
        let open = Gate::Open { required: true };
        assert_eq!(open.next(SessionAction::Checked(Some(OUT))), open);
    }

    #[test]
    fn a_stream_error_with_the_session_gone_brings_the_form_back() {
        let open = Gate::Open { required: true };
        assert_eq!(
            open.next(SessionAction::Seen(OUT)),
            Gate::Login {
                notice: Some(Notice::SessionEnded)
            }
        );
        assert_eq!(open.next(SessionAction::Seen(IN)), open);
        // The first check had failed: now the header learns about "Log out".
        assert_eq!(
            Gate::Open { required: false }.next(SessionAction::Seen(IN)),
            Gate::Open { required: true }
        );
        // The server restarted without viewer tokens.
        assert_eq!(
            open.next(SessionAction::Seen(OPEN)),
            Gate::Open { required: false }
        );
        // Stale answers once the stream is gone.
        let login = Gate::Login { notice: None };
        assert_eq!(login.next(SessionAction::Seen(IN)), login);
        assert_eq!(
            Gate::Checking.next(SessionAction::Seen(OUT)),
            Gate::Checking
        );

        assert_eq!(after_stream_error(Some(OUT)), AfterStreamError::LogIn);
        assert_eq!(after_stream_error(Some(IN)), AfterStreamError::Reconnect);
        assert_eq!(after_stream_error(Some(OPEN)), AfterStreamError::Reconnect);
        // The server is down: the usual backoff.
        assert_eq!(after_stream_error(None), AfterStreamError::Reconnect);
    }

    #[test]
    fn login_and_logout() {
        let login = Gate::Login {
            notice: Some(Notice::SessionEnded),
        };
        assert_eq!(
            login.next(SessionAction::LoggedIn(IN)),
            Gate::Open { required: true }
        );
        // A server without tokens accepts anything.
        assert_eq!(
            login.next(SessionAction::LoggedIn(OPEN)),
            Gate::Open { required: false }
        );
        let open = Gate::Open { required: true };
        assert_eq!(open.next(SessionAction::LoggedIn(IN)), open);
        assert_eq!(
            open.next(SessionAction::LoggedOut { confirmed: true }),
            Gate::Login {
                notice: Some(Notice::LoggedOut)
            }
        );
        assert_eq!(
            open.next(SessionAction::LoggedOut { confirmed: false }),
            Gate::Login {
                notice: Some(Notice::LogoutUnconfirmed)
            }
        );
        assert!(!Notice::LoggedOut.is_problem());
        assert!(Notice::SessionEnded.is_problem());
        assert_eq!(
            Notice::SessionEnded.message(),
            "Your session ended; log in again."
        );
    }

    #[test]
    fn login_answers_become_messages() {
        let ok = LoginOutcome::of_response(200, None, r#"{"required":true,"authenticated":true}"#);
        assert_eq!(ok, LoginOutcome::Accepted(IN));
        assert_eq!(ok.message(), None);
        let open =
            LoginOutcome::of_response(200, None, r#"{"required":false,"authenticated":true}"#);
        assert_eq!(open, LoginOutcome::Accepted(OPEN));

        let wrong =
            LoginOutcome::of_response(401, None, r#"{"error":"unauthorized","message":"x"}"#);
        assert_eq!(wrong, LoginOutcome::Rejected);
        assert_eq!(wrong.message().as_deref(), Some("That token is not valid."));

        let limited = LoginOutcome::of_response(429, Some(" 30 "), r#"{"error":"rate_limited"}"#);
        assert_eq!(
            limited,
            LoginOutcome::RateLimited {
                retry_after_s: Some(30)
            }
        );
        assert_eq!(
            limited.message().as_deref(),
            Some("Too many attempts. Try again in 30 seconds.")
        );
        let limited = LoginOutcome::of_response(429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), "");
        assert_eq!(
            limited.message().as_deref(),
            Some("Too many attempts. Wait a moment and try again.")
        );
        assert_eq!(
            LoginOutcome::of_response(429, None, "")
                .message()
                .as_deref(),
            Some("Too many attempts. Wait a moment and try again.")
        );

        let failed = LoginOutcome::of_response(
            400,
            None,
            r#"{"error":"bad_request","message":"`token` is missing"}"#,
        );
        assert_eq!(
            failed.message().as_deref(),
            Some("Could not log in: the server answered 400: `token` is missing.")
        );
        assert_eq!(
            LoginOutcome::of_response(502, None, "<html>Bad gateway</html>")
                .message()
                .as_deref(),
            Some("Could not log in: the server answered 502.")
        );
        assert!(matches!(
            LoginOutcome::of_response(200, None, "{}"),
            LoginOutcome::Failed(_)
        ));
    }

    #[test]
    fn the_token_is_sent_as_a_json_string() {
        for token in [
            "plain",
            "quo\"te",
            "back\\slash",
            "new\nline\ttab\r",
            "\u{1}\u{1f}",
            "ünï €",
        ] {
            let body = format!("{{\"token\":{}}}", json_string(token));
            let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(parsed["token"], token, "{body}");
        }
        assert_eq!(json_string("a\"b"), r#""a\"b""#);
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(duration_words(0), "1 second");
        assert_eq!(duration_words(1), "1 second");
        assert_eq!(duration_words(59), "59 seconds");
        assert_eq!(duration_words(60), "1 minute");
        assert_eq!(duration_words(61), "2 minutes");
        assert_eq!(parse_retry_after("abc"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("120"), Some(120));
    }
}
