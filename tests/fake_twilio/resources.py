"""The resources the fake keeps itself: Accounts, Keys, Messages, Calls,
IncomingPhoneNumbers, AvailablePhoneNumbers. Every other operation goes to
the generic, spec-driven handler in server.py."""

import math
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from email.utils import parsedate_to_datetime

from .spec import snake

A = "/2010-04-01/Accounts/{AccountSid}"
API_VERSION = "2010-04-01"
MAGIC_VALID_FROM = "+15005550006"

# Twilio's test magic numbers (docs/iam/test-credentials), answered with 400.
MESSAGE_FROM = {
    "+15005550001": (21212, "The 'From' number {n} is not a valid phone number, shortcode, or alphanumeric sender ID."),
    "+15005550007": (21606, "The 'From' phone number provided, {n}, is not a valid message-capable Twilio phone number "
                            "for this destination."),
    "+15005550008": (21611, "This 'From' number has exceeded the maximum number of queued messages."),
}
MESSAGE_TO = {
    "+15005550001": (21211, "The 'To' number {n} is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number: {n}, is not currently reachable using the 'From' phone number via "
                            "SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' "
                            "number: {n}."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
CALL_FROM = {
    "+15005550001": (21212, "The 'From' number {n} is not a valid phone number."),
}
CALL_TO = {
    "+15005550001": (21217, "The phone number {n} is not valid."),
    "+15005550002": (21214, "'To' phone number cannot be reached."),
    "+15005550003": (21215, "Account not authorized to call {n}. Perhaps you need to enable some international "
                            "permissions."),
    "+15005550004": (21216, "Call blocked by Twilio blocklist."),
}
NUMBER_MAGIC = {
    "+15005550000": (21422, "PhoneNumber Requested is not available"),
    "+15005550001": (21421, "PhoneNumber is invalid"),
}
DELIVERY_ERRORS = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}
FINAL_MESSAGE = {"delivered", "undelivered", "failed", "received", "canceled", "read"}
FINAL_CALL = {"completed", "busy", "failed", "no-answer", "canceled"}
GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
          "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


class Resource:
    """A resource: `data` is what the API answers, `meta` what the fake
    keeps beside it (callback URL, pending steps, request parameters)."""

    def __init__(self, account_sid, data, seq, **meta):
        self.account_sid, self.data, self.seq, self.meta = account_sid, data, seq, meta


def segments(body):
    body = body or ""
    if all(ch in GSM for ch in body):
        return 1 if len(body) <= 160 else math.ceil(len(body) / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def friendly(number):
    m = re.fullmatch(r"\+1(\d{3})(\d{3})(\d{4})", number or "")
    return f"({m.group(1)}) {m.group(2)}-{m.group(3)}" if m else number


def country(number):
    n = (number or "").split(":")[-1]
    return "US" if n.startswith("+1") else "GB" if n.startswith("+44") else ""


def newest_first(resources):
    return [r.data for r in sorted(resources, key=lambda r: -r.seq)]


# -- accounts and keys ----------------------------------------------------------------


def account_data(fake, acct):
    op = fake.spec.ops[("GET", "/2010-04-01/Accounts/{Sid}.json")]
    example = fake.spec.example(op) or {}
    return fake.spec.build(op, example, {example.get("sid"): acct.sid}, {
        "auth_token": acct.auth_token,
        "date_created": fake.rfc2822(acct.created),
        "date_updated": fake.rfc2822(acct.updated),
        "friendly_name": acct.friendly_name,
        "owner_account_sid": acct.parent or acct.sid,
        "sid": acct.sid,
        "status": acct.status,
        "type": "Full",
        "uri": f"/2010-04-01/Accounts/{acct.sid}.json",
    })


def list_accounts(fake, ctx):
    main = fake.accounts[ctx.principal.parent or ctx.principal.sid]
    with fake.lock:
        accounts = [a for a in fake.accounts.values() if a is ctx.principal or
                    (ctx.principal is main and a.parent == main.sid)]
    name, status = ctx.q("FriendlyName"), ctx.q("Status")
    rows = [account_data(fake, a) for a in sorted(accounts, key=lambda a: a.seq)
            if (name is None or a.friendly_name == name) and (status is None or a.status == status)]
    return fake.page(ctx, rows, "accounts")


def create_account(fake, ctx):
    if ctx.principal.parent:
        return fake.error(400, 21101, "Subaccounts cannot contain subaccounts")
    acct = fake.add_account(parent=ctx.principal, friendly_name=ctx.f("FriendlyName"))
    return ctx.op.status, account_data(fake, acct)


def fetch_account(fake, ctx):
    return 200, account_data(fake, ctx.account)


def update_account(fake, ctx):
    acct = ctx.account
    status = ctx.f("Status")
    with fake.lock:
        if status is not None:
            if acct.parent is None:
                return fake.error(400, 21477, "Unable to update Status for parent accounts")
            if acct.status == "closed":
                return fake.error(400, 21479, "Unable to update Status for subaccount, subaccount has been closed.")
            acct.status = status
        if ctx.f("FriendlyName") is not None:
            acct.friendly_name = ctx.f("FriendlyName")
        acct.updated = fake.now()
    return 200, account_data(fake, acct)


def key_data(fake, sid, key, secret=False):
    data = {"sid": sid, "friendly_name": key["friendly_name"], "date_created": fake.rfc2822(key["created"]),
            "date_updated": fake.rfc2822(key["updated"])}
    if secret:
        data["secret"] = key["secret"]
    return data


def list_keys(fake, ctx):
    keys = ctx.account.keys
    rows = [key_data(fake, sid, k) for sid, k in sorted(keys.items(), key=lambda kv: -kv[1]["seq"])]
    return fake.page(ctx, rows, "keys")


def create_key(fake, ctx):
    sid, _ = fake.add_key(ctx.account, friendly_name=ctx.f("FriendlyName"))
    return ctx.op.status, key_data(fake, sid, ctx.account.keys[sid], secret=True)


def key_op(fake, ctx):
    sid = ctx.params["Sid"]
    with fake.lock:
        key = ctx.account.keys.get(sid)
        if key is None:
            return fake.not_found(ctx.path)
        if ctx.method == "DELETE":
            del ctx.account.keys[sid]
            fake.key_owner.pop(sid, None)
            return 204, None
        if ctx.method == "POST":
            if ctx.f("FriendlyName") is not None:
                key["friendly_name"] = ctx.f("FriendlyName")
            key["updated"] = fake.now()
        return 200, key_data(fake, sid, key)


# -- messages ---------------------------------------------------------------------------


def owns(fake, acct, number):
    """Whether `number` is a sender of the account: a number it owns, the
    magic valid sender, or an alphanumeric sender ID."""
    bare = number.split(":", 1)[-1]
    if bare == MAGIC_VALID_FROM or not fake.strict_from or re.search(r"[A-Za-z]", bare):
        return True
    with fake.lock:
        return any(r.account_sid == acct.sid and r.data["phone_number"] == bare for r in fake.numbers.values())


def message_data(fake, acct, sid, to, from_, body, status, direction, service=None, media=0):
    now = fake.stamp()
    base = f"/2010-04-01/Accounts/{acct.sid}/Messages/{sid}"
    return {
        "account_sid": acct.sid, "api_version": API_VERSION, "body": body,
        "date_created": now, "date_sent": None, "date_updated": now, "direction": direction,
        "error_code": None, "error_message": None, "from": from_, "messaging_service_sid": service,
        "num_media": str(media), "num_segments": str(segments(body)), "price": None, "price_unit": "USD",
        "sid": sid, "status": status, "subresource_uris": {"media": base + "/Media.json"}, "to": to,
        "uri": base + ".json",
    }


def new_message(fake, acct, to, from_, body, direction, status="queued", service=None, media=(), callback=None,
                params=None, start=True):
    """Stores a message and, unless it is final or scheduled, starts its lifecycle."""
    with fake.lock:
        sid = fake.new_sid("MM" if media else "SM")
        data = message_data(fake, acct, sid, to, from_, body, status, direction, service, len(media))
        rec = Resource(acct.sid, data, fake.next_seq(), status_callback=callback, params=params or [], plan=[],
                       held=[], media=list(media))
        fake.messages[sid] = rec
    if start and status in ("queued", "accepted"):
        final, code = fake.message_outcomes.get(to, ("delivered", None))
        plan = ["queued"] if status == "accepted" else []
        plan += ["failed"] if final == "failed" else ["sent", final]
        rec.meta.update(plan=plan, error=code)
        fake.steps.later(lambda: step_message(fake, rec))
    return rec


def step_message(fake, rec):
    with fake.lock:
        if rec.meta.get("deleted") or not rec.meta["plan"]:
            return
        status = rec.meta["plan"].pop(0)
        d = rec.data
        now = fake.stamp()
        if d["from"] is None:
            d["from"] = next((r.data["phone_number"] for r in fake.numbers.values()
                              if r.account_sid == rec.account_sid), MAGIC_VALID_FROM)
        d["status"], d["date_updated"] = status, now
        if status == "sent":
            d["date_sent"] = now
            d["price"] = f"{-0.0079 * int(d['num_segments']):.5f}"
        if status in ("failed", "undelivered"):
            code = rec.meta.get("error") or 30008
            d["error_code"], d["error_message"] = code, DELIVERY_ERRORS.get(code, "Unknown error")
        url = rec.meta.get("status_callback")
        pairs = message_callback(d, status) if url else None
        more = bool(rec.meta["plan"])
    if url:
        fake.status_callback(rec, url, "POST", pairs, "message-status", final=not more)
    if more:
        fake.steps.later(lambda: step_message(fake, rec))


def message_callback(d, status):
    pairs = [("ApiVersion", API_VERSION), ("AccountSid", d["account_sid"]), ("From", d["from"] or ""),
             ("To", d["to"]), ("MessageSid", d["sid"]), ("MessageStatus", status), ("SmsSid", d["sid"]),
             ("SmsStatus", status)]
    if d["messaging_service_sid"]:
        pairs.append(("MessagingServiceSid", d["messaging_service_sid"]))
    if d["error_code"]:
        pairs.append(("ErrorCode", str(d["error_code"])))
    if status == "delivered":
        pairs.append(("RawDlrDoneDate", "".join(c for c in d["date_updated"][5:] if c.isdigit())[:10]))
    return pairs


def create_message(fake, ctx):
    to, from_, service = ctx.f("To"), ctx.f("From"), ctx.f("MessagingServiceSid")
    body, media = ctx.f("Body"), ctx.form_list("MediaUrl")
    if not to:
        return fake.error(400, 21604, "A 'To' phone number is required.")
    if not from_ and not service:
        return fake.error(400, 21603, "A 'From' phone number is required.")
    if not body and not media and not ctx.f("ContentSid"):
        return fake.error(400, 21602, "Message body is required.")
    if from_ in MESSAGE_FROM:
        code, text = MESSAGE_FROM[from_]
        return fake.error(400, code, text.format(n=from_))
    if from_ and not owns(fake, ctx.account, from_):
        return fake.error(400, 21606, f"The From phone number {from_} is not a valid, SMS-capable inbound phone number "
                                      "or short code for your account.")
    if body and len(body) > 1600:
        return fake.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if to in MESSAGE_TO:
        code, text = MESSAGE_TO[to]
        return fake.error(400, code, text.format(n=to))
    status = "accepted" if service else "queued"
    if ctx.f("ScheduleType") == "fixed":
        status = "scheduled"
    rec = new_message(fake, ctx.account, to, from_, body or "", "outbound-api", status, service, media,
                      ctx.f("StatusCallback"), ctx.form)
    return ctx.op.status, dict(rec.data)


def message_filter(ctx):
    to, from_ = ctx.q("To"), ctx.q("From")
    sent = [(op, ctx.q(f"DateSent{op}")) for op in ("", "<", ">") if ctx.q(f"DateSent{op}")]

    def keep(d):
        if to and d["to"] != to or from_ and d["from"] != from_:
            return False
        day = d["date_sent"] and email_date(d["date_sent"])
        for op, value in sent:
            want = value[:10]
            if not day or (op == "" and day != want) or (op == "<" and day > want) or (op == ">" and day < want):
                return False
        return True
    return keep


def email_date(stamp):
    return parsedate_to_datetime(stamp).strftime("%Y-%m-%d")


def list_messages(fake, ctx):
    keep = message_filter(ctx)
    with fake.lock:
        rows = [dict(d) for d in newest_first(r for r in fake.messages.values() if r.account_sid == ctx.account.sid)
                if keep(d)]
    return fake.page(ctx, rows, "messages")


def find(fake, table, ctx):
    rec = table.get(ctx.params["Sid"].removesuffix(".json"))
    return rec if rec is not None and rec.account_sid == ctx.account.sid else None


def message_op(fake, ctx):
    with fake.lock:
        rec = find(fake, fake.messages, ctx)
        if rec is None:
            return fake.not_found(ctx.path)
        d = rec.data
        if ctx.method == "GET":
            return 200, dict(d)
        if ctx.method == "DELETE":
            if d["status"] not in FINAL_MESSAGE | {"scheduled"}:
                return fake.error(400, 20009, "Cannot delete this resource before it is complete")
            rec.meta["deleted"] = True
            del fake.messages[d["sid"]]
            return 204, None
        body, status = ctx.f("Body"), ctx.f("Status")
        if status == "canceled":
            if d["status"] != "scheduled":
                return fake.error(400, 30409, "Message cannot be canceled")
            d["status"], d["date_updated"] = "canceled", fake.stamp()
        if body is not None:
            if body != "":
                return fake.error(400, 20422, "Body can only be updated to an empty string")
            if d["status"] not in FINAL_MESSAGE:
                return fake.error(400, 20009, "Cannot delete this resource before it is complete")
            d["body"], d["date_updated"] = "", fake.stamp()
        url = rec.meta.get("status_callback") if status == "canceled" else None
        out = dict(d)
    if url:
        fake.status_callback(rec, url, "POST", message_callback(out, "canceled"), "message-status", final=True)
    return 200, out


# -- calls ------------------------------------------------------------------------------


def call_data(fake, acct, sid, to, from_, status, direction, number_sid=None):
    now = fake.stamp()
    base = f"/2010-04-01/Accounts/{acct.sid}/Calls/{sid}"
    subs = ("notifications", "recordings", "payments", "events", "siprec", "streams",
            "user_defined_message_subscriptions", "user_defined_messages")
    return {
        "sid": sid, "date_created": now, "date_updated": now, "parent_call_sid": None, "account_sid": acct.sid,
        "to": to, "to_formatted": friendly(to), "from": from_, "from_formatted": friendly(from_),
        "phone_number_sid": number_sid, "status": status, "start_time": None, "end_time": None, "duration": None,
        "price": None, "price_unit": "USD", "direction": direction, "answered_by": None, "api_version": API_VERSION,
        "forwarded_from": None, "group_sid": None, "caller_name": None, "queue_time": "0", "trunk_sid": None,
        "uri": base + ".json", "subresource_uris": {s: f"{base}/{''.join(w.title() for w in s.split('_'))}.json"
                                                    for s in subs},
    }


def number_of(fake, acct_sid, phone):
    return next((r for r in fake.numbers.values() if r.account_sid == acct_sid and r.data["phone_number"] == phone),
                None)


def create_call(fake, ctx):
    to, from_ = ctx.f("To"), ctx.f("From")
    url, twiml, app = ctx.f("Url"), ctx.f("Twiml"), ctx.f("ApplicationSid")
    if not to:
        return fake.error(400, 21201, "No 'To' number is specified")
    if not from_:
        return fake.error(400, 21213, "No 'From' number is specified")
    if not (url or twiml or app):
        return fake.error(400, 21205, "Url parameter is required.")
    if url and not re.match(r"^https?://[^/\s]+", url):
        return fake.error(400, 21205, f"Url is not a valid URL: {url}")
    if from_ in CALL_FROM:
        code, text = CALL_FROM[from_]
        return fake.error(400, code, text.format(n=from_))
    if not owns(fake, ctx.account, from_):
        return fake.error(400, 21210, f"The source phone number provided, {from_}, is not yet verified for your "
                                      "account. You may only make calls from phone numbers that you've verified or "
                                      "purchased from Twilio.")
    if to in CALL_TO:
        code, text = CALL_TO[to]
        return fake.error(400, code, text.format(n=to))
    events = set(ctx.form_list("StatusCallbackEvent")) or {"completed"}
    rec = new_call(fake, ctx.account, to, from_, "outbound-api", url=url, method=ctx.f("Method") or "POST",
                   twiml=twiml, callback=ctx.f("StatusCallback"), callback_method=ctx.f("StatusCallbackMethod"),
                   events=events, params=ctx.form)
    return ctx.op.status, dict(rec.data)


def new_call(fake, acct, to, from_, direction, status="queued", url=None, method="POST", twiml=None, callback=None,
             callback_method=None, events=("completed",), params=None, start=True):
    with fake.lock:
        sid = fake.new_sid("CA")
        number = number_of(fake, acct.sid, from_ if direction.startswith("outbound") else to)
        data = call_data(fake, acct, sid, to, from_, status, direction, number.data["sid"] if number else None)
        rec = Resource(acct.sid, data, fake.next_seq(), status_callback=callback,
                       callback_method=(callback_method or "POST"), events=set(events), url=url, method=method,
                       twiml=twiml, params=params or [], plan=[], held=[], sequence=0)
        fake.calls[sid] = rec
    if start:
        final = fake.call_outcomes.get(to, "completed")
        plan = [("initiated", "queued")]
        plan += {"completed": [("ringing", "ringing"), ("answered", "in-progress"), ("completed", "completed")],
                 "busy": [("ringing", "ringing"), ("completed", "busy")],
                 "no-answer": [("ringing", "ringing"), ("completed", "no-answer")],
                 "failed": [("completed", "failed")]}.get(final, [("completed", final)])
        rec.meta["plan"] = plan
        fake.steps.later(lambda: step_call(fake, rec))
    return rec


def finish_call(fake, rec, status):
    """Sets a call's final status and times (under the lock)."""
    d = rec.data
    now = fake.now()
    d["status"], d["date_updated"] = status, fake.rfc2822(now)
    if status == "completed":
        start = d["start_time"] or fake.rfc2822(now)
        d["start_time"] = start
        d["duration"] = str(fake.call_seconds)
        d["end_time"] = fake.rfc2822(fake.parse2822(start) + timedelta(seconds=fake.call_seconds))
        d["price"] = f"{-0.014 * max(1, math.ceil(fake.call_seconds / 60)):.5f}"
    else:
        d["duration"] = "0"
        d["end_time"] = d["date_updated"]
    rec.meta["plan"] = []


def step_call(fake, rec):
    with fake.lock:
        if rec.meta.get("deleted") or not rec.meta["plan"]:
            return
        event, status = rec.meta["plan"].pop(0)
        d = rec.data
        if status in FINAL_CALL:
            finish_call(fake, rec, status)
        else:
            d["status"], d["date_updated"] = status, fake.stamp()
            if status == "in-progress":
                d["start_time"] = d["date_updated"]
        answer = status == "in-progress" and rec.meta.get("url")
        pairs = call_callback(fake, rec, "initiated" if event == "initiated" else status) \
            if rec.meta.get("status_callback") and event in rec.meta["events"] else None
        answer_pairs = call_params(fake, rec, "in-progress") if answer else None
        more = bool(rec.meta["plan"])
    if answer:
        acct = fake.accounts[rec.account_sid]
        result = fake.webhook(acct, rec.meta["url"], rec.meta["method"], answer_pairs, "voice-answer", d["sid"])
        rec.meta["twiml"] = result["body"]
    if pairs is not None:
        fake.status_callback(rec, rec.meta["status_callback"], rec.meta["callback_method"], pairs, "call-status",
                             final=not more)
    elif not more and rec.meta["held"]:
        fake.status_callback(rec, None, None, None, "call-status", final=True)
    if more:
        fake.steps.later(lambda: step_call(fake, rec))


def call_params(fake, rec, status):
    d = rec.data
    return [("AccountSid", d["account_sid"]), ("ApiVersion", API_VERSION), ("CallSid", d["sid"]),
            ("CallStatus", status), ("Called", d["to"]), ("Caller", d["from"]), ("Direction", d["direction"]),
            ("From", d["from"]), ("To", d["to"]), ("FromCountry", country(d["from"])),
            ("ToCountry", country(d["to"]))]


def call_callback(fake, rec, status):
    pairs = call_params(fake, rec, status)
    pairs += [("CallbackSource", "call-progress-events"), ("SequenceNumber", str(rec.meta["sequence"])),
              ("Timestamp", fake.stamp())]
    rec.meta["sequence"] += 1
    if status in FINAL_CALL:
        pairs.append(("CallDuration", rec.data["duration"] or "0"))
    return pairs


def list_calls(fake, ctx):
    to, from_, status = ctx.q("To"), ctx.q("From"), ctx.q("Status")
    with fake.lock:
        rows = [dict(d) for d in newest_first(r for r in fake.calls.values() if r.account_sid == ctx.account.sid)
                if (not to or d["to"] == to) and (not from_ or d["from"] == from_)
                and (not status or d["status"] == status)]
    return fake.page(ctx, rows, "calls")


def call_op(fake, ctx):
    pairs = None
    with fake.lock:
        rec = find(fake, fake.calls, ctx)
        if rec is None:
            return fake.not_found(ctx.path)
        d = rec.data
        if ctx.method == "GET":
            return 200, dict(d)
        if ctx.method == "DELETE":
            if d["status"] not in FINAL_CALL:
                return fake.error(400, 20009, "Cannot delete this resource before it is complete")
            rec.meta["deleted"] = True
            del fake.calls[d["sid"]]
            return 204, None
        status = ctx.f("Status")
        if status:
            if d["status"] in FINAL_CALL:
                return fake.error(400, 21220, "Call is not in-progress. Cannot redirect.")
            final = "completed" if d["status"] == "in-progress" or status == "completed" else "canceled"
            finish_call(fake, rec, final)
            if rec.meta.get("status_callback") and "completed" in rec.meta["events"]:
                pairs = call_callback(fake, rec, final)
        for name in ("Url", "Twiml", "StatusCallback"):
            if ctx.f(name) is not None:
                rec.meta[{"Url": "url", "Twiml": "twiml", "StatusCallback": "status_callback"}[name]] = ctx.f(name)
        d["date_updated"] = fake.stamp()
        out = dict(d)
    if pairs:
        fake.status_callback(rec, rec.meta["status_callback"], rec.meta["callback_method"], pairs, "call-status",
                             final=True)
    return 200, out


# -- phone numbers -----------------------------------------------------------------------

NUMBER_FIELDS = {
    "sms_url": "", "sms_method": "POST", "sms_fallback_url": "", "sms_fallback_method": "POST",
    "sms_application_sid": None, "voice_url": "", "voice_method": "POST", "voice_fallback_url": "",
    "voice_fallback_method": "POST", "voice_application_sid": None, "voice_caller_id_lookup": False,
    "status_callback": "", "status_callback_method": "POST", "trunk_sid": None, "emergency_status": "Inactive",
    "emergency_address_sid": None, "emergency_address_status": "unregistered", "bundle_sid": None,
    "identity_sid": None, "address_sid": None, "address_requirements": "none", "beta": False, "origin": "twilio",
    "voice_receive_mode": "voice", "status": "in-use",
}
NUMBER_OP = ("GET", A + "/IncomingPhoneNumbers/{Sid}.json")


def number_data(fake, acct, sid, phone, friendly_name=None):
    op = fake.spec.ops[NUMBER_OP]
    example = fake.spec.example(op) or {}
    now = fake.stamp()
    data = fake.spec.build(op, example, {example.get("sid"): sid, example.get("account_sid"): acct.sid}, {
        **NUMBER_FIELDS,
        "account_sid": acct.sid, "api_version": API_VERSION, "sid": sid, "phone_number": phone,
        "friendly_name": friendly_name or friendly(phone), "date_created": now, "date_updated": now,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "uri": f"/2010-04-01/Accounts/{acct.sid}/IncomingPhoneNumbers/{sid}.json",
    })
    if "subresource_uris" in data:
        data["subresource_uris"] = {"assigned_add_ons": f"/2010-04-01/Accounts/{acct.sid}/IncomingPhoneNumbers/"
                                                        f"{sid}/AssignedAddOns.json"}
    return data


def apply_number_params(fake, rec, pairs):
    op = fake.spec.ops[NUMBER_OP]
    values = {}
    for k, v in pairs:
        values.setdefault(k, []).append(v)
    for name, vals in values.items():
        prop = snake(name)
        if prop in rec.data and prop not in ("sid", "account_sid", "phone_number", "uri"):
            rec.data[prop] = fake.spec.coerce(op, prop, vals)


def add_number(fake, acct, phone, pairs=()):
    with fake.lock:
        if any(r.data["phone_number"] == phone for r in fake.numbers.values()):
            return None
        sid = fake.new_sid("PN")
        rec = Resource(acct.sid, number_data(fake, acct, sid, phone), fake.next_seq())
        apply_number_params(fake, rec, [(k, v) for k, v in pairs if k not in ("PhoneNumber", "AreaCode")])
        fake.numbers[sid] = rec
        return rec


def create_number(fake, ctx):
    phone, area = ctx.f("PhoneNumber"), ctx.f("AreaCode")
    if not phone and not area:
        return fake.error(400, 20001, "Missing required parameter PhoneNumber or AreaCode in the post body")
    if phone in NUMBER_MAGIC:
        code, text = NUMBER_MAGIC[phone]
        return fake.error(400, code, text)
    if not phone:
        phone = next(iter(available(fake, "US", "Local", area)), None)
        if phone is None:
            return fake.error(400, 21452, "No phone numbers found")
    rec = add_number(fake, ctx.account, phone, ctx.form)
    if rec is None:
        return fake.error(400, 21422, "PhoneNumber Requested is not available")
    return ctx.op.status, dict(rec.data)


def list_numbers(fake, ctx):
    phone, name = ctx.q("PhoneNumber"), ctx.q("FriendlyName")
    with fake.lock:
        rows = [dict(d) for d in newest_first(r for r in fake.numbers.values() if r.account_sid == ctx.account.sid)
                if (not phone or phone in d["phone_number"]) and (not name or d["friendly_name"] == name)]
    return fake.page(ctx, rows, "incoming_phone_numbers")


def number_op(fake, ctx):
    with fake.lock:
        rec = find(fake, fake.numbers, ctx)
        if rec is None:
            return fake.not_found(ctx.path)
        if ctx.method == "GET":
            return 200, dict(rec.data)
        if ctx.method == "DELETE":
            del fake.numbers[rec.data["sid"]]
            return 204, None
        owner = ctx.f("AccountSid")
        if owner and owner != rec.account_sid:
            target = fake.accounts.get(owner)
            main = ctx.principal.parent or ctx.principal.sid
            if target is None or (target.sid != main and target.parent != main):
                return fake.error(400, 20003 if target is None else 21471,
                                  "Account not found" if target is None else "Account does not belong to you")
            rec.account_sid = owner
            rec.data.update(account_sid=owner,
                            uri=f"/2010-04-01/Accounts/{owner}/IncomingPhoneNumbers/{rec.data['sid']}.json")
        apply_number_params(fake, rec, [(k, v) for k, v in ctx.form if k != "AccountSid"])
        rec.data["date_updated"] = fake.stamp()
        return 200, dict(rec.data)


def available(fake, country_code, kind, area=None):
    """A few numbers free to buy, the same for every run."""
    prefix = {"US": "+1", "CA": "+1", "GB": "+44"}.get(country_code.upper())
    if prefix is None:
        return []
    if prefix == "+44":
        candidates = [f"+447700900{n:03d}" for n in range(100, 105)]
    elif kind == "TollFree":
        candidates = [f"+1800555{n:04d}" for n in range(100, 105)]
    else:
        area = area or ("416" if country_code.upper() == "CA" else "201")
        if area == "533":  # no numbers in this area code (a test input)
            return []
        candidates = [f"+1{area}555{n:04d}" for n in range(100, 105)]
    with fake.lock:
        taken = {r.data["phone_number"] for r in fake.numbers.values()}
    return [c for c in candidates if c not in taken]


def list_available(fake, ctx):
    kind = ctx.template.rsplit("/", 1)[-1].removesuffix(".json")
    cc = ctx.params["CountryCode"].upper()
    rows = []
    for phone in available(fake, cc, kind, ctx.q("AreaCode")):
        rows.append({
            "friendly_name": friendly(phone), "phone_number": phone, "lata": None, "locality": None,
            "rate_center": None, "latitude": None, "longitude": None, "region": None, "postal_code": None,
            "iso_country": cc, "address_requirements": "none", "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": kind != "TollFree", "fax": False},
        })
    return fake.page(ctx, rows, "available_phone_numbers")


# -- inbound traffic -------------------------------------------------------------------------


def inbound_sms(fake, to, from_, body="", media=(), extra=()):
    with fake.lock:
        number = next((r for r in fake.numbers.values() if r.data["phone_number"] == to), None)
    if number is None:
        raise LookupError(f"no account has the number {to}")
    acct = fake.accounts[number.account_sid]
    rec = new_message(fake, acct, to, from_, body, "inbound", "received", media=media, start=False)
    d = rec.data
    d["date_sent"] = d["date_created"]
    pairs = [("ToCountry", country(to)), ("ToState", ""), ("SmsMessageSid", d["sid"]), ("NumMedia", str(len(media))),
             ("ToCity", ""), ("FromZip", ""), ("SmsSid", d["sid"]), ("FromState", ""), ("SmsStatus", "received"),
             ("FromCity", ""), ("Body", body), ("FromCountry", country(from_)), ("To", to), ("ToZip", ""),
             ("NumSegments", d["num_segments"]), ("MessageSid", d["sid"]), ("AccountSid", acct.sid),
             ("From", from_), ("ApiVersion", API_VERSION)]
    for i, url in enumerate(media):
        pairs += [(f"MediaContentType{i}", "image/jpeg"), (f"MediaUrl{i}", url)]
    pairs += list(extra)
    result = {"message_sid": d["sid"], "account_sid": acct.sid, "url": number.data["sms_url"], "replies": []}
    if number.data["sms_url"]:
        sent = fake.webhook(acct, number.data["sms_url"], number.data["sms_method"], pairs, "sms", d["sid"])
        result.update(sent)
        for reply in twiml_messages(sent["body"]):
            r = new_message(fake, acct, reply.get("to") or from_, reply.get("from") or to, reply["body"],
                            "outbound-reply", callback=reply.get("statusCallback"))
            result["replies"].append(r.data["sid"])
    return result


def twiml_messages(text):
    """The <Message> verbs of a TwiML reply: body, to, from, statusCallback."""
    try:
        root = ET.fromstring(text or "")
    except ET.ParseError:
        return []
    out = []
    for m in root.iter("Message"):
        body = m.findtext("Body") if m.find("Body") is not None else (m.text or "")
        out.append({"body": body.strip(), **{k: v for k, v in m.attrib.items()
                                             if k in ("to", "from", "statusCallback")}})
    return out


def inbound_call(fake, to, from_, extra=()):
    with fake.lock:
        number = next((r for r in fake.numbers.values() if r.data["phone_number"] == to), None)
    if number is None:
        raise LookupError(f"no account has the number {to}")
    acct = fake.accounts[number.account_sid]
    rec = new_call(fake, acct, to, from_, "inbound", status="ringing", start=False,
                   callback=number.data["status_callback"] or None,
                   callback_method=number.data["status_callback_method"])
    pairs = call_params(fake, rec, "ringing") + list(extra)
    result = {"call_sid": rec.data["sid"], "account_sid": acct.sid, "url": number.data["voice_url"],
              "dialed": [], "rejected": False}
    if number.data["voice_url"]:
        sent = fake.webhook(acct, number.data["voice_url"], number.data["voice_method"], pairs, "voice",
                            rec.data["sid"])
        result.update(sent)
        try:
            root = ET.fromstring(sent["body"] or "")
        except ET.ParseError:
            root = None
        if root is not None:
            result["rejected"] = root.find("Reject") is not None
            for dial in root.iter("Dial"):
                targets = [n.text.strip() for n in dial if n.tag in ("Number", "Sip", "Client") and n.text]
                if not targets and dial.text and dial.text.strip():
                    targets = [dial.text.strip()]
                result["dialed"] += targets
    with fake.lock:
        if result["rejected"]:
            finish_call(fake, rec, "busy")
        else:
            rec.data["status"] = "in-progress"
            rec.data["start_time"] = fake.stamp()
            rec.meta["plan"] = [("completed", "completed")]
    if not result["rejected"]:
        fake.steps.later(lambda: step_call(fake, rec))
    rec.meta["twiml"] = result.get("body")
    return result


def routes():
    r = {
        ("GET", "/2010-04-01/Accounts.json"): list_accounts,
        ("POST", "/2010-04-01/Accounts.json"): create_account,
        ("GET", "/2010-04-01/Accounts/{Sid}.json"): fetch_account,
        ("POST", "/2010-04-01/Accounts/{Sid}.json"): update_account,
        ("GET", A + "/Keys.json"): list_keys,
        ("POST", A + "/Keys.json"): create_key,
        ("GET", A + "/Messages.json"): list_messages,
        ("POST", A + "/Messages.json"): create_message,
        ("GET", A + "/Calls.json"): list_calls,
        ("POST", A + "/Calls.json"): create_call,
        ("GET", A + "/IncomingPhoneNumbers.json"): list_numbers,
        ("POST", A + "/IncomingPhoneNumbers.json"): create_number,
    }
    for method in ("GET", "POST", "DELETE"):
        r[(method, A + "/Keys/{Sid}.json")] = key_op
        r[(method, A + "/Messages/{Sid}.json")] = message_op
        r[(method, A + "/Calls/{Sid}.json")] = call_op
        r[(method, A + "/IncomingPhoneNumbers/{Sid}.json")] = number_op
    for kind in ("Local", "MachineToMachine", "Mobile", "National", "SharedCost", "TollFree", "Voip"):
        r[("GET", A + "/AvailablePhoneNumbers/{CountryCode}/" + kind + ".json")] = list_available
    return r
