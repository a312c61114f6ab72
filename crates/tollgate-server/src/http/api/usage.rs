//! `/2010-04-01/Accounts/{Sid}/Usage/Records.json` and `…/Records/{Daily,
//! Monthly,Today,Yesterday,ThisMonth,LastMonth,AllTime}.json`: derived from
//! the billed messages and calls themselves, so usage always matches traffic.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tollgate_policy::spend::format_price;
use tollgate_types::Timestamp;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Principal;
use crate::http::wire::{Order, PageRequest, Params};

const DAY: i64 = 86_400_000;

/// The metered categories the store sums.
const BASE: [&str; 4] = [
    "sms-outbound",
    "sms-inbound",
    "calls-outbound",
    "calls-inbound",
];

/// A usage record's category: what it sums and how it is shown.
struct Category {
    name: &'static str,
    description: &'static str,
    count_unit: &'static str,
    usage_unit: &'static str,
    sums: &'static [&'static str],
}

const CATEGORIES: [Category; 7] = [
    Category {
        name: "sms",
        description: "SMS",
        count_unit: "messages",
        usage_unit: "messages",
        sums: &["sms-outbound", "sms-inbound"],
    },
    Category {
        name: "sms-outbound",
        description: "Outbound SMS",
        count_unit: "messages",
        usage_unit: "messages",
        sums: &["sms-outbound"],
    },
    Category {
        name: "sms-inbound",
        description: "Inbound SMS",
        count_unit: "messages",
        usage_unit: "messages",
        sums: &["sms-inbound"],
    },
    Category {
        name: "calls",
        description: "Voice Minutes",
        count_unit: "calls",
        usage_unit: "minutes",
        sums: &["calls-outbound", "calls-inbound"],
    },
    Category {
        name: "calls-outbound",
        description: "Outbound Voice Minutes",
        count_unit: "calls",
        usage_unit: "minutes",
        sums: &["calls-outbound"],
    },
    Category {
        name: "calls-inbound",
        description: "Inbound Voice Minutes",
        count_unit: "calls",
        usage_unit: "minutes",
        sums: &["calls-inbound"],
    },
    Category {
        name: "totalprice",
        description: "Total Price",
        count_unit: "",
        usage_unit: "usd",
        sums: &BASE,
    },
];

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
        "Yearly" => {
            let from = Timestamp(start.unwrap_or(now)).start_of_year().0;
            let to = end.unwrap_or(today + DAY);
            let mut out = Vec::new();
            let mut y = from;
            while y < to && out.len() < 20 {
                let next = Timestamp(y + 370 * DAY).start_of_year().0;
                out.push((y, next));
                y = next;
            }
            out
        }
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
    // One record per period and category, keyed by its position, so a page
    // reads the usage of its own periods only.
    let wanted = params.get("Category");
    let categories: Vec<&Category> = CATEGORIES
        .iter()
        .filter(|c| wanted.is_none_or(|w| w == c.name))
        .collect();
    let slots: Vec<(i64, usize, &Category)> = periods
        .iter()
        .enumerate()
        .flat_map(|(p, _)| categories.iter().map(move |c| (p, *c)))
        .enumerate()
        .map(|(position, (p, c))| (position as i64, p, c))
        .collect();
    let page = PageRequest::<i64>::from_params(&params)?.slice(slots, Order::Ascending, |s| s.0);
    let mut totals: HashMap<usize, HashMap<&str, (i64, i64, i64)>> = HashMap::new();
    for &(_, index, _) in &page.rows {
        if totals.contains_key(&index) {
            continue;
        }
        let Some(&(from, to)) = periods.get(index) else {
            continue;
        };
        let mut sums: HashMap<&str, (i64, i64, i64)> = HashMap::new();
        for sid in &accounts {
            for row in app.store.usage(sid, from, to).await? {
                let key = BASE
                    .iter()
                    .copied()
                    .find(|b| *b == row.category)
                    .unwrap_or("calls-inbound");
                let t = sums.entry(key).or_default();
                t.0 += row.count;
                t.1 += row.usage;
                t.2 += row.price_micros;
            }
        }
        totals.insert(index, sums);
    }
    let as_of = Timestamp(now).iso8601().replace('Z', "+00:00");
    let price_text = |micros: i64| format_price(micros).trim_start_matches('-').to_owned();
    let render = |&(_, index, category): &(i64, usize, &Category)| {
        let (from, to) = periods.get(index).copied().unwrap_or_default();
        let sums = totals.get(&index);
        let (count, usage, price) = category.sums.iter().fold((0, 0, 0), |acc, k| {
            let t = sums.and_then(|s| s.get(k)).copied().unwrap_or_default();
            (acc.0 + t.0, acc.1 + t.1, acc.2 + t.2)
        });
        let is_total = category.name == "totalprice";
        json!({
            "account_sid": account.sid,
            "api_version": "2010-04-01",
            "as_of": as_of,
            "category": category.name,
            "count": (!is_total).then(|| count.to_string()),
            "count_unit": category.count_unit,
            "description": category.description,
            "end_date": date(to - 1),
            // A number in Twilio's usage records (a string elsewhere).
            "price": price.unsigned_abs() as f64 / 1_000_000.0,
            "price_unit": "usd",
            "start_date": date(from),
            "subresource_uris": {},
            "uri": format!("{path}?Category={}", category.name),
            "usage": if is_total { price_text(price) } else { usage.to_string() },
            "usage_unit": category.usage_unit,
        })
    };
    Ok(Json(page.twilio_2010(
        "usage_records",
        &path,
        &params,
        render,
    )))
}
