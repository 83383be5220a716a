#!/usr/bin/python3
"""bench.py — the driver of test/bench/run.sh (see test/bench/README.md).

Starts the real stack of test/stack.py (PostgreSQL 15, the SMTP sink,
pwreset under spawn-fcgi with the production defaults, nginx) plus the
transport-ceiling responder hello.c behind the same nginx, measures, and
prints one table.  Every figure is the median of RUNS runs; nothing is
asserted: this is a measurement, not a test.

Run it through run.sh, which builds pwreset and the helpers first.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "test"))

import stack  # noqa: E402  test/stack.py, used as is

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

LUA = os.path.join(HERE, "load.lua")
STEP1_PATH = "/ps/service/members/resetpassword"
RSS_IDLE_WAIT_S = 2.0  # > WORKER_TRIM_IDLE_S of fcgi/worker.c
HELLO_PATH = "/hello/service/members/resetpassword"
PASSWORD = "Quartz-Violet-Harbor-8172!"  # passes the pageseeder policy
ADDRS = 10000  # X-Forwarded-For addresses the load is spread over
NCPU = os.cpu_count() or 1
# Total CPU per step-1 request at 32 connections (pg + pwreset + nginx +
# wrk), measured with this runner on the code before issue 16's
# changes (2 CPUs, 4 Dec 2026, at 16 % other CPU: pg 0.45, pwreset
# 0.21, nginx 0.14, wrk 0.06 ms); the target is half of it.
STEP1_CPU_BASELINE_MS = 0.89
# "No growth" of a worker's RSS between two busy samples: within a few
# pages (allocator and stack noise), not a leak per request.
RSS_GROWTH_NOISE_KIB = 64

# The production defaults (core/config.c), except where a benchmark needs
# otherwise; each exception is printed under the table.  None removes the
# key that test/stack.py's base configuration sets, so the built-in
# default applies.
PRODUCTION = {
    ("service", "workers"): None,  # 0 → one per CPU
    ("service", "token_ttl"): None,
    ("argon2", "m_cost"): None,  # 19456
    ("argon2", "t_cost"): None,  # 2
    ("smtp", "starttls"): None,
    ("smtp", "timeout"): None,
    ("mail", "max_attempts"): None,
    ("ratelimit", "window"): None,
    ("log", "level"): None,  # info: one line per request, as deployed
}
DEVIATIONS = {
    ("ratelimit", "per_identifier"): "1000000",
    ("ratelimit", "per_address"): "1000000",
    ("ratelimit", "token_failures"): "1000000",
    ("service", "trusted_proxies"): "127.0.0.1",
    ("service", "max_requests"): "10000000",
}
DEVIATION_WHY = [
    "ratelimit per_identifier/per_address/token_failures = 1000000: the "
    "limits must not answer 0108 during a load test",
    "trusted_proxies = 127.0.0.1: wrk sends X-Forwarded-For from %d "
    "addresses, so the per-address counter is spread over rows as real "
    "traffic is (not one hot row)" % ADDRS,
    "max_requests = 10000000 (default 10000): the same worker must serve "
    "100k requests for the RSS figure",
]


def log(msg):
    print("bench: %s" % msg, file=sys.stderr, flush=True)


def fmt_num(v):
    return "%g" % round(v, 3)


def fmt_cpu(c):
    """"pg/app/nginx/wrk/other = total" in ms per request."""
    if not c:
        return ""
    return "/".join("%.3f" % c[k] for k in CPU_COLS) + \
        " = %.3f" % c["total"]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---- CPU used by processes that are not ours -------------------------------

def _proc_times():
    """{pid: (ppid, utime+stime+cutime+cstime in ticks)} of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        # fields from 3 on: state ppid ... utime(14) stime cutime cstime
        out[int(d)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))
    return out


def _busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])
    return total - v[3] - v[4], total  # busy (not idle, not iowait), all


# The columns of "cpu ms/req": which process trees count where.
CPU_COLS = ("pg", "app", "nginx", "wrk", "other")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used while one measurement ran, per process tree, from
    /proc/PID/stat (utime+stime, plus the children a process reaped):

      pg     the postmaster and all its backends (and PgBouncer)
      app    the responder under test: pwreset's supervisors with their
             workers and mailers (or the Django peer, or hello)
      nginx  nginx's master and workers
      wrk    the load generator (wrk, or pgbench), a child of this
             process, from getrusage(RUSAGE_CHILDREN)
      other  busy CPU outside all of our trees: other programs on a
             shared machine, kernel threads such as writeback

    roots() gives {stack process name: pid}; the names pick the column.
    This process and the SMTP sink count as ours but in no column."""

    def __init__(self, roots):
        self.roots = roots
        self.ticks = dict.fromkeys(CPU_COLS, 0)
        self.ours = 0.0

    @staticmethod
    def column(name):
        if name in ("postgres", "pgbouncer"):
            return "pg"
        if name.startswith("pwreset") or name.startswith("peer") or \
                name == "hello":
            return "app"
        if name == "nginx":
            return "nginx"
        return "bench"

    def _sample(self):
        procs = _proc_times()
        roots = {os.getpid(): "bench"}
        for name, pid in self.roots().items():
            if pid:
                roots[pid] = self.column(name)
        by = dict.fromkeys(CPU_COLS + ("bench",), 0)
        for pid, (ppid, t) in procs.items():
            p, seen = pid, 0
            while p > 1 and seen < 64:
                if p in roots:
                    by[roots[p]] += t
                    break
                p = procs.get(p, (0, 0))[0]
                seen += 1
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        # Reaped children: counted in "bench" too (our cutime), shown here.
        by["wrk"] = (ru.ru_utime + ru.ru_stime) * CLK_TCK
        return _busy_ticks(), by

    def start(self):
        self.t0 = self._sample()

    def foreign(self):
        """Stop: foreign busy share of all CPUs since start(), in %;
        self.ticks then holds each column's ticks."""
        (b0, a0), g0 = self.t0
        (b1, a1), g1 = self._sample()
        d = {k: g1[k] - g0[k] for k in g1}
        ours = sum(v for k, v in d.items() if k != "wrk")
        self.ticks = {k: max(0, d[k]) for k in CPU_COLS if k != "other"}
        self.ticks["other"] = max(0, (b1 - b0) - ours)
        if a1 <= a0:
            self.ours = 0.0
            return 0.0
        self.ours = 100.0 * ours / (a1 - a0)
        return max(0.0, 100.0 * ((b1 - b0) - ours) / (a1 - a0))

    def per_request(self, n):
        """CPU milliseconds per request of each column (after foreign());
        "total" is our four columns, without "other"."""
        if not n:
            return None
        ms = {k: 1000.0 * self.ticks[k] / CLK_TCK / n for k in CPU_COLS}
        ms["total"] = sum(ms[k] for k in CPU_COLS if k != "other")
        return ms


def cpu_median(cpus):
    cpus = [c for c in cpus if c]
    if not cpus:
        return None
    return {k: statistics.median(c[k] for c in cpus)
            for k in CPU_COLS + ("total",)}


# ---- the stack, with the hello responder behind the same nginx -------------

class BenchStack(stack.Stack):
    def __init__(self, hello_bin, **kw):
        super().__init__(**kw)
        self.hello_bin = hello_bin
        self.hello_sock = os.path.join(self.run_dir, "hello.sock")
        # nginx location blocks added by phases (the Django peer's).
        self.extra_locations = []
        # None: pwreset's locations pass to the stack's one socket; a list
        # of sockets: to an upstream over them (round robin).
        self.pwreset_upstream = None

    def nginx_conf(self):
        conf = super().nginx_conf()
        loc = ("\t\tlocation /hello/ {\n"
               "\t\t\tinclude /etc/nginx/fastcgi_params;\n"
               "\t\t\tfastcgi_pass unix:%s;\n"
               "\t\t}\n" % self.hello_sock)
        for extra in self.extra_locations:
            loc += extra if extra.endswith("\n") else extra + "\n"
        anchor = "\t\tlocation / { return 404; }"
        if anchor not in conf:
            raise stack.StackError("nginx_conf: no anchor for /hello/")
        conf = conf.replace(anchor, loc + anchor)
        if self.pwreset_upstream:
            up = "\tupstream pwreset_up {\n" + "".join(
                "\t\tserver unix:%s;\n" % sock
                for sock in self.pwreset_upstream) + "\t}\n"
            old = "fastcgi_pass unix:%s;" % self.fcgi_sock
            if old not in conf or "\tserver {" not in conf:
                raise stack.StackError("nginx_conf: no anchor for upstream")
            conf = conf.replace(old, "fastcgi_pass pwreset_up;")
            conf = conf.replace("\tserver {", up + "\tserver {", 1)
        return conf

    def restart_nginx(self):
        self.stop_nginx()
        self.start_nginx()

    # -- more pwreset supervisors on the same database --------------------

    def extra_paths(self, name):
        return (os.path.join(self.workdir, name + ".conf"),
                os.path.join(self.run_dir, name + ".sock"),
                os.path.join(self.workdir, name + ".log"))

    def write_extra_config(self, name, overrides):
        """NAME.conf: the stack's configuration plus overrides, written by
        the stack's own write_config()."""
        conf = self.extra_paths(name)[0]
        saved = (self.conf_path, self.overrides)
        try:
            self.conf_path = conf
            self.overrides = dict(self.overrides)
            self.overrides.update(overrides or {})
            self.write_config()
        finally:
            self.conf_path, self.overrides = saved
        return conf

    def check_config(self, conf):
        """pwreset -n: (accepted, its message)."""
        r = subprocess.run([self.pwreset_bin, "-n", "-c", conf],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        return r.returncode == 0, (r.stderr or r.stdout).strip()

    def start_extra_pwreset(self, name, overrides=None):
        """Another supervisor with its own configuration, socket and log
        (same database unless overrides say otherwise).  Readiness is up
        to the caller, once nginx passes requests to it."""
        conf = self.write_extra_config(name, overrides)
        _, sock, logp = self.extra_paths(name)
        with open(logp, "ab") as log_f:
            p = subprocess.Popen(
                ["spawn-fcgi", "-n", "-s", sock, "-M", "0666",
                 "--", self.pwreset_bin, "-c", conf],
                stdin=subprocess.DEVNULL, stdout=log_f, stderr=log_f,
                start_new_session=True, cwd=self.workdir, env=self.env)
        self.procs[name] = p
        self.pids[name] = p.pid
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if p.poll() is not None or time.monotonic() > deadline:
                raise stack.StackError("%s did not start:\n%s"
                                       % (name, stack.tail(logp)))
            time.sleep(0.05)
        return sock

    def stop_extra_pwreset(self, name):
        pid = self.pids.pop(name, None)
        stack.stop_process(pid, "pwreset", proc=self.procs.pop(name, None),
                           timeout=20)

    def start(self):
        super().start()
        try:
            self.start_hello()
        except BaseException:
            self.stop()
            raise
        return self

    def start_hello(self):
        errf = os.path.join(self.workdir, "hello.log")
        with open(errf, "ab") as err:
            p = subprocess.Popen(
                ["spawn-fcgi", "-n", "-s", self.hello_sock, "-M", "0666",
                 "--", self.hello_bin, str(NCPU)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True, cwd=self.workdir)
        self.procs["hello"] = p
        self.pids["hello"] = p.pid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise stack.StackError("hello exited:\n" + stack.tail(errf))
            r = self.request("POST", HELLO_PATH, b"x=1", {
                "Content-Type": "application/x-www-form-urlencoded"})
            if r.status == 200:
                return
            time.sleep(0.1)
        raise stack.StackError("hello not answering through nginx")

    def stop(self):
        for name in [n for n in self.pids if n.startswith("pwreset-")]:
            self.stop_extra_pwreset(name)
        pid = self.pids.pop("hello", None)
        stack.stop_process(pid, "hello", proc=self.procs.pop("hello", None),
                           timeout=10)
        super().stop()

    # -- pwreset's children ---------------------------------------------

    def children(self, name="pwreset"):
        """(worker pids, mailer pid) of the running supervisor: workers
        share the supervisor's listening socket on fd 0; the mailer closed
        it."""
        sup = self.pids[name]
        with open("/proc/%d/task/%d/children" % (sup, sup)) as f:
            kids = [int(x) for x in f.read().split()]
        listen = os.readlink("/proc/%d/fd/0" % sup)
        workers, mailer = [], None
        for k in kids:
            try:
                fd0 = os.readlink("/proc/%d/fd/0" % k)
            except OSError:
                fd0 = None
            if fd0 == listen:
                workers.append(k)
            else:
                mailer = k
        return sorted(workers), mailer


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


# ---- the measurements --------------------------------------------------------

class Bench:
    def __init__(self, args, s, bindir):
        self.a = args
        self.s = s
        self.bin = bindir
        self.rows = []  # the table
        self.notes = []
        self.url = "http://127.0.0.1:%d" % s.nginx_port
        self.workers, self.mailer = s.children()
        self.meter = CpuMeter(lambda: dict(self.s.pids))
        self.served = 0  # requests sent to pwreset since the idle RSS

    # -- table ----------------------------------------------------------

    def row(self, section, what, median_v, unit, runs=(), p50=None,
            p99=None, foreign=None, note="", cpu=None):
        self.rows.append(dict(section=section, what=what, median=median_v,
                              unit=unit, runs=list(runs), p50=p50, p99=p99,
                              foreign=foreign, note=note, cpu=cpu))

    def series_row(self, section, what, r, unit, note=""):
        """A row from a series() result."""
        if r["bad"]:
            note = ("%s; " % note if note else "") + \
                "%d wrong answers" % r["bad"]
        self.row(section, what, r["rate"], unit, r["runs"], r["p50"],
                 r["p99"], r["foreign"], note=note, cpu=r["cpu"])

    # -- helpers ----------------------------------------------------------

    def sql(self, q, params=None):
        return self.s.sql(q, params)

    def mailer_pause(self):
        if self.mailer and stack.pid_alive(self.mailer):
            os.kill(self.mailer, signal.SIGSTOP)

    def mailer_resume(self):
        if self.mailer and stack.pid_alive(self.mailer):
            os.kill(self.mailer, signal.SIGCONT)

    def quiesce(self, timeout=10.0):
        """Wait until no other session runs a statement: when wrk stops,
        requests that nginx had already passed on are still being
        answered, and each may still write a token."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 3 and time.monotonic() < deadline:
            busy = self.sql("SELECT count(*) FROM pg_stat_activity WHERE "
                            "state = 'active' AND pid <> pg_backend_pid() "
                            "AND backend_type = 'client backend'")[0][0]
            quiet = quiet + 1 if busy == 0 else 0
            time.sleep(0.05)

    def fresh_tables(self):
        """Empty what step 1 writes, so series start from the same state
        (the mailer is paused and holds no lock: its statements are
        single-statement transactions)."""
        self.quiesce()
        self.sql("TRUNCATE rate_limit, reset_token, mail_outbox")
        self.sql("VACUUM ANALYZE rate_limit, reset_token, mail_outbox")

    def wrk(self, mode, path, conns, duration, extra=(), script=LUA):
        threads = max(1, min(NCPU, conns))
        cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration,
               "--timeout", "10s", "-s", script, self.url + path, "--",
               mode, str(threads)] + [str(x) for x in extra]
        self.meter.start()
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True,
                           timeout=duration + 60)
        foreign = self.meter.foreign()
        m = re.search(r"^BENCH (\{.*\})$", r.stdout, re.M)
        if r.returncode != 0 or not m:
            raise RuntimeError("wrk failed (%d):\n%s%s" % (
                r.returncode, r.stdout, r.stderr))
        res = json.loads(m.group(1))
        res["rate"] = res["requests"] / (res["duration_us"] / 1e6)
        res["ok_rate"] = res["ok"] / (res["duration_us"] / 1e6)
        res["foreign"] = foreign
        res["cpu"] = self.meter.per_request(res["requests"])
        if res["bad"] or res["socket_errors"] or res["timeouts"]:
            log("%s c=%d: %d unexpected answers (first: %s), %d socket "
                "errors, %d timeouts" % (
                    mode, conns, res["bad"], res["bad_sample"],
                    res["socket_errors"], res["timeouts"]))
        return res

    def series(self, label, mode, path, conns, extra=(), rate_key="rate",
               count_served=False, script=LUA):
        runs = []
        for i in range(self.a.runs):
            r = self.wrk(mode, path, conns, self.a.duration, extra, script)
            if count_served:
                self.served += r["requests"]
            log("%s c=%d run %d: %.0f req/s p50 %.1f ms p99 %.1f ms "
                "cpu %s ms/req (other CPU %.0f%%)" % (
                    label, conns, i + 1, r[rate_key], r["p50_us"] / 1e3,
                    r["p99_us"] / 1e3, fmt_cpu(r["cpu"]), r["foreign"]))
            runs.append(r)
        return dict(
            rate=median([r[rate_key] for r in runs]),
            runs=[r[rate_key] for r in runs],
            p50=median([r["p50_us"] / 1e3 for r in runs]),
            p99=median([r["p99_us"] / 1e3 for r in runs]),
            foreign=median([r["foreign"] for r in runs]),
            cpu=cpu_median([r["cpu"] for r in runs]),
            bad=sum(r["bad"] for r in runs),
            requests=sum(r["requests"] for r in runs),
            exhausted=sum(r.get("exhausted", 0) for r in runs))

    def step1_extra(self, members):
        return [members, self.a.known_pct, ADDRS]

    def settle_stats(self):
        """Idle backends report table statistics at most once a second
        and otherwise only after 10 s idle: a few requests after a pause
        make both workers' backends flush what they counted."""
        time.sleep(1.2)
        for i in range(4 * len(self.workers)):
            self.s.post(STEP1_PATH, {"member-username": "nobody-settle%d" % i})
        time.sleep(0.5)

    def scans(self):
        rows = self.sql(
            "SELECT relname, seq_scan, coalesce(idx_scan, 0), "
            "seq_tup_read FROM pg_stat_user_tables "
            "WHERE relname IN ('member', 'reset_token', 'rate_limit', "
            "'mail_outbox') ORDER BY relname")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def rss(self):
        return {p: vmrss_kib(p) for p in self.workers}

    # -- phases -------------------------------------------------------------

    def load_members(self, first, last):
        t0 = time.monotonic()
        self.sql(
            "INSERT INTO member (id, username, email, firstname, lastname) "
            "SELECT i, 'bench' || i, 'bench' || i || '@example.test', "
            "'Bench', 'Member ' || i FROM generate_series(%s, %s) i",
            (first, last))
        self.sql("SELECT setval(pg_get_serial_sequence('member', 'id'), "
                 "(SELECT max(id) FROM member))")
        self.sql("VACUUM ANALYZE member")
        return time.monotonic() - t0

    def sample_mail(self):
        """One real step-1 mail: its size sets the database ceiling's
        message parameter, and it proves the mail path works."""
        self.s.clear_mails()
        r = self.s.post(STEP1_PATH, {"member-username": "bench1"})
        if r.status != 200 or b"request-successful" not in r.body:
            raise RuntimeError("step 1 failed: %s %r" % (r.status, r.body))
        msgs = self.s.mails(1, timeout=20)
        if not msgs:
            raise RuntimeError("no mail from the mailer:\n" +
                               stack.tail(self.s.log_path))
        with open(msgs[0].path, "rb") as f:
            raw = f.read().decode("utf-8", "replace")
        self.subject = str(msgs[0]["Subject"])
        self.message = raw
        self.s.clear_mails()

    def phase_transport(self):
        for c in self.a.conns:
            r = self.series("hello", "hello", HELLO_PATH, c,
                            self.step1_extra(self.a.members))
            self.series_row("ceiling", "transport: nginx → libfcgi hello",
                            r, "req/s @%d" % c)
            self.transport[c] = r["rate"]

    # One step-1 request as pgbench runs it: the store's statements, in
    # order, each as (when, statement name, {$n: pgbench expression}).
    # when is "all", "known" (the member exists: :known) or "unknown".
    # Consecutive rows with the same condition share one \if block.
    # Variables: :addr (one of ADDRS addresses), :n (member number),
    # :tok (token), and the -D values of pgbench() (:window, :ttl, :kind,
    # :rcpt, :subject, :msg, :idlimit).  To follow a change of step 1's
    # statements, edit this table only.
    STEP1_STATEMENTS = [
        # Before the answer: the address hit (the client's own shard, as a
        # worker's), the identifier hit and the lookup, one statement.
        ("known", "step1_by_username", {
            1: "sha256(int8send(:addr))", 2: "(1 + :client_id % 63)",
            3: "sha256(int8send(:n))", 4: ":window",
            5: "('bench' || :n::text)"}),
        # After it, for a known member: the member's budget, token, mail.
        ("known", "reset_issue_limited", {
            1: ":n", 2: "sha256(int8send(:tok))", 3: ":ttl", 4: ":kind",
            5: ":rcpt", 6: ":subject", 7: ":msg",
            8: "sha256(int8send(-:n::bigint))", 9: ":idlimit",
            10: ":window"}),
        ("unknown", "step1_by_username", {
            1: "sha256(int8send(:addr))", 2: "(1 + :client_id % 63)",
            3: "sha256(int8send(:n + 1000000000))", 4: ":window",
            5: "('nobody' || :n::text)"}),
    ]

    def pgbench_script(self):
        plan = self.STEP1_STATEMENTS
        names = sorted(set(name for _, name, _ in plan))
        out = subprocess.run(
            [os.path.join(self.bin, "sqldump")] + names,
            capture_output=True, text=True, check=True).stdout
        sqls = dict(line.split("\t", 1) for line in out.splitlines())
        # pgbench takes every ":name" for a variable, even inside a string
        # literal: the to_char() format 'HH24:MI:SS' is spelled with chr(58)
        # instead, a constant the planner folds (the one textual change).
        for k in sqls:
            sqls[k] = sqls[k].replace(
                "HH24:MI:SS", "HH24' || chr(58) || 'MI' || chr(58) || 'SS")

        def bind(name, mapping):
            # $n → a pgbench variable or expression (whole numbers match,
            # so $1 never eats the start of $10).
            def one(m):
                n = int(m.group(1))
                if n not in mapping:
                    raise RuntimeError("pgbench_script: %s has $%d, not "
                                       "bound in STEP1_STATEMENTS"
                                       % (name, n))
                return mapping[n]
            return re.sub(r"\$(\d+)", one, sqls[name])

        lines = [
            "-- generated by test/bench/bench.py from the statement tables "
            "of sql/",
            "\\set addr random(0, %d)" % (ADDRS - 1),
            "\\set n random(1, :members)",
            "\\set known random(1, 100) <= :known_pct",
            "\\set unknown NOT :known",
            "\\set tok random(1, 9223372036854775806)",
        ]
        open_when = "all"
        for when, name, mapping in plan:
            if when != open_when:
                if open_when != "all":
                    lines.append("\\endif")
                if when != "all":
                    lines.append("\\if :%s" % when)
                open_when = when
            lines.append(bind(name, mapping) + ";")
        if open_when != "all":
            lines.append("\\endif")
        return "\n".join(lines + [""])

    def pgbench(self, clients, script, pgoptions=None):
        env = dict(os.environ)
        if pgoptions:
            env["PGOPTIONS"] = pgoptions
        cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(clients),
               "-j", str(max(1, min(NCPU, clients))),
               "-T", str(self.a.duration), "-f", script,
               "-h", self.s.pg_sock, "-p", str(self.s.pg_port),
               "-U", "postgres",
               "-D", "members=%d" % self.members_now,
               "-D", "known_pct=%d" % self.a.known_pct,
               "-D", "window=3600", "-D", "ttl=43200",
               "-D", "idlimit=1000000",
               "-D", "kind=reset-password-confirm",
               "-D", "rcpt=bench@example.test",
               "-D", "subject=%s" % self.subject,
               "-D", "msg=%s" % self.message,
               "pwreset"]
        self.meter.start()
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, env=env, timeout=self.a.duration + 120)
        foreign = self.meter.foreign()
        m = re.search(r"^tps = ([0-9.]+) \(without initial", r.stdout, re.M)
        lat = re.search(r"^latency average = ([0-9.]+) ms", r.stdout, re.M)
        n = re.search(r"^number of transactions actually processed: (\d+)",
                      r.stdout, re.M)
        if r.returncode != 0 or not m:
            raise RuntimeError("pgbench failed (%d):\n%s%s" % (
                r.returncode, r.stdout, r.stderr))
        self.pgbench_cpu = self.meter.per_request(
            int(n.group(1)) if n else 0)
        return float(m.group(1)), float(lat.group(1)) if lat else None, \
            foreign

    def session_planner_options(self):
        """The planner settings pwreset's store puts on its sessions
        ("-c plan_cache_mode=…", "-c enable_…=…"), read from the binary
        under test, so the second database ceiling matches whatever
        sql/store.c says in that build."""
        with open(self.s.pwreset_bin, "rb") as f:
            data = f.read()
        i = data.find(b"-c statement_timeout=")
        if i < 0:
            return []
        text = data[i:data.find(b"\0", i)].decode("ascii", "replace")
        return ["-c %s=%s" % m for m in re.findall(
            r"-c ((?:plan_cache_mode|enable_\w+|jit\w*|\w+_cost))=(\S+)",
            text)]

    def phase_database(self, workdir):
        script = os.path.join(workdir, "step1.pgbench")
        with open(script, "w") as f:
            f.write(self.pgbench_script())
        variants = [("database: pgbench, step-1 SQL", None,
                     self.a.pg_clients)]
        planner = self.session_planner_options()
        if planner:
            variants.append(("database: same, with pwreset's session "
                             "settings", " ".join(planner),
                             self.a.pg_custom_clients))
            self.notes.append("pwreset's session settings for the planner, "
                              "read from its binary: " + " ".join(planner))
        for label, opts, clients in variants:
            for c in clients:
                self.fresh_tables()
                runs, lats, fs, cpus = [], [], [], []
                for i in range(self.a.runs):
                    tps, lat, foreign = self.pgbench(c, script, opts)
                    cpus.append(self.pgbench_cpu)
                    log("%s c=%d run %d: %.0f TPS, %.2f ms avg, cpu %s "
                        "ms/transaction (other CPU %.0f%%)" % (
                            label, c, i + 1, tps, lat or 0,
                            fmt_cpu(cpus[-1]), foreign))
                    runs.append(tps)
                    lats.append(lat)
                    fs.append(foreign)
                self.row("ceiling", label, median(runs),
                         "TPS @%d" % c, runs, foreign=median(fs),
                         note="avg %.2f ms" % median(lats),
                         cpu=cpu_median(cpus))
                if opts is None:
                    self.database[c] = median(runs)
                else:
                    self.database_custom[c] = median(runs)
        self.fresh_tables()

    def phase_argon2(self):
        runs, fs = [], []
        for i in range(self.a.runs):
            self.meter.start()
            r = subprocess.run(
                [os.path.join(self.bin, "argon2rate"), "19456", "2", "1",
                 str(self.a.duration), str(NCPU)],
                capture_output=True, text=True, check=True)
            fs.append(self.meter.foreign())
            runs.append(float(r.stdout.split()[2]))
            log("argon2 run %d: %.1f hashes/s (other CPU %.0f%%)"
                % (i + 1, runs[-1], fs[-1]))
        self.argon2 = median(runs)
        self.row("ceiling", "Argon2id m=19456 t=2 p=1, %d processes" % NCPU,
                 self.argon2, "hashes/s", runs, foreign=median(fs))

    def phase_step1(self):
        self.fresh_tables()
        self.step1 = {}
        # 32 connections last: the 1M-member series follows it.
        order = sorted(self.a.conns, key=lambda c: (c == 32, c))
        for c in order:
            self.step1[c] = self.series(
                "step1", "step1", STEP1_PATH, c,
                self.step1_extra(self.a.members), rate_key="rate",
                count_served=True)
            self.step1_requests += self.step1[c]["requests"]
        for c in self.a.conns:
            self.series_row("pwreset", "step 1, %d%% known, %d members"
                            % (self.a.known_pct, self.a.members),
                            self.step1[c], "req/s @%d" % c)

    def phase_rss_topup(self):
        target = self.a.rss_requests
        deadline = time.monotonic() + self.a.topup_max
        while self.served < target and time.monotonic() < deadline:
            rate = self.step1.get(32, {}).get("rate") or 1000
            need = target - self.served
            secs = int(min(max(2, need / rate * 1.1 + 1),
                           deadline - time.monotonic() + 1))
            r = self.wrk("step1", STEP1_PATH, 32, max(1, secs),
                         self.step1_extra(self.members_now))
            self.served += r["requests"]
            log("top-up to %d requests: %d so far" % (target, self.served))

    # Series of step 2 over the whole run (the two variants, then the
    # default one again with fsync on): each gets its share of the members.
    STEP2_SERIES = 3

    def phase_step2(self, variants=None, note=""):
        """Password changes with fresh tokens, the default request (the
        change-password mail is sent before the answer) and one with
        notify-async=true, run by run in turn so both see the same
        machine.  Returns {label: median changes/s}."""
        if variants is None:
            variants = [("step 2, mail sent before the answer (default)",
                         ""),
                        ("step 2, notify-async=true", "&notify-async=true")]
        need = int(max(200, (self.argon2 or 100) * self.a.duration * 2.5))
        per_run = min(need, self.a.members //
                      max(1, self.a.runs * self.STEP2_SERIES))
        conns = self.a.step2_conns
        res = {v[0]: [] for v in variants}
        next_member = self.next_member
        for i in range(self.a.runs):
            for label, extra in variants:
                path = os.path.join(self.workdir, "tokens.txt")
                rows = []
                with open(path, "w") as f:
                    for n in range(next_member, next_member + per_run):
                        tok = secrets.token_urlsafe(24)  # 32 base64url
                        rows.append((n,
                                     hashlib.sha256(tok.encode()).digest()))
                        f.write("bench%d %s\n" % (n, tok))
                next_member += per_run
                # Fresh tokens, stored as step 1 stores them (SHA-256 of
                # the token's text), one per member, valid for an hour;
                # a live token a step-1 row left for one of them goes.
                self.quiesce()
                self.sql("DELETE FROM reset_token WHERE member_id = "
                         "ANY(%s::bigint[])", ([r[0] for r in rows],))
                self.sql("INSERT INTO reset_token (member_id, token_hash, "
                         "expires_at) SELECT *, now() + interval '1 hour' "
                         "FROM unnest(%s::bigint[], %s::bytea[])",
                         ([r[0] for r in rows], [r[1] for r in rows]))
                r = self.wrk("step2", STEP1_PATH, conns, self.a.duration,
                             [self.a.members, self.a.known_pct, ADDRS, path,
                              PASSWORD, extra])
                self.served += r["requests"]
                self.s.clear_mails()
                log("%s c=%d run %d: %.1f changes/s p50 %.0f ms p99 %.0f "
                    "ms (other CPU %.0f%%)%s" % (
                        label, conns, i + 1, r["ok_rate"], r["p50_us"] / 1e3,
                        r["p99_us"] / 1e3, r["foreign"],
                        " — RAN OUT OF TOKENS" if r["exhausted"] else ""))
                res[label].append(r)
        self.next_member = next_member
        out = {}
        for label, _ in variants:
            rs = res[label]
            bad = sum(r["bad"] for r in rs)
            out[label] = median([r["ok_rate"] for r in rs])
            notes = [x for x in (note, "%d answers not password-changed"
                                 % bad if bad else "") if x]
            self.row("pwreset", label, out[label],
                     "changes/s @%d" % conns, [r["ok_rate"] for r in rs],
                     median([r["p50_us"] / 1e3 for r in rs]),
                     median([r["p99_us"] / 1e3 for r in rs]),
                     median([r["foreign"] for r in rs]),
                     note="; ".join(notes),
                     cpu=cpu_median([r["cpu"] for r in rs]))
        return out

    def seal(self, kind, rcpt, text):
        """The outbox text as pwreset stores it (core/outbox.h): "v1:" +
        base64(nonce | AES-256-GCM ciphertext | tag) under the stack's
        outbox key, bound to kind and recipient."""
        with open(self.s.outbox_key) as f:
            key = bytes.fromhex(f.read().strip())
        nonce = os.urandom(12)
        ad = b"pwreset outbox v1\0" + kind.encode() + b"\0" + \
            rcpt.encode() + b"\0"
        ct = AESGCM(key).encrypt(nonce, text.encode(), ad)
        return "v1:" + base64.b64encode(nonce + ct).decode()

    def phase_mailer(self):
        n = self.a.mail_n
        kind = "reset-password-confirm"
        rcpts = ["bench%d@example.test" % i for i in range(1, n + 1)]
        # Sealed like pwreset's own rows, or the mailer could not open them.
        sealed = [self.seal(kind, r, self.message) for r in rcpts]
        # Whatever step 1 queued is not this measurement's.
        self.sql("UPDATE mail_outbox SET sent_at = now(), message = NULL "
                 "WHERE sent_at IS NULL AND failed_at IS NULL")
        self.mailer_resume()
        time.sleep(1.0)
        runs, fs, short = [], [], 0
        for i in range(self.a.runs):
            self.sql("UPDATE mail_outbox SET sent_at = now(), message = NULL "
                     "WHERE sent_at IS NULL AND failed_at IS NULL")
            self.s.clear_mails()
            self.meter.start()
            t0 = time.monotonic()
            self.sql("INSERT INTO mail_outbox (kind, member_id, recipient, "
                     "subject, message) SELECT %s, i, r, %s, m "
                     "FROM unnest(%s::text[], %s::text[]) "
                     "WITH ORDINALITY AS t(r, m, i)",
                     (kind, self.subject, rcpts, sealed))
            left = n
            deadline = t0 + self.a.mail_timeout
            while time.monotonic() < deadline:
                left = self.sql("SELECT count(*) FROM mail_outbox WHERE "
                                "sent_at IS NULL AND failed_at IS NULL")[0][0]
                if left == 0:
                    break
                time.sleep(0.02)
            dt = time.monotonic() - t0
            fs.append(self.meter.foreign())
            got = len(self.s.mail_files())
            rate = (n - left) / dt
            runs.append(rate)
            short = max(short, left)
            log("mailer run %d: %d messages in %.2f s = %.0f/s, sink has %d "
                "(other CPU %.0f%%)" % (i + 1, n - left, dt, rate, got,
                                          fs[-1]))
        self.s.clear_mails()
        self.row("pwreset", "mailer, %d queued → sink" % n, median(runs),
                 "messages/s", runs, foreign=median(fs),
                 note="stopped after %.0f s with up to %d unsent"
                 % (self.a.mail_timeout, short) if short else "")
        self.mailer_pause()

    def phase_big(self):
        big = self.a.big_members
        t = self.load_members(self.a.members + 1, big)
        log("members %d → %d in %.1f s" % (self.a.members, big, t))
        self.members_now = big
        self.fresh_tables()
        r = self.series("step1-1M", "step1", STEP1_PATH, 32,
                        self.step1_extra(big), count_served=True)
        self.big_requests = r["requests"]
        self.series_row("pwreset", "step 1, %d%% known, %d members"
                        % (self.a.known_pct, big), r, "req/s @32",
                        note="load %.0f s" % t)
        self.big = r["rate"]

    # -- the rows of issue 16 ------------------------------------------------

    def warm(self, seconds=2):
        """Unrecorded step-1 load, after a restart, so every worker has
        (re)connected and prepared its statements."""
        r = self.wrk("step1", STEP1_PATH, 32, seconds,
                     self.step1_extra(self.members_now))
        return r["requests"]

    def phase_one_address(self):
        """Step 1 at 32 connections, every request from the same
        X-Forwarded-For address: one hot per-address row, as behind a
        proxy that does not pass the client's address on (the limits are
        raised, so it never answers 0108)."""
        self.fresh_tables()
        r = self.series("step1-one-address", "step1", STEP1_PATH, 32,
                        [self.members_now, self.a.known_pct, 1],
                        count_served=True)
        self.one_address = r["rate"]
        self.series_row("pwreset", "step 1, one X-Forwarded-For address "
                        "for all requests", r, "req/s @32",
                        note="spread row: %d addresses" % ADDRS)

    def log_posts(self, path, start=0):
        """Requests a supervisor's log counts from offset start."""
        n = 0
        with open(path, "rb") as f:
            f.seek(start)
            for line in f:
                if b" info: POST " in line:
                    n += 1
        return n

    def phase_two_supervisors(self):
        """A second supervisor (own configuration, socket and log; same
        database and settings) behind the same nginx, which passes
        step 1 round robin to both."""
        name = "pwreset-2"
        s = self.s
        sock = s.start_extra_pwreset(name)
        try:
            _, mailer2 = s.children(name)
            if mailer2:
                os.kill(mailer2, signal.SIGSTOP)
            s.pwreset_upstream = [s.fcgi_sock, sock]
            s.restart_nginx()
            self.warm()
            logs = [s.log_path, s.extra_paths(name)[2]]
            starts = [os.path.getsize(p) for p in logs]
            self.fresh_tables()
            r = self.series("step1-two-supervisors", "step1", STEP1_PATH, 32,
                            self.step1_extra(self.members_now))
            counts = [self.log_posts(p, o) for p, o in zip(logs, starts)]
            total = sum(counts) or 1
            self.two_supervisors = r["rate"]
            self.series_row(
                "pwreset", "step 1, two supervisors on one database", r,
                "req/s @32", note="shares: first %.0f %%, second %.0f %% "
                "(from their logs)" % (100.0 * counts[0] / total,
                                       100.0 * counts[1] / total))
            if mailer2:
                os.kill(mailer2, signal.SIGCONT)
        finally:
            s.pwreset_upstream = None
            s.restart_nginx()
            s.stop_extra_pwreset(name)

    def pg_restart(self, durable):
        """Restart PostgreSQL (same data), durable or with test/stack.py's
        fast settings; pwreset's sessions reconnect at their next call."""
        self.quiesce()
        self.s.pg_durable = durable
        self.s.stop_pg()
        self.s.start_pg_server()
        # A worker that failed to connect while the server went down
        # waits before it tries again (and answers 0503 meanwhile): wait
        # until a run of requests succeeds, so no row sees that pause.
        deadline = time.monotonic() + 30
        good = 0
        while good < 4 * len(self.workers) and time.monotonic() < deadline:
            r = self.s.post(STEP1_PATH, {"member-username": "bench1"})
            good = good + 1 if r.status == 200 else 0
            if r.status != 200:
                time.sleep(0.1)
        row = self.sql("SELECT current_setting('fsync'), "
                       "current_setting('synchronous_commit'), "
                       "current_setting('full_page_writes')")[0]
        return "fsync=%s, synchronous_commit=%s, full_page_writes=%s" % row

    def phase_durable(self):
        """Step 1 at 32 connections and step 2's default request, with
        PostgreSQL at its defaults (every commit waits for its WAL flush);
        then back to the fast settings of the other rows."""
        shown = self.pg_restart(True)
        log("PostgreSQL restarted: " + shown)
        try:
            self.served += self.warm()
            self.fresh_tables()
            r = self.series("step1-fsync-on", "step1", STEP1_PATH, 32,
                            self.step1_extra(self.members_now),
                            count_served=True)
            self.durable_step1 = r["rate"]
            self.series_row("pwreset", "step 1, PostgreSQL durable", r,
                            "req/s @32", note="SHOW: " + shown)
            self.fresh_tables()
            out = self.phase_step2(
                [("step 2, default, PostgreSQL durable", "")],
                note="SHOW: " + shown)
            self.durable_step2 = next(iter(out.values()))
        finally:
            back = self.pg_restart(False)
            log("PostgreSQL restarted: " + back)
            self.notes.append("PostgreSQL for all other rows (SHOW): "
                              + back)
        self.served += self.warm()

    def phase_pgbouncer(self):
        """Step 1 at 32 connections through a supervisor whose [database]
        conninfo points at PgBouncer in transaction pooling mode, with
        [database] pooling = transaction.  Skipped, with a note, until
        test/pgbouncer.py and the configuration key exist."""
        label = "step 1, through PgBouncer (transaction pooling)"
        try:
            import pgbouncer
        except ImportError as e:
            self.notes.append("PgBouncer row not available: %s" % e)
            return
        name = "pwreset-pgbouncer"
        s = self.s
        pgb = pgbouncer.PgBouncer(os.path.join(self.workdir, "pgbouncer"),
                                  s.pg_sock, s.pg_port, dbname="pwreset")
        pgb.start()
        try:
            s.pids["pgbouncer"] = pgb.pid
            overrides = {("database", "conninfo"): pgb.conninfo("pwreset"),
                         ("database", "pooling"): "transaction"}
            ok, why = s.check_config(s.write_extra_config(name, overrides))
            if not ok:
                self.notes.append("PgBouncer row not available: pwreset -n "
                                  "refuses the configuration: %s" % why)
                return
            sock = s.start_extra_pwreset(name, overrides)
            _, mailer = s.children(name)
            if mailer:
                os.kill(mailer, signal.SIGSTOP)
            s.pwreset_upstream = [sock]
            s.restart_nginx()
            self.warm()
            self.fresh_tables()
            r = self.series("step1-pgbouncer", "step1", STEP1_PATH, 32,
                            self.step1_extra(self.members_now))
            self.pgbouncer = r["rate"]
            self.series_row("pwreset", label, r, "req/s @32",
                            note="its own supervisor; PgBouncer's CPU in "
                            "the pg column")
            if mailer:
                os.kill(mailer, signal.SIGCONT)
        finally:
            if s.pwreset_upstream:
                s.pwreset_upstream = None
                s.restart_nginx()
            s.stop_extra_pwreset(name)
            s.pids.pop("pgbouncer", None)
            pgb.stop()

    # The Django peer's step 1: nginx passes PEER_LOCATION to it; wrk runs
    # peer.wrk_script() with the arguments of load.lua's step-1 mode plus
    # the CSRF cookie and token:  MODE NTHREADS MEMBERS KNOWN_PCT ADDRS
    # COOKIE TOKEN, and reads the same "BENCH {json}" line from its done().
    PEER_LOCATION = "/django/"

    def phase_peer(self):
        """Step 1 of the Django peer (test/bench/peer.py) on the same
        stack, stock and with the indexes pwreset has, at 32 connections.
        Skipped, with a note, when the module is missing."""
        try:
            import peer
        except ImportError as e:
            self.notes.append("Django peer rows not available: %s" % e)
            return
        s = self.s
        p = peer.DjangoPeer(os.path.join(self.workdir, "peer"), s.pg_sock,
                            s.pg_port, s.smtp_port, NCPU)
        try:
            p.prepare(self.members_now)
            p.start(indexed=False)
            s.extra_locations.append(p.nginx_location(self.PEER_LOCATION))
            s.restart_nginx()
            for indexed in (False, True):
                if indexed:
                    p.restart(indexed=True)
                for i, pid in enumerate(p.pids()):
                    s.pids["peer%d" % i] = pid
                p.csrf(self.url)  # a fresh pair for this start
                self.fresh_tables()
                r = self.series("peer%s" % ("-indexed" if indexed else ""),
                                "django", p.path, 32,
                                p.wrk_extra(self.members_now,
                                            self.a.known_pct, ADDRS),
                                script=p.wrk_script())
                s.clear_mails()
                self.series_row(
                    "peer", "Django peer step 1, %s" % (
                        "index on UPPER(email), persistent connections" if indexed else "stock"),
                    r, "req/s @32")
                self.peer[indexed] = r["rate"]
                for k in [k for k in s.pids if k.startswith("peer")]:
                    s.pids.pop(k)
        finally:
            for k in [k for k in s.pids if k.startswith("peer")]:
                s.pids.pop(k)
            p.stop()
            if s.extra_locations:
                s.extra_locations = []
                s.restart_nginx()

    # -- the whole run --------------------------------------------------------

    def run(self, workdir):
        self.workdir = workdir
        self.transport, self.database, self.database_custom = {}, {}, {}
        self.argon2 = self.step2 = self.big = None
        self.one_address = self.two_supervisors = self.pgbouncer = None
        self.durable_step1 = self.durable_step2 = None
        self.peer = {}
        self.next_member = 1  # step 2's next member without a token
        self.step1 = {}
        self.step1_requests = 0
        self.members_now = self.a.members

        t = self.load_members(1, self.a.members)
        log("%d members in %.1f s; workers %s, mailer %s" % (
            self.a.members, t, self.workers, self.mailer))
        rss_idle = self.rss()
        self.sample_mail()  # with the mailer running
        self.mailer_pause()
        # Warm-up, not recorded: every worker has run every statement.
        self.served += self.wrk("step1", STEP1_PATH, 32, 2,
                                self.step1_extra(self.a.members))["requests"]
        rss_warm = self.rss()
        snaps = []  # (label, pg_stat_user_tables, step-1 requests)

        def snap(label, reqs=0):
            self.settle_stats()
            snaps.append((label, self.scans(), reqs))

        snap("start")
        self.phase_transport()
        self.phase_database(workdir)
        snap("pgbench (default settings, then pwreset's)")
        self.phase_argon2()
        self.step2 = self.phase_step2()
        rss_step2 = self.rss()
        served_step2 = self.served_per_worker()
        snap("pwreset step 2")
        self.phase_mailer()
        self.phase_one_address()
        self.phase_two_supervisors()
        self.phase_durable()
        self.phase_pgbouncer()
        self.phase_peer()
        snap("one address, two supervisors, fsync on, PgBouncer, peer")
        # The 32-connection series comes last, so the 1M-member series
        # that it is compared with follows it as closely as possible.
        self.phase_step1()
        snap("pwreset step 1, %d members" % self.a.members,
             self.step1_requests)
        if self.a.big_members > self.a.members:
            self.phase_big()
            snap("pwreset step 1, %d members" % self.a.big_members,
                 self.big_requests)
        self.phase_rss_topup()
        rss_after = self.rss()
        served_log = self.served_per_worker()
        workers_now, _ = self.s.children()
        # A worker idle for WORKER_TRIM_IDLE_S (fcgi/worker.c) trims its
        # heap, which gives Argon2's block back.
        time.sleep(RSS_IDLE_WAIT_S)
        rss_end = self.rss()

        # For the target: idle again against the sample after the
        # warm-up, the first after step-1 load (the busy samples hold
        # Argon2's block or not, whatever the worker last did).
        self.rss_final = {
            p: (rss_end.get(p), (rss_end.get(p) or 0) -
                (rss_warm.get(p) or 0)) for p in self.workers}
        for p in self.workers:
            self.row("pwreset", "worker %d VmRSS: idle, warm, after step 2, "
                     "after %d requests, idle again" % (
                         p, served_log.get(p, 0)),
                     rss_end.get(p), "KiB",
                     [rss_idle.get(p), rss_warm.get(p), rss_step2.get(p),
                      rss_after.get(p), rss_end.get(p)],
                     note="%+d KiB over the last %d requests" % (
                         (rss_after.get(p) or 0) - (rss_step2.get(p) or 0),
                         served_log.get(p, 0) - served_step2.get(p, 0)))
        if workers_now != self.workers:
            self.notes.append("workers changed during the RSS phase: %s → %s"
                              % (self.workers, workers_now))

        self.ratios()
        self.print_table()
        self.print_scans(snaps)

    def served_per_worker(self):
        counts = {}
        pat = re.compile(r"pwreset\[(\d+)\] info: POST ")
        with open(self.s.log_path, "rb") as f:
            for line in f:
                m = pat.search(line.decode("utf-8", "replace"))
                if m:
                    p = int(m.group(1))
                    counts[p] = counts.get(p, 0) + 1
        return counts

    def target(self, what, value, unit, goal, higher=True, note=""):
        """A ratio row with its target and whether this run met it."""
        if value is None:
            self.row("ratio", what, None, unit,
                     note="target %s %s: not measured%s" % (
                         "≥" if higher else "≤", fmt_num(goal),
                         "; " + note if note else ""))
            return
        met = value >= goal if higher else value <= goal
        self.row("ratio", what, value, unit, note="target %s %s: %s%s" % (
            "≥" if higher else "≤", fmt_num(goal),
            "met" if met else "MISSED", "; " + note if note else ""))

    def ratios(self):
        db = max(self.database.values()) if self.database else None
        db_c = max(self.database, key=self.database.get) \
            if self.database else None
        r32 = self.step1.get(32) or {}
        s1 = r32.get("rate")

        def ratio(a, b):
            return a / b if a and b else None

        for c in self.a.conns:
            rate = self.step1.get(c, {}).get("rate")
            tr = self.transport.get(c)
            if rate and tr and db:
                self.target("step 1 @%d ÷ min(transport @%d, database best "
                            "@%d)" % (c, c, db_c), rate / min(tr, db), "×",
                            0.80)
                # On one machine the web server, pwreset and PostgreSQL
                # share the CPUs: each request pays for both ceilings'
                # work, so the reachable rate is their harmonic sum.
                self.target("step 1 @%d ÷ shared-CPU ceiling "
                            "1/(1/transport + 1/database)" % c,
                            rate * (1 / tr + 1 / db), "×", 0.70)
        cpu = r32.get("cpu")
        self.target("step 1 @32: CPU per request, pg + pwreset + nginx + "
                    "wrk", cpu["total"] if cpu else None, "ms",
                    STEP1_CPU_BASELINE_MS / 2, higher=False,
                    note="half of the %.3f ms measured before issue 16"
                    % STEP1_CPU_BASELINE_MS)
        self.target("step 1 @32 ÷ Django peer with indexes @32",
                    ratio(s1, self.peer.get(True)), "×", 3.0)
        if self.peer.get(False):
            self.row("ratio", "step 1 @32 ÷ Django peer stock @32",
                     ratio(s1, self.peer.get(False)), "×")
        self.target("step 1 @32: one address ÷ %d addresses" % ADDRS,
                    ratio(self.one_address, s1), "×", 0.80)
        self.target("step 1 @32: fsync on ÷ fsync off",
                    ratio(self.durable_step1, s1), "×", 0.90)
        for label, rate in (self.step2 or {}).items():
            self.target(label.replace("step 2, ", "step 2 (") +
                        ") ÷ raw Argon2", ratio(rate, self.argon2), "×",
                        0.90)
        self.target("step 2 (default, fsync on) ÷ raw Argon2",
                    ratio(self.durable_step2, self.argon2), "×", 0.90)
        self.target("step 1 p99 ÷ p50 @32", ratio(r32.get("p99"),
                                                  r32.get("p50")),
                    "×", 3.0, higher=False)
        if self.two_supervisors:
            self.row("ratio", "step 1 @32: two supervisors ÷ one",
                     ratio(self.two_supervisors, s1), "×",
                     note="same 2 CPUs: shows the shared database works, "
                     "not more throughput")
        if self.pgbouncer:
            self.row("ratio", "step 1 @32: through PgBouncer ÷ direct",
                     ratio(self.pgbouncer, s1), "×")
        if self.big and s1:
            self.target("step 1 @32: %d ÷ %d members"
                        % (self.a.big_members, self.a.members),
                        ratio(self.big, s1), "×", 0.90)
        rss = getattr(self, "rss_final", {})
        if rss:
            worst = max((v[0] or 0) for v in rss.values())
            growth = max(v[1] for v in rss.values())
            self.target("worker VmRSS idle again, largest worker",
                        worst / 1024.0, "MiB", 8.0, higher=False)
            self.target("worker VmRSS idle again − warm, largest growth",
                        growth, "KiB", RSS_GROWTH_NOISE_KIB,
                        higher=False, note="no growth beyond page noise")

    # -- output ------------------------------------------------------------

    def print_table(self):
        def fmt(v, unit=""):
            if v is None:
                return "-"
            if unit in ("KiB",) or abs(v) >= 100:
                return "%.0f" % v
            return "%.1f" % v if abs(v) >= 10 else "%.2f" % v

        head = ("section", "measure", "median", "unit", "p50 ms", "p99 ms",
                "runs", "other CPU",
                "cpu ms/req: pg/app/nginx/wrk/other = total", "note")

        def order(r):
            sec = ("ceiling", "pwreset", "peer", "ratio").index(
                r["section"])
            kind = next((i for i, k in enumerate(
                ("step 1", "step 2", "mailer", "worker"))
                if r["what"].startswith(k)), 0)
            return sec, kind

        lines = []
        for r in sorted(self.rows, key=order):
            lines.append((
                r["section"], r["what"], fmt(r["median"], r["unit"]),
                r["unit"], fmt(r["p50"]), fmt(r["p99"]),
                " ".join(fmt(x, r["unit"]) for x in r["runs"]),
                "" if r["foreign"] is None else "%.0f%%" % r["foreign"],
                fmt_cpu(r["cpu"]), r["note"]))
        widths = [max(len(str(x[i])) for x in lines + [head])
                  for i in range(len(head))]
        right = {2, 4, 5, 7}

        def show(cells):
            out = []
            for i, c in enumerate(cells):
                c = str(c)
                out.append(c.rjust(widths[i]) if i in right
                           else c.ljust(widths[i]))
            return "  ".join(out).rstrip()

        print()
        print("pwreset benchmarks — %d CPUs, %s; median of %d runs of %d s; "
              "loopback" % (NCPU, time.strftime("%Y-%m-%d %H:%M"),
                            self.a.runs, self.a.duration))
        print(show(head))
        print(show(["-" * w for w in widths]))
        last = None
        for cells in lines:
            if last is not None and cells[0] != last:
                print()
            last = cells[0]
            print(show(cells))
        print()
        print("Configuration: pwreset's built-in defaults (argon2 m=19456 "
              "t=2 p=1, workers = %d = CPUs, log level info) except:" % NCPU)
        for w in DEVIATION_WHY:
            print("  - " + w)
        print("cpu ms/req: CPU milliseconds per request (per transaction "
              "in the pgbench rows) from /proc/PID/stat before and after "
              "each run: pg = the postmaster's tree (all backends, and "
              "PgBouncer); app = the responder (pwreset's supervisors, "
              "workers and mailers; hello in the transport rows; the "
              "peer in its rows); nginx = master and workers; wrk = the "
              "load generator (pgbench in the database rows); other = "
              "busy CPU outside the benchmark's processes; total = pg + "
              "app + nginx + wrk (the SMTP sink and this driver are in no "
              "column).")
        print("PostgreSQL as test/stack.py starts it (fsync=off, "
              "synchronous_commit=off, full_page_writes=off) except in "
              "the rows marked durable (its defaults, shown by SHOW in "
              "their note). The mailer process is paused "
              "(SIGSTOP) except in the mailer row; step 2's default request "
              "still mails from the worker before answering. 'other CPU' "
              "is the share of all CPUs used outside the benchmark's "
              "processes during the runs (other programs, and kernel "
              "threads such as writeback): figures taken above a few per "
              "cent are not comparable with quiet ones.")
        for n in self.notes:
            print("Note: " + n)

    def print_scans(self, snaps):
        print()
        print("pg_stat_user_tables: seq_scan / idx_scan per phase "
              "(per step-1 request where it applies)")
        tables = ("member", "reset_token", "rate_limit", "mail_outbox")
        head = ["phase"] + list(tables)
        lines = []
        for (_, prev, _), (label, cur, reqs) in zip(snaps, snaps[1:]):
            cells = [label]
            for t in tables:
                if t not in cur or t not in prev:
                    cells.append("-")
                    continue
                ds = cur[t][0] - prev[t][0]
                di = cur[t][1] - prev[t][1]
                c = "%d / %d" % (ds, di)
                if reqs:
                    c += " (%.3f / %.2f)" % (ds / reqs, di / reqs)
                cells.append(c)
            lines.append(cells)
        last = snaps[-1][1]
        lines.append(["whole run (totals)"] + [
            "%d / %d" % (last[t][0], last[t][1]) if t in last else "-"
            for t in tables])
        widths = [max(len(x[i]) for x in lines + [head])
                  for i in range(len(head))]
        for r in [head] + lines:
            print("  ".join(c.ljust(widths[i])
                            for i, c in enumerate(r)).rstrip())
        print("pwreset's statements are prepared while the tables are "
              "empty (the members are loaded after it starts): 0 seq_scan "
              "per step-1 request shows that none kept a sequential-scan "
              "plan from then (sql/store.c turns enable_seqscan off for "
              "its sessions, so generic plans keep their index paths).  A "
              "handful of seq_scans in a phase cannot come from a "
              "per-request plan, which would count in the thousands.")


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=env("PWRESET_BUILD",
                                           os.path.join(SRC, "build-bench")))
    ap.add_argument("--bindir", required=True,
                    help="where run.sh built hello, argon2rate, sqldump")
    ap.add_argument("--duration", type=int,
                    default=int(env("BENCH_DURATION", "5")))
    ap.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", "3")))
    ap.add_argument("--conns", default=env("BENCH_CONNS", "8 32 128"))
    ap.add_argument("--pg-clients", default=env("BENCH_PG_CLIENTS",
                                                "%d 8 32" % NCPU))
    ap.add_argument("--pg-custom-clients",
                    default=env("BENCH_PG_CUSTOM_CLIENTS", "%d 32" % NCPU))
    ap.add_argument("--members", type=int,
                    default=int(env("BENCH_MEMBERS", "10000")))
    ap.add_argument("--big-members", type=int,
                    default=int(env("BENCH_BIG_MEMBERS", "1000000")))
    ap.add_argument("--known-pct", type=int,
                    default=int(env("BENCH_KNOWN_PCT", "50")))
    ap.add_argument("--step2-conns", type=int,
                    default=int(env("BENCH_STEP2_CONNS", "8")))
    ap.add_argument("--mail-n", type=int,
                    default=int(env("BENCH_MAIL_N", "500")))
    ap.add_argument("--mail-timeout", type=float,
                    default=float(env("BENCH_MAIL_TIMEOUT", "20")))
    ap.add_argument("--rss-requests", type=int,
                    default=int(env("BENCH_RSS_REQUESTS", "100000")))
    ap.add_argument("--topup-max", type=float,
                    default=float(env("BENCH_TOPUP_MAX", "60")))
    a = ap.parse_args()
    a.conns = [int(x) for x in a.conns.split()]
    a.pg_clients = [int(x) for x in a.pg_clients.split()]
    a.pg_custom_clients = [int(x) for x in a.pg_custom_clients.split()]
    if 32 not in a.conns:
        a.conns.append(32)
    a.conns.sort()

    overrides = dict(PRODUCTION)
    overrides.update(DEVIATIONS)
    workdir = tempfile.mkdtemp(prefix="pwreset-bench-")
    os.chmod(workdir, 0o711)
    s = BenchStack(hello_bin=os.path.join(a.bindir, "hello"),
                   workdir=os.path.join(workdir, "stack"), build_dir=a.build,
                   overrides=overrides)
    t0 = time.monotonic()

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        s.start()
        b = Bench(a, s, a.bindir)
        b.run(workdir)
    finally:
        try:
            mailer = s.children()[1] if s.pids.get("pwreset") else None
            if mailer:
                os.kill(mailer, signal.SIGCONT)  # let it stop cleanly
        except OSError:
            pass
        s.stop()
        if not s.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    log("done in %.0f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
