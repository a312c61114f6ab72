"""Public Key Client Validation with the official ValidationClient."""

import json

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests import Request, Session
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.validation_client import ValidationClient
from twilio.jwt.validation import ClientValidationJwt
from twilio.rest import Client

from conftest import DOMAINS, rest_error


def keypair(bits=2048, exponent=65537):
    private = rsa.generate_private_key(public_exponent=exponent, key_size=bits)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def settings(gw, **data):
    return requests.post(
        f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Settings",
        auth=(gw.account_sid, gw.auth_token),
        data=data,
        timeout=10,
    )


def pointed(client, gw):
    for domain in DOMAINS:
        getattr(client, domain).base_url = gw.url
    return client


@pytest.fixture
def pkcv(gateway):
    """An account with a registered key, an API key and validation required."""
    gw = gateway
    main = gw.client()
    key = main.api.v2010.accounts(gw.account_sid).new_keys.create(friendly_name="pkcv")
    private_pem, public_pem = keypair()
    credential = main.accounts.v1.credentials.public_key.create(public_key=public_pem, friendly_name="laptop")
    assert credential.sid.startswith("CR") and credential.account_sid == gw.account_sid
    r = settings(gw, RequireClientValidation="true")
    assert r.status_code == 200 and r.json()["require_client_validation"] is True, r.text
    return {"gw": gw, "key": key, "private_pem": private_pem, "credential": credential.sid}


def validating_client(p, username=None, password=None, issuer=None):
    gw = p["gw"]
    http = ValidationClient(gw.account_sid, issuer or p["key"].sid, p["credential"], p["private_pem"])
    client = Client(username or p["key"].sid, password or p["key"].secret, gw.account_sid, http_client=http)
    return pointed(client, gw)


def test_key_registration_rules(gateway):
    main = gateway.client()
    for bits, exponent, text in [(1024, 65537, None), (2048, 3, None), (None, None, "not a key")]:
        pem = text if text else keypair(bits, exponent)[1]
        with pytest.raises(TwilioRestException) as e:
            main.accounts.v1.credentials.public_key.create(public_key=pem)
        assert (e.value.status, e.value.code) == (400, 70154), e.value.msg
    _, public_pem = keypair()
    created = main.accounts.v1.credentials.public_key.create(public_key=public_pem)
    listed = main.accounts.v1.credentials.public_key.list()
    assert [k.sid for k in listed] == [created.sid]
    assert main.accounts.v1.credentials.public_key(created.sid).update(friendly_name="ci").friendly_name == "ci"
    assert main.accounts.v1.credentials.public_key(created.sid).fetch().friendly_name == "ci"
    assert main.accounts.v1.credentials.public_key(created.sid).delete() is True
    # Requiring validation without a key would lock the account out.
    r = settings(gateway, RequireClientValidation="true")
    assert r.status_code == 400 and r.json()["code"] == 20422, r.text


def test_validation_client_works_and_plain_requests_are_refused(pkcv):
    gw = pkcv["gw"]
    client = validating_client(pkcv)
    assert client.api.v2010.accounts(gw.account_sid).balance.fetch().currency == "USD"
    # A POST with a body (a test webhook to a refused address is enough to create a record).
    response = client.request(
        "POST",
        f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Webhooks",
        data={"Url": "https://example.invalid/hook", "Param.Body": "héllo & bye"},
    )
    assert response.status_code == 201, response.text
    # The same credentials without the JWT.
    plain = pointed(Client(pkcv["key"].sid, pkcv["key"].secret, gw.account_sid), gw)
    with pytest.raises(TwilioRestException) as e:
        plain.api.v2010.accounts(gw.account_sid).balance.fetch()
    assert (e.value.status, e.value.code) == (401, 70052)
    # The auth token with a JWT whose iss is the account works too (Tollgate's extension),
    # so the account can still manage keys and settings.
    owner = validating_client(pkcv, username=gw.account_sid, password=gw.auth_token, issuer=gw.account_sid)
    assert len(owner.api.v2010.accounts(gw.account_sid).keys.list()) == 1
    # ...but not with the API key's SID as iss.
    wrong_iss = validating_client(pkcv, username=gw.account_sid, password=gw.auth_token)
    with pytest.raises(TwilioException) as e:
        wrong_iss.api.v2010.accounts(gw.account_sid).keys.list()
    assert rest_error(e) == (401, 20153)


def signed_then_sent(p, method, url, data=None, tamper=None, ttl=None, kid=None):
    """Signs a request exactly as ValidationClient does, optionally changes it
    after signing, sends it, and returns (status, code)."""
    session = Session()
    prepared = session.prepare_request(
        Request(method, url, data=data, auth=(p["key"].sid, p["key"].secret))
    )
    prepared.headers["Host"] = ValidationClient._get_host(None, prepared)
    http = ValidationClient(p["gw"].account_sid, p["key"].sid, kid or p["credential"], p["private_pem"])
    payload = http._build_validation_payload(prepared)
    jwt = ClientValidationJwt(
        p["gw"].account_sid, p["key"].sid, kid or p["credential"], p["private_pem"], payload
    ).to_jwt(ttl=ttl)
    prepared.headers["Twilio-Client-Validation"] = jwt
    if tamper:
        tamper(prepared)
    r = session.send(prepared, timeout=10)
    return r.status_code, (json.loads(r.text).get("code") if r.text else None)


def test_tampered_requests_are_rejected(pkcv):
    gw = pkcv["gw"]
    hooks = f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Webhooks"
    body = {"Url": "https://example.invalid/a", "Param.Amount": "10"}
    assert signed_then_sent(pkcv, "POST", hooks, body)[0] == 201

    def new_body(prepared):
        prepared.body = prepared.body.replace("Amount=10", "Amount=99")
        prepared.headers["Content-Length"] = str(len(prepared.body))

    assert signed_then_sent(pkcv, "POST", hooks, body, tamper=new_body) == (401, 70156)

    balance = f"{gw.url}/2010-04-01/Accounts/{gw.account_sid}/Balance.json"

    def new_path(prepared):
        prepared.url = f"{gw.url}/2010-04-01/Accounts/{gw.account_sid}/Keys.json"

    assert signed_then_sent(pkcv, "GET", balance)[0] == 200
    assert signed_then_sent(pkcv, "GET", balance, tamper=new_path) == (401, 70156)

    def new_query(prepared):
        prepared.url = balance + "?PageSize=2"

    assert signed_then_sent(pkcv, "GET", balance, tamper=new_query) == (401, 70156)
    assert signed_then_sent(pkcv, "GET", balance, ttl=-600) == (401, 20156)
    assert signed_then_sent(pkcv, "GET", balance, kid="CR" + "0" * 32) == (401, 70153)

    def forged(prepared):
        token = prepared.headers["Twilio-Client-Validation"]
        head, claims, sig = token.split(".")
        prepared.headers["Twilio-Client-Validation"] = f"{head}.{claims}.{sig[:-4]}AAAA"

    assert signed_then_sent(pkcv, "GET", balance, tamper=forged) == (401, 20151)

    def garbage(prepared):
        prepared.headers["Twilio-Client-Validation"] = "not-a-jwt"

    assert signed_then_sent(pkcv, "GET", balance, tamper=garbage) == (401, 20152)


def test_turning_it_off_needs_a_validated_request(pkcv):
    gw = pkcv["gw"]
    # The auth token alone cannot turn the requirement off.
    r = settings(gw, RequireClientValidation="false")
    assert r.status_code == 401 and r.json()["code"] == 70052
    owner = validating_client(pkcv, username=gw.account_sid, password=gw.auth_token, issuer=gw.account_sid)
    response = owner.request(
        "POST",
        f"{gw.url}/tollgate/v1/Accounts/{gw.account_sid}/Settings",
        data={"RequireClientValidation": "false"},
    )
    assert response.status_code == 200, response.text
    plain = pointed(Client(pkcv["key"].sid, pkcv["key"].secret, gw.account_sid), gw)
    assert plain.api.v2010.accounts(gw.account_sid).balance.fetch().currency == "USD"
