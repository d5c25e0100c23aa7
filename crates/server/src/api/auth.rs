//! Who may publish: bearer tokens, compared in constant time.

use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

use super::error::ApiError;

pub struct PublishTokens {
    tokens: Vec<String>,
}

impl PublishTokens {
    /// The configured tokens (blank ones ignored), or one freshly generated
    /// (returned separately so it can be shown once) if there are none:
    /// publishing is never open by accident.
    pub fn from_config(configured: &[String]) -> (PublishTokens, Option<String>) {
        let tokens: Vec<String> = configured
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if tokens.is_empty() {
            let generated = generate();
            let tokens = vec![generated.clone()];
            (PublishTokens { tokens }, Some(generated))
        } else {
            (PublishTokens { tokens }, None)
        }
    }

    /// Which token the request carries (its index in the configuration, for
    /// per-token rate limits), or 401.
    pub fn check(&self, req: &HttpRequest) -> Result<usize, ApiError> {
        let presented = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(ApiError::unauthorized)?;
        // Every token is compared, so timing does not tell which one nearly matched.
        let mut matched = None;
        for (index, token) in self.tokens.iter().enumerate() {
            if bool::from(token.as_bytes().ct_eq(presented.as_bytes())) {
                matched = Some(index);
            }
        }
        matched.ok_or_else(ApiError::unauthorized)
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme's name
/// is case-insensitive (RFC 9110).
pub(crate) fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// 32 random bytes from the OS-seeded CSPRNG, as hex.
fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn accepts_any_configured_token_and_nothing_else() {
        let (tokens, generated) = PublishTokens::from_config(&["one".into(), " two ".into()]);
        assert!(generated.is_none());
        let with = |header: &str| {
            TestRequest::default()
                .insert_header((AUTHORIZATION, header))
                .to_http_request()
        };
        assert_eq!(tokens.check(&with("Bearer one")).ok(), Some(0));
        assert_eq!(tokens.check(&with("Bearer two")).ok(), Some(1));
        assert!(tokens.check(&with("bearer one")).is_ok());
        assert!(tokens.check(&with("Basic one")).is_err());
        assert!(tokens.check(&with("Bearer ")).is_err());
        assert!(tokens.check(&with("Bearer three")).is_err());
        assert!(tokens.check(&with("Bearer on")).is_err());
        assert!(tokens.check(&with("one")).is_err());
        assert!(tokens
            .check(&TestRequest::default().to_http_request())
            .is_err());
    }

    #[test]
    fn generates_a_strong_token_when_none_is_configured() {
        let (tokens, generated) = PublishTokens::from_config(&[" ".into()]);
        let generated = generated.expect("a token is generated");
        assert_eq!(generated.len(), 64);
        let request = TestRequest::default()
            .insert_header((AUTHORIZATION, format!("Bearer {generated}")))
            .to_http_request();
        assert!(tokens.check(&request).is_ok());
        assert_ne!(PublishTokens::from_config(&[]).1, Some(generated));
    }
}
