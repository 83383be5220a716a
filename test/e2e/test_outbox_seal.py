"""Secrets at rest (SPEC §8): the outbox message is sealed with the key in
[mail] outbox_key_file, so the database never shows a reset token; the
text is wiped once delivered or given up; a host with another key cannot
send a row and says so; no key, no start."""

import os
import re
import subprocess
import time

from pwr import (MEMBERS, SUBJECT_RESET, add_member, assert_ok, mails_to,
                 token_of)

ALICE = "alice@example.test"


def _wait(what, fn, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def _row(stack):
    """(id, message, sent, failed, attempts) of alice's one row; step 1
    writes it just after answering, so first wait for it (_attempted)."""
    rows = stack.sql("SELECT id, message, sent_at IS NOT NULL,"
                     " failed_at IS NOT NULL, attempts FROM mail_outbox"
                     " WHERE recipient = %s", (ALICE,))
    assert len(rows) == 1, rows
    return rows[0]


def _attempted(stack):
    return _wait("a first attempt", lambda: stack.sql(
        "SELECT 1 FROM mail_outbox WHERE recipient = %s AND attempts >= 1"
        " AND claimed_until IS NULL", (ALICE,)))


def _step1(stack):
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
              "request-successful")


def _conf_with(stack, path, key_file):
    """A copy of the stack's configuration naming key_file."""
    with open(stack.conf_path) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^outbox_key_file = .*$",
                      "outbox_key_file = " + key_file, text)
    assert n == 1, text
    with open(path, "w") as f:
        f.write(text)
    return path


def test_queued_row_is_sealed_then_wiped(stack):
    add_member(stack, "alice", email=ALICE, firstname="Alice")
    stack.stop_sink()  # the row stays queued, with its text
    _step1(stack)
    _attempted(stack)
    (_, sealed, sent, failed, _) = _row(stack)
    assert not sent and not failed
    assert sealed.startswith("v1:"), sealed[:40]
    assert re.fullmatch(r"v1:[A-Za-z0-9+/]+=*", sealed), sealed[:40]
    for plain in ("alice", "Alice", "changepassword", "Subject", "token"):
        assert plain not in sealed, plain

    stack.restart_sink()
    stack.sql("UPDATE mail_outbox SET next_attempt_at = now()")
    (msg,) = mails_to(stack, ALICE, 1, timeout=30, subject=SUBJECT_RESET)
    _, token = token_of(msg)
    assert token not in sealed
    # Delivered: the text is wiped.
    _wait("the row sent", lambda: _row(stack)[2])
    assert _row(stack)[1] is None


def test_given_up_row_is_wiped(stack, restart):
    restart({("mail", "max_attempts"): "1"})
    add_member(stack, "alice", email=ALICE)
    stack.stop_sink()
    _step1(stack)
    _wait("the row given up", lambda: stack.sql(
        "SELECT 1 FROM mail_outbox WHERE failed_at IS NOT NULL"))
    assert _row(stack)[1] is None
    r = stack.ctl("mail", "retry", "--all-failed")
    assert r.returncode == 0, r.stderr
    assert "0 message(s) requeued" in r.stdout, r.stdout


def test_another_key_cannot_send(stack, restart):
    add_member(stack, "alice", email=ALICE)
    stack.stop_sink()
    _step1(stack)
    _attempted(stack)
    row_id = _row(stack)[0]

    other = os.path.join(stack.workdir, "other-outbox.key")
    if os.path.exists(other):
        os.unlink(other)
    r = stack.ctl("outbox-key", other)
    assert r.returncode == 0, r.stderr
    restart({("mail", "outbox_key_file"): other})
    stack.restart_sink()
    start = stack.log_size()
    stack.sql("UPDATE mail_outbox SET next_attempt_at = now()")
    _wait("the mailer to refuse the row",
          lambda: "cannot open its sealed text" in stack.log_text(start),
          timeout=30)
    log = stack.log_text(start)
    assert "mail %d: cannot open its sealed text" % row_id in log, log
    assert other in log, log
    assert stack.mails(0, 1.0, to=ALICE) == []
    (_, sealed, sent, failed, attempts) = _row(stack)
    assert sealed.startswith("v1:") and not sent and not failed
    assert attempts == 2

    # The host with the right key sends it.
    restart({})
    stack.sql("UPDATE mail_outbox SET next_attempt_at = now()")
    mails_to(stack, ALICE, 1, timeout=30, subject=SUBJECT_RESET)
    _wait("the row sent", lambda: _row(stack)[2])


def test_no_key_no_start(stack):
    missing = os.path.join(stack.workdir, "no-such-outbox.key")
    conf = _conf_with(stack, os.path.join(stack.workdir, "nokey.conf"),
                      missing)
    r = subprocess.run([stack.pwreset_bin, "-n", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "outbox_key_file " + missing in r.stderr, r.stderr
    assert "No such file" in r.stderr, r.stderr
    assert "pwreset-ctl outbox-key" in r.stderr, r.stderr
    # Started for real, it stops before serving and says why.
    r = subprocess.run([stack.pwreset_bin, "-c", conf],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert "outbox_key_file " + missing in r.stderr, r.stderr

    # Readable by everyone, or not a key: refused the same way.
    bad = os.path.join(stack.workdir, "bad-outbox.key")
    with open(bad, "w") as f:
        f.write("not a key\n")
    os.chmod(bad, 0o600)
    _conf_with(stack, conf, bad)
    r = subprocess.run([stack.pwreset_bin, "-n", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "64 hexadecimal digits" in r.stderr, \
        r.stderr
    os.unlink(bad)
    r = stack.ctl("outbox-key", bad)
    assert r.returncode == 0, r.stderr
    os.chmod(bad, 0o644)
    r = subprocess.run([stack.pwreset_bin, "-n", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "chmod o-rwx" in r.stderr, r.stderr
    os.chmod(bad, 0o600)
    r = subprocess.run([stack.pwreset_bin, "-n", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
