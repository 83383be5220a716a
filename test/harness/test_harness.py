"""Self-test of the test harness (test/stack.py, test/smtp_sink.py) without
pwreset: PostgreSQL comes up and goes away, the SMTP sink keeps, rejects and
delays what it is told to, nginx answers 502 while no FastCGI server
listens, and everything started is gone after stop()."""

import json
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage

import pytest

TEST_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TEST_DIR)

from stack import Stack, pid_alive, port_open  # noqa: E402

STACK_PY = os.path.join(TEST_DIR, "stack.py")


@pytest.fixture(scope="module")
def bare():
    s = Stack(parts=("pg", "smtp", "nginx"))
    s.start()
    yield s
    s.stop()


def _send(stack, to, subject="hello", body="hi there"):
    m = EmailMessage()
    m["From"] = "pwreset <noreply@example.test>"
    m["To"] = to
    m["Subject"] = subject
    m.set_content(body)
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=20) as c:
        return c.send_message(m)


def test_postgres(bare):
    assert bare.sql("SELECT 1 + 1") == [(2,)]
    assert bare.sql("SHOW fsync") == [("off",)]
    assert bare.sql("SELECT current_database(), current_user") == \
        [("pwreset", "postgres")]
    bare.sql("CREATE TABLE IF NOT EXISTS t (id serial, v text)")
    bare.sql("INSERT INTO t (v) VALUES (%s)", ("x",))
    bare.reset_db()
    assert bare.sql("SELECT count(*) FROM t") == [(0,)]
    bare.sql("INSERT INTO t (v) VALUES ('y')")
    assert bare.sql("SELECT id FROM t") == [(1,)]  # RESTART IDENTITY
    bare.sql("DROP TABLE t")


def test_config_file(bare):
    text = open(bare.conf_path).read()
    assert "[database]" in text and "dbname=pwreset" in text
    assert "port = %d" % bare.smtp_port in text
    assert "hosturl = http://127.0.0.1:%d" % bare.nginx_port in text
    bare.overrides = {("argon2", "m_cost"): None, ("privacy", "x"): True}
    bare.write_config()
    text = open(bare.conf_path).read()
    assert "m_cost" not in text and "[privacy]\nx = true" in text
    bare.overrides = {}
    bare.write_config()


def test_sink_keeps_mail(bare):
    bare.clear_mails()
    _send(bare, "alice@example.test", subject="héllo")
    (msg,) = bare.mails(1, 10)
    assert msg["Subject"] == "héllo"
    assert msg.envelope["rcpt_tos"] == ["alice@example.test"]
    assert bare.mails(1, 0, to="bob@example.test") == []
    assert not [n for n in os.listdir(bare.mail_dir) if n.startswith(".")]
    bare.clear_mails()
    assert bare.mails(1, 0.2) == []


def test_sink_reject_and_delay(bare):
    bare.restart_sink("--reject", "^bad@", "--delay", "1.5")
    try:
        bare.clear_mails()
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            _send(bare, "bad@example.test")
        assert e.value.recipients["bad@example.test"][0] == 550
        t0 = time.monotonic()
        _send(bare, "good@example.test")
        assert time.monotonic() - t0 >= 1.4
        assert len(bare.mails(1, 5)) == 1
    finally:
        bare.restart_sink()


def test_nginx_without_fastcgi_is_502(bare):
    assert not os.path.exists(bare.fcgi_sock)
    r = bare.post("/service/members/resetpassword", {"email": "a@b.test"})
    assert r.status == 502
    assert bare.request("GET", "/elsewhere").status == 404


def test_stop_leaves_nothing():
    s = Stack(parts=("pg", "smtp", "nginx"))
    s.start()
    pids = dict(s.pids)
    ports = (s.pg_port, s.smtp_port, s.nginx_port)
    workdir = s.workdir
    assert oct(os.stat(workdir).st_mode & 0o777) == "0o711"
    s.stop()
    time.sleep(0.2)
    assert not os.path.exists(workdir)
    for name, pid in pids.items():
        assert not pid_alive(pid), name
    for p in ports:
        assert not port_open(p)


def test_pg_up_fresh_down_cli():
    d = tempfile.mkdtemp(prefix="pwreset-pgcli-")
    try:
        r = subprocess.run([sys.executable, STACK_PY, "pg-up", "--dir", d],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        conninfo = r.stdout.strip().splitlines()[-1]
        assert "dbname=pwreset_test" in conninfo
        st = json.load(open(os.path.join(d, "stack.json")))
        pid = st["pids"]["postgres"]
        assert pid_alive(pid)
        r = subprocess.run(["psql", conninfo, "-Atc",
                            "CREATE TABLE x (i int); SELECT 42"],
                           capture_output=True, text=True, timeout=30)
        assert r.stdout.strip().splitlines()[-1] == "42", r.stderr
        r = subprocess.run([sys.executable, STACK_PY, "pg-fresh", "--dir", d],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["psql", conninfo, "-Atc",
                            "SELECT count(*) FROM pg_tables WHERE"
                            " tablename = 'x'"],
                           capture_output=True, text=True, timeout=30)
        assert r.stdout.strip() == "0", r.stderr
        r = subprocess.run([sys.executable, STACK_PY, "down", "--dir", d],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        time.sleep(0.2)
        assert not pid_alive(pid)
        assert not os.path.exists(os.path.join(d, "stack.json"))
    finally:
        subprocess.run([sys.executable, STACK_PY, "down", "--dir", d],
                       capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", d])
