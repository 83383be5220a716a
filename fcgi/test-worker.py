#!/usr/bin/python3
"""test-worker.py -- the pwreset process model and FastCGI transport, end to end.

Runs the real pwreset binary on a unix socket and talks FastCGI to it.  No
database is needed: conninfo points at a socket directory that does not
exist, so every request that reaches the core answers 0503, and everything
the transport refuses on its own (0102, 0103, 0105, 0106, 0107) is
answered before the core is asked.

usage: test-worker.py PWRESET SRCDIR
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

PWRESET, SRCDIR = sys.argv[1], sys.argv[2]
FAILED = []


def check(cond, what):
    print(("ok     " if cond else "FAILED ") + what)
    if not cond:
        FAILED.append(what)


# ---- a FastCGI client --------------------------------------------------

def record(rtype, rid, content=b""):
    pad = (8 - len(content) % 8) % 8
    return (struct.pack("!BBHHBB", 1, rtype, rid, len(content), pad, 0) +
            content + b"\0" * pad)


def pair(name, value):
    def length(n):
        return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 1 << 31)
    name, value = name.encode(), value.encode()
    return length(len(name)) + length(len(value)) + name + value


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""

    def begin(self, env, keep=False):
        self.s.sendall(record(1, 1, struct.pack("!HB5x", 1, 1 if keep else 0)))
        params = b"".join(pair(k, v) for k, v in env.items())
        self.s.sendall(record(4, 1, params) + record(4, 1))

    def stdin(self, data, end=True):
        for i in range(0, len(data), 65535):
            self.s.sendall(record(5, 1, data[i:i + 65535]))
        if end:
            self.s.sendall(record(5, 1))

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                return False
            self.buf += d
        return True

    def response(self):
        """The FCGI_STDOUT bytes, or None when the connection closed first."""
        out = b""
        while True:
            if not self._need(8):
                return None
            _, rtype, _, clen, pad, _ = struct.unpack("!BBHHBB", self.buf[:8])
            if not self._need(8 + clen + pad):
                return None
            content, self.buf = self.buf[8:8 + clen], self.buf[8 + clen + pad:]
            if rtype == 6:
                out += content
            elif rtype == 3:
                return out

    def close(self):
        self.s.close()


def env_for(uri, body=b"", method="POST", **extra):
    env = {"REQUEST_METHOD": method, "REQUEST_URI": uri,
           "REMOTE_ADDR": "192.0.2.1",
           "CONTENT_TYPE": "application/x-www-form-urlencoded",
           "CONTENT_LENGTH": str(len(body))}
    env.update(extra)
    return env


def ask(sock, uri, body=b"", **kw):
    c = Conn(sock)
    c.begin(env_for(uri, body, **kw))
    c.stdin(body)
    out = c.response()
    c.close()
    return out


def status(out):
    return out.split(b"\r\n", 1)[0].decode() if out else None


# ---- the set-up ---------------------------------------------------------

def write_conf(path, tmp, extra="", shutdown=3):
    with open(path, "w") as f:
        f.write(f"""[database]
conninfo = host={tmp}/no-such-dir dbname=x
timeout = 1
[service]
site_prefix = /ps
workers = 2
max_requests = 1000
max_body = 1024
listen = unix:{tmp}/pwreset.sock
listen_mode = 0600
shutdown_timeout = {shutdown}
template_dir = {SRCDIR}/mail-templates
trusted_proxies = 127.0.0.1, ::1
[mail]
outbox_key_file = {tmp}/outbox.key
[password]
banned_file =
[log]
level = debug
{extra}""")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return sorted(int(p) for p in f.read().split())
    except OSError:
        return []


def wait_for(cond, secs=5):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def main():
    tmp = tempfile.mkdtemp(prefix="pwreset-worker-")
    conf = os.path.join(tmp, "pwreset.conf")
    sock = os.path.join(tmp, "pwreset.sock")
    log = open(os.path.join(tmp, "log"), "w+")
    write_conf(conf, tmp)
    # The key that seals queued mail (what `pwreset-ctl outbox-key` writes).
    fd = os.open(os.path.join(tmp, "outbox.key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(32).hex().encode() + b"\n")
    os.close(fd)

    # -n and usage
    r = subprocess.run([PWRESET, "-n", "-c", conf], capture_output=True)
    check(r.returncode == 0 and r.stdout == f"{conf}: ok\n".encode(), "-n accepts a good file")
    bad = os.path.join(tmp, "bad.conf")
    write_conf(bad, tmp, "nonsense = 1\n")
    r = subprocess.run([PWRESET, "-n", "-c", bad], capture_output=True)
    check(r.returncode == 1 and b"nonsense" in r.stderr, "-n refuses a bad file, says why")
    r = subprocess.run([PWRESET, "-x"], capture_output=True)
    check(r.returncode == 2 and b"usage" in r.stderr, "a bad option exits 2")
    r = subprocess.run([PWRESET, "-n", "extra"], capture_output=True)
    check(r.returncode == 2, "an extra argument exits 2")

    sup = subprocess.Popen([PWRESET, "-c", conf], stdin=subprocess.DEVNULL,
                           stdout=log, stderr=log)
    try:
        run(sup, tmp, conf, bad, sock)
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()

    # A child stuck in a request is killed after shutdown_timeout.
    write_conf(conf, tmp, shutdown=1)
    sup = subprocess.Popen([PWRESET, "-c", conf], stdin=subprocess.DEVNULL,
                           stdout=log, stderr=log)
    try:
        stuck(sup, sock)
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()
        log.seek(0)
        text = log.read()
        if FAILED:
            print(text[-6000:])
    check("secret" not in text, "no secret from a request in the log")
    if FAILED:
        print(f"{len(FAILED)} check(s) failed; files kept in {tmp}")
        sys.exit(1)
    shutil.rmtree(tmp)


def run(sup, tmp, conf, bad, sock):
    check(wait_for(lambda: os.path.exists(sock) and len(children(sup.pid)) == 3),
          "socket made, 2 workers and a mailer started")
    check(oct(os.stat(sock).st_mode & 0o777) == "0o600", "socket mode is listen_mode")

    # Answers the transport gives on its own.
    out = ask(sock, "/ps/nothing?token=secret")
    check(status(out) == "Status: 404 Not Found" and b"<request>/ps/nothing</request>" in out,
          "unknown path: 404 0102, path without the query string")
    for h in (b"Cache-Control: no-store\r\n", b"X-Content-Type-Options: nosniff\r\n",
              b"Referrer-Policy: no-referrer\r\n", b"Content-Length: "):
        check(h in out, "header " + h.decode().split(":")[0])
    out = ask(sock, "/ps/api/members/resetpassword.json", method="GET")
    check(status(out) == "Status: 400 Bad Request" and b'"id":"0103"' in out, "GET: 400 0103 in JSON")
    out = ask(sock, "/ps/service/members/resetpassword", b"email=%zz")
    check(b'id="0105"' in out, "bad escape: 0105")
    out = ask(sock, "/ps/service/members/resetpassword", b"x", CONTENT_TYPE="text/plain")
    check(status(out) == "Status: 415 Unsupported Media Type", "text/plain: 415")
    out = ask(sock, "/ps/service/members/resetpassword", b"email=" + b"a" * 5000)
    check(status(out) == "Status: 413 Content Too Large", "body over max_body: 413")
    out = ask(sock, "/ps/service/members/resetpassword",
              b"email=a%40b.org&member-password=secret", HTTP_ACCEPT="application/json")
    check(status(out) == "Status: 503 Service Unavailable" and b"Retry-After: " in out,
          "database down: 503 with Retry-After")

    # A kept-open connection survives a refused body left unread.
    c = Conn(sock)
    for i, (body, want) in enumerate([(b"email=" + b"a" * 5000, "413"), (b"x", "415"),
                                      (b"", "404"), (b"e=1", "404")]):
        extra = {"CONTENT_TYPE": "text/plain"} if want == "415" else {}
        uri = "/ps/service/members/resetpassword" if want != "404" else "/ps/x"
        c.begin(env_for(uri, body, **extra), keep=True)
        c.stdin(body)
        out = c.response()
        check(out is not None and status(out).startswith("Status: " + want),
              f"kept connection, request {i + 1}: {want}")
    c.close()

    # A dead worker is replaced.
    kids = children(sup.pid)
    os.kill(kids[0], signal.SIGKILL)
    check(wait_for(lambda: len(children(sup.pid)) == 3 and kids[0] not in children(sup.pid)),
          "a killed worker is replaced")

    # SIGHUP with a broken file: nothing changes.
    kids = children(sup.pid)
    os.rename(conf, conf + ".good")
    os.rename(bad, conf)
    sup.send_signal(signal.SIGHUP)
    time.sleep(1)
    check(children(sup.pid) == kids, "a failed reload keeps the running children")
    os.rename(conf, bad)
    os.rename(conf + ".good", conf)

    # SIGHUP: new children replace the old ones, no request refused.
    refused = 0
    sup.send_signal(signal.SIGHUP)
    end = time.time() + 1.5
    while time.time() < end:
        out = ask(sock, "/ps/x")
        refused += status(out) != "Status: 404 Not Found"
    check(wait_for(lambda: len(children(sup.pid)) == 3 and
                   not set(kids) & set(children(sup.pid))), "a reload replaces every child")
    check(refused == 0, "no request refused during a reload")

    # SIGTERM: the request in flight is answered, then everybody exits.
    c = Conn(sock)
    body = b"email=%zz&token=x"
    c.begin(env_for("/ps/service/members/resetpassword", body))
    c.stdin(body[:5], end=False)
    time.sleep(0.3)
    sup.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    c.stdin(body[5:])
    out = c.response()
    check(out is not None and b'id="0105"' in out, "SIGTERM: the request in flight is answered")
    try:
        rc = sup.wait(timeout=6)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "SIGTERM: the supervisor exits 0")
    check(not os.path.exists(sock), "the socket file is removed")


def stuck(sup, sock):
    def half_request():
        c = Conn(sock)
        c.begin(env_for("/ps/service/members/resetpassword", b"email=a%40b.org"))
        c.stdin(b"ema", end=False)
        return c

    check(wait_for(lambda: os.path.exists(sock) and len(children(sup.pid)) == 3),
          "restarted with shutdown_timeout = 1")
    kids = children(sup.pid)
    c = half_request()
    time.sleep(0.3)
    sup.send_signal(signal.SIGHUP)
    check(wait_for(lambda: not set(kids) & set(children(sup.pid)), 4),
          "reload: a retired child stuck in a request is killed")
    check(c.response() is None, "reload: its connection is closed")
    c = half_request()
    time.sleep(0.3)
    t0 = time.time()
    sup.send_signal(signal.SIGTERM)
    try:
        rc = sup.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0 and time.time() - t0 < 3, "SIGTERM: a stuck child is killed, exit 0")


main()
