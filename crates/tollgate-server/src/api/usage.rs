//! `/2010-04-01/Accounts/{Sid}/Usage/Records.json` and `…/Records/{Daily,
//! Monthly,Today,Yesterday,ThisMonth,LastMonth,AllTime}.json`: derived from
//! the billed messages and calls themselves, so usage always matches traffic.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tollgate_policy::spend::format_price;
use tollgate_types::Timestamp;

use crate::app::App;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::wire::{PageRequest, Params, page_2010, page_in_memory};

const DAY: i64 = 86_400_000;

/// `[start, end)` periods for a subresource.
fn periods(kind: &str, now: i64, start: Option<i64>, end: Option<i64>) -> Option<Vec<(i64, i64)>> {
    let today = Timestamp(now).start_of_day().0;
    let month = Timestamp(now).start_of_month().0;
    let last_month = Timestamp(month - 1).start_of_month().0;
    Some(match kind {
        "" | "AllTime" => vec![(start.unwrap_or(0), end.unwrap_or(today + DAY))],
        "Today" => vec![(today, today + DAY)],
        "Yesterday" => vec![(today - DAY, today)],
        "ThisMonth" => vec![(month, Timestamp(month + 32 * DAY).start_of_month().0)],
        "LastMonth" => vec![(last_month, month)],
        "Daily" => {
            let from = start.unwrap_or(month);
            let to = end.unwrap_or(today + DAY);
            let mut out = Vec::new();
            let mut day = Timestamp(from).start_of_day().0;
            while day < to && out.len() < 400 {
                out.push((day, day + DAY));
                day += DAY;
            }
            out
        }
        "Monthly" => {
            let from = Timestamp(start.unwrap_or(last_month)).start_of_month().0;
            let to = end.unwrap_or(today + DAY);
            let mut out = Vec::new();
            let mut m = from;
            while m < to && out.len() < 120 {
                let next = Timestamp(m + 32 * DAY).start_of_month().0;
                out.push((m, next));
                m = next;
            }
            out
        }
        _ => return None,
    })
}

fn date(ms: i64) -> String {
    let (y, m, d, _, _) = Timestamp(ms).civil();
    format!("{y:04}-{m:02}-{d:02}")
}

/// `GET …/Usage/Records.json` and its subresources.
pub async fn records(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(parts): Path<Vec<(String, String)>>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let get = |k: &str| parts.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let account = principal.account(&get("account").unwrap_or_default())?;
    let kind_segment = get("kind").unwrap_or_default();
    let kind = kind_segment.trim_end_matches(".json");
    let parse_day = |name: &str| -> ApiResult<Option<i64>> {
        params
            .get(name)
            .map(|v| {
                Timestamp::parse_iso8601(v)
                    .map(|t| t.0)
                    .ok_or_else(|| ApiError::invalid(name, "must be YYYY-MM-DD"))
            })
            .transpose()
    };
    let start = parse_day("StartDate")?;
    let end = parse_day("EndDate")?.map(|e| e + DAY);
    let now = app.clock.now().0;
    let path = if kind.is_empty() {
        format!("/2010-04-01/Accounts/{}/Usage/Records.json", account.sid)
    } else {
        format!(
            "/2010-04-01/Accounts/{}/Usage/Records/{kind}.json",
            account.sid
        )
    };
    let periods = periods(kind, now, start, end).ok_or_else(|| ApiError::not_found(&path))?;
    let include_subaccounts = params
        .get("IncludeSubaccounts")
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
    let snapshot = principal.snapshot.clone();
    let mut accounts = vec![account.sid.clone()];
    if include_subaccounts && account.is_main() {
        accounts.extend(
            snapshot
                .accounts
                .values()
                .filter(|a| a.owner_account_sid == account.sid && a.sid != account.sid)
                .map(|a| a.sid.clone()),
        );
    }
    let wanted = params.get("Category");
    let mut records: Vec<(String, Value)> = Vec::new();
    for (index, (from, to)) in periods.iter().enumerate() {
        let mut totals: std::collections::HashMap<&str, (i64, i64, i64)> = Default::default();
        for sid in &accounts {
            for row in app.store.usage(sid, *from, *to).await? {
                let key = match row.category.as_str() {
                    "sms-outbound" => "sms-outbound",
                    "sms-inbound" => "sms-inbound",
                    "calls-outbound" => "calls-outbound",
                    _ => "calls-inbound",
                };
                let t = totals.entry(key).or_default();
                t.0 += row.count;
                t.1 += row.usage;
                t.2 += row.price_micros;
            }
        }
        let sum = |keys: &[&str]| {
            keys.iter().fold((0, 0, 0), |acc, k| {
                let t = totals.get(k).copied().unwrap_or_default();
                (acc.0 + t.0, acc.1 + t.1, acc.2 + t.2)
            })
        };
        let rows = [
            (
                "sms",
                "SMS",
                "messages",
                "messages",
                sum(&["sms-outbound", "sms-inbound"]),
            ),
            (
                "sms-outbound",
                "Outbound SMS",
                "messages",
                "messages",
                sum(&["sms-outbound"]),
            ),
            (
                "sms-inbound",
                "Inbound SMS",
                "messages",
                "messages",
                sum(&["sms-inbound"]),
            ),
            (
                "calls",
                "Voice Minutes",
                "calls",
                "minutes",
                sum(&["calls-outbound", "calls-inbound"]),
            ),
            (
                "calls-outbound",
                "Outbound Voice Minutes",
                "calls",
                "minutes",
                sum(&["calls-outbound"]),
            ),
            (
                "calls-inbound",
                "Inbound Voice Minutes",
                "calls",
                "minutes",
                sum(&["calls-inbound"]),
            ),
        ];
        // Every billed category, once.
        let total_price: i64 = totals.values().map(|t| t.2).sum();
        let price_text = |micros: i64| format_price(micros).trim_start_matches('-').to_owned();
        let last_day = date(to - 1);
        let mut push = |category: &str,
                        description: &str,
                        count: Option<i64>,
                        count_unit: &str,
                        usage: String,
                        usage_unit: &str,
                        price: i64| {
            if wanted.is_some_and(|w| w != category) {
                return;
            }
            records.push((
                format!("{index:06}{category}"),
                json!({
                    "account_sid": account.sid,
                    "api_version": "2010-04-01",
                    "as_of": Timestamp(now).iso8601().replace('Z', "+00:00"),
                    "category": category,
                    "count": count.map(|c| c.to_string()),
                    "count_unit": count_unit,
                    "description": description,
                    "end_date": last_day,
                    "price": price_text(price),
                    "price_unit": "usd",
                    "start_date": date(*from),
                    "subresource_uris": {},
                    "uri": format!("{path}?Category={category}"),
                    "usage": usage,
                    "usage_unit": usage_unit,
                }),
            ));
        };
        for (category, description, count_unit, usage_unit, (count, usage, price)) in rows {
            push(
                category,
                description,
                Some(count),
                count_unit,
                usage.to_string(),
                usage_unit,
                price,
            );
        }
        push(
            "totalprice",
            "Total Price",
            None,
            "",
            price_text(total_price),
            "usd",
            total_price,
        );
    }
    let page = PageRequest::from_params_keyed(&params, |_| true)?;
    let rows = page_in_memory(records, &page, |(k, _)| k.as_str());
    Ok(Json(page_2010(
        "usage_records",
        &path,
        &[("Category", params.get("Category"))],
        &page,
        rows,
        |(k, _)| k.clone(),
        |(_, v)| v.clone(),
    )))
}
