"""Fixtures of the end-to-end suite: one real stack (PostgreSQL, SMTP sink,
pwreset under spawn-fcgi, nginx) for the session; before each test the
database is emptied, the mail directory cleared and the configuration put
back; after each test the pwreset log is searched for sanitizer reports and
pwreset must still be running.

PWRESET_BUILD names the meson build directory (default: build)."""

import os
import signal
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # test/, for stack.py
sys.path.insert(0, HERE)

from stack import Stack  # noqa: E402


def _on_term(signum, frame):
    # timeout(1) or CI stopping the run: unwind through the fixtures so the
    # stack is stopped and its files removed.
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _on_term)


@pytest.fixture(scope="session")
def stack():
    s = Stack(build_dir=os.environ.get("PWRESET_BUILD"))
    s.start()
    yield s
    s.stop()


def _drain_outbox(stack, timeout=5.0):
    """Let the mailer finish what the last test queued, so that no late
    message lands in the next test's mail directory."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            n = stack.sql("SELECT count(*) FROM mail_outbox WHERE"
                          " sent_at IS NULL AND failed_at IS NULL")[0][0]
        except Exception:
            return
        if n == 0:
            return
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def fresh(stack):
    # Put back what an earlier test changed or stopped.
    if "postgres" not in stack.pids:
        stack.start_pg_server()
    if stack.sink_args or "smtp" not in stack.pids:
        stack.restart_sink()
    if stack.overrides != stack.base_overrides or not stack.pwreset_alive():
        stack.restart_pwreset()
    _drain_outbox(stack)
    stack.reset_db()
    stack.clear_mails()
    start = stack.log_size()
    yield stack
    reports = stack.sanitizer_reports(start)
    if reports:
        pytest.fail("sanitizer reports in pwreset.log:\n" +
                    "\n".join(reports[:20]) + "\n" + stack.log_text(start)[-4000:],
                    pytrace=False)
    if not stack.pwreset_alive():
        pytest.fail("pwreset is no longer running:\n" +
                    stack.log_text(start)[-4000:], pytrace=False)


@pytest.fixture
def restart(stack):
    """restart(overrides): restart pwreset with these configuration
    overrides for this test only."""
    return stack.restart_pwreset
