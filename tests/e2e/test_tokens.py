"""Auth-token rotation with accounts v1: secondary, promote, delete."""

import re

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import rest_error


def fetch_self(gateway, token):
    return gateway.client(gateway.account_sid, token).api.v2010.accounts(gateway.account_sid).fetch()


def test_rotation_old_primary_works_until_promotion(gateway):
    main = gateway.client()
    old = gateway.auth_token
    secondary = main.accounts.v1.secondary_auth_token().create()
    assert secondary.account_sid == gateway.account_sid
    assert re.match(r"^[0-9a-f]{32}$", secondary.secondary_auth_token)
    assert secondary.secondary_auth_token != old
    new = secondary.secondary_auth_token

    # During the window both tokens work.
    assert fetch_self(gateway, old).sid == gateway.account_sid
    assert fetch_self(gateway, new).sid == gateway.account_sid
    with pytest.raises(TwilioRestException) as e:
        main.accounts.v1.secondary_auth_token().create()
    assert rest_error(e) == (409, 20409)

    promoted = main.accounts.v1.auth_token_promotion().update()
    assert promoted.auth_token == new

    with pytest.raises(TwilioRestException) as e:
        fetch_self(gateway, old)
    assert rest_error(e) == (401, 20003)
    assert fetch_self(gateway, new).auth_token == new

    # No secondary now: promote and delete find nothing.
    rotated = gateway.client(gateway.account_sid, new)
    with pytest.raises(TwilioRestException) as e:
        rotated.accounts.v1.auth_token_promotion().update()
    assert rest_error(e) == (404, 20404)
    with pytest.raises(TwilioRestException) as e:
        rotated.accounts.v1.secondary_auth_token().delete()
    assert rest_error(e) == (404, 20404)


def test_deleting_the_secondary_revokes_it(gateway):
    main = gateway.client()
    secondary = main.accounts.v1.secondary_auth_token().create().secondary_auth_token
    assert fetch_self(gateway, secondary).sid == gateway.account_sid
    assert main.accounts.v1.secondary_auth_token().delete() is True
    with pytest.raises(TwilioRestException) as e:
        fetch_self(gateway, secondary)
    assert rest_error(e) == (401, 20003)
    assert fetch_self(gateway, gateway.auth_token).sid == gateway.account_sid


def test_rotation_survives_restart(gateway):
    main = gateway.client()
    new = main.accounts.v1.secondary_auth_token().create().secondary_auth_token
    main.accounts.v1.auth_token_promotion().update()
    assert gateway.stop() == 0
    gateway.start()
    assert fetch_self(gateway, new).sid == gateway.account_sid
    with pytest.raises(TwilioRestException) as e:
        fetch_self(gateway, gateway.auth_token)
    assert rest_error(e) == (401, 20003)
