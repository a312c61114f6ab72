"""Checks responses against Twilio's published OpenAPI specs (the `twilio-oai`
files that the npm package `@twilio-alpha/mcp` ships), field by field.

`SpecCheck.response()` names every divergence: a status other than the
operation's success status, a field the schema lists that is absent, a type,
enum, pattern, length or date format the value does not meet. Error bodies
must be Twilio's {code, message, more_info, status}."""

import json
import os
import re
import subprocess
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "@twilio-alpha/mcp@0.7.0"

# Which spec file serves which path prefix (several APIs share `/v1/Services`).
DOMAINS = [
    ("/2010-04-01/", "twilio_api_v2010.json"),
    ("/v1/AuthTokens", "twilio_accounts_v1.json"),
    ("/v1/Credentials", "twilio_accounts_v1.json"),
    ("/v1/SafeList", "twilio_accounts_v1.json"),
    ("/v1/Messaging/GeoPermissions", "twilio_accounts_v1.json"),
    ("/v1/Events", "twilio_monitor_v1.json"),
    ("/v1/Alerts", "twilio_monitor_v1.json"),
    ("/v2/Alarms", "twilio_monitor_v2.json"),
    ("/v1/DialingPermissions", "twilio_voice_v1.json"),
    ("/v1/Settings", "twilio_voice_v1.json"),
    ("/v2/PhoneNumbers", "twilio_lookups_v2.json"),
    ("/v1/Services", "twilio_messaging_v1.json"),
    ("/v2/Services", "twilio_verify_v2.json"),
]


# Where a spec's pattern contradicts its own description, the description's:
# Monitor's `actor_sid` "can be either a User ID (^US…) or an Account SID (^AC…)".
PATTERNS = {
    "actor_sid": {"^US[0-9a-fA-F]{32}$": "^(US|AC)[0-9a-fA-F]{32}$"},
}


def spec_dir() -> Path:
    """The spec files: $TWILIO_OAI_SPEC, or installed under target/ (not
    committed) by scripts/twilio-oai with npm."""
    given = os.environ.get("TWILIO_OAI_SPEC")
    if given:
        return Path(given)
    out = subprocess.run([str(ROOT / "scripts" / "twilio-oai")], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"cannot install {PACKAGE} with npm: {out.stderr}")
    return Path(out.stdout.strip())


def served_routes():
    """(method, path) of every route in crates/tollgate-server/src/http/routes.rs."""
    src = (ROOT / "crates" / "tollgate-server" / "src" / "http" / "routes.rs").read_text()
    routes, i = [], 0
    while (j := src.find(".route(", i)) >= 0:
        k = m = j + len(".route(")
        depth = 1
        while depth:
            depth += {"(": 1, ")": -1}.get(src[m], 0)
            m += 1
        body = src[k:m - 1]
        path = re.search(r'"([^"]+)"', body).group(1)
        for method in re.findall(r"\b(get|post|put|delete|patch)\(", body):
            routes.append((method.upper(), path))
        i = m
    return routes


def spec_path(route: str) -> str:
    """The spec's path for a Tollgate route: `{sid}` segments of 2010 paths
    carry the `.json` suffix in Twilio's paths."""
    if route.startswith("/2010-04-01/") and route.endswith("}"):
        route += ".json"
    return route


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def spec_file(path: str):
    return next((f for prefix, f in DOMAINS if path.startswith(prefix)), None)


class SpecCheck:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.docs = {}
        self.problems = []
        self.seen = set()

    def doc(self, name):
        if name not in self.docs:
            self.docs[name] = json.loads((self.dir / name).read_text())
        return self.docs[name]

    def operation(self, method, route):
        """(spec file, spec path, operation) of a served route, or None."""
        path = spec_path(route)
        name = spec_file(path)
        if name is None:
            return None
        for candidate, item in self.doc(name)["paths"].items():
            if shape(candidate) == shape(path) and method.lower() in item:
                return name, candidate, item[method.lower()]
        return None

    def resolve(self, name, schema):
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            ref = schema["$ref"]
            node = self.doc(name)
            for part in ref.lstrip("#/").split("/"):
                node = node[part]
            schema, seen = node, seen + 1
        return schema

    def fail(self, where, text):
        """Records a divergence once per field (the same field of other list
        rows is the same divergence)."""
        field = re.sub(r"\[\d+\]", "[]", where)
        kind = re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "…", text)
        if (field, kind) not in self.seen:
            self.seen.add((field, kind))
            self.problems.append(f"{where}: {text}")

    # -- values --------------------------------------------------------------

    def value(self, name, schema, value, where, ref_field=False):
        """Checks `value` against `schema`; `ref_field` marks a property given
        by `$ref` (OpenAPI 3.0 cannot mark those nullable, Twilio's can be null)."""
        is_ref = isinstance(schema, dict) and "$ref" in schema
        schema = self.resolve(name, schema)
        if not isinstance(schema, dict):
            return
        for part in schema.get("allOf", []):
            self.value(name, part, value, where)
        if "oneOf" in schema or "anyOf" in schema:
            options = schema.get("oneOf", []) + schema.get("anyOf", [])
            saved = self.problems, self.seen
            for option in options:
                self.problems, self.seen = [], set()
                self.value(name, option, value, where)
                if not self.problems:
                    break
            found = self.problems
            self.problems, self.seen = saved
            if found:
                self.fail(where, f"matches none of {len(options)} alternatives ({found[0]})")
            return
        if value is None:
            if not (schema.get("nullable") or ref_field or is_ref):
                self.fail(where, "null, and the spec's field is not nullable")
            return
        kind = schema.get("type")
        checks = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
        }
        if kind in checks and not checks[kind](value):
            self.fail(where, f"{type(value).__name__} {json.dumps(value)[:60]}, spec: {kind}")
            return
        if "enum" in schema and value not in schema["enum"]:
            self.fail(where, f"{json.dumps(value)} is not one of the spec's {schema['enum'][:12]}")
        if isinstance(value, str):
            pattern = PATTERNS.get(where.rsplit(".", 1)[-1], {}).get(schema.get("pattern"), schema.get("pattern"))
            if pattern and not re.search(pattern, value):
                self.fail(where, f"{value!r} does not match {pattern}")
            if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1 << 30):
                self.fail(where, f"{value!r}: length outside {schema.get('minLength')}..{schema.get('maxLength')}")
            self.format(schema.get("format"), value, where)
        if isinstance(value, dict):
            # Schemas that list `required` fields may leave the others out;
            # Twilio's others (no `required`) always carry every field.
            needed = schema.get("required")
            for prop, sub in (schema.get("properties") or {}).items():
                if prop not in value:
                    if needed is None or prop in needed:
                        self.fail(where, f"field `{prop}` is missing")
                else:
                    self.value(name, sub, value[prop], f"{where}.{prop}", ref_field="$ref" in sub)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value[:5]):
                self.value(name, schema["items"], item, f"{where}[{i}]")

    def format(self, fmt, value, where):
        try:
            if fmt == "date-time-rfc-2822":
                parsedate_to_datetime(value)
            elif fmt == "date-time":
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif fmt == "date":
                date.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail(where, f"{value!r} is not a {fmt}")

    # -- responses -----------------------------------------------------------

    def response(self, method, route, response, what=""):
        """Checks a response to a request of a served operation."""
        where = f"{method} {route}{' (' + what + ')' if what else ''}"
        found = self.operation(method, route)
        if found is None:
            self.fail(where, "not in Twilio's spec")
            return
        name, _, op = found
        codes = sorted(int(c) for c in op["responses"] if c.startswith("2"))
        if response.status_code not in codes:
            self.fail(where, f"status {response.status_code}, spec: {codes} ({response.text[:160]})")
            return
        spec = self.resolve(name, op["responses"][str(response.status_code)])
        content = (spec.get("content") or {}).get("application/json")
        if content is None:
            return
        try:
            body = response.json()
        except ValueError:
            self.fail(where, "body is not JSON")
            return
        self.value(name, content["schema"], body, where)

    def error(self, where, response, status, code):
        """An error answer: Twilio's shape, with this status and code."""
        try:
            body = response.json()
        except ValueError:
            self.fail(where, f"error body is not JSON: {response.text[:80]}")
            return
        if set(body) != {"code", "message", "more_info", "status"}:
            self.fail(where, f"error body has fields {sorted(body)}, Twilio's: code, message, more_info, status")
        elif not (isinstance(body["code"], int) and isinstance(body["status"], int)
                  and isinstance(body["message"], str) and body["message"]
                  and isinstance(body["more_info"], str)):
            self.fail(where, f"error body types: {body}")
        if (response.status_code, body.get("code")) != (status, code):
            self.fail(where, f"answered {response.status_code}/{body.get('code')} ({body.get('message')}), "
                             f"Twilio: {status}/{code}")
        elif body.get("status") != status:
            self.fail(where, f"error body status {body.get('status')} differs from HTTP {status}")
