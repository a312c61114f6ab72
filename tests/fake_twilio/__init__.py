"""A stateful fake Twilio for Tollgate's tests (see README.md)."""

from .client import FakeHttpClient, client_for
from .receiver import WebhookApp
from .server import FakeTwilio

__all__ = ["FakeTwilio", "FakeHttpClient", "client_for", "WebhookApp"]
