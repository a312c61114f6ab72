//! `WebhookLayer` in front of an axum router, driven with `oneshot`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::{Extension, Router};
use tollgate_signature::external::{ProxyPolicy, Scheme};
use tollgate_signature::layer::WebhookLayer;
use tollgate_signature::{Algorithm, Key, Match, UrlVariant, Verifier};
use tower::ServiceExt;

const PRIMARY: &str = "11111111111111111111111111111111";
const SECONDARY: &str = "22222222222222222222222222222222";

fn app(policy: ProxyPolicy) -> Router {
    let verifier = Arc::new(Verifier::for_auth_tokens(&[PRIMARY, SECONDARY]));
    Router::new()
        .route(
            "/sms",
            post(|Extension(m): Extension<Match>, body: String| async move {
                format!("key {} {:?} {body}", m.key_index, m.url_variant)
            }),
        )
        .layer(WebhookLayer::new(verifier, policy))
}

fn form_request(host: &str, extra: &[(&str, &str)], signature: &str, body: &str) -> Request<Body> {
    let mut builder = Request::post("/sms?tenant=7")
        .header("host", host)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature);
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

const BODY: &str = "From=%2B14155550100&Body=hello+world&To=%2B14155550199";
const PARAMS: [(&str, &str); 3] = [
    ("From", "+14155550100"),
    ("Body", "hello world"),
    ("To", "+14155550199"),
];

async fn send(app: Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn behind_a_tls_tunnel_with_the_secondary_token() {
    // Signed by the sender for the public URL, with the token being rotated in.
    let public = "https://abc.ngrok.app/sms?tenant=7";
    let sig = Key::new(SECONDARY.as_bytes(), Algorithm::HmacSha1).sign(public, &PARAMS);
    let app = app(ProxyPolicy::TrustForwarded {
        fallback_scheme: Scheme::Http,
    });
    let request = form_request(
        "abc.ngrok.app",
        &[("x-forwarded-proto", "https")],
        sig.as_str(),
        BODY,
    );
    let (status, body) = send(app, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The handler saw which key matched, and the body intact.
    assert_eq!(body, format!("key 1 {:?} {BODY}", UrlVariant::AsReceived));
}

#[tokio::test]
async fn the_same_request_without_trusting_proxies_fails() {
    let public = "https://abc.ngrok.app/sms?tenant=7";
    let sig = Key::new(PRIMARY.as_bytes(), Algorithm::HmacSha1).sign(public, &PARAMS);
    let app = app(ProxyPolicy::Direct {
        scheme: Scheme::Http,
    });
    let request = form_request(
        "abc.ngrok.app",
        &[("x-forwarded-proto", "https")],
        sig.as_str(),
        BODY,
    );
    let (status, body) = send(app, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("signature does not match"), "{body}");
}

#[tokio::test]
async fn public_base_url_and_tampering() {
    let public = "https://hooks.example.com/sms?tenant=7";
    let sig = Key::new(PRIMARY.as_bytes(), Algorithm::HmacSha1).sign(public, &PARAMS);
    let policy = ProxyPolicy::PublicBaseUrl("https://hooks.example.com".into());
    let ok = form_request("127.0.0.1:3000", &[], sig.as_str(), BODY);
    assert_eq!(send(app(policy.clone()), ok).await.0, StatusCode::OK);
    let tampered = BODY.replace("hello", "HELLO");
    let bad = form_request("127.0.0.1:3000", &[], sig.as_str(), &tampered);
    assert_eq!(
        send(app(policy.clone()), bad).await.0,
        StatusCode::FORBIDDEN
    );
    let unsigned = Request::post("/sms")
        .header("host", "x")
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(app(policy), unsigned).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("no X-Twilio-Signature"), "{body}");
}

#[tokio::test]
async fn json_bodies_are_bound_by_body_sha256() {
    let json = r#"{"StatusCallbackEvent":"participant-join"}"#;
    let key = Key::new(PRIMARY.as_bytes(), Algorithm::HmacSha1);
    let (url, sig) = key.sign_body("https://hooks.example.com/sms?tenant=7", json.as_bytes());
    let path = url.trim_start_matches("https://hooks.example.com");
    let policy = ProxyPolicy::PublicBaseUrl("https://hooks.example.com".into());
    let request = |body: &str| {
        Request::post(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("x-twilio-signature", sig.as_str())
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    assert_eq!(
        send(app(policy.clone()), request(json)).await.0,
        StatusCode::OK
    );
    let (status, body) = send(app(policy), request(r#"{"StatusCallbackEvent":"x"}"#)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("bodySHA256"), "{body}");
}
