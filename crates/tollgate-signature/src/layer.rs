//! A tower layer for axum apps that rejects webhooks whose
//! `X-Twilio-Signature` does not verify (feature `axum`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::post};
//! use tollgate_signature::{Verifier, external::{ProxyPolicy, Scheme}, layer::WebhookLayer};
//!
//! let verifier = Verifier::for_auth_tokens(&["primary-token", "secondary-token"]);
//! let app: Router = Router::new()
//!     .route("/sms", post(|| async { "<Response/>" }))
//!     .layer(WebhookLayer::new(
//!         Arc::new(verifier),
//!         ProxyPolicy::TrustForwarded { fallback_scheme: Scheme::Https },
//!     ));
//! ```
//!
//! A request that verifies reaches the inner service unchanged (its body is
//! buffered and put back) with the [`Match`] in its extensions. Anything else
//! gets `403 Forbidden`, or `413` past the body limit.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::external::{ProxyPolicy, external_url};
use crate::{Algorithm, Match, Payload, SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, Verifier};

/// Where the accepted keys come from: fixed, or read per request so a token
/// rotation takes effect without rebuilding the router.
pub type VerifierSource = Arc<dyn Fn() -> Arc<Verifier> + Send + Sync>;

/// Validates `X-Twilio-Signature` before the inner service runs.
#[derive(Clone)]
pub struct WebhookLayer {
    config: Arc<Config>,
}

struct Config {
    verifier: VerifierSource,
    policy: ProxyPolicy,
    body_limit: usize,
}

/// Twilio's webhooks are small; 1 MiB leaves room for long message bodies.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

impl WebhookLayer {
    /// Accepts the keys of `verifier` (for example the primary and secondary
    /// auth tokens during a rotation).
    pub fn new(verifier: Arc<Verifier>, policy: ProxyPolicy) -> WebhookLayer {
        WebhookLayer::with_source(Arc::new(move || verifier.clone()), policy)
    }

    /// Reads the accepted keys from `source` on every request.
    pub fn with_source(source: VerifierSource, policy: ProxyPolicy) -> WebhookLayer {
        WebhookLayer {
            config: Arc::new(Config {
                verifier: source,
                policy,
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        }
    }

    /// Bodies larger than `bytes` get 413 without being verified.
    pub fn body_limit(self, bytes: usize) -> WebhookLayer {
        let config = Config {
            verifier: self.config.verifier.clone(),
            policy: self.config.policy.clone(),
            body_limit: bytes,
        };
        WebhookLayer {
            config: Arc::new(config),
        }
    }
}

impl<S> tower_layer::Layer<S> for WebhookLayer {
    type Service = WebhookService<S>;

    fn layer(&self, inner: S) -> WebhookService<S> {
        WebhookService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`WebhookLayer`] wraps around an inner service.
#[derive(Clone)]
pub struct WebhookService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> tower_service::Service<Request<Body>> for WebhookService<S>
where
    S: tower_service::Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The ready inner service goes into the future; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let bytes = match axum::body::to_bytes(body, config.body_limit).await {
                Ok(bytes) => bytes,
                Err(_) => return Ok(refuse(StatusCode::PAYLOAD_TOO_LARGE, "body too large")),
            };
            let path_and_query = parts
                .extensions
                .get::<OriginalUri>()
                .map(|o| &o.0)
                .unwrap_or(&parts.uri)
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            match check(
                &config,
                &parts.method,
                &parts.headers,
                &path_and_query,
                &bytes,
            ) {
                Ok(evidence) => {
                    parts.extensions.insert(evidence);
                    inner
                        .call(Request::from_parts(parts, Body::from(bytes)))
                        .await
                }
                Err(reason) => Ok(refuse(StatusCode::FORBIDDEN, &reason)),
            }
        })
    }
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    (
        status,
        format!("Twilio Request Validation Failed: {reason}.\n"),
    )
        .into_response()
}

/// The verification itself, separated from the body plumbing.
fn check(
    config: &Config,
    method: &Method,
    headers: &HeaderMap,
    path_and_query: &str,
    body: &[u8],
) -> Result<Match, String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = header(SIGNATURE_HEADER).ok_or("no X-Twilio-Signature header")?;
    let algorithm = Algorithm::from_settings_header(header(SIGNATURE_SETTINGS_HEADER))
        .map_err(|e| format!("unsupported algorithm {}", e.0))?;
    let url = external_url(&config.policy, header, path_and_query).map_err(|e| e.to_string())?;
    let verifier = (config.verifier)();
    let is_form = header(header::CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    let result = if is_form || body.is_empty() || method == Method::GET {
        let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        verifier.verify(&url, Payload::Form(&params), signature, algorithm)
    } else {
        verifier.verify(
            &url,
            Payload::<'_, String, String>::Body(body),
            signature,
            algorithm,
        )
    };
    result.map_err(|r| r.to_string())
}
