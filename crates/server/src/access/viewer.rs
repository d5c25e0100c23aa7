//! Viewer access. With viewer tokens configured, the dashboard is shown only
//! to browsers holding a session cookie, which `POST /api/session` hands out
//! for a valid token, or to requests with a viewer token as `Bearer`.
//!
//! The cookie is `v2.<session id>.<expiry>.<signature>`: a random id, and an
//! HMAC-SHA256 over both and the token it was made with, keyed by a random
//! server key kept where the log lives (see `log/sessions.rs`). So:
//! - a captured cookie says nothing about any token (the key is not derived
//!   from one), and a cookie cannot be made or extended without the key;
//!   replacing the key ends every session;
//! - logout revokes the id server-side, on every instance sharing the log,
//!   and an open stream of that session ends (`routes/events.rs`);
//! - removing a token from the configuration ends the sessions made with it;
//! - sessions survive restarts; the token is never stored in the browser.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::tokens::request_bearer_token;
use super::{Tokens, TrustedProxies};
use crate::error::ApiError;
use crate::limits::{Credential, GuessLimit};
use crate::log::SessionRecords;
use crate::secret_file::hex;

pub const COOKIE_NAME: &str = "pulseboard_session";
const VERSION: &str = "v2";

#[derive(Clone)]
pub struct ViewerAccess {
    tokens: Tokens,
    /// SHA-256 of each token, in the same order: what a session is bound to.
    fingerprints: Vec<[u8; 32]>,
    sessions: Arc<SessionRecords>,
    guesses: Arc<GuessLimit>,
    proxies: TrustedProxies,
    lifetime: Duration,
    always_secure: bool,
}

/// What lets a request view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// No viewer tokens are configured.
    Open,
    /// A viewer token as `Authorization: Bearer`: valid as long as the
    /// configuration holds it.
    Token,
    Session(Session),
}

/// A valid session, as its cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// Unix seconds.
    pub expires: u64,
}

/// How viewers are let in; see [`ViewerAccess::new`].
pub struct ViewerSettings<'a> {
    pub tokens: &'a [String],
    pub lifetime: Duration,
    /// Cookies are `Secure` even over plain http (`--secure-cookie`).
    pub always_secure: bool,
}

impl ViewerAccess {
    /// `settings.tokens` as configured (blank ones ignored): none means
    /// viewing is open. Sessions are signed with, and revoked in,
    /// `sessions`; failed tokens count in `guesses` per client address.
    pub fn new(
        settings: ViewerSettings<'_>,
        sessions: Arc<SessionRecords>,
        guesses: Arc<GuessLimit>,
        proxies: TrustedProxies,
    ) -> ViewerAccess {
        let tokens = Tokens::from_config(settings.tokens);
        ViewerAccess {
            fingerprints: tokens.iter().map(|t| Sha256::digest(t).into()).collect(),
            tokens,
            sessions,
            guesses,
            proxies,
            lifetime: settings.lifetime,
            always_secure: settings.always_secure,
        }
    }

    /// Whether viewers must log in.
    pub fn required(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// What lets this request view: open viewing, a valid session cookie or
    /// a viewer token as `Authorization: Bearer`; else 401, or 429 while its
    /// address has failed too many token checks.
    pub fn check(&self, req: &HttpRequest) -> Result<Viewer, ApiError> {
        if !self.required() {
            return Ok(Viewer::Open);
        }
        if let Some(session) = self.session(req) {
            return Ok(Viewer::Session(session));
        }
        let Some(presented) = request_bearer_token(req) else {
            return Err(ApiError::unauthorized_viewer());
        };
        self.guesses.check(
            self.client(req),
            Credential::ViewerToken,
            || self.tokens.find(presented).map(|_| Viewer::Token),
            ApiError::unauthorized_viewer,
        )
    }

    /// As [`ViewerAccess::check`], as a yes or no; still 429 for an address
    /// that guesses.
    pub fn is_viewer(&self, req: &HttpRequest) -> Result<bool, ApiError> {
        match self.check(req) {
            Ok(_) => Ok(true),
            Err(error) if error.status == actix_web::http::StatusCode::TOO_MANY_REQUESTS => {
                Err(error)
            }
            Err(_) => Ok(false),
        }
    }

    /// The valid session of the request's cookie, if it has one.
    pub fn session(&self, req: &HttpRequest) -> Option<Session> {
        let cookie = req.cookie(COOKIE_NAME)?;
        self.valid_session(cookie.value(), unix_now())
    }

    /// A new session cookie for `presented`, if it is a viewer token; a wrong
    /// one counts as a failed check for the request's address.
    pub fn login(&self, presented: &str, req: &HttpRequest) -> Result<Cookie<'static>, ApiError> {
        let index = self.guesses.check(
            self.client(req),
            Credential::Login,
            || self.tokens.find(presented.trim()),
            || {
                ApiError::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "that is not a viewer token",
                )
            },
        )?;
        let id = hex(&rand::random::<[u8; 16]>());
        let expires = unix_now() + self.lifetime.as_secs();
        let signature = self.signature(&self.fingerprints[index], &id, expires);
        let value = format!("{VERSION}.{id}.{expires}.{signature}");
        Ok(self.cookie(value, self.lifetime, is_https(req)))
    }

    /// A cookie that makes the browser forget the session.
    pub fn logout_cookie(&self, req: &HttpRequest) -> Cookie<'static> {
        self.cookie(String::new(), Duration::ZERO, is_https(req))
    }

    /// The record of revoked sessions, which open streams watch.
    pub fn sessions(&self) -> &Arc<SessionRecords> {
        &self.sessions
    }

    fn client(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.proxies.client_ip(req)
    }

    fn cookie(&self, value: String, max_age: Duration, secure_request: bool) -> Cookie<'static> {
        Cookie::build(COOKIE_NAME, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.always_secure || secure_request)
            .max_age(actix_web::cookie::time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ))
            .finish()
    }

    /// The session `value` names, if its signature is ours for one of the
    /// configured tokens, it has not expired and it was not revoked.
    fn valid_session(&self, value: &str, now: u64) -> Option<Session> {
        let mut parts = value.split('.');
        let (Some(VERSION), Some(id), Some(expires), Some(presented), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let expires = expires.parse::<u64>().ok().filter(|e| *e > now)?;
        let signed = self.fingerprints.iter().fold(false, |valid, fingerprint| {
            valid
                | bool::from(
                    self.signature(fingerprint, id, expires)
                        .as_bytes()
                        .ct_eq(presented.as_bytes()),
                )
        });
        (signed && !self.sessions.is_revoked(id)).then(|| Session {
            id: id.to_owned(),
            expires,
        })
    }

    fn signature(&self, token_fingerprint: &[u8; 32], id: &str, expires: u64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.sessions.key())
            .expect("HMAC accepts keys of any length");
        mac.update(format!("pulseboard-session:{VERSION}:{id}:{expires}:").as_bytes());
        mac.update(token_fingerprint);
        hex(&mac.finalize().into_bytes())
    }
}

/// Whether the browser reached us over https, directly or (as a proxy's
/// `X-Forwarded-Proto` says) through a proxy. Believing a forged header here
/// only makes the cookie stricter.
fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Revocation;
    use crate::metrics::Metrics;
    use actix_web::http::header::AUTHORIZATION;
    use actix_web::http::StatusCode;
    use actix_web::test::TestRequest;

    const ALPHA: &str = "alpha-viewer-token-0001";
    const BETA: &str = "beta-viewer-token-00002";

    fn access_with(tokens: &[&str], key: [u8; 32]) -> ViewerAccess {
        let tokens: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
        ViewerAccess::new(
            ViewerSettings {
                tokens: &tokens,
                lifetime: Duration::from_secs(3600),
                always_secure: false,
            },
            Arc::new(SessionRecords::new(key, [])),
            Arc::new(GuessLimit::new(Metrics::new())),
            TrustedProxies::default(),
        )
    }

    fn access(tokens: &[&str]) -> ViewerAccess {
        access_with(tokens, [7; 32])
    }

    fn request() -> TestRequest {
        TestRequest::default().peer_addr("192.0.2.1:5000".parse().unwrap())
    }

    fn login(viewers: &ViewerAccess, token: &str) -> Option<Cookie<'static>> {
        viewers.login(token, &request().to_http_request()).ok()
    }

    #[test]
    fn without_tokens_everyone_is_a_viewer() {
        let open = access(&[" "]);
        assert!(!open.required());
        assert_eq!(
            open.check(&request().to_http_request()).ok(),
            Some(Viewer::Open)
        );
    }

    #[test]
    fn a_session_is_valid_until_it_expires_and_only_for_its_tokens_and_key() {
        let viewers = access(&[ALPHA, BETA]);
        let cookie = login(&viewers, BETA).expect("a valid token logs in");
        assert!(cookie.http_only().unwrap_or(false));
        assert_eq!(cookie.same_site(), Some(SameSite::Strict));
        assert_eq!(cookie.secure(), Some(false));
        let value = cookie.value().to_owned();
        let now = unix_now();
        assert!(viewers.valid_session(&value, now).is_some());
        assert!(
            viewers.valid_session(&value, now + 3601).is_none(),
            "expired"
        );
        assert!(
            access(&[BETA]).valid_session(&value, now).is_some(),
            "survives a restart with the same key and token"
        );
        assert!(
            access(&[ALPHA]).valid_session(&value, now).is_none(),
            "token removed"
        );
        assert!(
            access_with(&[ALPHA, BETA], [8; 32])
                .valid_session(&value, now)
                .is_none(),
            "key replaced"
        );
        // Forged: a later expiry with the old signature, another id, garbage.
        let parts: Vec<&str> = value.split('.').collect();
        let later = format!("v2.{}.{}.{}", parts[1], now + 999_999, parts[3]);
        let other_id = format!("v2.{}.{}.{}", "0".repeat(32), parts[2], parts[3]);
        for bad in [
            later.as_str(),
            other_id.as_str(),
            "",
            "v2",
            "v2.x.y.z",
            "v1.1.2",
            "v2.a.1.2.3",
            &format!("{value}."),
        ] {
            assert!(viewers.valid_session(bad, now).is_none(), "{bad:?}");
        }
        assert!(login(&viewers, "gamma-viewer-token-0003").is_none());
        assert!(login(&viewers, &ALPHA[..10]).is_none());
    }

    #[test]
    fn a_revoked_session_is_refused() {
        let viewers = access(&[ALPHA]);
        let cookie = login(&viewers, ALPHA).unwrap();
        let session = viewers.valid_session(cookie.value(), unix_now()).unwrap();
        viewers.sessions.revoke(
            Revocation {
                id: session.id.clone(),
                expires: session.expires,
            },
            unix_now(),
        );
        assert!(viewers.valid_session(cookie.value(), unix_now()).is_none());
        let fresh = login(&viewers, ALPHA).unwrap();
        assert!(viewers.valid_session(fresh.value(), unix_now()).is_some());
    }

    #[test]
    fn requests_pass_with_the_cookie_or_a_bearer_viewer_token() {
        let viewers = access(&[ALPHA]);
        let cookie = login(&viewers, ALPHA).unwrap();
        let with_cookie = request().cookie(cookie).to_http_request();
        assert!(matches!(
            viewers.check(&with_cookie),
            Ok(Viewer::Session(_))
        ));
        let bearer = request()
            .insert_header((AUTHORIZATION, format!("Bearer {ALPHA}")))
            .to_http_request();
        assert_eq!(viewers.check(&bearer).ok(), Some(Viewer::Token));
        let wrong = request()
            .insert_header((AUTHORIZATION, format!("Bearer {BETA}")))
            .cookie(Cookie::new(COOKIE_NAME, "v2.00.99999999999.00"))
            .to_http_request();
        assert_eq!(
            viewers.check(&wrong).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert!(viewers.check(&request().to_http_request()).is_err());
    }

    #[test]
    fn logout_expires_the_cookie() {
        let cookie = access(&[ALPHA]).logout_cookie(&request().to_http_request());
        assert_eq!(cookie.value(), "");
        assert_eq!(
            cookie.max_age(),
            Some(actix_web::cookie::time::Duration::ZERO)
        );
    }
}
