#!/usr/bin/python3
"""peer.py — the Django peer of test/bench/bench.py: Django's stock
PasswordResetView (Debian's python3-django 3.2) under gunicorn (Debian's
gunicorn 20.1, sync workers) behind the bench's nginx, on the bench's
PostgreSQL, mailing through the bench's SMTP sink.

The project is test/bench/peer/peersite: startproject's settings with the
per-run values from the environment this module sets (PEER_*).  Two
variants:

  stock    — Django as shipped: CONN_MAX_AGE 0 (a new database connection
             per request), no index for the e-mail lookup, which Django
             runs as UPPER("auth_user"."email"::text) = UPPER(%s), so it
             reads every row;
  indexed  — CREATE INDEX ON auth_user (UPPER(email)) and CONN_MAX_AGE 600
             (persistent connections): what a sysadmin tuning it would do
             first.

Django's PasswordResetForm sends the mail inside the request (SMTP to the
sink) for a known address; pwreset queues its mail.  That is the stock
behaviour being compared.

Use from bench.py:

    peer = DjangoPeer(workdir, pg_sock_dir, pg_port, smtp_port)
    peer.prepare(members=10000)       # database "peer", users bench1..N
    peer.start(indexed=False)
    conf += peer.nginx_location()     # inside nginx's server block
    cookie, token = peer.csrf(base_url)
    wrk -s peer.wrk_script() URL+peer.path -- django NTHREADS \\
        *peer.wrk_extra(members, known_pct, addrs)
    peer.restart(indexed=True)
    peer.pids(); peer.stop()

Self-test (starts a throwaway stack: PostgreSQL, SMTP sink, nginx):

    /usr/bin/python3 test/bench/peer.py selftest
"""

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "test"))

import stack  # noqa: E402  test/stack.py, used as is

PROJECT = os.path.join(HERE, "peer")
LUA = os.path.join(HERE, "peer.lua")
GUNICORN = "/usr/bin/gunicorn"
PYTHON = "/usr/bin/python3"
NCPU = os.cpu_count() or 1
CONN_MAX_AGE = {False: 0, True: 600}
INDEX = "peer_auth_user_upper_email"
# Django 3.2's PBKDF2PasswordHasher iterations.
PBKDF2_ITERATIONS = 260000


class PeerError(RuntimeError):
    pass


def usable_password_hash():
    """One real Django pbkdf2_sha256 hash of a random password nobody
    knows.  PasswordResetForm skips users whose password is unusable
    (has_usable_password()), so the bench users need one; computed once
    and shared by all of them."""
    salt = secrets.token_hex(11)
    dk = hashlib.pbkdf2_hmac("sha256", secrets.token_bytes(24),
                             salt.encode(), PBKDF2_ITERATIONS)
    return "pbkdf2_sha256$%d$%s$%s" % (PBKDF2_ITERATIONS, salt,
                                       base64.b64encode(dk).decode())


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("127.0.0.1", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class DjangoPeer:
    """Django's PasswordResetView under gunicorn on a unix socket in
    workdir.  workers: gunicorn sync workers, default one per CPU like
    pwreset's (gunicorn's documentation suggests 2 × CPUs + 1; pass that
    to compare)."""

    def __init__(self, workdir, pg_sock_dir, pg_port, smtp_port,
                 workers=None, prefix="/django/", db="peer",
                 smtp_host="127.0.0.1"):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        # nginx's workers (nobody) connect to the socket in here.
        os.chmod(self.workdir, 0o711)
        if not stack.reachable_by("nobody", self.workdir):
            raise PeerError("%s: nginx's workers (nobody) cannot reach "
                            "it; use a directory below /tmp"
                            % self.workdir)
        self.pg_sock_dir = pg_sock_dir
        self.pg_port = pg_port
        self.smtp_port = smtp_port
        self.smtp_host = smtp_host
        self.workers = workers or NCPU
        self.prefix = "/" + prefix.strip("/") + "/"
        self.path = self.prefix + "password_reset/"
        self.db = db
        self.sock = os.path.join(self.workdir, "gunicorn.sock")
        self.log_path = os.path.join(self.workdir, "gunicorn.log")
        self.secret_key = secrets.token_urlsafe(50)
        self.indexed = None
        self.proc = None
        self.members = 0
        self._csrf = None

    # ---- database ----------------------------------------------------------

    def _connect(self, dbname):
        import psycopg2
        conn = psycopg2.connect(host=self.pg_sock_dir, port=self.pg_port,
                                dbname=dbname, user="postgres",
                                connect_timeout=10)
        conn.autocommit = True
        return conn

    def sql(self, query, params=None, dbname=None):
        """One statement in the peer's database (autocommit); its rows,
        or [] when it returns none."""
        conn = self._connect(dbname or self.db)
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def env(self, indexed=False):
        e = dict(os.environ)
        e.pop("PYTHONPATH", None)
        e.update({
            "PYTHONPATH": PROJECT,
            "DJANGO_SETTINGS_MODULE": "peersite.settings",
            "PEER_SECRET_KEY": self.secret_key,
            "PEER_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PEER_DB_HOST": self.pg_sock_dir,
            "PEER_DB_PORT": str(self.pg_port),
            "PEER_DB_NAME": self.db,
            "PEER_CONN_MAX_AGE": str(CONN_MAX_AGE[bool(indexed)]),
            "PEER_SMTP_HOST": self.smtp_host,
            "PEER_SMTP_PORT": str(self.smtp_port),
            "PEER_PREFIX": self.prefix,
        })
        return e

    def prepare(self, members=10000):
        """(Re)create database `peer` on the same cluster, run Django's
        migrations, insert users bench1..bench<members> with the addresses
        bench.py gives pwreset's members (bench<i>@example.test), active,
        with a usable password hash; ANALYZE.  Before start(): a running
        peer would hold connections to the database it drops."""
        if self.proc is not None:
            raise PeerError("prepare: stop the peer first")
        self.sql("DROP DATABASE IF EXISTS %s" % self.db, dbname="postgres")
        self.sql("CREATE DATABASE %s" % self.db, dbname="postgres")
        r = subprocess.run([PYTHON, "-m", "django", "migrate", "--noinput"],
                           env=self.env(), cwd=self.workdir,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise PeerError("django migrate failed (%d):\n%s%s"
                            % (r.returncode, r.stdout, r.stderr))
        self.sql(
            "INSERT INTO auth_user (password, last_login, is_superuser, "
            "username, first_name, last_name, email, is_staff, is_active, "
            "date_joined) SELECT %s, NULL, false, 'bench' || i, 'Bench', "
            "'Member ' || i, 'bench' || i || '@example.test', false, true, "
            "now() FROM generate_series(1, %s) i",
            (usable_password_hash(), members))
        self.sql("VACUUM ANALYZE auth_user")
        self.members = members

    def set_index(self, indexed):
        if indexed:
            # The expression Django's __iexact lookup compares.
            self.sql("CREATE INDEX IF NOT EXISTS %s ON auth_user "
                     "(UPPER(email))" % INDEX)
        else:
            self.sql("DROP INDEX IF EXISTS %s" % INDEX)
        self.sql("ANALYZE auth_user")

    def lookup_plan(self, address="bench1@example.test"):
        """EXPLAIN of the statement PasswordResetForm.get_users() runs
        (Django 3.2's SQL for email__iexact + is_active), as text."""
        rows = self.sql(
            'EXPLAIN SELECT * FROM "auth_user" WHERE '
            '(UPPER("auth_user"."email"::text) = UPPER(%s) AND '
            '"auth_user"."is_active")', (address,))
        return "\n".join(r[0] for r in rows)

    def scans(self):
        """(seq_scan, idx_scan) of auth_user from pg_stat_user_tables."""
        r = self.sql("SELECT seq_scan, coalesce(idx_scan, 0) FROM "
                     "pg_stat_user_tables WHERE relname = 'auth_user'")
        return r[0] if r else (0, 0)

    # ---- gunicorn ------------------------------------------------------------

    def start(self, indexed=False):
        """Start gunicorn: `workers` sync workers (gunicorn's default
        worker class) on a unix socket nginx's workers can connect to.
        indexed: add the UPPER(email) index and keep connections
        (CONN_MAX_AGE 600); else drop the index, CONN_MAX_AGE 0."""
        if self.proc is not None:
            raise PeerError("peer already running")
        self.set_index(indexed)
        self.indexed = bool(indexed)
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [GUNICORN, "--bind", "unix:" + self.sock,
                 "--workers", str(self.workers), "--worker-class", "sync",
                 "--chdir", PROJECT, "--error-logfile", "-",
                 "peersite.wsgi:application"],
                env=self.env(indexed), cwd=self.workdir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PeerError("gunicorn exited (%d):\n%s" % (
                    self.proc.returncode, stack.tail(self.log_path)))
            if os.path.exists(self.sock):
                os.chmod(self.sock, 0o666)
                try:
                    c = UnixHTTPConnection(self.sock, timeout=10)
                    c.request("GET", self.path)
                    r = c.getresponse()
                    r.read()
                    c.close()
                    last = r.status
                    if r.status == 200 and \
                            len(self.pids()) == self.workers + 1:
                        return
                except OSError as e:
                    last = e
            time.sleep(0.1)
        raise PeerError("gunicorn not answering (%s):\n%s" % (
            last, stack.tail(self.log_path)))

    def restart(self, indexed=True):
        self.stop()
        return self.start(indexed)

    def pids(self):
        """gunicorn's master and its workers, for CPU accounting."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        m = self.proc.pid
        try:
            with open("/proc/%d/task/%d/children" % (m, m)) as f:
                return [m] + [int(x) for x in f.read().split()]
        except OSError:
            return [m]

    def stop(self):
        if self.proc is None:
            return
        # SIGTERM: gunicorn's graceful stop of the master and its workers.
        stack.stop_process(self.proc.pid, "gunicorn", proc=self.proc,
                           timeout=30)
        self.proc = None
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass

    # ---- nginx and wrk ---------------------------------------------------

    def nginx_location(self, prefix=None):
        """An nginx location block for the server block: the whole URI to
        gunicorn's socket, with the headers gunicorn's deployment guide
        sets."""
        if prefix is not None and "/" + prefix.strip("/") + "/" != \
                self.prefix:
            raise PeerError("nginx_location: the peer serves %s, not %s"
                            % (self.prefix, prefix))
        return ("\t\tlocation %s {\n"
                "\t\t\tproxy_pass http://unix:%s;\n"
                "\t\t\tproxy_set_header Host $http_host;\n"
                "\t\t\tproxy_set_header X-Forwarded-For "
                "$proxy_add_x_forwarded_for;\n"
                "\t\t\tproxy_set_header X-Forwarded-Proto $scheme;\n"
                "\t\t\tproxy_redirect off;\n"
                "\t\t}\n" % (self.prefix, self.sock))

    def csrf(self, base_url):
        """GET the form through nginx: ("csrftoken=…", form token).  The
        pair stays valid for every POST (Django compares the secrets the
        cookie and the token carry; neither rotates on this view)."""
        m = re.match(r"http://([^:/]+):(\d+)$", base_url.rstrip("/"))
        if not m:
            raise PeerError("csrf: base_url must be http://HOST:PORT")
        c = http.client.HTTPConnection(m.group(1), int(m.group(2)),
                                       timeout=30)
        try:
            c.request("GET", self.path)
            r = c.getresponse()
            body = r.read().decode("utf-8", "replace")
        finally:
            c.close()
        if r.status != 200:
            raise PeerError("csrf: GET %s answered %d" % (self.path,
                                                          r.status))
        cookie = None
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("csrftoken="):
                cookie = v.split(";", 1)[0]
        tok = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if not cookie or not tok:
            raise PeerError("csrf: no csrftoken cookie or form token")
        self._csrf = (cookie, tok.group(1))
        return self._csrf

    def wrk_script(self):
        return LUA

    def wrk_extra(self, members=None, known_pct=50, addrs=10000):
        """peer.lua's arguments after MODE ("django") and NTHREADS, in
        load.lua's layout: MEMBERS KNOWN_PCT ADDRS COOKIE TOKEN.  Needs
        csrf() first."""
        if self._csrf is None:
            raise PeerError("wrk_extra: call csrf() first")
        return [members or self.members, known_pct, addrs] + \
            list(self._csrf)

    def post(self, base_url, address, timeout=30):
        """One POST of the form through nginx: (status, Location)."""
        if self._csrf is None:
            raise PeerError("post: call csrf() first")
        cookie, tok = self._csrf
        m = re.match(r"http://([^:/]+):(\d+)$", base_url.rstrip("/"))
        c = http.client.HTTPConnection(m.group(1), int(m.group(2)),
                                       timeout=timeout)
        body = "csrfmiddlewaretoken=%s&email=%s" % (
            tok, address.replace("@", "%40"))
        try:
            c.request("POST", self.path, body, {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie})
            r = c.getresponse()
            r.read()
            return r.status, r.getheader("Location")
        finally:
            c.close()


# ---- self-test ---------------------------------------------------------------

class PeerStack(stack.Stack):
    """PostgreSQL, the SMTP sink and nginx from test/stack.py, with the
    peer's location in nginx.conf (the peer needs the database and sink
    ports, so it is made just before nginx starts)."""

    def __init__(self, peer_dir, workers=None, **kw):
        super().__init__(parts=("pg", "smtp", "nginx"), **kw)
        self.peer_dir = peer_dir
        self.peer_workers = workers
        self.peer = None

    def start_nginx(self):
        self.peer = DjangoPeer(self.peer_dir, self.pg_sock, self.pg_port,
                               self.smtp_port, workers=self.peer_workers)
        super().start_nginx()

    def nginx_conf(self):
        conf = super().nginx_conf()
        anchor = "\t\tlocation / { return 404; }"
        if anchor not in conf:
            raise stack.StackError("nginx_conf: no anchor for the peer")
        return conf.replace(anchor, self.peer.nginx_location() + anchor)

    def stop(self):
        if self.peer is not None:
            self.peer.stop()
        super().stop()


def run_wrk(peer, url, conns, duration, members):
    threads = max(1, min(NCPU, conns))
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration,
           "--timeout", "10s", "-s", peer.wrk_script(), url + peer.path,
           "--", "django", str(threads)] + \
        [str(x) for x in peer.wrk_extra(members)]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=duration + 60)
    m = re.search(r"^BENCH (\{.*\})$", r.stdout, re.M)
    if r.returncode != 0 or not m:
        raise PeerError("wrk failed (%d):\n%s%s" % (r.returncode, r.stdout,
                                                    r.stderr))
    res = json.loads(m.group(1))
    res["rate"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


def settle_stats(peer, url):
    """Backends report table statistics at most once a second: after a
    pause, a few requests make the kept connections flush theirs."""
    time.sleep(1.2)
    for i in range(2 * peer.workers):
        peer.post(url, "nobody-settle%d@example.test" % i)
    time.sleep(0.5)


def selftest(duration=5, conns=32, members=1000, workers=None):
    work = tempfile.mkdtemp(prefix="pwreset-peer-")
    os.chmod(work, 0o711)
    s = PeerStack(os.path.join(work, "peer"), workers=workers,
                  workdir=os.path.join(work, "stack"))
    try:
        s.start()
        peer = s.peer
        url = "http://127.0.0.1:%d" % s.nginx_port
        t0 = time.monotonic()
        peer.prepare(members)
        print("prepared database %s: %d users in %.1f s" % (
            peer.db, members, time.monotonic() - t0))
        peer.start(indexed=False)
        print("gunicorn: %d sync workers, pids %s" % (peer.workers,
                                                       peer.pids()))
        cookie, tok = peer.csrf(url)
        print("csrf: cookie %s… token %s…" % (cookie[:20], tok[:10]))

        # The SQL Django really runs, from PostgreSQL's log: stock
        # connections are per request, so the setting applies at once.
        log = os.path.join(s.pg_root, "log")
        log_start = os.path.getsize(log)
        peer.sql("ALTER DATABASE %s SET log_statement = 'all'" % peer.db)
        s.clear_mails()
        st, loc = peer.post(url, "bench1@example.test")
        print("POST known   → %d %s" % (st, loc))
        assert st == 302 and loc.endswith(peer.path + "done/"), (st, loc)
        got = s.mails(1, timeout=10, to="bench1@example.test")
        assert len(got) == 1, "no mail for bench1"
        print("mail: to %s, subject %r" % (got[0]["To"], got[0]["Subject"]))
        st, loc = peer.post(url, "nobody1@example.test")
        print("POST unknown → %d %s" % (st, loc))
        assert st == 302 and loc.endswith(peer.path + "done/"), (st, loc)
        time.sleep(1.0)
        assert len(s.mail_files()) == 1, "mail for an unknown address"
        print("unknown address: no mail (sink holds %d)"
              % len(s.mail_files()))
        peer.sql("ALTER DATABASE %s RESET log_statement" % peer.db)
        with open(log, "rb") as f:
            f.seek(log_start)
            text = f.read().decode("utf-8", "replace")
        stmts = sorted(set(
            re.sub(r"^.*statement: ", "", line) for line in
            text.splitlines() if "statement:" in line and
            "auth_user" in line))
        assert any('UPPER("auth_user"."email"::text) = UPPER(' in x
                   for x in stmts), stmts
        print("SQL Django ran on auth_user (PostgreSQL log):")
        for x in stmts:
            print("  " + x)

        figures = {}
        for indexed in (False, True):
            name = "indexed+persistent" if indexed else "stock"
            if indexed:
                peer.restart(indexed=True)
                peer.csrf(url)
            print("%s: lookup plan:\n  %s" % (
                name, peer.lookup_plan().replace("\n", "\n  ")))
            settle_stats(peer, url)
            sc0 = peer.scans()
            s.clear_mails()
            r = run_wrk(peer, url, conns, duration, members)
            settle_stats(peer, url)
            sc1 = peer.scans()
            n = r["requests"]
            mails = len(s.mail_files())
            s.clear_mails()
            assert r["ok"] > 0 and r["bad"] == 0, r
            figures[name] = r
            print("%s @%d, %d s: %.0f req/s, p50 %.1f ms, p99 %.1f ms; "
                  "%d requests, %d mails; auth_user seq_scan %d idx_scan "
                  "%d (%.2f / %.2f per request); errors: socket %d, "
                  "timeouts %d; load average %.1f" % (
                      name, conns, duration, r["rate"], r["p50_us"] / 1e3,
                      r["p99_us"] / 1e3, n, mails, sc1[0] - sc0[0],
                      sc1[1] - sc0[1], (sc1[0] - sc0[0]) / max(n, 1),
                      (sc1[1] - sc0[1]) / max(n, 1), r["socket_errors"],
                      r["timeouts"], os.getloadavg()[0]))
            if indexed:
                assert "Index Scan" in peer.lookup_plan() or \
                    "Bitmap" in peer.lookup_plan()
                assert sc1[1] - sc0[1] >= n // 2, "index not used"
        a, b = figures["stock"], figures["indexed+persistent"]
        print("indexed ÷ stock: %.2f×" % (b["rate"] / a["rate"]))
        print("selftest ok")
        return 0
    finally:
        s.stop()
        if not s.keep:
            import shutil
            shutil.rmtree(work, ignore_errors=True)


def main(argv):
    if len(argv) >= 2 and argv[1] == "selftest":
        env = os.environ.get
        return selftest(duration=int(env("PEER_DURATION", "5")),
                        conns=int(env("PEER_CONNS", "32")),
                        members=int(env("PEER_MEMBERS", "1000")),
                        workers=int(env("PEER_WORKERS", "0")) or None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
