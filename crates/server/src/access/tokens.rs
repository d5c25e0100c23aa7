//! Tokens as configured, for publishers and for viewers alike: one place that
//! trims them, ignores blank ones, and compares what a request presents in
//! constant time, so neither kind of token can drift from the other.

use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

/// The shortest token the server accepts in its configuration: 16 random
/// characters are beyond online guessing at the rate a client address is
/// allowed to fail (`limits/guesses.rs`); the generated ones have 64.
pub const MIN_TOKEN_LEN: usize = 16;

/// A configured token too short to be safe.
#[derive(Debug, thiserror::Error)]
#[error("{kind} token {position} of {count} is {len} characters long; tokens must be at least {MIN_TOKEN_LEN} (make one with `openssl rand -hex 32`)")]
pub struct TokenTooShort {
    pub kind: &'static str,
    /// 1-based, in the order configured (blank ones not counted).
    pub position: usize,
    pub count: usize,
    pub len: usize,
}

/// Refuses configured tokens shorter than [`MIN_TOKEN_LEN`]; `kind` names
/// them in the error, which never shows a token.
pub fn check_lengths(configured: &[String], kind: &'static str) -> Result<(), TokenTooShort> {
    let tokens = Tokens::from_config(configured);
    let count = tokens.tokens.len();
    for (index, token) in tokens.iter().enumerate() {
        let len = token.chars().count();
        if len < MIN_TOKEN_LEN {
            return Err(TokenTooShort {
                kind,
                position: index + 1,
                count,
                len,
            });
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<String>,
}

impl Tokens {
    /// `configured` trimmed, blank ones dropped; the order is kept, so an
    /// index names the same token as the configuration does.
    pub fn from_config(configured: &[String]) -> Tokens {
        Tokens {
            tokens: configured
                .iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Which token `presented` is (its index), compared in constant time.
    pub fn find(&self, presented: &str) -> Option<usize> {
        let mut found = None;
        // Every token is compared, so timing does not tell which one nearly matched.
        for (index, token) in self.tokens.iter().enumerate() {
            if bool::from(token.as_bytes().ct_eq(presented.as_bytes())) {
                found = Some(index);
            }
        }
        found
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().map(String::as_str)
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme's name
/// is case-insensitive (RFC 9110).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// The bearer token of the request's `Authorization` header, if it has one.
pub fn request_bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(configured: &[&str]) -> Tokens {
        let configured: Vec<String> = configured.iter().map(|t| t.to_string()).collect();
        Tokens::from_config(&configured)
    }

    #[test]
    fn trims_and_drops_blank_tokens_keeping_the_order() {
        let tokens = tokens(&[" one ", "", "  ", "two"]);
        assert_eq!(tokens.iter().collect::<Vec<_>>(), ["one", "two"]);
        assert!(Tokens::from_config(&[" ".into()]).is_empty());
    }

    #[test]
    fn finds_only_an_exact_token() {
        let tokens = tokens(&["one", "two"]);
        assert_eq!(tokens.find("one"), Some(0));
        assert_eq!(tokens.find("two"), Some(1));
        for wrong in ["", "on", "one ", "onee", "ONE", "three"] {
            assert_eq!(tokens.find(wrong), None, "{wrong:?}");
        }
        assert_eq!(Tokens::default().find(""), None);
    }

    #[test]
    fn short_tokens_are_refused_without_showing_them() {
        let long = "0123456789abcdef".to_string();
        assert!(check_lengths(&[long.clone(), " ".into()], "publish").is_ok());
        assert!(check_lengths(&[], "publish").is_ok());
        let error = check_lengths(&[long, " short-secret ".into()], "viewer").unwrap_err();
        assert_eq!((error.position, error.count, error.len), (2, 2, 12));
        let message = error.to_string();
        assert!(message.starts_with("viewer token 2 of 2 is 12 characters long"));
        assert!(!message.contains("short-secret"));
    }

    #[test]
    fn reads_a_bearer_header() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc  "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
