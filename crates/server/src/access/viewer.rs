//! Viewer access. With viewer tokens configured, the dashboard is shown only
//! to browsers holding a session cookie, which `POST /api/session` hands out
//! for a valid token.
//!
//! The cookie is stateless: `v1.<expiry>.<HMAC-SHA256 of the expiry, keyed by
//! the token>`. So sessions survive restarts and work on every instance that
//! has the same tokens, the token itself is never stored in the browser, and
//! removing a token from the config ends every session made with it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::Tokens;
use crate::error::ApiError;

pub const COOKIE_NAME: &str = "pulseboard_session";
const VERSION: &str = "v1";

#[derive(Clone)]
pub struct ViewerAccess {
    tokens: Tokens,
    lifetime: Duration,
    always_secure: bool,
}

impl ViewerAccess {
    /// `tokens` as configured (blank ones ignored); none means viewing is open.
    pub fn new(tokens: &[String], lifetime: Duration, always_secure: bool) -> ViewerAccess {
        ViewerAccess {
            tokens: Tokens::from_config(tokens),
            lifetime,
            always_secure,
        }
    }

    /// Whether viewers must log in.
    pub fn required(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Ok if viewing is open, or the request has a valid session cookie or a
    /// viewer token as `Authorization: Bearer`.
    pub fn check(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if self.is_viewer(req) {
            Ok(())
        } else {
            Err(ApiError::unauthorized_viewer())
        }
    }

    /// As [`ViewerAccess::check`], as a yes or no.
    pub fn is_viewer(&self, req: &HttpRequest) -> bool {
        if !self.required() {
            return true;
        }
        if let Some(cookie) = req.cookie(COOKIE_NAME) {
            if self.session_valid(cookie.value(), unix_now()) {
                return true;
            }
        }
        self.tokens.find_bearer(req).is_some()
    }

    /// A session cookie for `presented`, if it is a viewer token.
    pub fn login(&self, presented: &str, secure_request: bool) -> Option<Cookie<'static>> {
        let token = self.tokens.get(self.tokens.find(presented.trim())?)?;
        let expires = unix_now() + self.lifetime.as_secs();
        let value = format!("{VERSION}.{expires}.{}", signature(token, expires));
        Some(self.cookie(value, self.lifetime, secure_request))
    }

    /// A cookie that makes the browser forget the session.
    pub fn logout(&self, secure_request: bool) -> Cookie<'static> {
        self.cookie(String::new(), Duration::ZERO, secure_request)
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

    fn session_valid(&self, value: &str, now: u64) -> bool {
        let mut parts = value.split('.');
        let (Some(VERSION), Some(expires), Some(presented), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(expires) = expires.parse::<u64>() else {
            return false;
        };
        if expires <= now {
            return false;
        }
        self.tokens.iter().fold(false, |valid, token| {
            valid
                | bool::from(
                    signature(token, expires)
                        .as_bytes()
                        .ct_eq(presented.as_bytes()),
                )
        })
    }
}

fn signature(token: &str, expires: u64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(format!("pulseboard-session:{VERSION}:{expires}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::AUTHORIZATION;
    use actix_web::test::TestRequest;

    fn access(tokens: &[&str]) -> ViewerAccess {
        let tokens: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
        ViewerAccess::new(&tokens, Duration::from_secs(3600), false)
    }

    #[test]
    fn without_tokens_everyone_is_a_viewer() {
        let open = access(&[" "]);
        assert!(!open.required());
        assert!(open
            .check(&TestRequest::default().to_http_request())
            .is_ok());
        assert!(open.login("anything", false).is_none());
    }

    #[test]
    fn a_session_is_valid_until_it_expires_and_only_for_its_tokens() {
        let viewers = access(&["alpha", "beta"]);
        let cookie = viewers.login("beta", false).expect("a valid token logs in");
        assert!(cookie.http_only().unwrap_or(false));
        assert_eq!(cookie.same_site(), Some(SameSite::Strict));
        assert_eq!(cookie.secure(), Some(false));
        let value = cookie.value().to_owned();
        let now = unix_now();
        assert!(viewers.session_valid(&value, now));
        assert!(!viewers.session_valid(&value, now + 3601), "expired");
        assert!(access(&["beta"]).session_valid(&value, now), "stateless");
        assert!(
            !access(&["alpha"]).session_valid(&value, now),
            "token removed"
        );
        // Forged: a later expiry with the old signature, or garbage.
        let (_, signature) = value.rsplit_once('.').unwrap();
        let forged = format!("v1.{}.{signature}", now + 999_999);
        assert!(!viewers.session_valid(&forged, now));
        for bad in [
            "",
            "v1",
            "v1.x.y",
            "v2.1.2",
            "v1.1.2.3",
            &format!("{value}."),
        ] {
            assert!(!viewers.session_valid(bad, now), "{bad:?}");
        }
        assert!(viewers.login("gamma", false).is_none());
        assert!(viewers.login("alph", false).is_none());
    }

    #[test]
    fn requests_pass_with_the_cookie_or_a_bearer_viewer_token() {
        let viewers = access(&["alpha"]);
        let cookie = viewers.login("alpha", true).unwrap();
        assert_eq!(cookie.secure(), Some(true));
        let with_cookie = TestRequest::default().cookie(cookie).to_http_request();
        assert!(viewers.check(&with_cookie).is_ok());
        let bearer = TestRequest::default()
            .insert_header((AUTHORIZATION, "Bearer alpha"))
            .to_http_request();
        assert!(viewers.check(&bearer).is_ok());
        let wrong = TestRequest::default()
            .insert_header((AUTHORIZATION, "Bearer beta"))
            .cookie(Cookie::new(COOKIE_NAME, "v1.99999999999.00"))
            .to_http_request();
        assert!(viewers.check(&wrong).is_err());
        assert!(viewers
            .check(&TestRequest::default().to_http_request())
            .is_err());
    }

    #[test]
    fn logout_expires_the_cookie() {
        let cookie = access(&["alpha"]).logout(false);
        assert_eq!(cookie.value(), "");
        assert_eq!(
            cookie.max_age(),
            Some(actix_web::cookie::time::Duration::ZERO)
        );
    }
}
