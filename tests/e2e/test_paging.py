"""Paging of every served list: following `next_page_uri` / `meta.next_page_url`
returns every record exactly once, in order, and ends; `previous` and `first`
lead back. With the official package's `list()` / `stream()` where it has one."""

import threading
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from test_messaging import env, gw  # noqa: F401 (the gw fixture)

FROM = "+12015550123"


def bounded(fn, timeout=20):
    """Runs `fn` in a thread: an endless walk fails the test instead of hanging
    it (the thread dies with the gateway at teardown)."""
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 (re-raised below)
            out["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"did not finish within {timeout} s: paging never ends"
    if "error" in out:
        raise out["error"]
    return out["value"]


def get(gw, url, auth=None):
    if url.startswith("/"):
        url = gw.url + url
    r = requests.get(url, auth=auth or (gw.account_sid, gw.auth_token), timeout=10)
    assert r.status_code == 200, (url, r.text)
    return r.json()


class Shape:
    """Where a list keeps its rows and links (2010: top level, v1/v2: `meta`)."""

    def __init__(self, body, key):
        self.body, self.key = body, key
        self.meta = body.get("meta")

    def rows(self):
        return self.body[self.key]

    def link(self, name):
        if self.meta is not None:
            return self.meta[f"{name}_page_url"]
        return self.body[f"{name}_page_uri"]

    def page(self):
        return (self.meta or self.body)["page"]


def walk(gw, path, key, ident, size, max_pages):
    """Follows next links from the first page of `path` at `size` a page."""
    sep = "&" if "?" in path else "?"
    url = f"{path}{sep}PageSize={size}"
    pages = []
    while url:
        assert len(pages) < max_pages, f"{path}: more than {max_pages} pages at PageSize={size}"
        page = Shape(get(gw, url), key)
        pages.append(page)
        url = page.link("next")
    return pages


def check_list(gw, path, key, ident=lambda r: r["sid"], sizes=(1, 2, 3, 7)):
    """Every record exactly once, in order, at every page size; the walk ends
    with a full last page (no empty page after it); previous and first links
    lead back to the pages before and the first page."""
    everything = [ident(r) for r in Shape(get(gw, f"{path}{'&' if '?' in path else '?'}PageSize=1000"), key).rows()]
    assert len(everything) == len(set(everything)), f"{path}: duplicates in one page"
    for size in sizes:
        expected_pages = max(1, -(-len(everything) // size))
        pages = walk(gw, path, key, ident, size, expected_pages + 1)
        walked = [ident(r) for p in pages for r in p.rows()]
        assert walked == everything, f"{path} at PageSize={size}: {len(walked)} rows walked of {len(everything)}"
        assert len(pages) == expected_pages, f"{path} at PageSize={size}: {len(pages)} pages"
        assert [p.page() for p in pages] == list(range(len(pages)))
        assert pages[0].link("previous") is None
        for i, page in enumerate(pages[1:], start=1):
            back = Shape(get(gw, page.link("previous")), key)
            assert [ident(r) for r in back.rows()] == [ident(r) for r in pages[i - 1].rows()], \
                f"{path} at PageSize={size}: previous of page {i} is not page {i - 1}"
            assert back.page() == i - 1
            first = Shape(get(gw, page.link("first")), key)
            assert [ident(r) for r in first.rows()] == [ident(r) for r in pages[0].rows()]
        if "start" in pages[0].body:
            for i, page in enumerate(pages):
                assert page.body["start"] == i * size
                assert page.body["end"] == i * size + max(len(page.rows()) - 1, 0)
    return everything


def public_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_usage_triggers_list_and_stream_end_with_small_pages(gw):
    c = gw.client()
    triggers = c.api.v2010.accounts(gw.account_sid).usage.triggers
    made = [triggers.create(callback_url=f"https://example.com/t{i}", trigger_value=str(100 + i),
                            usage_category="sms").sid for i in range(5)]
    listed = bounded(lambda: [t.sid for t in triggers.list(page_size=2)])
    assert sorted(listed) == sorted(made) and len(listed) == 5
    streamed = bounded(lambda: [t.sid for t in triggers.stream(page_size=1)])
    assert streamed == listed


def test_usage_records_over_90_days_come_in_full(gw):
    c = gw.client()
    c.incoming_phone_numbers.create(phone_number=FROM)
    for i in range(3):
        c.messages.create(to=f"+1201555{1100 + i}", from_=FROM, body="hi")
    today = date.today()
    start = today - timedelta(days=90)
    daily = c.api.v2010.accounts(gw.account_sid).usage.records.daily
    records = bounded(lambda: list(daily.list(start_date=start, end_date=today)))
    keys = [(r.start_date, r.category) for r in records]
    assert len(keys) == len(set(keys)) == 91 * 7, len(keys)
    assert sorted({d for d, _ in keys}) == [start + timedelta(days=i) for i in range(91)]
    streamed = bounded(lambda: [(r.start_date, r.category) for r in daily.stream(
        start_date=start, end_date=today, page_size=2)], timeout=60)
    assert streamed == keys
    sms = [r for r in records if r.category == "sms-outbound" and r.start_date == today]
    assert sms and sms[0].count == "3"


def test_every_list_pages_completely_in_order_and_back(gw):
    c = gw.client()
    auth = (gw.account_sid, gw.auth_token)
    acc = f"/2010-04-01/Accounts/{gw.account_sid}"
    for i in range(4):
        c.api.v2010.accounts.create(friendly_name=f"sub {i}")
        c.api.v2010.accounts(gw.account_sid).new_keys.create(friendly_name=f"key {i}")
        c.accounts.v1.credentials.public_key.create(public_key=public_pem(), friendly_name=f"pk {i}")
        c.api.v2010.accounts(gw.account_sid).usage.triggers.create(
            callback_url="https://example.com/t", trigger_value=str(10 + i), usage_category="sms")
    numbers = [c.incoming_phone_numbers.create(phone_number=f"+120155501{40 + i}") for i in range(5)]
    for i in range(5):
        c.messages.create(to=f"+1201555{1200 + i}", from_=numbers[0].phone_number, body=f"m{i}")
    for i in range(3):
        c.calls.create(to=f"+1201555{1300 + i}", from_=numbers[0].phone_number, url="https://example.com/x")
        try:
            c.messages.create(to="+447400123456", from_=numbers[0].phone_number, body="blocked")
        except Exception:  # noqa: BLE001 (the alert is the point)
            pass
    for i in range(3):
        svc = c.messaging.v1.services.create(friendly_name=f"pool {i}")
        if i == 0:
            for n in numbers:
                c.messaging.v1.services(svc.sid).phone_numbers.create(phone_number_sid=n.sid)
        v = c.verify.v2.services.create(friendly_name=f"verify {i}")
        rl = c.verify.v2.services(v.sid).rate_limits.create(unique_name=f"key_{i}")
        for j in range(3):
            c.verify.v2.services(v.sid).rate_limits(rl.sid).buckets.create(max=2 + j, interval=60 * (j + 1))
        requests.post(f"{gw.url}/v2/Alarms", json={"friendlyName": f"a{i}", "triggerValue": 5}, auth=auth,
                      timeout=10).raise_for_status()
        requests.post(f"{gw.url}/tollgate/v1/RateLimits", auth=auth,
                      data={"Key": "to", "Max": str(10 + i), "Interval": "3600"}, timeout=10)
        requests.post(f"{gw.url}/tollgate/v1/SpendLimits", auth=auth,
                      data={"Scope": "account", "Period": "day", "LimitUsd": str(5 + i)}, timeout=10)
        requests.post(f"{gw.url}/tollgate/v1/Recipients", auth=auth, data={"PhoneNumber": f"+1201555{1400 + i}"},
                      timeout=10).raise_for_status()
        requests.post(f"{gw.url}/tollgate/v1/Blocklist", auth=auth, data={"Number": f"+44740012{i}"},
                      timeout=10).raise_for_status()
    svc_sid = c.messaging.v1.services.list()[0].sid
    verify_sid = c.verify.v2.services.list()[0].sid
    rl_sid = c.verify.v2.services(verify_sid).rate_limits.list()[0].sid

    lists = [
        ("/2010-04-01/Accounts.json", "accounts", None),
        (f"{acc}/Keys.json", "keys", None),
        (f"{acc}/IncomingPhoneNumbers.json", "incoming_phone_numbers", None),
        (f"{acc}/Messages.json", "messages", None),
        (f"{acc}/Calls.json", "calls", None),
        (f"{acc}/Usage/Triggers.json", "usage_triggers", None),
        (f"{acc}/Usage/Records.json", "usage_records", lambda r: r["category"]),
        (f"{acc}/Usage/Records/Today.json", "usage_records", lambda r: r["category"]),
        (f"{acc}/Usage/Records/Daily.json?StartDate={date.today() - timedelta(days=4)}", "usage_records",
         lambda r: (r["start_date"], r["category"])),
        ("/v1/Events", "events", None),
        ("/v1/Alerts", "alerts", None),
        ("/v2/Alarms", "alarms", None),
        ("/v1/Credentials/PublicKeys", "credentials", None),
        ("/v1/Services", "services", None),
        (f"/v1/Services/{svc_sid}/PhoneNumbers", "phone_numbers", None),
        ("/v2/Services", "services", None),
        (f"/v2/Services/{verify_sid}/RateLimits", "rate_limits", None),
        (f"/v2/Services/{verify_sid}/RateLimits/{rl_sid}/Buckets", "buckets", None),
        ("/v1/DialingPermissions/Countries?Continent=EUROPE", "content", lambda r: r["iso_code"]),
        ("/v1/DialingPermissions/Countries/GB/HighRiskSpecialPrefixes", "content", lambda r: r["prefix"]),
        ("/tollgate/v1/RateLimits", "rate_limits", None),
        ("/tollgate/v1/SpendLimits", "spend_limits", None),
        ("/tollgate/v1/Recipients", "recipients", lambda r: r),
        ("/tollgate/v1/Blocklist", "entries", lambda r: r["prefix"]),
        ("/tollgate/v1/FraudGuard/Blocks", "blocks", lambda r: r["url"]),
    ]
    for path, key, ident in lists:
        rows = check_list(gw, path, key, ident or (lambda r: r["sid"]))
        assert rows or "FraudGuard" in path, f"{path} is empty: the walk proves nothing"


def test_the_whole_countries_list_at_the_default_page_size(gw):
    rows = check_list(gw, "/v1/DialingPermissions/Countries", "content", lambda r: r["iso_code"], sizes=(50, 77))
    assert len(rows) > 200


def test_rows_added_or_deleted_between_pages_are_not_lost_or_repeated(gw):
    c = gw.client()
    keys = c.api.v2010.accounts(gw.account_sid).new_keys
    made = [keys.create(friendly_name=f"k{i}").sid for i in range(6)]
    path = f"/2010-04-01/Accounts/{gw.account_sid}/Keys.json?PageSize=2"
    first = get(gw, path)
    assert [k["sid"] for k in first["keys"]] == made[:2]
    # The cursor row itself goes away: the walk goes on after it.
    c.api.v2010.accounts(gw.account_sid).keys(made[1]).delete()
    added = keys.create(friendly_name="late").sid
    seen = [k["sid"] for k in first["keys"]]
    url = first["next_page_uri"]
    while url:
        page = get(gw, url)
        seen += [k["sid"] for k in page["keys"]]
        url = page["next_page_uri"]
        assert len(seen) < 20
    assert seen == made + [added]


def test_stream_of_messages_and_accounts_with_the_sdk(gw):
    c = gw.client()
    c.incoming_phone_numbers.create(phone_number=FROM)
    sent = [c.messages.create(to=f"+1201555{1500 + i}", from_=FROM, body=str(i)).sid for i in range(7)]
    streamed = bounded(lambda: [m.sid for m in c.messages.stream(page_size=3)])
    assert streamed == list(reversed(sent)), "newest first, every message once"
    subs = [c.api.v2010.accounts.create(friendly_name=f"s{i}").sid for i in range(5)]
    accounts = bounded(lambda: [a.sid for a in c.api.v2010.accounts.list(page_size=2)])
    assert accounts == [gw.account_sid, *subs]


@pytest.mark.parametrize("query,code", [
    ("PageSize=%2B5", 20422),
    ("PageSize=0", 20422),
    ("PageSize=-1", 20422),
    ("PageSize=", 20422),
    ("PageSize=5.0", 20422),
    ("PageSize=1001", 20007),
    ("PageSize=99999999999999999999999", 20007),
    ("Page=999999999999", 20422),
    ("Page=-1", 20422),
    ("Page=%2B1", 20422),
    ("Page=x", 20422),
    ("Page=3", 20001),
    ("PageToken=bogus", 21481),
    ("PageToken=PA", 21481),
    ("PageToken=PB" + "9" * 400, 21481),
])
def test_invalid_paging_parameters_are_refused(gateway, query, code):
    for path in (f"/2010-04-01/Accounts/{gateway.account_sid}/Usage/Triggers.json", "/v1/Events",
                 f"/2010-04-01/Accounts/{gateway.account_sid}/Messages.json", "/v1/Services"):
        r = requests.get(f"{gateway.url}{path}?{query}", auth=(gateway.account_sid, gateway.auth_token), timeout=10)
        body = r.json()
        assert (r.status_code, body.get("code")) == (400, code), (path, query, body)
        assert set(body) == {"code", "message", "more_info", "status"} and body["message"]


def test_links_carry_the_filters_and_parse_back(gw):
    c = gw.client()
    for i in range(3):
        c.api.v2010.accounts.create(friendly_name="same")
    body = get(gw, "/2010-04-01/Accounts.json?FriendlyName=same&PageSize=1")
    link = dict(parse_qsl(urlsplit(body["next_page_uri"]).query))
    assert link["FriendlyName"] == "same" and link["PageSize"] == "1" and link["Page"] == "1"
    assert link["PageToken"].startswith("PA")
    prev = dict(parse_qsl(urlsplit(get(gw, body["next_page_uri"])["previous_page_uri"]).query))
    assert prev["PageToken"].startswith("PB") and prev["Page"] == "0"
