//! The SQL behind both stores. `$N` placeholders work on SQLite and PostgreSQL
//! alike, so one macro body implements [`crate::Store`] for each pool type.

macro_rules! impl_store {
    ($store:ty, $backend:expr, $migrations:literal) => {
        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn migrate(&self) -> Result<()> {
                sqlx::migrate!($migrations)
                    .run(&self.pool)
                    .await
                    .map_err(|e| StoreError::Migration(e.to_string()))
            }

            async fn main_account(&self) -> Result<Option<AccountRecord>> {
                Ok(sqlx::query_as::<_, AccountRecord>(
                    "SELECT * FROM accounts WHERE sid = owner_account_sid",
                )
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn insert_main_account(&self, a: &AccountRecord) -> Result<()> {
                let inserted = sqlx::query(
                    "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, auth_token_sealed, \
                     secondary_token_sealed, secondary_token_created, date_created, date_updated, require_client_validation, \
                     dialing_permissions_inheritance) \
                     SELECT $1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
                     WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE sid = owner_account_sid)",
                )
                .bind(&a.sid)
                .bind(&a.friendly_name)
                .bind(a.status.as_str())
                .bind(&a.auth_token_sealed)
                .bind(&a.secondary_token_sealed)
                .bind(a.secondary_token_created)
                .bind(a.date_created)
                .bind(a.date_updated)
                .bind(a.require_client_validation)
                .bind(a.dialing_permissions_inheritance)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if inserted == 1 {
                    Ok(())
                } else {
                    Err(StoreError::Conflict("a main account exists already".into()))
                }
            }

            async fn insert_account(&self, a: &AccountRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, auth_token_sealed, \
                     secondary_token_sealed, secondary_token_created, date_created, date_updated, require_client_validation, \
                     dialing_permissions_inheritance) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&a.sid)
                .bind(&a.owner_account_sid)
                .bind(&a.friendly_name)
                .bind(a.status.as_str())
                .bind(&a.auth_token_sealed)
                .bind(&a.secondary_token_sealed)
                .bind(a.secondary_token_created)
                .bind(a.date_created)
                .bind(a.date_updated)
                .bind(a.require_client_validation)
                .bind(a.dialing_permissions_inheritance)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn account(&self, sid: &str) -> Result<Option<AccountRecord>> {
                Ok(sqlx::query_as::<_, AccountRecord>("SELECT * FROM accounts WHERE sid = $1")
                    .bind(sid)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn update_account(&self, a: &AccountRecord) -> Result<bool> {
                let n = sqlx::query(
                    "UPDATE accounts SET friendly_name = $2, status = $3, auth_token_sealed = $4, \
                     secondary_token_sealed = $5, secondary_token_created = $6, date_updated = $7, \
                     require_client_validation = $8, dialing_permissions_inheritance = $9 WHERE sid = $1",
                )
                .bind(&a.sid)
                .bind(&a.friendly_name)
                .bind(a.status.as_str())
                .bind(&a.auth_token_sealed)
                .bind(&a.secondary_token_sealed)
                .bind(a.secondary_token_created)
                .bind(a.date_updated)
                .bind(a.require_client_validation)
                .bind(a.dialing_permissions_inheritance)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn list_accounts(&self, q: &AccountQuery, page: &PageQuery) -> Result<Vec<AccountRecord>> {
                Ok(sqlx::query_as::<_, AccountRecord>(
                    "SELECT * FROM accounts \
                     WHERE (sid = $1 OR owner_account_sid = $1) \
                     AND ($2 IS NULL OR friendly_name = $2) \
                     AND ($3 IS NULL OR status = $3) \
                     AND ($4 IS NULL OR (date_created, sid) > \
                          (SELECT date_created, sid FROM accounts WHERE sid = $4)) \
                     ORDER BY date_created, sid LIMIT $5 OFFSET $6",
                )
                .bind(&q.family_of)
                .bind(&q.friendly_name)
                .bind(q.status.map(|s| s.as_str()))
                .bind(&page.after)
                .bind(i64::from(page.size))
                .bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn all_accounts(&self) -> Result<Vec<AccountRecord>> {
                Ok(sqlx::query_as::<_, AccountRecord>("SELECT * FROM accounts ORDER BY date_created, sid")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn insert_api_key(&self, k: &ApiKeyRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO api_keys (sid, account_sid, friendly_name, secret_hash, date_created, date_updated) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&k.sid)
                .bind(&k.account_sid)
                .bind(&k.friendly_name)
                .bind(&k.secret_hash)
                .bind(k.date_created)
                .bind(k.date_updated)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn api_key(&self, account_sid: &str, sid: &str) -> Result<Option<ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, ApiKeyRecord>(
                    "SELECT * FROM api_keys WHERE account_sid = $1 AND sid = $2",
                )
                .bind(account_sid)
                .bind(sid)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn update_api_key(&self, k: &ApiKeyRecord) -> Result<bool> {
                let n = sqlx::query(
                    "UPDATE api_keys SET friendly_name = $3, date_updated = $4 WHERE account_sid = $1 AND sid = $2",
                )
                .bind(&k.account_sid)
                .bind(&k.sid)
                .bind(&k.friendly_name)
                .bind(k.date_updated)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn delete_api_key(&self, account_sid: &str, sid: &str) -> Result<bool> {
                let n = sqlx::query("DELETE FROM api_keys WHERE account_sid = $1 AND sid = $2")
                    .bind(account_sid)
                    .bind(sid)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }

            async fn list_api_keys(&self, account_sid: &str, page: &PageQuery) -> Result<Vec<ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, ApiKeyRecord>(
                    "SELECT * FROM api_keys WHERE account_sid = $1 \
                     AND ($2 IS NULL OR (date_created, sid) > \
                          (SELECT date_created, sid FROM api_keys WHERE sid = $2)) \
                     ORDER BY date_created, sid LIMIT $3 OFFSET $4",
                )
                .bind(account_sid)
                .bind(&page.after)
                .bind(i64::from(page.size))
                .bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn all_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, ApiKeyRecord>("SELECT * FROM api_keys ORDER BY date_created, sid")
                    .fetch_all(&self.pool)
                    .await?)
            }
            async fn insert_public_key(&self, k: &PublicKeyRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO public_keys (sid, account_sid, friendly_name, public_key, date_created, date_updated) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&k.sid)
                .bind(&k.account_sid)
                .bind(&k.friendly_name)
                .bind(&k.public_key)
                .bind(k.date_created)
                .bind(k.date_updated)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn update_public_key(&self, k: &PublicKeyRecord) -> Result<bool> {
                let n = sqlx::query(
                    "UPDATE public_keys SET friendly_name = $3, date_updated = $4 WHERE account_sid = $1 AND sid = $2",
                )
                .bind(&k.account_sid)
                .bind(&k.sid)
                .bind(&k.friendly_name)
                .bind(k.date_updated)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn delete_public_key(&self, account_sid: &str, sid: &str) -> Result<bool> {
                let n = sqlx::query("DELETE FROM public_keys WHERE account_sid = $1 AND sid = $2")
                    .bind(account_sid)
                    .bind(sid)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }

            async fn list_public_keys(&self, account_sid: &str, page: &PageQuery) -> Result<Vec<PublicKeyRecord>> {
                Ok(sqlx::query_as::<_, PublicKeyRecord>(
                    "SELECT * FROM public_keys WHERE account_sid = $1 \
                     AND ($2 IS NULL OR (date_created, sid) > \
                          (SELECT date_created, sid FROM public_keys WHERE sid = $2)) \
                     ORDER BY date_created, sid LIMIT $3 OFFSET $4",
                )
                .bind(account_sid)
                .bind(&page.after)
                .bind(i64::from(page.size))
                .bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn all_public_keys(&self) -> Result<Vec<PublicKeyRecord>> {
                Ok(sqlx::query_as::<_, PublicKeyRecord>("SELECT * FROM public_keys ORDER BY date_created, sid")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn enqueue_webhook(&self, w: &WebhookRecord, limit: u32) -> Result<bool> {
                let n = sqlx::query(
                    "INSERT INTO webhook_deliveries (sid, account_sid, url_sealed, url_redacted, method, content_type, \
                     body, status, attempts, next_attempt_at, lease_until, last_response_code, last_error, \
                     date_created, date_updated) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 \
                     WHERE (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'queued') < $16",
                )
                .bind(&w.sid)
                .bind(&w.account_sid)
                .bind(&w.url_sealed)
                .bind(&w.url_redacted)
                .bind(&w.method)
                .bind(&w.content_type)
                .bind(&w.body)
                .bind(w.status.as_str())
                .bind(w.attempts)
                .bind(w.next_attempt_at)
                .bind(w.lease_until)
                .bind(w.last_response_code)
                .bind(&w.last_error)
                .bind(w.date_created)
                .bind(w.date_updated)
                .bind(i64::from(limit))
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn webhook(&self, account_sid: &str, sid: &str) -> Result<Option<WebhookRecord>> {
                Ok(sqlx::query_as::<_, WebhookRecord>(
                    "SELECT * FROM webhook_deliveries WHERE account_sid = $1 AND sid = $2",
                )
                .bind(account_sid)
                .bind(sid)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn due_webhooks(&self, now: i64, limit: u32) -> Result<Vec<WebhookRecord>> {
                Ok(sqlx::query_as::<_, WebhookRecord>(
                    "SELECT * FROM webhook_deliveries WHERE status = 'queued' AND next_attempt_at <= $1 \
                     AND (lease_until IS NULL OR lease_until < $1) \
                     ORDER BY next_attempt_at, sid LIMIT $2",
                )
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn next_webhook_due(&self) -> Result<Option<i64>> {
                let due: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(COALESCE(CASE WHEN lease_until > next_attempt_at THEN lease_until END, next_attempt_at)) \
                     FROM webhook_deliveries WHERE status = 'queued'",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(due)
            }

            async fn lease_webhook(&self, sid: &str, now: i64, until: i64) -> Result<bool> {
                let n = sqlx::query(
                    "UPDATE webhook_deliveries SET lease_until = $3 WHERE sid = $1 AND status = 'queued' \
                     AND (lease_until IS NULL OR lease_until < $2)",
                )
                .bind(sid)
                .bind(now)
                .bind(until)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn record_webhook_attempt(&self, w: &WebhookRecord) -> Result<bool> {
                let n = sqlx::query(
                    "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, lease_until = NULL, \
                     last_response_code = $5, last_error = $6, date_updated = $7 WHERE sid = $1",
                )
                .bind(&w.sid)
                .bind(w.status.as_str())
                .bind(w.attempts)
                .bind(w.next_attempt_at)
                .bind(w.last_response_code)
                .bind(&w.last_error)
                .bind(w.date_updated)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }
            async fn upsert_geo_permissions(&self, rows: &[GeoPermissionRecord]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for r in rows {
                    sqlx::query(
                        "INSERT INTO geo_permissions (account_sid, channel, iso_code, low_risk, high_risk_special, \
                         high_risk_tollfraud, date_updated) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (account_sid, channel, iso_code) DO UPDATE SET low_risk = excluded.low_risk, \
                         high_risk_special = excluded.high_risk_special, \
                         high_risk_tollfraud = excluded.high_risk_tollfraud, date_updated = excluded.date_updated",
                    )
                    .bind(&r.account_sid)
                    .bind(&r.channel)
                    .bind(&r.iso_code)
                    .bind(r.low_risk)
                    .bind(r.high_risk_special)
                    .bind(r.high_risk_tollfraud)
                    .bind(r.date_updated)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn all_geo_permissions(&self) -> Result<Vec<GeoPermissionRecord>> {
                Ok(sqlx::query_as::<_, GeoPermissionRecord>(
                    "SELECT * FROM geo_permissions ORDER BY account_sid, channel, iso_code",
                )
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(crate) use impl_store;
