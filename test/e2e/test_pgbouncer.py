"""End-to-end through PgBouncer 1.18 in transaction pooling mode
([database] pooling = transaction): nginx → pwreset (4 workers and the
mailer) → PgBouncer (pool_mode = transaction, 2 server connections) →
PostgreSQL, with the SMTP sink.

With only 2 server sessions for 5 clients, consecutive statements of one
pwreset process run on different server sessions: a named prepared
statement, a LISTEN or a session setting would fail or go astray, and an
`options` startup parameter is refused by PgBouncer outright.  PostgreSQL
logs every statement here (log_statement = all), so the test also sees
that none was named.

This module has its own stack (it overrides the suite's `stack` fixture);
the test's own SQL (stack.sql) goes to PostgreSQL directly."""

import concurrent.futures
import os
import re
import subprocess
import time

import pytest

from pwr import (API_MEMBERS, GOOD_PW, MEMBERS, SUBJECT_CHANGED,
                 SUBJECT_RESET, add_member, assert_error, assert_ok,
                 check_password, count, mails_to, token_of)
from stack import Stack

ALICE = "alice@example.test"
WORKERS = 4
POOL_SIZE = 2  # test/pgbouncer.py's default

# "execute <unnamed>: …" is an unnamed statement; any other name was
# prepared.  Also parse and bind, which PostgreSQL logs on their own when
# they fail.
NAMED_RE = re.compile(r"\b(?:parse|bind|execute) (?!<unnamed>)(\S+):")


@pytest.fixture(scope="module")
def stack():
    s = Stack(build_dir=os.environ.get("PWRESET_BUILD"),
              overrides={("service", "workers"): str(WORKERS)},
              pooling="transaction")
    s.start()
    assert s.bouncer.pool_size == POOL_SIZE
    s.admin_sql("ALTER SYSTEM SET log_statement = 'all'")
    s.admin_sql("SELECT pg_reload_conf()")
    # From here on PostgreSQL logs every statement: start pwreset again so
    # that its first ones (the mailer's start) are logged too.
    s.pg_log_start = pg_log_size(s)
    s.restart_pwreset()
    yield s
    s.stop()


def pg_log(stack, start=0):
    with open(os.path.join(stack.pg_root, "log"), "rb") as f:
        f.seek(start)
        return f.read().decode("utf-8", "replace")


def pg_log_size(stack):
    return os.path.getsize(os.path.join(stack.pg_root, "log"))


def live_tokens(stack, member_id):
    return stack.sql("SELECT count(*) FROM reset_token WHERE member_id = %s"
                     " AND used_at IS NULL AND invalidated_at IS NULL",
                     (member_id,))[0][0]


def test_configured_through_pgbouncer(stack):
    conf = open(stack.conf_path).read()
    assert "pooling = transaction" in conf
    assert "port=%d " % stack.bouncer.port in conf
    assert "port=%d " % stack.pg_port not in conf
    r = subprocess.run([stack.pwreset_bin, "-n", "-c", stack.conf_path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    r = stack.ctl("check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "port=%d" % stack.bouncer.port in r.stdout, r.stdout
    assert "mailer: [database] pooling = transaction: no LISTEN" in \
        stack.log_text()


def test_migrate_refused_through_the_pooler(stack):
    r = stack.ctl("migrate")
    assert r.returncode != 0, r.stdout
    assert "pooling = session" in r.stderr, r.stderr
    assert stack.sql("SELECT count(*) FROM pwreset_schema")[0][0] > 0


def test_whole_flow(stack):
    start = pg_log_size(stack)
    alice = add_member(stack, "alice", email=ALICE, firstname="Alice",
                       lastname="Liddell")
    # Step 1 on both routes; the mailer (polling, no NOTIFY) delivers.
    assert_ok(stack.post(API_MEMBERS, {"member-username": "alice"}),
              "request-successful")
    mails_to(stack, ALICE, 1, subject=SUBJECT_RESET)
    assert_ok(stack.post(MEMBERS, {"email": ALICE}), "request-successful")
    msgs = mails_to(stack, ALICE, 2, subject=SUBJECT_RESET)
    mid, token = token_of(msgs[-1])
    assert mid == alice
    assert live_tokens(stack, alice) == 1
    # The token check behind the pages' GET, then pending, then step 2.
    r = stack.request("GET", "/ps/service/members/alice.json?token=" + token)
    assert r.status == 200, r.body
    assert r.json()["id"] == alice
    assert_ok(stack.post(MEMBERS, {"token": token}), "pending")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")
    mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)
    assert check_password(stack, "alice", GOOD_PW)
    # A replayed token is refused and changes nothing.
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token,
                                      "member-password": "Qw9!zXc4$vBn"}),
                 "102A")
    assert check_password(stack, "alice", GOOD_PW)
    assert live_tokens(stack, alice) == 0

    # Through PgBouncer, as unnamed statements.
    assert "execute <unnamed>: " in pg_log(stack, start)
    assert "unsupported startup parameter" not in stack.bouncer.log_text()
    (pool,) = [p for p in stack.bouncer.show("POOLS")
               if p["database"] == "pwreset"]
    assert pool["pool_mode"] == "transaction"
    assert pool["sv_active"] + pool["sv_idle"] + pool["sv_used"] <= POOL_SIZE
    (stats,) = [s for s in stack.bouncer.show("STATS")
                if s["database"] == "pwreset"]
    assert stats["total_xact_count"] > 0


def test_more_clients_than_server_sessions(stack):
    members = {}
    for i in range(10):
        members[add_member(stack, "m%02d" % i)] = "m%02d" % i
    forms = [{"member-username": name} for name in members.values()] * 4

    def step1(form):
        return stack.post(MEMBERS, form)

    with concurrent.futures.ThreadPoolExecutor(len(forms)) as pool:
        answers = list(pool.map(step1, forms))
    for r in answers:
        assert_ok(r, "request-successful")
    # Every request made its write (after its answer): one queued mail
    # each, and one live token per member (migration 004's unique index
    # allows no more; a lost write would leave none).
    assert count(stack, "mail_outbox", at_least=len(forms)) == len(forms)
    for mid in members:
        assert live_tokens(stack, mid) == 1, members[mid]
    # The mailer, polling, delivers all of them.
    for mid, name in members.items():
        mails_to(stack, name + "@example.test", 4, timeout=30,
                 subject=SUBJECT_RESET)
    assert "unsupported startup parameter" not in stack.bouncer.log_text()
    assert "prepared statement" not in stack.log_text()


def test_pgbouncer_restart(stack):
    add_member(stack, "alice", email=ALICE)
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
              "request-successful")
    mails_to(stack, ALICE, 1, subject=SUBJECT_RESET)

    stack.bouncer.stop()
    r = stack.post(MEMBERS, {"member-username": "alice"})
    assert_error(r, "0503", 503)
    stack.bouncer.start()
    stack.pids["pgbouncer"] = stack.bouncer.pid
    # A worker holds off reconnecting for a second after a failure; every
    # worker (and the mailer) is back within a few.
    deadline = time.monotonic() + 10
    ok = sent = 0
    while ok < 2 * WORKERS and time.monotonic() < deadline:
        r = stack.post(MEMBERS, {"member-username": "alice"})
        if r.status == 200:
            ok += 1
            sent += 1
        else:
            ok = 0
            assert_error(r, "0503", 503)
            time.sleep(0.2)
    assert ok >= 2 * WORKERS, "pwreset did not recover through pgbouncer"
    # The mailer is back too: every accepted request's mail arrives.
    mails_to(stack, ALICE, 1 + sent, timeout=20, subject=SUBJECT_RESET)
    assert live_tokens(stack, stack.sql(
        "SELECT id FROM member WHERE username = 'alice'")[0][0]) == 1

    # A restart while idle (clients cut, no request failing at that
    # moment) costs nothing visible.
    stack.bouncer.restart()
    stack.pids["pgbouncer"] = stack.bouncer.pid
    deadline = time.monotonic() + 10
    while True:
        r = stack.post(MEMBERS, {"member-username": "alice"})
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert_ok(r, "request-successful")


def test_no_session_state_reached_postgresql(stack):
    """Runs last: everything the tests above made pwreset and pwreset-ctl
    send, from pwreset's start on, reached PostgreSQL as unnamed
    statements, with no LISTEN and no SET."""
    log = pg_log(stack, stack.pg_log_start)
    assert log.count("execute <unnamed>: ") > 100, log[-3000:]
    named = set(NAMED_RE.findall(log))
    assert not named, "named prepared statements: %s" % sorted(named)
    assert not re.search(r"\bLISTEN\b", log, re.I), "LISTEN reached PostgreSQL"
    assert not re.search(r"<unnamed>: SET\b", log, re.I)
    assert "unsupported startup parameter" not in stack.bouncer.log_text()
