"""Twilio's OpenAPI specs as the fake uses them: which operation a concrete
path is, whether a request conforms to it, and resources built from the
spec's examples and schemas.

Loading and value checks come from tests/e2e/conformance.py (SpecCheck,
spec_dir); this module adds the request side."""

import copy
import hashlib
import json
import re
import sys
import threading
from pathlib import Path
from urllib.parse import unquote

_E2E = Path(__file__).resolve().parents[1] / "e2e"
if str(_E2E) not in sys.path:
    sys.path.append(str(_E2E))

from conformance import SpecCheck, spec_dir  # noqa: E402

# The domains Tollgate fronts (issue 25): one base URL answers all of them.
FILES = [
    "twilio_api_v2010.json",
    "twilio_accounts_v1.json",
    "twilio_messaging_v1.json",
    "twilio_messaging_v2.json",
    "twilio_voice_v1.json",
    "twilio_monitor_v1.json",
    "twilio_monitor_v2.json",
    "twilio_lookups_v1.json",
    "twilio_lookups_v2.json",
    "twilio_verify_v2.json",
]
METHODS = ("get", "post", "put", "patch", "delete")
PAGING = {"PageSize", "Page", "PageToken"}
SID_PATTERN = re.compile(r"^\^\(?([A-Z]{2})[|)\[]")


def snake(name: str) -> str:
    """FriendlyName -> friendly_name, the spec's property for a parameter."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class Operation:
    """One method of one spec path."""

    def __init__(self, spec, doc, template, item, method):
        self.spec, self.doc, self.template, self.item, self.method = spec, doc, template, item, method
        self.op = item[method]
        self.base = spec.docs[doc]["servers"][0]["url"]
        self.path_params = re.findall(r"\{([^}]+)\}", template)
        self.last_is_param = template.rsplit("/", 1)[-1].startswith("{")
        self.params = {}
        for p in item.get("parameters", []) + self.op.get("parameters", []):
            p = spec.resolve(doc, p)
            self.params[(p["in"], p["name"])] = p
        self.status, self.schema, self.examples = spec.success(doc, self.op)
        self.list_key = spec.list_key(doc, self.schema) if method == "get" else None
        body = (self.op.get("requestBody") or {}).get("content") or {}
        self.body_type = next(iter(body), None)
        self.body_schema = spec.resolve(doc, body[self.body_type]["schema"]) if self.body_type else None

    @property
    def name(self):
        return f"{self.method.upper()} {self.template}"

    @property
    def item_schema(self):
        """The resource schema (a list's items)."""
        if self.list_key:
            return self.spec.resolve(self.doc, self.schema["properties"][self.list_key]["items"])
        return self.schema


class Spec(SpecCheck):
    """The specs of FILES, indexed by path shape. Thread-safe for reading;
    each check runs on a copy with its own problem list."""

    def __init__(self, directory=None, files=FILES):
        super().__init__(Path(directory) if directory else spec_dir())
        self.ops = {}  # (method, template) -> Operation
        self.routes = {}  # segment count -> [(literal chars, regex, template, doc)]
        for name in files:
            for template, item in self.doc(name)["paths"].items():
                for method in METHODS:
                    if method in item:
                        self.ops[(method.upper(), template)] = Operation(self, name, template, item, method)
                regex = re.compile(
                    "^" + "".join(
                        "([^/]+)" if part.startswith("{") else re.escape(part)
                        for part in re.split(r"(\{[^}]+\})", template) if part
                    ) + "$")
                literal = len(re.sub(r"\{[^}]+\}", "", template))
                self.routes.setdefault(template.count("/"), []).append((literal, regex, template, name))
        for routes in self.routes.values():
            routes.sort(key=lambda r: -r[0])

    # -- lookup ----------------------------------------------------------------

    def match(self, path):
        """(template, {param: value}) of the most specific spec path, or None."""
        for _, regex, template, _ in self.routes.get(path.count("/"), ()):
            m = regex.match(path)
            if m:
                names = re.findall(r"\{([^}]+)\}", template)
                return template, {n: unquote(v) for n, v in zip(names, m.groups())}
        return None

    def operation(self, method, route):
        """(doc, template, op) for SpecCheck.response(), given a template."""
        op = self.ops.get((method.upper(), route))
        return (op.doc, op.template, op.op) if op else None

    def methods(self, template):
        return [m for (m, t) in self.ops if t == template]

    # -- schema helpers ----------------------------------------------------------

    def success(self, doc, op):
        """(status, schema, examples) of an operation's success answer."""
        codes = sorted(c for c in op["responses"] if c.startswith("2")) or \
            sorted(c for c in op["responses"] if c.startswith("3"))
        if not codes:
            return 200, None, {}
        status = int(codes[0])
        content = (self.resolve(doc, op["responses"][codes[0]]).get("content") or {}).get("application/json")
        if not content:
            return status, None, {}
        return status, self.resolve(doc, content["schema"]), content.get("examples") or {}

    def list_key(self, doc, schema):
        """The array property of a paged list answer, or None."""
        props = (schema or {}).get("properties") or {}
        if not ("meta" in props or "page_size" in props):
            return None
        return next((k for k, v in props.items() if self.resolve(doc, v).get("type") == "array"), None)

    def checker(self):
        """A copy sharing the loaded docs, with its own problem list."""
        c = copy.copy(self)
        c.problems, c.seen = [], set()
        return c

    # -- requests ----------------------------------------------------------------

    def check_request(self, op, path_params, query, form, body_json, content_type):
        """(problems, missing): what the spec rejects in a request. `query`
        and `form` are lists of (name, value); repeated names are arrays."""
        problems, missing = [], []
        c = self.checker()
        for name, value in path_params.items():
            p = op.params.get(("path", name))
            if p:
                c.value(op.doc, p.get("schema", {}), value, f"path {name}")
        self._check_pairs(c, op, query, {n: p.get("schema", {}) for (i, n), p in op.params.items() if i == "query"},
                          {n for (i, n), p in op.params.items() if i == "query" and p.get("required")},
                          "query", problems, missing)
        if op.body_type == "application/x-www-form-urlencoded":
            if form and content_type and not content_type.startswith("application/x-www-form-urlencoded"):
                problems.append(f"body is {content_type}, the spec's is application/x-www-form-urlencoded")
            schema = op.body_schema or {}
            self._check_pairs(c, op, form, schema.get("properties") or {}, set(schema.get("required") or []),
                              "form", problems, missing)
        elif op.body_type == "application/json":
            if body_json is None:
                problems.append("body is not JSON, the spec's is application/json")
            else:
                self._check_json(c, op, body_json, problems, missing)
        elif form:
            problems.append(f"a body {sorted({k for k, _ in form})}, but the operation takes none")
        problems.extend(c.problems)
        return problems, missing

    def _check_pairs(self, c, op, pairs, schemas, required, where, problems, missing):
        values = {}
        for k, v in pairs:
            values.setdefault(k, []).append(v)
        for name in sorted(required - set(values)):
            missing.append(name)
        for name, vals in values.items():
            schema = schemas.get(name)
            if schema is None:
                problems.append(f"{where} parameter `{name}` is not in the spec")
                continue
            schema = self.resolve(op.doc, schema)
            if schema.get("type") == "array":
                item = schema.get("items", {})
            else:
                item = schema
                if len(vals) > 1:
                    problems.append(f"{where} parameter `{name}` is repeated, "
                                    f"the spec's is a single {schema.get('type')}")
            for v in vals:
                self._check_scalar(c, op.doc, item, v, f"{where} {name}", problems)

    def _check_scalar(self, c, doc, schema, raw, where, problems):
        schema = self.resolve(doc, schema)
        kind = schema.get("type")
        try:
            if kind == "integer":
                if not re.fullmatch(r"-?\d+", raw):
                    raise ValueError
                value = int(raw)
            elif kind == "number":
                value = float(raw)
            elif kind == "boolean":
                if raw.lower() not in ("true", "false"):
                    raise ValueError
                value = raw.lower() == "true"
            elif kind == "object":
                value = json.loads(raw)
                if not isinstance(value, (dict, list)):
                    raise ValueError
                return
            else:
                value = raw
        except ValueError:
            problems.append(f"{where}: {raw!r} is not a {kind}")
            return
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                problems.append(f"{where}: {value} is below the minimum {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                problems.append(f"{where}: {value} is above the maximum {schema['maximum']}")
        if isinstance(value, str) and schema.get("format") == "uri" and value and \
                not (schema.get("x-twilio") or {}).get("ignoreFormat"):
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value):
                problems.append(f"{where}: {value!r} is not a URI")
        c.value(doc, schema, value, where)

    def _check_json(self, c, op, body, problems, missing):
        schema = op.body_schema or {}
        if not isinstance(body, dict):
            problems.append("JSON body is not an object")
            return
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in body:
                missing.append(name)
        for name, value in body.items():
            if name not in props:
                problems.append(f"JSON field `{name}` is not in the spec")
            else:
                c.value(op.doc, props[name], value, f"json {name}")

    # -- resources -----------------------------------------------------------------

    def default(self, doc, schema):
        schema = self.resolve(doc, schema)
        if schema.get("nullable"):
            return None
        if "enum" in schema:
            return schema["enum"][0]
        return {"string": "", "integer": 0, "number": 0, "boolean": False,
                "object": {}, "array": []}.get(schema.get("type"))

    def example(self, op, prefer=("create", "fetch", "update")):
        """A copy of the operation's example resource, or None."""
        examples = op.examples
        if not examples:
            return None
        key = next((k for k in prefer if k in examples), next(iter(examples)))
        value = copy.deepcopy(examples[key].get("value"))
        if op.list_key and isinstance(value, dict):
            items = value.get(op.list_key) or []
            return items[0] if items else None
        return value if isinstance(value, dict) else None

    def sid_prefix(self, op, fallback="XX"):
        schema = self.resolve(op.doc, (op.item_schema or {}).get("properties", {}).get("sid", {}))
        m = SID_PATTERN.match(schema.get("pattern", "") or "")
        return m.group(1) if m else fallback

    def build(self, op, example=None, replace=None, fields=None):
        """A resource of the operation's schema: the example's values (with
        `replace` substitutions in every string), then `fields`; every schema
        property present."""
        schema = op.item_schema or {}
        props = schema.get("properties") or {}
        base = example if example is not None else (self.example(op) or {})
        pairs = sorted(((old, new) for old, new in (replace or {}).items() if old and new is not None),
                       key=lambda p: -len(p[0]))

        def sub(value):
            if isinstance(value, str):
                for old, new in pairs:
                    value = value.replace(old, new)
                return value
            if isinstance(value, list):
                return [sub(v) for v in value]
            if isinstance(value, dict):
                return {k: sub(v) for k, v in value.items()}
            return value

        out = {}
        for name, sub_schema in props.items():
            out[name] = self.conform(op.doc, sub_schema, sub(base[name])) if name in base \
                else self.default(op.doc, sub_schema)
        for name, value in base.items():  # Twilio's examples carry fields some schemas omit
            if name not in out:
                out[name] = sub(value)
        out.update(fields or {})
        return out

    def conform(self, doc, schema, value):
        """An example value made to fit its schema: nested objects get every
        property, a SID that breaks its pattern gets a well-formed one."""
        schema = self.resolve(doc, schema)
        if isinstance(value, dict) and schema.get("properties"):
            return {**{k: self.conform(doc, s, value[k]) if k in value else self.default(doc, s)
                       for k, s in schema["properties"].items()},
                    **{k: v for k, v in value.items() if k not in schema["properties"]}}
        if isinstance(value, list) and schema.get("items"):
            return [self.conform(doc, schema["items"], v) for v in value]
        m = SID_PATTERN.match(schema.get("pattern", "") or "")
        if m and isinstance(value, str) and not re.match(schema["pattern"], value):
            return m.group(1) + hashlib.md5(value.encode()).hexdigest()
        return value

    def coerce(self, op, prop, values):
        """Form values for a property, typed as the schema says."""
        schema = self.resolve(op.doc, ((op.item_schema or {}).get("properties") or {}).get(prop, {}))
        kind = schema.get("type")

        def one(v):
            try:
                if kind == "integer":
                    return int(v)
                if kind == "number":
                    return float(v)
                if kind == "boolean":
                    return v.lower() == "true"
                if kind == "object":
                    return json.loads(v)
            except ValueError:
                pass
            return v
        if kind == "array":
            return list(values)
        return one(values[-1])


_cache = {}
_cache_lock = threading.Lock()


def load(directory=None) -> Spec:
    """The Spec for a directory, loaded once per process."""
    key = str(directory or "")
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Spec(directory)
        return _cache[key]
