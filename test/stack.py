#!/usr/bin/python3
"""stack.py — the real pwreset stack on loopback, for tests and the demo.

A Stack starts, inside one work directory and on free loopback ports:

  * a throwaway PostgreSQL 15 cluster (initdb as `postgres`, trust auth,
    unix socket inside the work directory, fsync off) with a database
    `pwreset`, migrated by `pwreset-ctl migrate`;
  * the SMTP sink test/smtp_sink.py, storing mail in WORKDIR/mail;
  * pwreset under `spawn-fcgi -n` (so the PID is pwreset's own), logging
    to WORKDIR/pwreset.log;
  * nginx in front of it with a generated configuration.

Everything it starts is stopped by PID (never by name) and the work
directory removed, unless PWRESET_KEEP=1.  Only the standard library and
psycopg2 are used; run it with /usr/bin/python3.

Command line:
  stack.py up --dir DIR [--build BUILD] [--nginx-port N] [--argon2-defaults]
              [--set section.key=value ...]
      start everything detached, write DIR/stack.json, print a summary
  stack.py down --dir DIR
      stop what DIR/stack.json names, by PID, and remove what up created
  stack.py pg-up --dir DIR
      start only PostgreSQL with an empty database pwreset_test; prints its
      libpq conninfo (the value for PWRESET_TEST_PG)
  stack.py pg-fresh --dir DIR
      drop and re-create pwreset_test; prints the conninfo again
  stack.py mail --dir DIR [--all]
      print the newest message the SMTP sink received, decoded
"""

import argparse
import atexit
import email
import email.policy
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BIN = "/usr/lib/postgresql/15/bin"
PYTHON = "/usr/bin/python3"
SINK = os.path.join(SRC_DIR, "test", "smtp_sink.py")
PREFIX = "/ps"
TEST_DB = "pwreset_test"

# Ordered so the generated file reads like the sample configuration.
BASE_CONFIG = [
    ("database", "conninfo", None),  # filled in by the stack
    ("database", "timeout", "5"),
    ("service", "site_prefix", PREFIX),
    ("service", "hosturl", None),
    ("service", "emaildomain", "example.test"),
    ("service", "workers", "2"),
    ("service", "template_dir", os.path.join(SRC_DIR, "mail-templates")),
    ("service", "token_ttl", "3600"),
    ("argon2", "m_cost", "1024"),
    ("argon2", "t_cost", "1"),
    ("smtp", "host", "127.0.0.1"),
    ("smtp", "port", None),
    ("smtp", "starttls", "no"),
    ("smtp", "timeout", "5"),
    ("mail", "from", "pwreset <noreply@example.test>"),
    ("mail", "max_attempts", "3"),
    ("ratelimit", "per_identifier", "1000"),
    ("ratelimit", "per_address", "100000"),
    ("ratelimit", "window", "3600"),
    ("ratelimit", "token_failures", "1000"),
    ("log", "level", "debug"),
]

# The production cost of SPEC §6, for tests and the demo that want it.
ARGON2_DEFAULTS = {("argon2", "m_cost"): None, ("argon2", "t_cost"): None}

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
)


class StackError(RuntimeError):
    pass


def free_port():
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no %s)" % path
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    # Field 3, after the parenthesised command (which may hold spaces).
    state = stat[stat.rfind(")") + 2:].split()[0]
    return state not in ("Z", "X")


def pid_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def signal_pid(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def wait_gone(pid, timeout, proc=None):
    """Wait until pid is gone (reaping it when it is our child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return True
        elif not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def stop_process(pid, marker, first=signal.SIGTERM, timeout=15,
                 proc=None, group=True):
    """Stop one process we started, by PID, then anything left in its
    process group (it was started as a session leader, so pgid == pid).

    marker must appear in /proc/PID/cmdline: a PID read back from a file
    may since have been reused by an unrelated process."""
    if not pid:
        return
    if proc is None and marker and marker not in pid_cmdline(pid):
        if group and group_alive(pid):
            signal_group(pid, signal.SIGKILL)
        return
    signal_pid(pid, first)
    if not wait_gone(pid, timeout, proc):
        signal_pid(pid, signal.SIGKILL)
        wait_gone(pid, 5, proc)
    if group:
        # Workers or the mailer left behind by a supervisor that died.
        deadline = time.monotonic() + 5
        while group_alive(pid) and time.monotonic() < deadline:
            signal_group(pid, signal.SIGKILL)
            time.sleep(0.05)


def runas(user):
    """Command prefix running as user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", user, "--"]


def reachable_by(user, path):
    """Can user traverse into path?  (os.access only speaks for us.)"""
    if os.geteuid() != 0:
        return True
    r = subprocess.run(runas(user) + ["test", "-x", path],
                       stdin=subprocess.DEVNULL, capture_output=True)
    return r.returncode == 0


class Response(tuple):
    """(status, headers, body) that also has those as attributes; headers
    is an http.client.HTTPMessage (case-insensitive .get())."""

    def __new__(cls, status, headers, body):
        return super().__new__(cls, (status, headers, body))

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode("utf-8")


class Stack:
    def __init__(self, workdir=None, build_dir=None, overrides=None,
                 nginx_port=None, sink_args=None, keep=None,
                 parts=("pg", "smtp", "nginx", "pwreset")):
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="pwreset-stack-")
            self.own_workdir = True
        else:
            os.makedirs(workdir, exist_ok=True)
            self.own_workdir = False
        self.workdir = os.path.abspath(workdir)
        os.chmod(self.workdir, 0o711)
        if build_dir is None:
            build_dir = os.environ.get("PWRESET_BUILD",
                                       os.path.join(SRC_DIR, "build"))
        self.build_dir = os.path.abspath(build_dir)
        self.pwreset_bin = os.path.join(self.build_dir, "fcgi", "pwreset")
        self.ctl_bin = os.path.join(self.build_dir, "core", "ctl",
                                    "pwreset-ctl")
        self.base_overrides = dict(overrides or {})
        self.overrides = dict(self.base_overrides)
        self.sink_args = list(sink_args or [])
        if keep is None:
            keep = os.environ.get("PWRESET_KEEP", "") not in ("", "0")
        self.keep = keep
        self.parts = set(parts)

        # PostgreSQL needs the postgres user and nginx's workers need nobody
        # to reach their files: when workdir hangs below a private directory
        # (a clone in /root), those parts go to a 0711 directory in /tmp.
        self.aux_dir = None
        if reachable_by("postgres", self.workdir) and \
                reachable_by("nobody", self.workdir):
            base = self.workdir
        else:
            self.aux_dir = tempfile.mkdtemp(prefix="pwreset-aux-")
            os.chmod(self.aux_dir, 0o711)
            base = self.aux_dir
        self.pg_root = os.path.join(base, "pg")
        self.pg_data = os.path.join(self.pg_root, "data")
        self.pg_sock = os.path.join(self.pg_root, "sock")
        self.run_dir = os.path.join(base, "run")
        self.fcgi_sock = os.path.join(self.run_dir, "pwreset.sock")
        self.mail_dir = os.path.join(self.workdir, "mail")
        # nginx's workers (nobody) write request bodies to its temp dirs.
        self.nginx_dir = os.path.join(base, "nginx")
        self.conf_path = os.path.join(self.workdir, "pwreset.conf")
        self.log_path = os.path.join(self.workdir, "pwreset.log")
        self.sink_log = os.path.join(self.workdir, "smtp_sink.log")

        self.pg_port = None
        self.smtp_port = None
        self.nginx_port = nginx_port
        self.procs = {}  # name -> Popen (this process started it)
        self.pids = {}   # name -> pid (also for a detached stack)
        self._db = None
        self._stopped = False
        self.env = dict(os.environ)
        self.env["PWRESET_CONFIG"] = self.conf_path

    # ---- life cycle ------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        atexit.register(self.stop)
        try:
            if "pg" in self.parts:
                self.start_pg()
            if "smtp" in self.parts:
                self.start_sink()
            self.write_config()
            if "pg" in self.parts and "pwreset" in self.parts:
                r = self.ctl("migrate")
                if r.returncode != 0:
                    raise StackError("pwreset-ctl migrate failed (%d):\n%s%s"
                                     % (r.returncode, r.stdout, r.stderr))
            if "nginx" in self.parts:
                self.start_nginx()
            if "pwreset" in self.parts:
                self.start_pwreset()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        if self._db is not None:
            try:
                self._db.close()
            except Exception:
                pass
            self._db = None
        self.stop_nginx()
        self.stop_pwreset()
        self.stop_sink()
        self.stop_pg()
        if self.keep:
            print("stack: kept %s" % self.workdir, file=sys.stderr)
            return
        self.remove_files()

    def remove_files(self):
        if self.aux_dir:
            shutil.rmtree(self.aux_dir, ignore_errors=True)
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            return
        # A directory the caller named: remove only what we made in it.
        for p in (self.pg_root, self.run_dir, self.mail_dir, self.nginx_dir):
            if p.startswith(self.workdir + os.sep):
                shutil.rmtree(p, ignore_errors=True)
        for p in (self.conf_path, self.log_path, self.sink_log,
                  os.path.join(self.workdir, "stack.json")):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.workdir)
        except OSError:
            pass

    # ---- PostgreSQL --------------------------------------------------------

    def start_pg(self):
        os.makedirs(self.pg_root, exist_ok=True)
        os.chmod(self.pg_root, 0o711)
        # Owned by postgres: the server writes its log there.
        for d in (self.pg_root, self.pg_data, self.pg_sock):
            os.makedirs(d, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(d, "postgres", "postgres")
        os.chmod(self.pg_data, 0o700)
        self.pg_port = free_port()
        pg = runas("postgres")
        self._run(pg + [PG_BIN + "/initdb", "-D", self.pg_data,
                        "--auth=trust", "-U", "postgres", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync"], "initdb")
        self.start_pg_server()
        self.admin_sql("CREATE DATABASE pwreset")

    def start_pg_server(self):
        """Start the (initialised) cluster; also after stop_pg()."""
        opts = " ".join([
            "-k", self.pg_sock, "-p", str(self.pg_port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200",
            "-c", "unix_socket_permissions=0777",
        ])
        self._run(runas("postgres") + [
            PG_BIN + "/pg_ctl", "-D", self.pg_data, "-o", opts,
            "-l", os.path.join(self.pg_root, "log"), "-w", "-t", "60",
            "start"], "pg_ctl start")
        self.pids["postgres"] = self.pg_pid()

    def pg_pid(self):
        try:
            with open(os.path.join(self.pg_data, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def stop_pg(self):
        self.pids.pop("postgres", None)
        if not os.path.exists(os.path.join(self.pg_data, "postmaster.pid")):
            return
        pid = self.pg_pid()
        subprocess.run(runas("postgres") + [
            PG_BIN + "/pg_ctl", "-D", self.pg_data, "-m", "fast", "-w",
            "-t", "30", "stop"], stdin=subprocess.DEVNULL,
            capture_output=True)
        if pid and pid_alive(pid) and "postgres" in pid_cmdline(pid):
            signal_pid(pid, signal.SIGKILL)
            wait_gone(pid, 5)

    def conninfo(self, dbname="pwreset"):
        return "host=%s port=%d dbname=%s user=postgres" % (
            self.pg_sock, self.pg_port, dbname)

    def _connect(self, dbname):
        import psycopg2  # only where a database is wanted
        conn = psycopg2.connect(host=self.pg_sock, port=self.pg_port,
                                dbname=dbname, user="postgres",
                                connect_timeout=10)
        conn.autocommit = True
        return conn

    def admin_sql(self, query):
        conn = self._connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute(query)
        finally:
            conn.close()

    def db(self):
        if self._db is None or self._db.closed:
            self._db = self._connect("pwreset")
        return self._db

    def sql(self, query, params=None):
        """Run one statement in database pwreset (autocommit); the rows it
        returns, or [] for statements without a result."""
        import psycopg2
        for attempt in (1, 2):
            try:
                with self.db().cursor() as cur:
                    cur.execute(query, params)
                    if cur.description is None:
                        return []
                    return cur.fetchall()
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                # The server went away (a test stopped it): reconnect once.
                try:
                    self._db.close()
                except Exception:
                    pass
                self._db = None
                if attempt == 2:
                    raise

    def tables(self):
        return [r[0] for r in self.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "ORDER BY tablename")]

    def reset_db(self):
        """Empty every table but the migration record and the secret."""
        import psycopg2.errors
        tables = [t for t in self.tables() if t not in ("pwreset_schema", "pwreset_secret")]
        if not tables:
            return
        query = "TRUNCATE %s RESTART IDENTITY CASCADE" % ", ".join(
            '"%s"' % t for t in tables)
        # The mailer may hold a row lock in one table and want another
        # (purge, claim): PostgreSQL then aborts one side, maybe us.
        for attempt in range(10):
            try:
                self.sql(query)
                return
            except psycopg2.errors.DeadlockDetected:
                if attempt == 9:
                    raise
                time.sleep(0.1 * (attempt + 1))

    # ---- the SMTP sink -----------------------------------------------------

    def start_sink(self, args=None):
        if args is not None:
            self.sink_args = list(args)
        os.makedirs(self.mail_dir, exist_ok=True)
        if self.smtp_port is None:
            self.smtp_port = free_port()
        start = os.path.getsize(self.sink_log) if os.path.exists(
            self.sink_log) else 0
        with open(self.sink_log, "ab") as log:
            p = subprocess.Popen(
                [PYTHON, SINK, "--port", str(self.smtp_port),
                 "--dir", self.mail_dir] + self.sink_args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, cwd=self.workdir)
        self.procs["smtp"] = p
        self.pids["smtp"] = p.pid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise StackError("smtp_sink exited (%d):\n%s"
                                 % (p.returncode, tail(self.sink_log)))
            with open(self.sink_log, "rb") as f:
                f.seek(start)
                ready = b"smtp_sink ready" in f.read()
            if ready and port_open(self.smtp_port):
                return
            time.sleep(0.05)
        raise StackError("smtp_sink did not start:\n" + tail(self.sink_log))

    def stop_sink(self):
        pid = self.pids.pop("smtp", None)
        stop_process(pid, "smtp_sink", proc=self.procs.pop("smtp", None),
                     timeout=10)

    def restart_sink(self, *args):
        """Restart the sink on the same port with new options
        (--delay S, --reject RE, --tempfail RE); no args: plain."""
        self.stop_sink()
        self.start_sink(list(args))

    def clear_mails(self):
        for p in glob.glob(os.path.join(self.mail_dir, "*")):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def mail_files(self):
        return sorted(glob.glob(os.path.join(self.mail_dir, "[0-9]*.eml")))

    def mails(self, min_count=1, timeout=10.0, to=None):
        """The messages received so far (email.message.EmailMessage,
        policy=default, each with .envelope = the sink's JSON), waiting up
        to timeout seconds for at least min_count.  to: only those whose
        envelope recipients include this address (case-insensitive)."""
        deadline = time.monotonic() + timeout
        while True:
            out = []
            for path in self.mail_files():
                with open(path, "rb") as f:
                    msg = email.message_from_binary_file(
                        f, policy=email.policy.default)
                try:
                    with open(path[:-4] + ".json") as f:
                        msg.envelope = json.load(f)
                except (OSError, ValueError):
                    msg.envelope = {}
                msg.path = path
                if to is not None:
                    rcpts = [r.lower() for r in
                             msg.envelope.get("rcpt_tos", [])]
                    if to.lower() not in rcpts:
                        continue
                out.append(msg)
            if len(out) >= min_count or time.monotonic() >= deadline:
                return out
            time.sleep(0.05)

    # ---- configuration -----------------------------------------------------

    def config_items(self):
        values = {}
        for section, key, value in BASE_CONFIG:
            values[(section, key)] = value
        values[("database", "conninfo")] = self.conninfo() \
            if self.pg_port else ""
        values[("service", "hosturl")] = "http://127.0.0.1:%d" % (
            self.nginx_port or 0)
        values[("smtp", "port")] = str(self.smtp_port or 25)
        for k, v in self.overrides.items():
            values[k] = v
        return values

    def write_config(self):
        if self.nginx_port is None:
            self.nginx_port = free_port()
        sections = {}
        for (section, key), value in self.config_items().items():
            if value is None:
                continue  # an override of None removes the key
            if isinstance(value, bool):
                value = "true" if value else "false"
            sections.setdefault(section, []).append((key, str(value)))
        lines = ["; generated by test/stack.py"]
        for section, kv in sections.items():
            lines.append("")
            lines.append("[%s]" % section)
            for key, value in kv:
                lines.append("%s = %s" % (key, value))
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.conf_path)

    def site_prefix(self):
        v = self.config_items().get(("service", "site_prefix"))
        return "" if v is None else v

    # ---- pwreset -----------------------------------------------------------

    def start_pwreset(self):
        for b in (self.pwreset_bin,):
            if not os.access(b, os.X_OK):
                raise StackError("%s is not built" % b)
        os.makedirs(self.run_dir, exist_ok=True)
        os.chmod(self.run_dir, 0o711)
        log = open(self.log_path, "ab")
        try:
            p = subprocess.Popen(
                ["spawn-fcgi", "-n", "-s", self.fcgi_sock, "-M", "0666",
                 "--", self.pwreset_bin, "-c", self.conf_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, cwd=self.workdir, env=self.env)
        finally:
            log.close()
        self.procs["pwreset"] = p
        self.pids["pwreset"] = p.pid
        if "nginx" in self.parts:
            self.wait_pwreset_ready(p)

    def wait_pwreset_ready(self, p, timeout=30):
        """pwreset answers through nginx (anything but a gateway error)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise StackError("pwreset exited (%d):\n%s"
                                 % (p.returncode, tail(self.log_path)))
            try:
                r = self.request("GET", self.site_prefix() + "/ready-probe",
                                 timeout=5)
                last = r.status
                if r.status not in (502, 504):
                    return
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise StackError("pwreset not answering through nginx (last: %s):\n%s"
                         % (last, tail(self.log_path)))

    def pwreset_alive(self):
        p = self.procs.get("pwreset")
        if p is not None:
            return p.poll() is None
        pid = self.pids.get("pwreset")
        return bool(pid) and pid_alive(pid)

    def stop_pwreset(self, timeout=20):
        pid = self.pids.pop("pwreset", None)
        stop_process(pid, "pwreset", proc=self.procs.pop("pwreset", None),
                     timeout=timeout)

    def restart_pwreset(self, overrides=None):
        """Stop pwreset, rewrite the configuration with the constructor's
        overrides plus these ({(section, key): value}, None removes a
        key), start it again on the same socket."""
        self.stop_pwreset()
        self.overrides = dict(self.base_overrides)
        self.overrides.update(overrides or {})
        self.write_config()
        self.start_pwreset()

    def reload_pwreset(self, overrides=None):
        """Like restart_pwreset(), by SIGHUP to the running supervisor."""
        self.overrides = dict(self.base_overrides)
        self.overrides.update(overrides or {})
        self.write_config()
        signal_pid(self.pids["pwreset"], signal.SIGHUP)

    def log_text(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def sanitizer_reports(self, start=0):
        text = self.log_text(start)
        return [line for line in text.splitlines()
                if any(m in line for m in SANITIZER_MARKERS)]

    # ---- pwreset-ctl -------------------------------------------------------

    def ctl(self, *args, input=None, timeout=60):
        """pwreset-ctl -c CONF ARGS...; a CompletedProcess with text
        stdout/stderr.  input: text for its stdin."""
        return subprocess.run(
            [self.ctl_bin, "-c", self.conf_path] + [str(a) for a in args],
            input=input if input is not None else "",
            capture_output=True, text=True, timeout=timeout, env=self.env,
            cwd=self.workdir)

    # ---- nginx -------------------------------------------------------------

    def nginx_conf(self):
        d = self.nginx_dir
        prefix = self.site_prefix()
        location = (prefix.rstrip("/") + "/") if prefix else "/"
        user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
        return """# generated by test/stack.py
%(user)sworker_processes 2;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log info;
events { worker_connections 512; }
http {
	access_log %(d)s/access.log;
	client_body_temp_path %(d)s/tmp/body;
	fastcgi_temp_path %(d)s/tmp/fastcgi;
	proxy_temp_path %(d)s/tmp/proxy;
	scgi_temp_path %(d)s/tmp/scgi;
	uwsgi_temp_path %(d)s/tmp/uwsgi;
	server_tokens off;
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:%(port)d;
		server_name _;
		location %(location)s {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass unix:%(sock)s;
			# Above pwreset's max_body, so pwreset's own 0106 is what
			# the tests see.
			client_max_body_size 1m;
			fastcgi_read_timeout 120s;
		}
		location / { return 404; }
	}
}
""" % {"user": user, "d": d, "port": self.nginx_port,
       "location": location, "sock": self.fcgi_sock}

    def start_nginx(self):
        if self.nginx_port is None:
            self.nginx_port = free_port()
        os.makedirs(os.path.join(self.nginx_dir, "tmp"), exist_ok=True)
        os.chmod(self.nginx_dir, 0o711)
        os.makedirs(self.run_dir, exist_ok=True)
        os.chmod(self.run_dir, 0o711)
        conf = os.path.join(self.nginx_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.nginx_conf())
        errf = os.path.join(self.nginx_dir, "stderr.log")
        with open(errf, "ab") as err:
            p = subprocess.Popen(
                ["nginx", "-p", self.nginx_dir + "/", "-c", conf,
                 "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True, cwd=self.workdir)
        self.procs["nginx"] = p
        self.pids["nginx"] = p.pid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise StackError("nginx exited (%d):\n%s\n%s" % (
                    p.returncode, tail(errf),
                    tail(os.path.join(self.nginx_dir, "error.log"))))
            if port_open(self.nginx_port):
                return
            time.sleep(0.05)
        raise StackError("nginx did not start:\n" + tail(errf))

    def stop_nginx(self):
        pid = self.pids.pop("nginx", None)
        # SIGQUIT: graceful shutdown of the master and its workers.
        stop_process(pid, "nginx", first=signal.SIGQUIT,
                     proc=self.procs.pop("nginx", None), timeout=10)

    # ---- HTTP through nginx ------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=60):
        """One HTTP/1.1 request to nginx; a Response (status, headers,
        body).  A Host in headers replaces the default one."""
        headers = dict(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx_port,
                                          timeout=timeout)
        try:
            has_host = any(k.lower() == "host" for k in headers)
            conn.putrequest(method, path, skip_host=has_host,
                            skip_accept_encoding=True)
            if body is not None and not any(
                    k.lower() == "content-length" for k in headers):
                headers["Content-Length"] = str(len(body))
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.headers, data)
        finally:
            conn.close()

    def post(self, path, form=None, headers=None,
             content_type="application/x-www-form-urlencoded", query=None,
             method="POST", timeout=60):
        """POST form (a dict — list values repeat the parameter — or raw
        bytes) to path (the site prefix is added when path does not start
        with it).  content_type None sends no Content-Type."""
        prefix = self.site_prefix()
        if prefix and not path.startswith(prefix + "/"):
            path = prefix + path
        if query:
            path += "?" + (query if isinstance(query, str) else
                           urllib.parse.urlencode(query, doseq=True))
        if form is None:
            body = b""
        elif isinstance(form, (bytes, bytearray)):
            body = bytes(form)
        elif isinstance(form, str):
            body = form.encode("utf-8")
        else:
            body = urllib.parse.urlencode(form, doseq=True).encode("ascii")
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        h.update(headers or {})
        return self.request(method, path, body if method != "GET" or body
                            else None, h, timeout=timeout)

    # ---- bookkeeping -------------------------------------------------------

    def _run(self, cmd, what):
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, cwd=self.workdir)
        if r.returncode != 0:
            raise StackError("%s failed (%d):\n%s%s" % (
                what, r.returncode, r.stdout, r.stderr))
        return r

    def state(self):
        return {
            "workdir": self.workdir,
            "aux_dir": self.aux_dir,
            "build_dir": self.build_dir,
            "pids": self.pids,
            "ports": {"postgres": self.pg_port, "smtp": self.smtp_port,
                      "nginx": self.nginx_port},
            "pg_data": self.pg_data,
            "pg_sock": self.pg_sock,
            "fcgi_sock": self.fcgi_sock,
            "nginx_dir": self.nginx_dir,
            "conf": self.conf_path,
            "log": self.log_path,
            "mail_dir": self.mail_dir,
            "url": "http://127.0.0.1:%s%s" % (self.nginx_port,
                                              self.site_prefix()),
            "conninfo": self.conninfo() if self.pg_port else None,
            "test_conninfo": self.conninfo(TEST_DB) if self.pg_port else None,
        }

    def detach(self):
        """Forget the child processes so they outlive this Python process
        (the `up` command); stop() becomes a no-op here."""
        self._stopped = True
        self.procs.clear()
        if self._db is not None:
            self._db.close()
            self._db = None

    @classmethod
    def from_state(cls, directory):
        """A Stack object for a detached stack described by stack.json."""
        with open(os.path.join(directory, "stack.json")) as f:
            st = json.load(f)
        s = cls.__new__(cls)
        s.workdir = st["workdir"]
        s.own_workdir = False
        s.aux_dir = st.get("aux_dir")
        s.build_dir = st["build_dir"]
        s.pwreset_bin = os.path.join(s.build_dir, "fcgi", "pwreset")
        s.ctl_bin = os.path.join(s.build_dir, "core", "ctl", "pwreset-ctl")
        s.pg_data = st["pg_data"]
        s.pg_sock = st["pg_sock"]
        s.pg_root = os.path.dirname(s.pg_data)
        s.run_dir = os.path.dirname(st["fcgi_sock"])
        s.fcgi_sock = st["fcgi_sock"]
        s.mail_dir = st["mail_dir"]
        s.nginx_dir = st.get("nginx_dir", os.path.join(s.workdir, "nginx"))
        s.conf_path = st["conf"]
        s.log_path = st["log"]
        s.sink_log = os.path.join(s.workdir, "smtp_sink.log")
        s.pg_port = st["ports"]["postgres"]
        s.smtp_port = st["ports"]["smtp"]
        s.nginx_port = st["ports"]["nginx"]
        s.procs = {}
        s.pids = dict(st["pids"])
        s.base_overrides = {}
        s.overrides = {}
        s.sink_args = []
        s.keep = os.environ.get("PWRESET_KEEP", "") not in ("", "0")
        s.parts = set()
        s._db = None
        s._stopped = False
        s.env = dict(os.environ)
        return s

    def save_state(self):
        path = os.path.join(self.workdir, "stack.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.state(), f, indent=2)
        os.rename(path + ".tmp", path)


# ---- command line ----------------------------------------------------------

def parse_set(items):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not section or not name:
            raise SystemExit("--set wants section.key=value, not %r" % item)
        out[(section, name)] = value
    return out


def cmd_up(args):
    overrides = parse_set(args.set)
    if args.argon2_defaults:
        overrides.update(ARGON2_DEFAULTS)
    if os.path.exists(os.path.join(args.dir, "stack.json")):
        raise SystemExit("%s/stack.json exists: run `stack.py down --dir %s`"
                         " first" % (args.dir, args.dir))
    if args.nginx_port and port_open(args.nginx_port):
        raise SystemExit("port %d is already in use" % args.nginx_port)
    s = Stack(workdir=args.dir, build_dir=args.build, overrides=overrides,
              nginx_port=args.nginx_port)
    s.start()
    s.save_state()
    s.detach()
    st = s.state()
    print("pwreset stack is up in %s" % s.workdir)
    print("  service    %s/service/members/resetpassword" % st["url"])
    print("  config     %s" % s.conf_path)
    print("  log        %s" % s.log_path)
    print("  mail       %s/*.eml  (SMTP sink on 127.0.0.1:%d)"
          % (s.mail_dir, s.smtp_port))
    print("  database   psql '%s'" % s.conninfo())
    print("  ctl        %s -c %s ..." % (s.ctl_bin, s.conf_path))
    print("  pids       %s" % " ".join("%s=%s" % kv for kv in
                                       sorted(s.pids.items())))
    print("  stop with  %s down --dir %s" % (
        os.path.relpath(os.path.abspath(__file__)), args.dir))
    return 0


def cmd_down(args):
    if not os.path.exists(os.path.join(args.dir, "stack.json")):
        print("no stack in %s" % args.dir, file=sys.stderr)
        return 0
    s = Stack.from_state(args.dir)
    pids = dict(s.pids)
    stop_process(pids.get("nginx"), "nginx", first=signal.SIGQUIT,
                 timeout=10)
    stop_process(pids.get("pwreset"), "pwreset", timeout=20)
    stop_process(pids.get("smtp"), "smtp_sink", timeout=10)
    s.stop_pg()
    if s.keep:
        os.unlink(os.path.join(args.dir, "stack.json"))
        print("stack stopped; files kept in %s" % s.workdir)
    else:
        s.remove_files()
        print("stack stopped and removed")
    return 0


def cmd_pg_up(args):
    if os.path.exists(os.path.join(args.dir, "stack.json")):
        raise SystemExit("%s/stack.json exists" % args.dir)
    s = Stack(workdir=args.dir, build_dir=args.build, parts=("pg",))
    s.start()
    s.admin_sql("CREATE DATABASE %s" % TEST_DB)
    s.save_state()
    s.detach()
    print(s.conninfo(TEST_DB))
    return 0


def cmd_pg_fresh(args):
    s = Stack.from_state(args.dir)
    s.admin_sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % TEST_DB)
    s.admin_sql("CREATE DATABASE %s" % TEST_DB)
    print(s.conninfo(TEST_DB))
    return 0


def cmd_mail(args):
    """Print the newest message (or all with --all) decoded: headers that
    matter and the plain-text part, so a person can copy the token."""
    s = Stack.from_state(args.dir)
    msgs = s.mails(0, 0)
    if not msgs:
        print("no mail yet in %s" % s.mail_dir, file=sys.stderr)
        return 1
    for msg in (msgs if args.all else msgs[-1:]):
        print("==== %s" % msg.path)
        for h in ("Date", "From", "To", "Subject"):
            print("%s: %s" % (h, msg[h]))
        print()
        part = msg.get_body(preferencelist=("plain",))
        print(part.get_content() if part is not None else "(no text part)")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="the pwreset stack (PostgreSQL, SMTP sink, pwreset, "
        "nginx) on loopback")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start everything, detached")
    up.add_argument("--dir", required=True)
    up.add_argument("--build", default=None,
                    help="meson build dir (default $PWRESET_BUILD or build)")
    up.add_argument("--nginx-port", type=int, default=None)
    up.add_argument("--argon2-defaults", action="store_true",
                    help="production Argon2 cost instead of the fast one")
    up.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE")
    down = sub.add_parser("down", help="stop a stack started by up")
    down.add_argument("--dir", required=True)
    pgup = sub.add_parser("pg-up", help="start only PostgreSQL")
    pgup.add_argument("--dir", required=True)
    pgup.add_argument("--build", default=None)
    pgf = sub.add_parser("pg-fresh", help="re-create the test database")
    pgf.add_argument("--dir", required=True)
    ml = sub.add_parser("mail", help="print the newest mail, decoded")
    ml.add_argument("--dir", required=True)
    ml.add_argument("--all", action="store_true")
    args = ap.parse_args(argv)
    try:
        return {"up": cmd_up, "down": cmd_down, "pg-up": cmd_pg_up,
                "pg-fresh": cmd_pg_fresh,
                "mail": cmd_mail}[args.cmd](args)
    except StackError as e:
        print("stack: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
