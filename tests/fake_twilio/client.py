"""The official twilio SDK pointed at the fake (or at anything that
answers Twilio's paths, such as Tollgate)."""

import re

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_URL = re.compile(r"^https://[a-z0-9-]+(\.[a-z0-9-]+)*\.twilio\.com")


class FakeHttpClient(TwilioHttpClient):
    """Sends every https://<domain>.twilio.com request to `base_url`.
    Rewriting URLs rather than each domain's base_url (as tests/e2e does)
    also covers the absolute next_page_url of v1 list pages."""

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        return super().request(method, TWILIO_URL.sub(self.base_url, url), *args, **kwargs)


def client_for(base_url, username, password, account_sid=None, **kwargs) -> Client:
    return Client(username, password, account_sid, http_client=FakeHttpClient(base_url), **kwargs)
