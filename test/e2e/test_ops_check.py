"""Running it in production (SPEC §10): configurations that used to pass
the check and then crash-loop are refused by `pwreset -n` with a clear
message, and a pwreset pointed at a database that was never migrated
answers 0503, says once (per process) to run `pwreset-ctl migrate`, and
serves again once that ran, without a restart.

Every process a test starts is stopped by PID in a finally (the Reaper)."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from procutil import Nginx, Pwreset, Reaper, post, wait_for, write_config
from pwr import MEMBERS

OLD_DB = "pwreset_unmigrated"


@pytest.fixture
def scratch():
    """A private 0711 directory (nginx runs as nobody and must traverse
    it) and a Reaper for what the test starts."""
    d = tempfile.mkdtemp(prefix="pwreset-ops-")
    os.chmod(d, 0o711)
    reaper = Reaper()
    try:
        yield d, reaper
    finally:
        errors = reaper.stop_all()
        reports = reaper.sanitizer_reports()
        shutil.rmtree(d, ignore_errors=True)
        assert not errors, errors
        assert not reports, "\n".join(reports[:20])


def _check(stack, conf):
    return subprocess.run([stack.pwreset_bin, "-n", "-c", conf],
                          capture_output=True, text=True, timeout=30,
                          env=stack.env)


def _conf(stack, d, name, overrides, extra=""):
    items = dict(stack.config_items())
    items.update(overrides)
    path = os.path.join(d, name + ".conf")
    write_config(path, items)
    if extra:
        with open(path, "a") as f:
            f.write(extra)
    return path


def test_check_refuses_what_would_crash_loop(stack, scratch):
    d, _ = scratch
    empty = os.path.join(d, "smtp.pw")
    open(empty, "w").close()
    os.chmod(empty, 0o600)
    good = _conf(stack, d, "good", {})
    r = _check(stack, good)
    assert r.returncode == 0 and r.stdout.strip() == good + ": ok", r

    cases = [
        ("from", {("mail", "from"): "Reset Service"}, "",
         "[mail] from: must hold an email address"),
        ("password", {("smtp", "password_file"): empty}, "",
         "password_file %s: must hold one non-empty line" % empty),
        ("user", {("service", "user"): "no-such-user-pwreset"}, "",
         "[service] user no-such-user-pwreset: no such user"),
        # A second [database] section repeats a key the stack always sets.
        ("duplicate", {}, "\n[database]\nconninfo = dbname=x\n",
         "[database] conninfo: set twice (first on line"),
        ("ttl-low", {("service", "token_ttl"): "0"}, "",
         "[service] token_ttl: must be an integer from 1 to 604800"),
        ("ttl-high", {("service", "token_ttl"): "604801"}, "",
         "[service] token_ttl: must be an integer from 1 to 604800"),
    ]
    for name, overrides, extra, want in cases:
        conf = _conf(stack, d, name, overrides, extra)
        r = _check(stack, conf)
        assert r.returncode == 1, (name, r)
        assert r.stdout == "", (name, r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(conf + ":"), (name, r)
        assert want in lines[0], (name, r.stderr)


def _migrate_lines(text):
    return [line for line in text.splitlines()
            if "run pwreset-ctl migrate" in line]


def test_unmigrated_database_answers_0503_and_says_once(stack, scratch):
    d, reaper = scratch
    stack.admin_sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % OLD_DB)
    stack.admin_sql("CREATE DATABASE %s" % OLD_DB)
    try:
        sock = os.path.join(d, "old.sock")
        p = reaper.add(Pwreset(stack, d, "old", {
            ("database", "conninfo"): stack.conninfo(OLD_DB),
            ("service", "listen"): "unix:" + sock,
            ("service", "listen_mode"): "0666",
            ("service", "workers"): "1"})).start()
        ng = reaper.add(Nginx(d, [(None, ["unix:" + sock])])).start()
        port = ng.ports[0]

        # The supervisor's first line names the version.
        first = p.log_text().splitlines()[0]
        version = subprocess.run([stack.pwreset_bin, "-V"],
                                 capture_output=True, text=True).stdout.split()[1]
        assert "pwreset %s starting" % version in first, first

        for _ in range(6):
            st, _, body = post(port, MEMBERS, "member-username=alice")
            assert st == 503 and b'"0503"' in body, (st, body)
        # The mailer polls every second: give it a few rounds to (not)
        # repeat itself.
        time.sleep(3)
        lines = _migrate_lines(p.log_text())
        worker = [x for x in lines if "mailer" not in x]
        mailer = [x for x in lines if "mailer" in x]
        assert len(worker) == 1, lines
        assert len(mailer) == 1, lines
        assert "schema is at version 0" in worker[0], worker

        # pwreset-ctl check fails on it, naming the fix.
        r = subprocess.run([stack.ctl_bin, "-c", p.conf, "check"],
                           capture_output=True, text=True, timeout=60,
                           env=stack.env)
        assert r.returncode == 1, r
        assert "migration(s) missing: run pwreset-ctl migrate" in r.stdout, r
        assert ("version: pwreset-ctl %s" % version) in r.stdout, r

        # Migrated: the same worker serves again, without a restart.
        r = subprocess.run([stack.ctl_bin, "-c", p.conf, "migrate"],
                           capture_output=True, text=True, timeout=60,
                           env=stack.env)
        assert r.returncode == 0, r

        def served():
            return post(port, MEMBERS, "member-username=alice")[0] != 503
        wait_for(served, 10, 0.2, "a worker to notice the migration")
        assert len(_migrate_lines(p.log_text())) == 2
        p.stop()
    finally:
        stack.admin_sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % OLD_DB)
