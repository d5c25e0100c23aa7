//! Tokens as configured, for publishers and for viewers alike: one place that
//! trims them, ignores blank ones, and compares what a request presents in
//! constant time, so neither kind of token can drift from the other.

use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

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

    /// The token at `index`, as [`Tokens::find`] numbers them.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.tokens.get(index).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().map(String::as_str)
    }

    /// Which token the request's `Authorization: Bearer` header carries.
    pub fn find_bearer(&self, req: &HttpRequest) -> Option<usize> {
        self.find(request_bearer_token(req)?)
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
        assert_eq!(tokens.get(1), Some("two"));
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
    fn reads_a_bearer_header() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc  "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
