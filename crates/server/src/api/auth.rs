//! Who may publish: bearer tokens ([`Tokens`]), and a generated one when none
//! is configured. Failed tokens count against the client's address
//! ([`GuessLimit`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::HttpRequest;

use crate::access::tokens::request_bearer_token;
use crate::access::{Tokens, TrustedProxies};
use crate::error::ApiError;
use crate::limits::{Credential, GuessLimit};
use crate::secret_file::{self, SecretError};

/// The file in the data directory that keeps a generated publish token.
pub const TOKEN_FILE: &str = "publish-token";

pub struct PublishTokens {
    tokens: Tokens,
    guesses: Arc<GuessLimit>,
    proxies: TrustedProxies,
}

/// The token the server made itself because none was configured.
#[derive(Debug)]
pub struct GeneratedToken {
    pub value: String,
    /// Where it is kept for the next start; `None` when nothing is kept
    /// (`--storage memory`), so every start makes a new one.
    pub file: Option<PathBuf>,
    /// Made by this start (rather than read back from `file`).
    pub new: bool,
}

impl PublishTokens {
    /// The configured tokens (blank ones ignored), or, if there are none, the
    /// token kept in `keep_in` (made and written there the first time; a new
    /// one every start without `keep_in`): publishing is never open by
    /// accident, and a restart does not break the scripts that publish.
    pub fn from_config(
        configured: &[String],
        keep_in: Option<&Path>,
        guesses: Arc<GuessLimit>,
        proxies: TrustedProxies,
    ) -> Result<(PublishTokens, Option<GeneratedToken>), SecretError> {
        let tokens = Tokens::from_config(configured);
        let generated = if tokens.is_empty() {
            Some(match keep_in {
                Some(dir) => {
                    let file = dir.join(TOKEN_FILE);
                    let secret = secret_file::load_or_create(
                        &file,
                        "scripts that publish with the old token will need the new one",
                    )?;
                    GeneratedToken {
                        value: secret.value,
                        file: Some(file),
                        new: secret.created,
                    }
                }
                None => GeneratedToken {
                    value: secret_file::generate(),
                    file: None,
                    new: true,
                },
            })
        } else {
            None
        };
        let tokens = match &generated {
            Some(token) => Tokens::from_config(std::slice::from_ref(&token.value)),
            None => tokens,
        };
        let publish_tokens = PublishTokens {
            tokens,
            guesses,
            proxies,
        };
        Ok((publish_tokens, generated))
    }

    /// Which token the request carries (its index in the configuration, for
    /// per-token rate limits), or 401; 429 while its address has failed too
    /// many token checks.
    pub fn check(&self, req: &HttpRequest) -> Result<usize, ApiError> {
        let presented = request_bearer_token(req).ok_or_else(ApiError::unauthorized)?;
        self.guesses.check(
            self.proxies.client_ip(req),
            Credential::PublishToken,
            || self.tokens.find(presented),
            ApiError::unauthorized,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use actix_web::http::header::AUTHORIZATION;
    use actix_web::test::TestRequest;

    fn from_config(
        configured: &[String],
        keep_in: Option<&Path>,
    ) -> (PublishTokens, Option<GeneratedToken>) {
        let guesses = Arc::new(GuessLimit::new(Metrics::new()));
        PublishTokens::from_config(configured, keep_in, guesses, TrustedProxies::default()).unwrap()
    }

    fn with(header: &str) -> actix_web::HttpRequest {
        TestRequest::default()
            .peer_addr("192.0.2.1:5000".parse().unwrap())
            .insert_header((AUTHORIZATION, header))
            .to_http_request()
    }

    #[test]
    fn accepts_any_configured_token_and_nothing_else() {
        let one = "one-publish-token-000001";
        let two = "two-publish-token-000002";
        let (tokens, generated) = from_config(&[one.into(), format!(" {two} ")], None);
        assert!(generated.is_none());
        assert_eq!(tokens.check(&with(&format!("Bearer {one}"))).ok(), Some(0));
        assert_eq!(tokens.check(&with(&format!("Bearer {two}"))).ok(), Some(1));
        assert!(tokens.check(&with(&format!("bearer {one}"))).is_ok());
        assert!(tokens.check(&with(&format!("Basic {one}"))).is_err());
        assert!(tokens.check(&with("Bearer ")).is_err());
        assert!(tokens.check(&with("Bearer three")).is_err());
        assert!(tokens
            .check(&with(&format!("Bearer {}", &one[..5])))
            .is_err());
        assert!(tokens.check(&with(one)).is_err());
        assert!(tokens
            .check(&TestRequest::default().to_http_request())
            .is_err());
    }

    #[test]
    fn a_generated_token_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (tokens, generated) = from_config(&[" ".into()], Some(dir.path()));
        let generated = generated.expect("a token is generated");
        assert!(generated.new);
        assert_eq!(generated.value.len(), 64);
        assert!(tokens
            .check(&with(&format!("Bearer {}", generated.value)))
            .is_ok());
        let (_, again) = from_config(&[], Some(dir.path()));
        let again = again.unwrap();
        assert!(!again.new);
        assert_eq!(again.value, generated.value);
        let (_, unkept) = from_config(&[], None);
        assert_ne!(unkept.unwrap().value, generated.value);
    }
}
