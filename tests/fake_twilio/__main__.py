"""python3 -m tests.fake_twilio --port N: serves the fake until stopped and
prints one JSON line with its base URL and the accounts' credentials."""

import argparse
import json
import signal
import sys
import threading

from .server import FakeTwilio


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m tests.fake_twilio", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step-ms", type=float, default=20.0, help="time between two statuses (ms)")
    p.add_argument("--subaccounts", type=int, default=1)
    p.add_argument("--spec", help="directory of Twilio's OpenAPI JSON specs (default: $TWILIO_OAI_SPEC "
                                  "or scripts/twilio-oai)")
    p.add_argument("--log-limit", type=int, default=10000, help="requests kept for /_fake/requests")
    p.add_argument("--check-responses", action="store_true", help="check each answer against the spec (slower)")
    p.add_argument("--lenient-from", action="store_true", help="accept any From number")
    args = p.parse_args(argv)
    fake = FakeTwilio(port=args.port, host=args.host, seed=args.seed, step=args.step_ms / 1000,
                      subaccounts=args.subaccounts, spec_dir=args.spec, log_limit=args.log_limit,
                      check_responses=args.check_responses, strict_from=not args.lenient_from).start()
    print(json.dumps({"base_url": fake.base_url,
                      "accounts": [a.credentials() for a in fake.accounts.values()]}), flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
