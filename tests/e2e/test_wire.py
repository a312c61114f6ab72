"""Raw HTTP: error shape, 401/404/405, pagination limits."""

import base64
import urllib.error
import urllib.request
import json


def call(gateway, method, path, auth=None, body=None):
    req = urllib.request.Request(gateway.url + path, method=method, data=body)
    if auth is not None:
        req.add_header("Authorization", auth)
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_authentication_failures_look_identical(gateway):
    path = f"/2010-04-01/Accounts/{gateway.account_sid}.json"
    cases = [
        None,
        "Bearer x",
        "Basic !!!",
        basic(gateway.account_sid, "0" * 32),
        basic("AC" + "1" * 32, gateway.auth_token),
        basic("SK" + "1" * 32, "secret"),
        basic(gateway.account_sid, gateway.auth_token + "0"),
    ]
    bodies = set()
    for auth in cases:
        status, headers, body = call(gateway, "GET", path, auth)
        assert status == 401, auth
        assert {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "").startswith("Basic")
        bodies.add(json.dumps(body, sort_keys=True))
    assert len(bodies) == 1
    only = json.loads(bodies.pop())
    assert set(only) == {"code", "message", "more_info", "status"}
    assert only["code"] == 20003 and only["status"] == 401


def test_unknown_routes_and_methods(gateway):
    auth = basic(gateway.account_sid, gateway.auth_token)
    status, _, body = call(gateway, "GET", "/2010-04-01/Nope.json", auth)
    assert (status, body["code"]) == (404, 20404)
    assert body["message"] == "The requested resource /2010-04-01/Nope.json was not found"
    status, _, body = call(gateway, "GET", f"/2010-04-01/Accounts/{gateway.account_sid}", auth)
    assert (status, body["code"]) == (404, 20404)  # the .json suffix is required
    status, _, body = call(gateway, "DELETE", "/2010-04-01/Accounts.json", auth)
    assert (status, body["code"]) == (405, 20004)


def test_page_limits_and_repeated_form_keys(gateway):
    auth = basic(gateway.account_sid, gateway.auth_token)
    status, _, body = call(gateway, "GET", "/2010-04-01/Accounts.json?PageSize=1001", auth)
    assert (status, body["code"]) == (400, 20007)
    status, _, body = call(gateway, "GET", "/2010-04-01/Accounts.json?PageToken=bogus", auth)
    assert (status, body["code"]) == (400, 21481)
    status, _, body = call(gateway, "GET", "/2010-04-01/Accounts.json?PageSize=1", auth)
    assert status == 200 and body["page_size"] == 1 and body["first_page_uri"].endswith("PageSize=1&Page=0")
    # With repeated keys the first value counts, as form decoding does.
    status, _, body = call(gateway, "POST", "/2010-04-01/Accounts.json", auth, b"FriendlyName=one&FriendlyName=two")
    assert status == 201 and body["friendly_name"] == "one"
    status, _, body = call(gateway, "POST", "/2010-04-01/Accounts.json", auth, b"FriendlyName=" + b"x" * 70_000)
    assert (status, body["code"]) == (413, 20413)


def test_error_codes_are_documented_by_the_gateway(gateway):
    status, _, body = call(gateway, "GET", "/tollgate/v1/Errors/21479")
    assert status == 200 and body["status"] == 400 and "closed" in body["title"]
    status, _, body = call(gateway, "GET", "/tollgate/v1/Errors/1")
    assert (status, body["code"]) == (404, 20404)
