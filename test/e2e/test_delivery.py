"""Mail delivery and outages (SPEC §7 "Delivery", §8 "Database down"):
the outbox keeps what SMTP cannot take, a refused recipient is given up
without changing any answer, step 2 waits for at most [smtp] timeout, and
PostgreSQL going away answers 0503 until pwreset reconnects by itself."""

import time

import pytest

from pwr import (GOOD_PW, MEMBERS, SUBJECT_CHANGED, SUBJECT_RESET,
                 add_member, assert_error, assert_ok, check_password,
                 mails_to, request_token, token_of)

ALICE = "alice@example.test"


@pytest.fixture
def alice(stack):
    return add_member(stack, "alice", email=ALICE, firstname="Alice",
                      lastname="Liddell")


def _wait_sql(stack, query, want, timeout=15.0):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = stack.sql(query)
        if got == want:
            return got
        time.sleep(0.1)
    raise AssertionError("%s: %r, wanted %r" % (query, got, want))


def test_smtp_down_mail_is_kept(stack, alice):
    stack.stop_sink()
    try:
        assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
                  "request-successful")
        # The mailer tried, failed, and kept the row for a later attempt.
        _wait_sql(stack, "SELECT attempts > 0, sent_at IS NULL,"
                  " failed_at IS NULL, message IS NOT NULL,"
                  " last_error IS NOT NULL AND last_error <> ''"
                  " FROM mail_outbox", [(True, True, True, True, True)])
    finally:
        stack.start_sink()
    # Due now: the mailer picks it up on its next wake-up.
    stack.sql("UPDATE mail_outbox SET next_attempt_at = now()")
    stack.sql("NOTIFY pwreset_mail")
    (msg,) = mails_to(stack, ALICE, 1, timeout=60, subject=SUBJECT_RESET)
    token_of(msg)
    _wait_sql(stack, "SELECT sent_at IS NOT NULL, message IS NULL"
              " FROM mail_outbox", [(True, True)])


def test_refused_recipient_is_given_up(stack, alice):
    stack.restart_sink("--reject", "^alice@")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
              "request-successful")
    # 550: permanent, given up after one attempt, no retry.
    _wait_sql(stack, "SELECT failed_at IS NOT NULL, sent_at IS NULL,"
              " attempts FROM mail_outbox", [(True, True, 1)])
    r = stack.ctl("mail", "list")
    assert r.returncode == 0, r.stderr
    assert "failed" in r.stdout
    # Given up: its text (the token) is wiped (SPEC §8), so `mail retry`
    # cannot send it again and says so.
    assert stack.sql("SELECT message IS NULL FROM mail_outbox") == [(True,)]
    stack.restart_sink()
    r = stack.ctl("mail", "retry", "--all-failed")
    assert r.returncode == 0, r.stderr
    assert "0 message(s) requeued" in r.stdout, r.stdout
    assert stack.mails(1, 2.0) == []


def test_step2_waits_at_most_smtp_timeout(stack, alice):
    token = request_token(stack, "alice")
    # A relay far slower than [smtp] timeout (5 s in the stack's config).
    stack.restart_sink("--delay", "30")
    t0 = time.monotonic()
    assert_ok(stack.post(MEMBERS, {"token": token,
                                   "member-password": GOOD_PW,
                                   "notify-async": "false"}),
              "password-changed")
    elapsed = time.monotonic() - t0
    # The whole attempt is bounded by the timeout (opts.session_s), not
    # each protocol step: 5 s, and a margin for a loaded machine.
    assert elapsed < 8, elapsed
    assert check_password(stack, "alice", GOOD_PW)


def test_step2_with_smtp_down_still_changes_password(stack, alice):
    token = request_token(stack, "alice")
    stack.stop_sink()
    try:
        t0 = time.monotonic()
        assert_ok(stack.post(MEMBERS, {"token": token,
                                       "member-password": GOOD_PW}),
                  "password-changed")
        assert time.monotonic() - t0 < 9
    finally:
        stack.start_sink()
    assert check_password(stack, "alice", GOOD_PW)
    stack.sql("UPDATE mail_outbox SET next_attempt_at = now()"
              " WHERE sent_at IS NULL")
    stack.sql("NOTIFY pwreset_mail")
    mails_to(stack, ALICE, 1, timeout=60, subject=SUBJECT_CHANGED)


def test_database_down_then_back(stack, alice):
    stack.stop_pg()
    try:
        t0 = time.monotonic()
        r = stack.post(MEMBERS, {"member-username": "alice"})
        assert_error(r, "0503", 503)
        retry = r.headers.get("Retry-After")
        assert retry is not None and retry.isdigit(), retry
        assert time.monotonic() - t0 < 8
        for h in ("Cache-Control", "X-Content-Type-Options"):
            assert r.headers.get(h)
    finally:
        stack.start_pg_server()
    # pwreset reconnects by itself (no restart).
    deadline = time.monotonic() + 30
    while True:
        r = stack.post(MEMBERS, {"member-username": "alice"})
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert_ok(r, "request-successful")
    # ... and so does the mailer.
    mails_to(stack, ALICE, 1, timeout=60, subject=SUBJECT_RESET)
