"""Accounts and subaccounts through the official SDK."""

import re

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import rest_error

SID = re.compile(r"^AC[0-9a-f]{32}$")


def test_subaccount_lifecycle(gateway):
    main = gateway.client()
    sub = main.api.v2010.accounts.create(friendly_name="Team A")
    assert SID.match(sub.sid) and sub.owner_account_sid == gateway.account_sid
    assert sub.status == "active" and sub.friendly_name == "Team A"
    assert re.match(r"^[0-9a-f]{32}$", sub.auth_token)
    assert sub.date_created is not None  # parsed from RFC 2822 by the SDK

    listed = main.api.v2010.accounts.list(friendly_name="Team A")
    assert [a.sid for a in listed] == [sub.sid]
    assert {a.sid for a in main.api.v2010.accounts.list(status="active")} == {gateway.account_sid, sub.sid}

    renamed = main.api.v2010.accounts(sub.sid).update(friendly_name="Team B")
    assert renamed.friendly_name == "Team B"
    assert main.api.v2010.accounts(sub.sid).fetch().friendly_name == "Team B"

    # The subaccount's own credentials reach only the subaccount.
    sub_client = gateway.client(sub.sid, sub.auth_token)
    assert sub_client.api.v2010.accounts(sub.sid).fetch().sid == sub.sid
    assert [a.sid for a in sub_client.api.v2010.accounts.list()] == [sub.sid]
    with pytest.raises(TwilioRestException) as e:
        sub_client.api.v2010.accounts(gateway.account_sid).fetch()
    assert rest_error(e) == (401, 20003)

    # Suspended: its credentials fail, the parent still manages it.
    assert main.api.v2010.accounts(sub.sid).update(status="suspended").status == "suspended"
    with pytest.raises(TwilioRestException) as e:
        sub_client.api.v2010.accounts(sub.sid).fetch()
    assert rest_error(e) == (401, 20003)
    assert main.api.v2010.accounts(sub.sid).fetch().status == "suspended"
    assert [a.sid for a in main.api.v2010.accounts.list(status="suspended")] == [sub.sid]

    main.api.v2010.accounts(sub.sid).update(status="active")
    assert sub_client.api.v2010.accounts(sub.sid).fetch().status == "active"

    # Closed is final.
    assert main.api.v2010.accounts(sub.sid).update(status="closed").status == "closed"
    with pytest.raises(TwilioRestException) as e:
        sub_client.api.v2010.accounts(sub.sid).fetch()
    assert rest_error(e) == (401, 20003)
    for status in ("active", "suspended"):
        with pytest.raises(TwilioRestException) as e:
            main.api.v2010.accounts(sub.sid).update(status=status)
        assert rest_error(e) == (400, 21479)
    assert main.api.v2010.accounts(sub.sid).fetch().status == "closed"


def test_main_account_cannot_be_suspended_or_closed(gateway):
    main = gateway.client()
    for status in ("suspended", "closed"):
        with pytest.raises(TwilioRestException) as e:
            main.api.v2010.accounts(gateway.account_sid).update(status=status)
        assert rest_error(e) == (400, 21477)
    assert main.api.v2010.accounts(gateway.account_sid).fetch().status == "active"


def test_subaccounts_cannot_nest_or_change_their_own_status(gateway):
    main = gateway.client()
    sub = main.api.v2010.accounts.create(friendly_name="child")
    sub_client = gateway.client(sub.sid, sub.auth_token)
    with pytest.raises(TwilioRestException) as e:
        sub_client.api.v2010.accounts.create(friendly_name="grandchild")
    assert rest_error(e) == (400, 21101)
    with pytest.raises(TwilioRestException) as e:
        sub_client.api.v2010.accounts(sub.sid).update(status="suspended")
    assert rest_error(e) == (401, 20003)
    assert sub_client.api.v2010.accounts(sub.sid).update(friendly_name="renamed").friendly_name == "renamed"


def test_invalid_parameters_get_twilio_codes(gateway):
    main = gateway.client()
    sub = main.api.v2010.accounts.create()
    assert sub.friendly_name.startswith("SubAccount Created at ")
    with pytest.raises(TwilioRestException) as e:
        main.api.v2010.accounts(sub.sid).update(status="paused")
    assert rest_error(e) == (400, 21475)
    with pytest.raises(TwilioRestException) as e:
        main.api.v2010.accounts.create(friendly_name="x" * 65)
    assert rest_error(e) == (400, 20002)
    with pytest.raises(TwilioRestException) as e:
        main.api.v2010.accounts("AC" + "0" * 32).fetch()
    assert rest_error(e) == (401, 20003)


def test_listing_pages_through_every_account(gateway):
    main = gateway.client()
    created = {main.api.v2010.accounts.create(friendly_name=f"s{i}").sid for i in range(5)}
    page = main.api.v2010.accounts.page(page_size=2)
    assert len(list(page)) == 2 and page.next_page_url is not None
    everything = main.api.v2010.accounts.list(page_size=2)
    assert len(everything) == 6
    assert created | {gateway.account_sid} == {a.sid for a in everything}
    assert len(main.api.v2010.accounts.list(limit=3, page_size=2)) == 3
