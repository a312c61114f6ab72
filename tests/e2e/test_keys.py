"""API keys: create, use, restrict, delete."""

import re

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException

from conftest import rest_error


def test_key_create_use_and_delete(gateway):
    main = gateway.client()
    key = main.api.v2010.accounts(gateway.account_sid).new_keys.create(friendly_name="ci")
    assert re.match(r"^SK[0-9a-f]{32}$", key.sid)
    assert re.match(r"^[A-Za-z0-9]{32}$", key.secret)

    keyed = gateway.client(key.sid, key.secret, gateway.account_sid)
    balance = keyed.api.v2010.accounts(gateway.account_sid).balance.fetch()
    assert balance.account_sid == gateway.account_sid

    # The secret is never shown again.
    fetched = main.api.v2010.accounts(gateway.account_sid).keys(key.sid).fetch()
    assert fetched.friendly_name == "ci" and not hasattr(fetched, "secret")
    listed = main.api.v2010.accounts(gateway.account_sid).keys.list()
    assert [k.sid for k in listed] == [key.sid]
    assert main.api.v2010.accounts(gateway.account_sid).keys(key.sid).update(friendly_name="ci2").friendly_name == "ci2"

    # Standard keys cannot manage accounts or keys.
    with pytest.raises(TwilioRestException) as e:
        keyed.api.v2010.accounts(gateway.account_sid).fetch()
    assert rest_error(e) == (401, 20003)
    with pytest.raises(TwilioException) as e:
        keyed.api.v2010.accounts(gateway.account_sid).keys.list()
    assert rest_error(e) == (401, 20003)
    with pytest.raises(TwilioRestException) as e:
        keyed.accounts.v1.secondary_auth_token().create()
    assert rest_error(e) == (401, 20003)

    # A wrong secret fails; deletion revokes at once.
    wrong = gateway.client(key.sid, key.secret[:-1] + ("A" if key.secret[-1] != "A" else "B"), gateway.account_sid)
    with pytest.raises(TwilioRestException) as e:
        wrong.api.v2010.accounts(gateway.account_sid).balance.fetch()
    assert rest_error(e) == (401, 20003)
    assert main.api.v2010.accounts(gateway.account_sid).keys(key.sid).delete() is True
    with pytest.raises(TwilioRestException) as e:
        keyed.api.v2010.accounts(gateway.account_sid).balance.fetch()
    assert rest_error(e) == (401, 20003)
    with pytest.raises(TwilioRestException) as e:
        main.api.v2010.accounts(gateway.account_sid).keys(key.sid).fetch()
    assert rest_error(e) == (404, 20404)


def test_key_survives_restart_and_is_verified_from_its_hash(gateway):
    main = gateway.client()
    key = main.api.v2010.accounts(gateway.account_sid).new_keys.create(friendly_name="restart")
    assert gateway.stop() == 0
    gateway.start()
    keyed = gateway.client(key.sid, key.secret, gateway.account_sid)
    assert keyed.api.v2010.accounts(gateway.account_sid).balance.fetch().account_sid == gateway.account_sid


def test_parent_keys_for_subaccounts_and_suspension(gateway):
    main = gateway.client()
    sub = main.api.v2010.accounts.create(friendly_name="with key")
    key = main.api.v2010.accounts(sub.sid).new_keys.create(friendly_name="sub key")
    keyed = gateway.client(key.sid, key.secret, sub.sid)
    assert keyed.api.v2010.accounts(sub.sid).balance.fetch().account_sid == sub.sid
    with pytest.raises(TwilioRestException) as e:
        keyed.api.v2010.accounts(gateway.account_sid).balance.fetch()
    assert rest_error(e) == (401, 20003)
    # The subaccount's own token can list its keys; the parent's key list is separate.
    sub_client = gateway.client(sub.sid, sub.auth_token)
    assert [k.sid for k in sub_client.api.v2010.accounts(sub.sid).keys.list()] == [key.sid]
    assert main.api.v2010.accounts(gateway.account_sid).keys.list() == []

    main.api.v2010.accounts(sub.sid).update(status="suspended")
    with pytest.raises(TwilioRestException) as e:
        keyed.api.v2010.accounts(sub.sid).balance.fetch()
    assert rest_error(e) == (401, 20003)
    with pytest.raises(TwilioRestException) as e:
        main.api.v2010.accounts(sub.sid).new_keys.create(friendly_name="not while suspended")
    assert rest_error(e) == (403, 20005)
    main.api.v2010.accounts(sub.sid).update(status="active")
    assert keyed.api.v2010.accounts(sub.sid).balance.fetch().account_sid == sub.sid
