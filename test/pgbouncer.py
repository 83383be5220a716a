"""pgbouncer.py — a throwaway PgBouncer in transaction pooling mode, in
front of a stack's PostgreSQL, for the tests and the bench.

    b = PgBouncer(workdir, pg_host, pg_port, dbname="pwreset", pool_size=2)
    b.start()
    b.conninfo()        # libpq conninfo of the pooled database
    b.show("POOLS")     # rows of the admin console's SHOW POOLS
    b.restart()         # same port: a client's conninfo stays valid
    b.stop()

PgBouncer refuses to run as root: it runs as `postgres` (runuser), with its
configuration, auth_file, log and PID file in WORKDIR/pgbouncer (made and
owned by postgres; WORKDIR must be reachable by postgres, like the stack's
PostgreSQL directory).  It listens on 127.0.0.1, on a free port chosen at
the first start, and reaches PostgreSQL at pg_host (a unix socket
directory or an address) and pg_port.  auth_type = trust: the auth_file
only names the user, postgres.  Stopped by PID, never by name.
"""

import os
import shutil
import signal
import subprocess
import time

from stack import (StackError, free_port, pid_alive, pid_cmdline, port_open,
                   runas, signal_pid, stop_process, tail, wait_gone)

PGBOUNCER_BIN = "/usr/sbin/pgbouncer"
USER = "postgres"


class PgBouncer:
    def __init__(self, workdir, pg_host, pg_port, dbname="pwreset",
                 pool_size=2):
        self.dir = os.path.join(os.path.abspath(workdir), "pgbouncer")
        self.pg_host = pg_host
        self.pg_port = pg_port
        self.dbname = dbname
        self.pool_size = pool_size
        self.port = None  # chosen at the first start, kept by restart()
        self.ini = os.path.join(self.dir, "pgbouncer.ini")
        self.auth_file = os.path.join(self.dir, "userlist.txt")
        self.log_path = os.path.join(self.dir, "pgbouncer.log")
        self.pid_file = os.path.join(self.dir, "pgbouncer.pid")
        self.proc = None  # runuser, whose child is pgbouncer
        self.pid = None   # pgbouncer's own

    # ---- configuration -----------------------------------------------------

    def _write(self, path, text):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)

    def write_config(self):
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, USER, USER)
        self._write(self.auth_file, '"%s" ""\n' % USER)
        # ignore_startup_parameters is left empty on purpose: a client
        # that sends `options` (or any parameter PgBouncer does not
        # track) is refused, as a stock PgBouncer 1.18 does.
        # server_login_retry: a PostgreSQL that refused a login is tried
        # again after a second, not the default 15.
        self._write(self.ini, "\n".join([
            "[databases]",
            "%s = host=%s port=%d dbname=%s user=%s" % (
                self.dbname, self.pg_host, self.pg_port, self.dbname, USER),
            "",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            "listen_port = %d" % self.port,
            "unix_socket_dir = %s" % self.dir,
            "auth_type = trust",
            "auth_file = %s" % self.auth_file,
            "pool_mode = transaction",
            "default_pool_size = %d" % self.pool_size,
            "min_pool_size = 0",
            "reserve_pool_size = 0",
            "max_client_conn = 500",
            "admin_users = %s" % USER,
            "stats_users = %s" % USER,
            "logfile = %s" % self.log_path,
            "pidfile = %s" % self.pid_file,
            "server_login_retry = 1",
            "ignore_startup_parameters =",
            "log_connections = 1",
            "log_disconnections = 1",
            "",
        ]))

    # ---- life cycle --------------------------------------------------------

    def start(self, timeout=15):
        if not os.access(PGBOUNCER_BIN, os.X_OK):
            raise StackError("%s is not installed (contrib/deps.sh)"
                             % PGBOUNCER_BIN)
        if self.port is None:
            self.port = free_port()
        self.write_config()
        try:
            os.unlink(self.pid_file)
        except FileNotFoundError:
            pass
        self.proc = subprocess.Popen(
            runas(USER) + [PGBOUNCER_BIN, self.ini],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError("pgbouncer exited (%d):\n%s" % (
                    self.proc.returncode, tail(self.log_path)))
            if self.pid is None:
                self.pid = self._read_pid()
            if self.pid is not None and port_open(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise StackError("pgbouncer not listening on %d:\n%s"
                         % (self.port, tail(self.log_path)))

    def _read_pid(self):
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if "pgbouncer" in pid_cmdline(pid) else None

    def stop(self, timeout=10):
        """SIGTERM (PgBouncer 1.18: shut down at once, clients cut), by
        PID; then whatever is left in its process group."""
        pid, self.pid = self.pid, None
        proc, self.proc = self.proc, None
        if pid is not None and "pgbouncer" in pid_cmdline(pid):
            signal_pid(pid, signal.SIGTERM)
            if not wait_gone(pid, timeout):
                signal_pid(pid, signal.SIGKILL)
                wait_gone(pid, 5)
        if proc is not None:
            stop_process(proc.pid, None, proc=proc, timeout=timeout)

    def restart(self):
        """Stop, then start again on the same port."""
        self.stop()
        return self.start()

    def alive(self):
        return self.pid is not None and pid_alive(self.pid)

    # ---- use ---------------------------------------------------------------

    def conninfo(self, dbname=None):
        return "host=127.0.0.1 port=%d dbname=%s user=%s" % (
            self.port, dbname or self.dbname, USER)

    def show(self, what):
        """Rows (dicts) of the admin console's SHOW WHAT."""
        import psycopg2  # only where a database is wanted
        conn = psycopg2.connect(host="127.0.0.1", port=self.port,
                                dbname="pgbouncer", user=USER,
                                connect_timeout=10)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW " + what)
                names = [d[0] for d in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            conn.close()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""
