"""Input sweep (issue "Abuse resistance"): 1,000 generated malformed or
hostile requests through nginx, from a fixed seed (sweep.py).

For every answer: no 5xx but 0503; well-formed XML, or JSON when the
request asked for it (suffix or Accept), in the shape of SPEC §2; the
security headers of SPEC §2 and no header pwreset does not send.  At the
end: the workers are the same processes (none died), and no table but
rate_limit (written by design for every request) changed, although
members, a group and an admin token exist that a successful injection
would reach."""

import collections
import json
import os
import re
import time
import xml.etree.ElementTree as ET

import sweep
from pwr import SETTLE, JSON_TYPE, XML_TYPE, add_member, admin_token, ctl_ok

SEED = int(os.environ.get("PWRESET_SWEEP_SEED", "20240601"))
TOTAL = 1000

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# What an answer may carry: pwreset's headers and nginx's framing.
ALLOWED_HEADERS = {
    "server", "date", "content-type", "content-length", "connection",
    "transfer-encoding", "cache-control", "x-content-type-options",
    "referrer-policy", "retry-after",
}
ID_RE = re.compile(r"[0-9A-F]{4}")


def workers(stack):
    """PIDs of the supervisor's children (the workers and the mailer)."""
    sup = stack.pids["pwreset"]
    kids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == sup:
            kids.add(int(d))
    return kids


def snapshot(stack):
    """Every row of every table but rate_limit, in a stable order."""
    out = {}
    for t in stack.tables():
        if t == "rate_limit":
            continue
        rows = stack.sql('SELECT * FROM "%s"' % t)
        out[t] = sorted(repr(tuple(bytes(v) if isinstance(v, memoryview)
                                   else v for v in r)) for r in rows)
    return out


def written(stack):
    """Rows in the tables a successful step 1 or 2 writes."""
    return stack.sql(
        "SELECT (SELECT count(*) FROM reset_token),"
        " (SELECT count(*) FROM mail_outbox),"
        " (SELECT count(*) FROM audit_log),"
        " (SELECT max(password_changed_at) FROM member)")[0]


def check_answer(req, resp):
    """Problems with one answer (an empty list when it is fine)."""
    bad = []
    if resp.status >= 500 and resp.status != 503:
        bad.append("HTTP %d" % resp.status)
    for k, v in SECURITY_HEADERS.items():
        if resp.headers.get(k) != v:
            bad.append("header %s: %r" % (k, resp.headers.get(k)))
    extra = {k.lower() for k in resp.headers.keys()} - ALLOWED_HEADERS
    if extra:
        bad.append("unexpected headers %s" % sorted(extra))
    ctype = (resp.headers.get("Content-Type") or "").replace(" ", "").lower()
    want = JSON_TYPE if req.json else XML_TYPE
    if ctype != want:
        bad.append("Content-Type %r, wanted %r" % (ctype, want))
        return bad
    if req.method == "HEAD":
        return bad
    try:
        if req.json:
            doc = json.loads(resp.body.decode("utf-8"))
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            if "id" in doc:
                kind, err_id = "error", doc["id"]
                request, message = doc.get("request"), doc.get("message")
            else:
                kind, status = "reset-password", doc.get("status")
        else:
            root = ET.fromstring(resp.body)
            kind = root.tag
            if kind == "error":
                err_id = root.get("id")
                r, m = root.find("request"), root.find("message")
                request = None if r is None else (r.text or "")
                message = None if m is None else m.text
            else:
                status = root.get("status")
    except (ValueError, ET.ParseError) as e:
        bad.append("body does not parse (%s): %r" % (e, resp.body[:300]))
        return bad
    if kind == "error":
        if not isinstance(err_id, str) or not ID_RE.fullmatch(err_id):
            bad.append("error id %r" % (err_id,))
        if not message:
            bad.append("error without message")
        if request is None:
            bad.append("error without request")
        path = req.path.split(b"?", 1)[0]
        if request is not None and len(path) <= 2048 and \
                re.fullmatch(rb"[\x20-\x7e]*", path) and \
                request != path.decode("ascii"):
            bad.append("request %r is not the path %r" % (request, path))
        if resp.status == 503 and err_id != "0503":
            bad.append("HTTP 503 with id %r" % err_id)
        if resp.status == 200:
            bad.append("error with HTTP 200")
    elif kind == "reset-password":
        if resp.status != 200:
            bad.append("success with HTTP %d" % resp.status)
        if status not in ("request-successful", "pending", "password-changed"):
            bad.append("status %r" % (status,))
        if status != "request-successful":
            # No request of the sweep carries a real token.
            bad.append("status %r from a hostile request" % status)
    else:
        bad.append("root element %r" % kind)
    return bad


def test_input_sweep(stack, restart):
    # X-Forwarded-For is parsed only from a trusted proxy: nginx is one.
    restart({("service", "trusted_proxies"): "127.0.0.1, ::1"})
    add_member(stack, "alice", email="alice@example.test")
    bob = add_member(stack, "bob")
    add_member(stack, "root-admin", admin=True)
    admin_token(stack, "root-admin")
    ctl_ok(stack, "group", "add", "team", "--description", "The team")
    ctl_ok(stack, "group", "add-member", "team", "bob")
    assert bob

    requests = sweep.generate(SEED, TOTAL)
    assert len(requests) == TOTAL
    before = snapshot(stack)
    pids = workers(stack)
    assert len(pids) >= 2, pids

    sent = collections.Counter()
    statuses = collections.Counter()
    ids = collections.Counter()
    failures = []
    last_written = written(stack)
    for req in requests:
        sent[req.category] += 1
        try:
            resp = sweep.send(stack.nginx_port, req)
        except OSError as e:
            failures.append("%s\n    no answer: %s" % (req.describe(), e))
            continue
        statuses[resp.status] += 1
        m = re.search(rb'id="([0-9A-F]{4})"|"id":"([0-9A-F]{4})"', resp.body)
        ids[(m.group(1) or m.group(2)).decode() if m else "ok"] += 1
        problems = check_answer(req, resp)
        # Cheap per request, so that a write is pinned on its request.
        w = written(stack)
        if w != last_written:
            problems.append("wrote to the database: %s → %s" % (
                last_written, w))
            last_written = w
        if problems:
            failures.append("%s\n    HTTP %d: %s" % (
                req.describe(), resp.status, "; ".join(problems)))

    print("\ninput sweep: %d requests, seed %d" % (TOTAL, SEED))
    for cat, n in sorted(sent.items()):
        print("  %-16s %4d" % (cat, n))
    print("  HTTP statuses: %s" % dict(sorted(statuses.items())))
    print("  answers: %s" % dict(sorted(ids.items())))

    assert not failures, "%d bad answer(s):\n%s" % (
        len(failures), "\n".join(failures[:40]))
    assert stack.pwreset_alive()
    assert workers(stack) == pids, "a worker died or was replaced"
    time.sleep(SETTLE)  # a step-1 write follows its answer
    after = snapshot(stack)
    changed = [t for t in before if before[t] != after.get(t)]
    assert not changed, "tables written by the sweep: %s\n%s" % (
        changed, {t: sorted(set(after[t]) ^ set(before[t]))[:10]
                  for t in changed})
    assert stack.sql("SELECT count(*) FROM rate_limit")[0][0] > 0


def test_unicode_case_variants_name_no_member(stack, restart):
    """Usernames are ASCII (SPEC §8), so an identifier that PostgreSQL's
    Unicode lower() folds onto a member's name ('ALİCE' → 'alice', the
    Kelvin sign 'K' → 'k') names nobody.  Else each such spelling is a
    new per-identifier budget (the limit key folds ASCII only) for mail to
    the same victim: found by the sweep."""
    restart({("ratelimit", "per_identifier"): "1"})
    add_member(stack, "alice")
    add_member(stack, "kim")
    for ident in ("AL\u0130CE", "al\u0130ce", "\u212aim", "\u212aIM"):
        r = stack.post(sweep.MEMBERS, {"member-username": ident})
        assert r.status == 200, (ident, r.status, r.body)
    assert stack.sql("SELECT count(*) FROM reset_token")[0][0] == 0
    assert stack.sql("SELECT count(*) FROM mail_outbox")[0][0] == 0
