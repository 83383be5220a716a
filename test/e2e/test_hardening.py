"""Hardening of the transport (SPEC §8 "Secrets at rest and on the wire"):
the FastCGI I/O timeout ([service] io_timeout) against stalled
connections, oversized bodies that must not freeze workers, no password in
a query string, SMTP AUTH only inside TLS, no core dumps, the SMTP password
file checked as the service user, and a warning for a world-readable
configuration."""

import os
import resource
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from pwr import MEMBERS, add_member, assert_error, assert_ok, count
from procutil import Pwreset, Reaper, children, write_config

ALICE = "alice@example.test"
NOBODY = 65534


@pytest.fixture
def scratch():
    d = tempfile.mkdtemp(prefix="pwreset-hard-")
    os.chmod(d, 0o711)
    reaper = Reaper()
    try:
        yield d, reaper
    finally:
        reaper.stop_all()
        shutil.rmtree(d, ignore_errors=True)


def stall(stack, nbytes=1):
    """A FastCGI client that sends nbytes of a record header and goes
    silent (the socket stays open until closed by the caller)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(stack.fcgi_sock)
    s.sendall(b"\x01" * nbytes)
    return s


def timed_post(stack, path, form, timeout=30, **kw):
    t0 = time.monotonic()
    r = stack.post(path, form, timeout=timeout, **kw)
    return r, time.monotonic() - t0


# ---- FastCGI I/O timeout ----------------------------------------------------


def test_stalled_connection_frees_the_worker(stack, restart):
    restart({("service", "workers"): "1", ("service", "io_timeout"): "2"})
    socks = [stall(stack), stall(stack, 5)]
    try:
        # Without the timeout the one worker would wait on the first
        # stall for ever and this request would never be answered.  Each
        # stall costs io_timeout plus libfcgi's 2 s linger on closing.
        r, took = timed_post(stack, MEMBERS, {"member-username": "nobody"})
        assert_ok(r, "request-successful")
        assert took < 11, took
        # The worker is free again at once afterwards.
        r, took = timed_post(stack, MEMBERS, {"member-username": "nobody"})
        assert_ok(r, "request-successful")
        assert took < 2, took
    finally:
        for s in socks:
            s.close()


def test_stalled_body_frees_the_worker(stack, restart):
    """A request whose body never comes: the worker gives up after
    io_timeout instead of waiting for ever."""
    restart({("service", "workers"): "1", ("service", "io_timeout"): "2"})
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(stack.fcgi_sock)
    # BEGIN_REQUEST (responder), PARAMS with a Content-Length of 100,
    # an empty PARAMS, then silence instead of the body.
    def rec(t, content):
        return bytes([1, t, 0, 1, len(content) >> 8, len(content) & 255,
                      0, 0]) + content

    def nv(n, v):
        return bytes([len(n), len(v)]) + n + v
    params = (nv(b"REQUEST_METHOD", b"POST") +
              nv(b"REQUEST_URI", MEMBERS.encode()) +
              nv(b"CONTENT_TYPE", b"application/x-www-form-urlencoded") +
              nv(b"CONTENT_LENGTH", b"100"))
    s.sendall(rec(1, b"\x00\x01\x00\x00\x00\x00\x00\x00") +
              rec(4, params) + rec(4, b"") + rec(5, b"email="))
    try:
        r, took = timed_post(stack, MEMBERS, {"member-username": "nobody"})
        assert_ok(r, "request-successful")
        assert took < 8, took
    finally:
        s.close()


def _rec(t, content):
    return bytes([1, t, 0, 1, len(content) >> 8, len(content) & 255,
                  0, 0]) + content


def _nv(n, v):
    return bytes([len(n), len(v)]) + n + v


def test_idle_kept_connection_frees_the_worker(stack, restart):
    """A client that asks to keep the connection (FCGI_KEEP_CONN), gets
    its answer and goes silent holds the worker for io_timeout at most."""
    restart({("service", "workers"): "1", ("service", "io_timeout"): "2"})
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(stack.fcgi_sock)
    params = (_nv(b"REQUEST_METHOD", b"GET") +
              _nv(b"REQUEST_URI", b"/ps/nowhere"))
    s.sendall(_rec(1, b"\x00\x01\x01\x00\x00\x00\x00\x00") +
              _rec(4, params) + _rec(4, b"") + _rec(5, b""))
    got = b""
    s.settimeout(10)
    while b"\x01\x03\x00\x01" not in got:  # FCGI_END_REQUEST
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    try:
        r, took = timed_post(stack, MEMBERS, {"member-username": "nobody"})
        assert_ok(r, "request-successful")
        assert took < 6, took
    finally:
        s.close()


def test_sigterm_is_prompt_with_a_stalled_connection(stack, restart):
    restart({("service", "workers"): "1",
             ("service", "shutdown_timeout"): "20"})
    s = stall(stack)
    try:
        time.sleep(0.3)  # the worker is now reading the stalled header
        t0 = time.monotonic()
        stack.stop_pwreset(timeout=30)
        took = time.monotonic() - t0
    finally:
        s.close()
    stack.start_pwreset()
    assert took < 5, took


# ---- oversized bodies -------------------------------------------------------


@pytest.fixture
def big_nginx(stack):
    """nginx letting bodies up to 8 MiB through to pwreset."""
    stack.nginx_max_body = "8m"
    stack.stop_nginx()
    stack.start_nginx()
    try:
        yield stack
    finally:
        stack.nginx_max_body = "1m"
        stack.stop_nginx()
        stack.start_nginx()


def test_oversized_bodies_do_not_freeze_workers(big_nginx, restart):
    stack = big_nginx
    restart({("service", "workers"): "2", ("service", "io_timeout"): "10"})
    sizes = [200 * 1024, 900 * 1024, 2 * 1024 * 1024, 4 * 1024 * 1024] * 3
    results = [None] * len(sizes)

    def one(i):
        body = b"email=" + b"a" * (sizes[i] - 6)
        try:
            results[i] = timed_post(stack, MEMBERS, body, timeout=30)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = (e, None)

    threads = [threading.Thread(target=one, args=(i,))
               for i in range(len(sizes))]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    took = time.monotonic() - t0
    for size, (r, t) in zip(sizes, results):
        assert t is not None, (size, r)
        assert_error(r, "0106", 413)
    assert took < 8, took
    r, t = timed_post(stack, MEMBERS, {"member-username": "nobody"})
    assert_ok(r, "request-successful")
    assert t < 2, t


# ---- parameters -------------------------------------------------------------


def test_password_in_query_string_is_refused(stack):
    add_member(stack, "alice", email=ALICE)
    r = stack.post(MEMBERS, {"member-username": "alice", "token": "x" * 32},
                   query={"member-password": "Vx7#kLm2qPz!"})
    assert_error(r, "0105")
    assert "Vx7#kLm2qPz!" not in stack.log_text()
    assert count(stack, "mail_outbox") == 0


# ---- process ----------------------------------------------------------------


def _limits_core(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4:6]
    return None


def test_no_core_dumps(stack, scratch):
    d, reaper = scratch
    if os.geteuid() != 0:
        pytest.skip("needs root")
    run = os.path.join(d, "run")
    os.mkdir(run)
    os.chmod(run, 0o711)
    # Started with core dumps allowed: pwreset itself must turn them off.
    old = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE,
                       (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    try:
        p = reaper.add(Pwreset(stack, d, "nocore", {
            ("service", "listen"): "unix:" + os.path.join(run, "s.sock"),
            ("service", "workers"): "1"})).start()
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, old)
    pids = [p.pid] + children(p.pid)
    assert len(pids) >= 3, pids
    for pid in pids:
        assert _limits_core(pid) == ["0", "0"], (pid, _limits_core(pid))


def _check(stack, d, overrides, mode=0o640):
    conf = os.path.join(d, "check.conf")
    items = dict(stack.config_items())
    items.update(overrides)
    write_config(conf, items)
    os.chmod(conf, mode)
    return subprocess.run([stack.pwreset_bin, "-n", "-c", conf],
                          capture_output=True, text=True, timeout=30)


def test_smtp_auth_needs_required_starttls(stack, scratch):
    d, _ = scratch
    pw = os.path.join(d, "smtp.pw")
    with open(pw, "w") as f:
        f.write("s3cret-Pa55\n")
    auth = {("smtp", "user"): "mailer", ("smtp", "password_file"): pw}
    for starttls in ("try", "no", None):  # None: auto, on loopback: try
        r = _check(stack, d, {**auth, ("smtp", "starttls"): starttls})
        assert r.returncode == 1, (starttls, r.stdout, r.stderr)
        assert "starttls = required" in r.stderr, r.stderr
    r = _check(stack, d, {**auth, ("smtp", "starttls"): "required"})
    assert r.returncode == 0, r.stderr
    # auto with a relay off loopback means required.
    r = _check(stack, d, {**auth, ("smtp", "starttls"): None,
                          ("smtp", "host"): "192.0.2.1"})
    assert r.returncode == 0, r.stderr


class _AuthRelay:
    """aiosmtpd offering AUTH PLAIN/LOGIN without TLS (what a hostile or
    misconfigured relay, or one whose STARTTLS was stripped, looks like);
    records whatever credential reaches it."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.creds = []
        self.ehlo = 0
        self.messages = 0
        relay = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname,
                                  responses):
                relay.ehlo += 1
                session.host_name = hostname
                return responses

            async def handle_DATA(self, server, session, envelope):
                relay.messages += 1
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, data):
            from aiosmtpd.smtp import AuthResult
            relay.creds.append((mechanism, data))
            return AuthResult(success=True)

        self.port = _free_port()
        self.ctl = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                              authenticator=authenticator,
                              auth_require_tls=False)

    def __enter__(self):
        self.ctl.start()
        return self

    def __exit__(self, *exc):
        self.ctl.stop()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_smtp_password_never_sent_without_tls(stack, restart, scratch):
    d, _ = scratch
    pw = os.path.join(d, "smtp.pw")
    with open(pw, "w") as f:
        f.write("s3cret-Pa55\n")
    add_member(stack, "alice", email=ALICE)
    with _AuthRelay() as relay:
        restart({("smtp", "port"): str(relay.port),
                 ("smtp", "starttls"): "required",
                 ("smtp", "user"): "mailer",
                 ("smtp", "password_file"): pw,
                 ("mail", "retry_base"): "1"})
        assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
                  "request-successful")
        deadline = time.monotonic() + 10
        while relay.ehlo < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        assert relay.ehlo >= 1  # the relay was reached ...
        assert relay.creds == []  # ... and got no credential
        assert relay.messages == 0
    assert "s3cret" not in stack.log_text()


def test_password_file_checked_as_the_service_user(stack, scratch):
    d, _ = scratch
    if os.geteuid() != 0:
        pytest.skip("needs root")
    pw = os.path.join(d, "smtp.pw")
    with open(pw, "w") as f:
        f.write("s3cret-Pa55\n")
    os.chmod(pw, 0o600)  # root's: the service user cannot read it
    items = {("service", "user"): "nobody",
             ("smtp", "starttls"): "required",
             ("smtp", "user"): "mailer",
             ("smtp", "password_file"): pw}
    r = _check(stack, d, items)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "password_file" in r.stderr and "nobody" in r.stderr, r.stderr
    assert "Permission denied" in r.stderr, r.stderr
    os.chown(pw, NOBODY, -1)
    r = _check(stack, d, items)
    assert r.returncode == 0, r.stderr


def test_world_readable_config_is_warned_about(stack, scratch):
    d, _ = scratch
    r = _check(stack, d, {}, mode=0o644)
    assert r.returncode == 0, r.stderr
    assert "readable by anyone" in r.stderr, r.stderr
    r = _check(stack, d, {}, mode=0o640)
    assert r.returncode == 0, r.stderr
    assert "readable by anyone" not in r.stderr, r.stderr


def test_socket_in_an_open_directory_is_refused(stack, scratch):
    d, reaper = scratch
    run = os.path.join(d, "open")
    os.mkdir(run)
    os.chmod(run, 0o777)  # anyone may swap entries: refused
    p = reaper.add(Pwreset(stack, d, "opendir", {
        ("service", "listen"): "unix:" + os.path.join(run, "s.sock")}))
    p.start(wait=False)
    assert p.proc.wait(20) == 1
    assert "writable by anyone" in p.log_text()
    os.chmod(run, 0o1777)  # sticky: our entry is ours alone
    p2 = reaper.add(Pwreset(stack, d, "stickydir", {
        ("service", "listen"): "unix:" + os.path.join(run, "s.sock"),
        ("service", "listen_mode"): "0640"})).start()
    st = os.lstat(os.path.join(run, "s.sock"))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert p2.stop() == 0
