"""`tollgate webhook sign|verify` agree with the official RequestValidator,
byte for byte, on random requests (repeated keys, ports, JSON bodies, SHA-256)."""

import hashlib
import random
import string

from twilio.request_validator import RequestValidator

from conftest import run


class Multi(dict):
    """A multi-valued form, as Flask's MultiDict hands it to the validator."""

    def getall(self, name):
        return self[name]


def random_request(rng):
    scheme = rng.choice(["http", "https"])
    port = rng.choice(["", "", ":443", ":8443", ":80"])
    path = "/" + "".join(rng.choices(string.ascii_letters + "/._-", k=rng.randint(0, 12)))
    query = rng.choice(["", "?a=1&b=2", "?tenant=x%20y"])
    url = f"{scheme}://hooks.example.com{port}{path}{query}"
    params = Multi()
    for _ in range(rng.randint(0, 12)):
        name = rng.choice(["To", "From", "Body", "Digits", "MediaUrl", "A", "a"])
        value = "".join(rng.choices(string.printable[:-5] + "éü☎", k=rng.randint(0, 8)))
        params.setdefault(name, []).append(value)
    return url, params


def param_args(params):
    return [arg for name, values in params.items() for v in values for arg in ("--param", f"{name}={v}")]


def test_sign_and_verify_match_the_official_validator():
    rng = random.Random(20261122)
    token = "0123456789abcdef0123456789abcdef"
    validator = RequestValidator(token)
    for _ in range(40):
        url, params = random_request(rng)
        expected = validator.compute_signature(url, params)
        signed = run(["webhook", "sign", "--auth-token", token, "--url", url, *param_args(params)])
        assert signed.returncode == 0, signed.stderr
        assert signed.stdout.strip() == expected, (url, params)
        # The validator accepts it; so does tollgate, and both reject a tampered one.
        assert validator.validate(url, params, expected)
        ok = run(["webhook", "verify", "--auth-token", token, "--url", url, "--signature", expected, *param_args(params)])
        assert ok.returncode == 0, (url, ok.stdout)
        tampered = ("B" if expected[0] != "B" else "C") + expected[1:]
        bad = run(["webhook", "verify", "--auth-token", token, "--url", url, "--signature", tampered, *param_args(params)])
        assert bad.returncode == 1


def test_json_body_and_sha256_shared_key(tmp_dir):
    token = "shared-key-secret"
    body = b'{"event":"message.delivered","sid":"SM123"}'
    url = "https://hooks.example.com/events?bodySHA256=" + hashlib.sha256(body).hexdigest()
    validator = RequestValidator(token)
    sig = validator.compute_signature(url, {}, "HMAC_SHA256")
    assert validator.validate(url, body.decode(), sig, "HMAC_SHA256")
    body_file = tmp_dir / "body.json"
    body_file.write_bytes(body)
    args = ["webhook", "verify", "--auth-token", token, "--url", url, "--signature", sig, "--algorithm", "sha256"]
    assert run([*args, "--body-file", str(body_file)]).returncode == 0
    body_file.write_bytes(body.replace(b"delivered", b"failed"))
    assert run([*args, "--body-file", str(body_file)]).returncode == 1
    signed = run(["webhook", "sign", "--auth-token", token, "--url", url, "--algorithm", "sha256"])
    assert signed.stdout.strip() == sig


def test_usage_errors_exit_2():
    assert run(["webhook", "verify", "--auth-token", "t", "--url", "https://x/"]).returncode == 2
    assert run(["webhook", "sign", "--auth-token", "t", "--url", "https://x/", "--param", "no-equals"]).returncode == 2
    assert run(["webhook", "sign", "--auth-token", "t", "--url", "https://x/", "--algorithm", "md5"]).returncode == 2
