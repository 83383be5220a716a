"""pwr.py — helpers shared by the end-to-end tests: members through
pwreset-ctl, answers parsed from XML or JSON, tokens taken from the mail the
member received.  Every helper asserts what it relies on, so a broken step
fails where it happens."""

import json
import re
import time
import xml.etree.ElementTree as ET

MEMBERS = "/ps/service/members/resetpassword"
API_MEMBERS = "/ps/api/members/resetpassword"

XML_TYPE = "application/xml;charset=utf-8"
JSON_TYPE = "application/json;charset=utf-8"

TOKEN_RE = re.compile(r"[?&]member=(\d+)&token=([A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])")

# Strong enough for anyone (12 code points, 4 classes: STRONG), not on any
# list, no run of 3 and no sequence of 4.
GOOD_PW = "Vx7#kLm2qPz!"
OTHER_PW = "Hq4$wRt8nBy%"

SUBJECT_RESET = "Update your password"
SUBJECT_CHANGED = "Your password has been updated"


def content_type(resp):
    return (resp.headers.get("Content-Type") or "").replace(" ", "").lower()


class Answer:
    """One answer, XML or JSON, reduced to the fields of SPEC §2."""

    def __init__(self, resp):
        self.resp = resp
        self.status_code = resp.status
        self.format = None
        self.kind = None  # "reset-password" | "error"
        self.status = None
        self.admin = None
        self.id = None
        self.request = None
        self.message = None
        ctype = content_type(resp)
        if ctype.startswith("application/json"):
            self.format = "json"
            doc = json.loads(resp.body.decode("utf-8"))
            assert isinstance(doc, dict), doc
            if "id" in doc:
                self.kind = "error"
                self.id = doc["id"]
                self.request = doc.get("request")
                self.message = doc.get("message")
            else:
                self.kind = "reset-password"
                self.status = doc.get("status")
                self.admin = doc.get("admin")
        elif ctype.startswith("application/xml"):
            self.format = "xml"
            root = ET.fromstring(resp.body)
            self.kind = root.tag
            if root.tag == "error":
                self.id = root.get("id")
                r = root.find("request")
                m = root.find("message")
                self.request = r.text if r is not None else None
                self.message = m.text if m is not None else None
            else:
                assert root.tag == "reset-password", resp.body
                self.status = root.get("status")
                a = root.get("admin")
                self.admin = None if a is None else (a == "true")
        else:
            raise AssertionError("answer is neither XML nor JSON: %d %s %r"
                                 % (resp.status, ctype, resp.body[:300]))

    def __repr__(self):
        return "<Answer %d %s %s>" % (self.status_code, self.kind,
                                      self.id or self.status)


def answer(resp):
    return Answer(resp)


def assert_ok(resp, status, admin=None):
    a = Answer(resp)
    assert resp.status == 200, (resp.status, resp.body)
    assert a.kind == "reset-password", resp.body
    assert a.status == status, resp.body
    if admin:
        assert a.admin is True, resp.body
    else:
        assert not a.admin, resp.body
    return a


def assert_error(resp, err_id, http_status=400, request=None):
    a = Answer(resp)
    assert a.kind == "error", (resp.status, resp.body)
    assert a.id == err_id, (resp.status, resp.body)
    assert resp.status == http_status, (resp.status, resp.body)
    assert re.fullmatch(r"[0-9A-F]{4}", a.id), a.id
    assert a.message, resp.body
    if request is not None:
        assert a.request == request, resp.body
    return a


def bearer(token):
    return {"Authorization": "Bearer " + token}


# ---- pwreset-ctl ------------------------------------------------------------

def ctl_ok(stack, *args, input=None):
    r = stack.ctl(*args, input=input)
    assert r.returncode == 0, "pwreset-ctl %s: %d\n%s%s" % (
        " ".join(args), r.returncode, r.stdout, r.stderr)
    return r


def add_member(stack, username, email="default", firstname=None,
               lastname=None, admin=False, api=False, status=None,
               password=None):
    """pwreset-ctl member add; email "default" → USERNAME@example.test
    (lower case), None → no email.  Returns the member id."""
    args = ["member", "add", username]
    if email == "default":
        email = username.lower() + "@example.test"
    if email is not None:
        args += ["--email", email]
    args += ["--firstname", firstname or username.capitalize()]
    args += ["--lastname", lastname or "Tester"]
    if admin:
        args.append("--admin")
    if api:
        args.append("--api")
    if status:
        args += ["--status", status]
    if password is not None:
        args.append("--password-stdin")
    ctl_ok(stack, *args, input=(password + "\n") if password else None)
    rows = stack.sql("SELECT id FROM member WHERE lower(username) = lower(%s)",
                     (username,))
    assert len(rows) == 1, rows
    return rows[0][0]


def admin_token(stack, username):
    """An admin bearer token from `pwreset-ctl token issue`."""
    r = ctl_ok(stack, "token", "issue", username)
    m = re.findall(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])",
                   r.stdout)
    assert len(m) == 1, "token issue printed %r" % r.stdout
    return m[0]


def check_password(stack, username, password):
    """True when `member check-password` says the password matches."""
    r = stack.ctl("member", "check-password", username,
                  input=password + "\n")
    assert r.returncode in (0, 1), (r.returncode, r.stdout, r.stderr)
    return r.returncode == 0


def member_row(stack, username):
    rows = stack.sql(
        "SELECT id, status, locked_until IS NOT NULL AND locked_until > now(),"
        " failed_logins, password_hash, password_changed_at FROM member"
        " WHERE lower(username) = lower(%s)", (username,))
    assert len(rows) == 1, rows
    keys = ("id", "status", "locked", "failed_logins", "password_hash",
            "password_changed_at")
    return dict(zip(keys, rows[0]))


# Step 1's one write (token + mail, or the identifier count) is made just
# after its answer has gone out (core/reset.c, reset_finish), about a
# millisecond later: counts taken right after an answer wait this long so
# that a row that is coming is seen, and "nothing written" means it.
SETTLE = 0.2


def count(stack, table, where="true", params=None, at_least=0,
          timeout=15.0):
    """Rows of table matching where, taken SETTLE after the last answer.
    at_least: a count the caller expects to reach — wait for it (a busy
    machine can take longer than SETTLE to make step 1's write), then take
    the count once more after SETTLE, so that a row too many is seen."""
    def now():
        return stack.sql("SELECT count(*) FROM %s WHERE %s" % (table, where),
                         params)[0][0]

    deadline = time.monotonic() + timeout
    time.sleep(SETTLE)
    while now() < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    if at_least:
        time.sleep(SETTLE)
    return now()


def assert_nothing_written(stack):
    assert count(stack, "mail_outbox") == 0
    assert count(stack, "reset_token") == 0


# ---- mail -------------------------------------------------------------------

def text_of(msg):
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain part"
    return part.get_content()


def html_of(msg):
    part = msg.get_body(preferencelist=("html",))
    assert part is not None, "no text/html part"
    return part.get_content()


def mails_to(stack, address, n=1, timeout=10.0, subject=None):
    """Wait for n messages to address (optionally with this subject);
    assert there are exactly n."""
    def pick():
        got = stack.mails(0, 0, to=address)
        if subject is not None:
            got = [m for m in got if m["Subject"] == subject]
        return got

    deadline = time.monotonic() + timeout
    got = pick()
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.05)
        got = pick()
    assert len(got) == n, "%d message(s) to %s (subject %r), wanted %d" % (
        len(got), address, subject, n)
    return got


def token_of(msg):
    """(member id, token) from the link in the plain-text part."""
    found = TOKEN_RE.findall(text_of(msg))
    assert found, "no reset link in:\n" + text_of(msg)
    ids = {f[0] for f in found}
    tokens = {f[1] for f in found}
    assert len(ids) == 1 and len(tokens) == 1, found
    return int(found[0][0]), found[0][1]


def reset_mails(stack, address):
    return [m for m in stack.mails(0, 0, to=address)
            if m["Subject"] == SUBJECT_RESET]


def request_token(stack, username, email=None, path=MEMBERS, **extra):
    """Step 1 for username, then the token from the new reset mail to its
    address (default USERNAME@example.test, lower case)."""
    address = email or username.lower() + "@example.test"
    before = len(reset_mails(stack, address))
    form = {"member-username": username}
    form.update(extra)
    assert_ok(stack.post(path, form), "request-successful")
    got = mails_to(stack, address, before + 1, subject=SUBJECT_RESET)
    return token_of(got[-1])[1]
