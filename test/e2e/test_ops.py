"""Watching it run (SPEC §10): the status page and the ping answer
([service] status_path, ping_path) through nginx, the figures they show
moving with real requests and deliveries, the process titles of the
children, the journal's priorities (JOURNAL_STREAM) with delivery
failures as warnings and give-ups as errors, and the sd_notify(3)
messages a Type=notify unit waits for."""

import os
import re
import socket
import time

import pytest

from procutil import children, wait_for
from pwr import MEMBERS, add_member, assert_error, assert_ok, mails_to
from stack import PING_PATH, STATUS_PATH, pid_cmdline

ALICE = "alice@example.test"
ON = {("service", "status_path"): STATUS_PATH,
      ("service", "ping_path"): PING_PATH}

SAMPLE_RE = re.compile(r'^([a-z_]+)(?:\{([a-z]+)="([^"]*)"\})? (\S+)$')


def scrape(stack):
    """The status page as {(name, label value or None): number}; asserts
    that every line is a comment or a well-formed sample."""
    r = stack.request("GET", STATUS_PATH)
    assert r.status == 200, r
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    out = {}
    for line in r.body.decode("ascii").splitlines():
        if line.startswith("# "):
            assert re.match(r"# (HELP|TYPE) pwreset_", line), line
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample: %r" % line
        out[(m.group(1), m.group(3))] = float(m.group(4))
    return out


def requests_total(figures):
    return sum(v for (name, _), v in figures.items()
               if name == "pwreset_requests_total")


def test_status_and_ping_are_off_by_default(stack):
    # nginx passes both paths on; pwreset knows neither.
    assert_error(stack.request("GET", STATUS_PATH), "0102", 404)
    assert_error(stack.request("GET", PING_PATH), "0102", 404)


def test_status_counts_answers_latency_workers_and_mail(stack, restart):
    restart(ON)
    add_member(stack, "alice", email=ALICE)
    before = scrape(stack)
    # Every answer id has a series from the start, zero or not.
    for answer in ("0105", "0102", "0503", "request-successful",
                   "password-changed", "pending"):
        assert ("pwreset_requests_total", answer) in before, answer
    # A scrape is not a request: it does not move what it shows.
    assert requests_total(scrape(stack)) == requests_total(before)

    assert_error(stack.post(MEMBERS, b"x=%zz"), "0105", 400)
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
              "request-successful")
    mails_to(stack, ALICE, 1)
    after = wait_for(lambda: (lambda f: f if f[(
        "pwreset_mail_total", "sent")] >= 1 else None)(scrape(stack)),
        10, what="the mail counted as sent")

    def delta(key):
        return after[key] - before[key]
    assert delta(("pwreset_requests_total", "0105")) == 1
    assert delta(("pwreset_requests_total", "request-successful")) == 1
    assert requests_total(after) - requests_total(before) == 2
    assert delta(("pwreset_mail_total", "sent")) == 1
    assert delta(("pwreset_mail_total", "failed")) == 0

    # The histogram: cumulative buckets, +Inf is the count, the count is
    # every answer given.
    name = "pwreset_request_duration_seconds"
    buckets = sorted(((float(le), v) for (n, le), v in after.items()
                      if n == name + "_bucket" and le != "+Inf"))
    assert [b for b, _ in buckets] == [0.005, 0.01, 0.025, 0.05, 0.1,
                                       0.25, 0.5, 1.0, 2.5]
    counts = [v for _, v in buckets] + [after[(name + "_bucket", "+Inf")]]
    assert counts == sorted(counts)
    assert counts[-1] == after[(name + "_count", None)]
    assert after[(name + "_count", None)] == requests_total(after)
    assert after[(name + "_sum", None)] > before[(name + "_sum", None)]

    # The worker answering the scrape is busy; the other waits.
    workers = int(stack.config_items()[("service", "workers")])
    busy = after[("pwreset_workers", "busy")]
    idle = after[("pwreset_workers", "idle")]
    assert busy >= 1 and busy + idle == workers, (busy, idle)

    # The query string is not part of the path; another method is the
    # service's own 0103.
    assert stack.request("GET", STATUS_PATH + "?x=1").status == 200
    assert_error(stack.request("POST", STATUS_PATH, body=b""), "0103", 400)


def test_status_counts_delivery_failures(stack, restart):
    restart(ON)
    add_member(stack, "alice", email=ALICE)
    stack.restart_sink("--reject", "^alice@")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
              "request-successful")
    wait_for(lambda: scrape(stack)[("pwreset_mail_total", "failed")] == 1,
             15, interval=0.1, what="the given-up mail counted")
    f = scrape(stack)
    assert f[("pwreset_mail_total", "sent")] == 0
    assert f[("pwreset_mail_total", "deferred")] == 0


def test_status_survives_a_reload(stack, restart):
    restart(ON)
    assert_error(stack.post(MEMBERS, b"x=%zz"), "0105", 400)
    # Counted once the answer is out, so the client may ask first.
    before = wait_for(lambda: (lambda f: f if f[(
        "pwreset_requests_total", "0105")] == 1 else None)(scrape(stack)),
        10, interval=0.05, what="the 0105 counted")
    stack.reload_pwreset(ON)
    workers = int(stack.config_items()[("service", "workers")])

    def steady():
        f = scrape(stack)
        n = f[("pwreset_workers", "busy")] + f[("pwreset_workers", "idle")]
        return f if n == workers else None
    after = wait_for(steady, 15, interval=0.1,
                     what="the old workers gone after the reload")
    # The counters belong to the supervisor, not to a configuration.
    assert after[("pwreset_requests_total", "0105")] == \
        before[("pwreset_requests_total", "0105")]


def test_ping_follows_the_database(stack, restart):
    restart(ON)
    r = stack.request("GET", PING_PATH)
    assert (r.status, r.body) == (200, b"pong\n")
    assert stack.request("HEAD", PING_PATH).status == 200
    stack.stop_pg()
    try:
        r = stack.request("GET", PING_PATH)
        assert r.status == 503, r
        assert b"pong" not in r.body
    finally:
        stack.start_pg_server()
    wait_for(lambda: stack.request("GET", PING_PATH).status == 200, 15,
             interval=0.2, what="pong again after PostgreSQL came back")


def test_children_show_their_role(stack):
    sup = stack.pids["pwreset"]
    workers = int(stack.config_items()[("service", "workers")])

    def titles():
        out = []
        for pid in children(sup):
            cmd = pid_cmdline(pid).replace("\0", " ").strip()
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
            out.append((cmd, comm))
        return sorted(out)
    want = sorted([("pwreset: mailer", "pwreset: mailer")] +
                  [("pwreset: worker", "pwreset: worker")] * workers)
    wait_for(lambda: titles() == want, 10, interval=0.1,
             what="titles %r" % (want,))
    # The supervisor keeps its own command line.
    assert " -c " in pid_cmdline(sup).replace("\0", " ")


def _journal_lines(stack, start):
    return stack.log_text(start).splitlines()


def test_journal_priorities(stack, restart):
    """With JOURNAL_STREAM naming pwreset's stderr (the log file here),
    every line starts with its syslog priority and has no time stamp; a
    failed attempt is a warning (4), a message given up an error (3)."""
    st = os.stat(stack.log_path)
    stack.env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
    try:
        restart()
        # Lines from here on are the new supervisor's and its children's.
        start = stack.log_size()
        add_member(stack, "alice", email=ALICE)
        add_member(stack, "bob", email="bob@example.test")
        stack.stop_sink()
        assert_ok(stack.post(MEMBERS, {"member-username": "bob"}),
                  "request-successful")
        wait_for(lambda: any(
            re.match(r"<4>pwreset\[\d+\] warn: mail \d+ to \*@example\.test:"
                     r" attempt 1 of \d+ failed, next in", line)
            for line in _journal_lines(stack, start)), 15, interval=0.1,
            what="a warning for the failed attempt")
        stack.restart_sink("--reject", "^alice@")
        assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
                  "request-successful")
        wait_for(lambda: any(
            re.match(r"<3>pwreset\[\d+\] error: mail \d+ to \*@example\."
                     r"test: failed for good", line)
            for line in _journal_lines(stack, start)), 15, interval=0.1,
            what="an error for the given-up mail")
        lines = _journal_lines(stack, start)
        assert any(re.match(r"<6>pwreset\[\d+\] info: POST service-members"
                            r" 200 request-successful", line)
                   for line in lines)
        assert any(line.startswith("<7>") for line in lines)  # debug
        bad = [line for line in lines if not re.match(r"<[3467]>pwreset\[",
                                                      line)]
        assert not bad, bad
    finally:
        del stack.env["JOURNAL_STREAM"]
        restart()
    # Without it, the plain format is back.
    start = stack.log_size()
    stack.post(MEMBERS, b"x=%zz")
    line = wait_for(lambda: [x for x in _journal_lines(stack, start)
                             if " 0105 " in x], 10)[0]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ pwreset\[\d+\] info: ",
                    line), line


class Notify:
    """A NOTIFY_SOCKET of our own: the datagrams pwreset sends to it."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.got = []

    def wait(self, field, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, msg in enumerate(self.got):
                if field in msg.split("\n"):
                    del self.got[:i + 1]
                    return msg
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        raise AssertionError("no %s (got %r)" % (field, self.got))

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def test_sd_notify(stack, restart):
    n = Notify(os.path.join(stack.workdir, "notify.sock"))
    stack.env["NOTIFY_SOCKET"] = n.path
    try:
        restart()
        msg = n.wait("READY=1")
        assert "STATUS=2 workers and a mailer" in msg.split("\n")
        stack.reload_pwreset()
        n.wait("RELOADING=1")
        n.wait("READY=1")
        stack.stop_pwreset()
        n.wait("STOPPING=1")
    finally:
        del stack.env["NOTIFY_SOCKET"]
        n.close()
        if not stack.pwreset_alive():
            stack.start_pwreset()
