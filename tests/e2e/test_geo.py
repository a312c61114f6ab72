"""Number intelligence and geo permissions with the official package."""

import json
import os

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from conftest import Gateway


def decision(gw, to, channel, auth=None):
    r = requests.post(
        f"{gw.url}/tollgate/v1/Decisions",
        auth=auth or (gw.account_sid, gw.auth_token),
        data={"To": to, "Channel": channel},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_lookup_validates_and_types_numbers(gateway):
    client = gateway.client()
    us = client.lookups.v2.phone_numbers("+12015550123").fetch()
    assert us.valid is True and us.country_code == "US" and us.calling_country_code == "1"
    assert us.national_format == "(201) 555-0123"
    assert us.line_type_intelligence is None
    gb = client.lookups.v2.phone_numbers("07400 123456").fetch(country_code="GB", fields="line_type_intelligence")
    assert gb.phone_number == "+447400123456"
    assert gb.line_type_intelligence["type"] == "mobile"
    premium = client.lookups.v2.phone_numbers("+449098765432").fetch(fields="line_type_intelligence")
    assert premium.line_type_intelligence["type"] == "premium"
    assert premium.line_type_intelligence["risk"] == "high_risk_special"
    bad = client.lookups.v2.phone_numbers("+1201555").fetch()
    assert bad.valid is False and bad.validation_errors and bad.country_code is None
    junk = client.lookups.v2.phone_numbers("hello").fetch()
    assert junk.valid is False and junk.validation_errors == ["NOT_A_NUMBER"]


def test_new_account_reaches_only_its_home_country(gateway):
    gw = gateway
    client = gw.client()
    us = client.voice.v1.dialing_permissions.countries("US").fetch()
    assert us.low_risk_numbers_enabled is True
    assert us.high_risk_special_numbers_enabled is False and us.high_risk_tollfraud_numbers_enabled is False
    enabled = client.voice.v1.dialing_permissions.countries.list(low_risk_numbers_enabled=True)
    assert [c.iso_code for c in enabled] == ["US"]
    everything = client.voice.v1.dialing_permissions.countries.list(page_size=50)
    assert len(everything) > 240  # paged through, 50 at a time
    lv = [p.prefix for p in client.voice.v1.dialing_permissions.countries("LV").highrisk_special_prefixes.list()]
    assert "+37181" in lv  # Twilio's documented example, derived here from libphonenumber
    sms = client.accounts.v1.messaging_geopermissions.fetch(country_code="US,GB,FR").permissions
    assert {p["country_code"]: p["enabled"] for p in sms} == {"US": True, "GB": False, "FR": False}

    assert decision(gw, "+12015550123", "sms")["allowed"] is True
    d = decision(gw, "+33612345678", "sms")
    assert (d["allowed"], d["error_code"], d["rule"]) == (False, 21408, "geo.country_not_enabled")
    assert d["evidence"]["country"] == "FR" and d["evidence"]["number_type"] == "mobile"
    d = decision(gw, "+33612345678", "voice")
    assert d["error_code"] == 21215
    d = decision(gw, "+1201555", "voice")
    assert (d["allowed"], d["error_code"]) == (False, 21211)
    # A premium US number needs the special tier even at home.
    d = decision(gw, "+19002345678", "voice")
    assert (d["allowed"], d["rule"]) == (False, "geo.high_risk_special_not_enabled"), d


def test_bulk_updates_tiers_and_fraud_destinations(gateway):
    gw = gateway
    client = gw.client()
    update = json.dumps([
        {"iso_code": "GB", "low_risk_numbers_enabled": "true", "high_risk_special_numbers_enabled": "false",
         "high_risk_tollfraud_numbers_enabled": "false"},
        {"iso_code": "SO", "low_risk_numbers_enabled": "true", "high_risk_special_numbers_enabled": "false",
         "high_risk_tollfraud_numbers_enabled": "false"},
    ])
    result = client.voice.v1.dialing_permissions.bulk_country_updates.create(update_request=update)
    assert result.update_count == 2
    assert client.voice.v1.dialing_permissions.countries("GB").fetch().low_risk_numbers_enabled is True
    assert decision(gw, "+447400123456", "voice")["allowed"] is True
    d = decision(gw, "+449098765432", "voice")
    assert d["rule"] == "geo.high_risk_special_not_enabled"
    d = decision(gw, "+252611234567", "voice")
    assert d["rule"] == "geo.high_risk_tollfraud_not_enabled" and d["evidence"]["matched_prefix"] == "+252"
    client.voice.v1.dialing_permissions.bulk_country_updates.create(
        update_request=json.dumps([{"iso_code": "SO", "high_risk_tollfraud_numbers_enabled": True}])
    )
    assert decision(gw, "+252611234567", "voice")["allowed"] is True
    # Enabling a fraud destination is logged as a warning.
    assert "ten most used for fraud" in gw.logs()
    # Bad requests change nothing.
    with pytest.raises(TwilioRestException) as e:
        client.voice.v1.dialing_permissions.bulk_country_updates.create(
            update_request=json.dumps([{"iso_code": "FR", "low_risk_numbers_enabled": "true"}, {"iso_code": "QQ"}])
        )
    assert e.value.status == 400
    assert client.voice.v1.dialing_permissions.countries("FR").fetch().low_risk_numbers_enabled is False


def test_messaging_geo_permissions_and_sanctioned_countries(gateway):
    gw = gateway
    client = gw.client()
    result = client.accounts.v1.messaging_geopermissions.update(permissions=[
        {"country_code": "GB", "type": "country", "enabled": True},
        {"country_code": "IR", "type": "country", "enabled": True},
    ]).permissions
    by_code = {p["country_code"]: p for p in result}
    assert by_code["GB"]["enabled"] is True and by_code["GB"]["error_code"] == 0
    assert by_code["IR"]["enabled"] is False and by_code["IR"]["error_code"] == 30649
    assert decision(gw, "+447400123456", "sms")["allowed"] is True
    assert decision(gw, "+989123456789", "sms")["error_code"] == 21408


def test_subaccounts_inherit_until_told_otherwise(gateway):
    gw = gateway
    main = gw.client()
    sub = main.api.v2010.accounts.create(friendly_name="team")
    sub_auth = (sub.sid, sub.auth_token)
    assert decision(gw, "+12015550123", "sms", auth=sub_auth)["allowed"] is True
    assert decision(gw, "+12015550123", "sms", auth=sub_auth)["evidence"]["permissions_of"] == gw.account_sid
    sub_client = gw.client(sub.sid, sub.auth_token)
    assert sub_client.voice.v1.dialing_permissions.settings().fetch().dialing_permissions_inheritance is True
    with pytest.raises(TwilioRestException) as e:
        sub_client.accounts.v1.messaging_geopermissions.update(
            permissions=[{"country_code": "FR", "type": "country", "enabled": True}]
        )
    assert e.value.status == 400
    sub_client.voice.v1.dialing_permissions.settings().update(dialing_permissions_inheritance=False)
    d = decision(gw, "+12015550123", "sms", auth=sub_auth)
    assert d["allowed"] is False and d["evidence"]["permissions_of"] == sub.sid


def test_home_country_is_configurable(tmp_dir):
    env = dict(os.environ, TOLLGATE_HOME_COUNTRY="GB")
    gw = Gateway(tmp_dir / "gb", env=env).init().start()
    try:
        assert decision(gw, "+447400123456", "sms")["allowed"] is True
        assert decision(gw, "+12015550123", "sms")["allowed"] is False
    finally:
        assert gw.stop() == 0


def test_numbers_classify_cli():
    from conftest import run
    import subprocess
    from conftest import BIN

    out = subprocess.run(
        [BIN, "numbers", "classify", "--default-region", "GB"],
        input="+12015550123\n07400 123456\nnot a number\n+881612345678\n",
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["input"] for r in rows] == ["+12015550123", "07400 123456", "not a number", "+881612345678"]
    assert rows[1]["e164"] == "+447400123456" and rows[1]["type"] == "mobile"
    assert rows[2]["valid"] is False
    assert rows[3]["country"] == "001" and rows[3]["risk"] == "high_risk_special"
    assert run(["numbers", "classify", "--bogus"]).returncode == 2
