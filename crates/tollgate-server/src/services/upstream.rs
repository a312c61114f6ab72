//! Proxy mode's calls to Twilio that are not traffic: checking an account's
//! upstream credentials before they are stored.

use crate::state::upstream_client::UpstreamClient;

/// Why upstream credentials were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("Twilio refused the {0} for account {1} (HTTP {2})")]
    Refused(&'static str, String, u16),
    #[error("Twilio could not be asked: {0}")]
    Unreachable(String),
}

/// Checks that the API key and the auth token both open `account_sid` on
/// Twilio (`GET /2010-04-01/Accounts/{Sid}.json`): so nobody stores an
/// upstream account they do not hold, and Tollgate can check its webhooks.
pub async fn check_credentials(
    client: &UpstreamClient,
    account_sid: &str,
    key_sid: &str,
    key_secret: &str,
    auth_token: &str,
) -> Result<(), CredentialsError> {
    let url = format!(
        "{}/2010-04-01/Accounts/{account_sid}.json",
        client.settings.base_url("api")
    );
    for (what, user, password) in [
        ("API key", key_sid, key_secret),
        ("auth token", account_sid, auth_token),
    ] {
        let response = client
            .http
            .get(&url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .map_err(|e| CredentialsError::Unreachable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(CredentialsError::Refused(
                what,
                account_sid.to_owned(),
                status,
            ));
        }
    }
    Ok(())
}
