//! Who may publish: bearer tokens ([`Tokens`]), and a generated one when none
//! is configured.

use actix_web::HttpRequest;

use crate::access::Tokens;
use crate::error::ApiError;

pub struct PublishTokens {
    tokens: Tokens,
}

impl PublishTokens {
    /// The configured tokens (blank ones ignored), or one freshly generated
    /// (returned separately so it can be shown once) if there are none:
    /// publishing is never open by accident.
    pub fn from_config(configured: &[String]) -> (PublishTokens, Option<String>) {
        let tokens = Tokens::from_config(configured);
        if tokens.is_empty() {
            let generated = generate();
            let tokens = Tokens::from_config(std::slice::from_ref(&generated));
            (PublishTokens { tokens }, Some(generated))
        } else {
            (PublishTokens { tokens }, None)
        }
    }

    /// Which token the request carries (its index in the configuration, for
    /// per-token rate limits), or 401.
    pub fn check(&self, req: &HttpRequest) -> Result<usize, ApiError> {
        self.tokens
            .find_bearer(req)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// 32 random bytes from the OS-seeded CSPRNG, as hex.
fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::AUTHORIZATION;
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
