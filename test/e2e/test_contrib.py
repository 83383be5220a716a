"""The shipped web-server snippets, run for real: contrib/nginx/pwreset.conf
(behind TLS with a throwaway certificate) and contrib/lighttpd/pwreset.conf,
each in front of the stack's pwreset socket.  Only the listening address,
the certificate and the socket path are rewritten."""

import http.client
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

import pytest

from pwr import add_member, assert_error, assert_ok, mails_to, token_of

from stack import (SRC_DIR, Response, free_port, port_open, stop_process,
                   tail)

ROUTE = "/ps/service/members/resetpassword"
ALICE = "alice@example.test"


@pytest.fixture
def scratch():
    d = tempfile.mkdtemp(prefix="pwreset-contrib-")
    os.chmod(d, 0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _wait_port(proc, port, logs):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("server exited (%d):\n%s" % (
                proc.returncode, "\n".join(tail(p) for p in logs)))
        if port_open(port):
            return
        time.sleep(0.05)
    raise AssertionError("server not listening:\n" +
                         "\n".join(tail(p) for p in logs))


def _request(port, method, path, body=None, ctype=None, tls=False):
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                           timeout=30)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {}
    if ctype:
        headers["Content-Type"] = ctype
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        conn.close()


FORM = "application/x-www-form-urlencoded"
STATIC = os.path.join(SRC_DIR, "mail-templates", "static")


def _exercise(stack, port, tls):
    add_member(stack, "alice", email=ALICE)
    r = _request(port, "POST", ROUTE, b"member-username=alice", FORM, tls)
    assert_ok(r, "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    _, token = token_of(msg)
    r = _request(port, "POST", "/ps/api/members/resetpassword.json",
                 ("token=%s" % token).encode(), FORM, tls)
    assert r.status == 200 and r.json() == {"status": "pending"}, r.body
    # pwreset's own limit (16 KiB) is below the server's: 0106 from pwreset.
    r = _request(port, "POST", ROUTE, b"x=" + b"a" * 20000, FORM, tls)
    assert_error(r, "0106", 413)
    # Beyond the server's 64 KiB: the server's own 413.
    r = _request(port, "POST", ROUTE, b"x=" + b"a" * 70000, FORM, tls)
    assert r.status == 413 and b"<error id=" not in r.body
    # Other methods and paths never reach pwreset.
    r = _request(port, "GET", ROUTE, None, None, tls)
    assert r.status in (403, 404, 405), r.status
    assert b"<error id=" not in r.body
    r = _request(port, "POST", "/ps/service/other", b"x=1", FORM, tls)
    assert r.status == 404 and b"<error id=" not in r.body
    _exercise_pages(port, token, tls)


def _exercise_pages(port, token, tls):
    """The pages (SPEC §9), their static files and the token check."""
    r = _request(port, "GET", "/email/forgotpassword", None, None, tls)
    assert r.status == 200 and b'<html lang="en">' in r.body, r.status
    assert r.headers.get("Content-Security-Policy", "").startswith(
        "default-src 'none'")
    r = _request(port, "GET", "/email/changepassword?member=1&token=" + token,
                 None, None, tls)
    assert r.status == 200 and b'name="token" value="%s"' % token.encode() \
        in r.body, r.body[:500]
    r = _request(port, "POST", "/email/forgotpassword",
                 b"member-username=nobody", FORM, tls)
    assert r.status == 200 and b"Check your email" in r.body
    r = _request(port, "GET", "/email/static/pwreset.css", None, None, tls)
    assert r.status == 200 and r.headers.get(
        "Content-Type", "").startswith("text/css"), r.status
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    r = _request(port, "GET", "/ps/service/members/alice?token=" + token,
                 None, None, tls)
    assert r.status == 200 and b'<member id="1"' in r.body, r.body
    r = _request(port, "GET", "/email/other", None, None, tls)
    assert r.status == 404 and b"<html lang" not in r.body


def test_nginx_snippet(stack, scratch):
    port = free_port()
    key, crt = os.path.join(scratch, "key.pem"), os.path.join(scratch,
                                                               "crt.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "1",
                    "-subj", "/CN=reset.example.org"], check=True,
                   capture_output=True, stdin=subprocess.DEVNULL)
    with open(os.path.join(SRC_DIR, "contrib", "nginx", "pwreset.conf")) as f:
        snippet = f.read()
    snippet, n = re.subn(r"listen 443 ssl http2;",
                         "listen 127.0.0.1:%d ssl http2;" % port, snippet)
    assert n == 1
    snippet, n = re.subn(r"\n\s*listen \[::\]:443[^\n]*", "", snippet)
    assert n == 1
    snippet = re.sub(r"ssl_certificate\s+\S+;", "ssl_certificate %s;" % crt,
                     snippet)
    snippet = re.sub(r"ssl_certificate_key\s+\S+;",
                     "ssl_certificate_key %s;" % key, snippet)
    snippet = snippet.replace("include fastcgi_params;",
                              "include /etc/nginx/fastcgi_params;")
    snippet, n = re.subn(r"unix:/run/pwreset/pwreset\.sock",
                         "unix:" + stack.fcgi_sock, snippet)
    assert n == 1  # named once, in the upstream block
    snippet, n = re.subn(r"/usr/share/pwreset/static/", STATIC + "/",
                         snippet)
    assert n == 1
    conf = os.path.join(scratch, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""user nobody nogroup;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log info;
events { worker_connections 64; }
http {
	access_log %(d)s/access.log;
	client_body_temp_path %(d)s/body;
	fastcgi_temp_path %(d)s/fastcgi;
	proxy_temp_path %(d)s/proxy;
	scgi_temp_path %(d)s/scgi;
	uwsgi_temp_path %(d)s/uwsgi;
	include /etc/nginx/mime.types;
%(snippet)s
}
""" % {"d": scratch, "snippet": snippet})
    errf = os.path.join(scratch, "stderr.log")
    with open(errf, "wb") as err:
        p = subprocess.Popen(["nginx", "-p", scratch + "/", "-c", conf,
                              "-g", "daemon off;"],
                             stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                             start_new_session=True)
    try:
        _wait_port(p, port, [errf, os.path.join(scratch, "error.log")])
        _exercise(stack, port, tls=True)
    finally:
        stop_process(p.pid, "nginx", first=signal.SIGQUIT, proc=p)


def test_lighttpd_snippet(stack, scratch):
    port = free_port()
    with open(os.path.join(SRC_DIR, "contrib", "lighttpd",
                           "pwreset.conf")) as f:
        snippet = f.read()
    snippet, n = re.subn(r'"socket" => "/run/pwreset/pwreset\.sock"',
                         '"socket" => "%s"' % stack.fcgi_sock, snippet)
    assert n == 3  # the service, the token check, the pages
    snippet, n = re.subn(r"/usr/share/pwreset/static/", STATIC + "/",
                         snippet)
    assert n == 1
    inc = os.path.join(scratch, "pwreset.conf")
    with open(inc, "w") as f:
        f.write(snippet)
    www = os.path.join(scratch, "www")
    os.makedirs(www)
    logs = os.path.join(scratch, "logs")  # lighttpd opens it as nobody
    os.makedirs(logs)
    shutil.chown(logs, "nobody", "nogroup")
    conf = os.path.join(scratch, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write("""server.document-root = "%(www)s"
server.bind = "127.0.0.1"
server.port = %(port)d
server.errorlog = "%(d)s/logs/error.log"
server.username = "nobody"
server.groupname = "nogroup"
mimetype.assign = (".css" => "text/css", ".js" => "text/javascript")
include "%(inc)s"
""" % {"www": www, "port": port, "d": scratch, "inc": inc})
    r = subprocess.run(["lighttpd", "-tt", "-f", conf], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    errf = os.path.join(scratch, "stderr.log")
    with open(errf, "wb") as err:
        p = subprocess.Popen(["lighttpd", "-D", "-f", conf],
                             stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                             start_new_session=True)
    try:
        _wait_port(p, port, [errf, os.path.join(logs, "error.log")])
        _exercise(stack, port, tls=False)
    finally:
        stop_process(p.pid, "lighttpd", proc=p)


def test_systemd_units_parse():
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze")
    d = os.path.join(SRC_DIR, "contrib", "systemd")
    r = subprocess.run(["systemd-analyze", "verify",
                        os.path.join(d, "pwreset.socket"),
                        os.path.join(d, "pwreset.service")],
                       capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    # The binary and the man pages are not installed here; anything else
    # (an unknown key, a bad value) is a finding.
    bad = [line for line in (r.stdout + r.stderr).splitlines()
           if line.strip() and "is not executable" not in line
           and "man " not in line and "Command 'man" not in line]
    assert not bad, "\n".join(bad)
