//! Baseline for `scripts/bench-auth`: a bare axum handler with no auth,
//! serving a body the size of Tollgate's Balance response.
//! Usage: bare_axum 127.0.0.1:9090

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9090".into());
    let body = serde_json::json!({
        "account_sid": format!("AC{}", "0".repeat(32)),
        "balance": "0.00",
        "currency": "USD",
    });
    let app = Router::new().route("/", get(move || async move { axum::Json(body.clone()) }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}
