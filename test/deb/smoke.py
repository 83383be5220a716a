#!/usr/bin/python3
"""smoke.py — the installed package, used end to end (test/deb/smoke.sh).

Runs against what `apt-get install ./pwreset_*.deb` put on this machine:
/usr/sbin/pwreset, /usr/sbin/pwreset-ctl, /usr/share/pwreset and the
packaged /etc/pwreset/pwreset.conf, edited in place (as an admin would) to
name a throwaway PostgreSQL and SMTP sink from test/stack.py.

systemd is usually not PID 1 here, so pwreset is started the way
pwreset.socket + pwreset.service would: spawn-fcgi makes
/run/pwreset/pwreset.sock (pwreset:www-data 0660, in the directory
tmpfiles.d made) and execs pwreset as user pwreset with the socket on
fd 0.  nginx runs its workers as www-data with the shipped server block
(/usr/share/pwreset/nginx/pwreset.conf), its TLS lines replaced by a
loopback port.  Then, on both routes: step 1, the mail with the token is
delivered, step 2 changes the password, the change-password mail follows.
The group's reset mail takes its subject from a site template in
/etc/pwreset/templates ([service] local_template_dir).

Prints "ok ..." / "FAIL ..." lines; exit 0 when all passed.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import stack  # noqa: E402  (test/stack.py)

CONF = "/etc/pwreset/pwreset.conf"
SNIPPET = "/usr/share/pwreset/nginx/pwreset.conf"
SOCK = "/run/pwreset/pwreset.sock"
PWRESET = "/usr/sbin/pwreset"
CTL = "/usr/sbin/pwreset-ctl"
PASSWORD = "Quartz-Lantern-47-Meadow"
DOMAIN = "example.test"
LOCAL_SET = "debsmoke"
LOCAL_SUBJECT = "/etc/pwreset/templates/%s/reset-password-confirm.subject" % (
    LOCAL_SET)

failures = 0


def report(ok, what, detail=""):
    global failures
    if ok:
        print("ok   " + what)
    else:
        failures += 1
        print("FAIL " + what + (": " + detail if detail else ""))
    sys.stdout.flush()
    return ok


def conf_set(text, section, key, value):
    """text with `key = value` in [section] (the packaged file lists
    every key, so the line is replaced, never added)."""
    out, cur, done = [], None, False
    for line in text.splitlines(keepends=True):
        m = re.match(r"\s*\[([a-z0-9_]+)\]", line)
        if m:
            cur = m.group(1)
        elif cur == section and re.match(r"%s\s*=" % re.escape(key), line):
            line, done = "%s = %s\n" % (key, value), True
        out.append(line)
    if not done:
        raise SystemExit("%s: no [%s] %s to set" % (CONF, section, key))
    return "".join(out)


def ctl(*args, stdin=None):
    r = subprocess.run([CTL, "-c", CONF] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit("pwreset-ctl %s: %d\n%s%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def nginx_conf(d, port):
    """The shipped server block on a loopback port, without TLS."""
    with open(SNIPPET) as f:
        server = f.read()
    server = re.sub(r"^\s*listen .*;\n", "", server, flags=re.M)
    server = re.sub(r"^\s*ssl_certificate.*;\n", "", server, flags=re.M)
    server = server.replace("server_name reset.example.org;",
                            "server_name _;\n\tlisten 127.0.0.1:%d;" % port)
    server = server.replace("include fastcgi_params;",
                            "include /etc/nginx/fastcgi_params;")
    if "listen 127.0.0.1" not in server or SOCK not in server:
        raise SystemExit("%s: not the server block this test knows" % SNIPPET)
    pre = stack.nginx_preamble("test/deb/smoke.py", d, 1, 64)
    # nginx's workers as Debian runs them: www-data, the socket's group.
    pre = pre.replace("user nobody nogroup;", "user www-data;")
    return pre + server + "}\n"


def token_of(msg):
    body = msg.get_body(("plain",)).get_content()
    m = re.search(r"token=([A-Za-z0-9_-]{32})", body)
    return m.group(1) if m else None


def reset(s, route, username, email, subject):
    """Both steps on route for username, the reset mail titled subject."""
    before = len(s.mails(0, timeout=0, to=email))
    r = s.post(route, {"member-username": username})
    if not report(r.status == 200 and b"request-successful" in r.body,
                  "%s step 1" % route, "%d %r" % (r.status, r.body)):
        return
    mails = s.mails(before + 1, timeout=30, to=email)
    if not report(len(mails) > before, "%s: reset mail delivered" % route):
        return
    report(mails[-1]["Subject"] == subject, "%s: subject %r" % (
        route, subject), str(mails[-1]["Subject"]))
    token = token_of(mails[-1])
    if not report(token is not None, "%s: token in the mail" % route):
        return
    r = s.post(route, {"member-username": username, "token": token,
                       "member-password": PASSWORD})
    report(r.status == 200 and b"password-changed" in r.body,
           "%s step 2" % route, "%d %r" % (r.status, r.body))
    report(len(s.mails(before + 2, timeout=30, to=email)) >= before + 2,
           "%s: change-password mail delivered" % route)
    r = subprocess.run([CTL, "-c", CONF, "member", "check-password",
                        username], input=PASSWORD, text=True,
                       capture_output=True)
    report(r.returncode == 0, "%s: new password stored" % route)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    os.chmod(args.dir, 0o711)

    s = stack.Stack(workdir=args.dir, parts=("pg", "smtp"))
    s.start()
    s.nginx_port = stack.free_port()
    spawn = nginx = None
    try:
        with open(CONF) as f:
            text = f.read()
        for section, key, value in [
                ("database", "conninfo", s.conninfo()),
                ("service", "hosturl", "http://127.0.0.1:%d" % s.nginx_port),
                ("service", "emaildomain", DOMAIN),
                ("service", "workers", "2"),
                ("smtp", "host", "127.0.0.1"),
                ("smtp", "port", str(s.smtp_port)),
                ("smtp", "starttls", "no"),
                ("mail", "from", "pwreset <noreply@%s>" % DOMAIN)]:
            text = conf_set(text, section, key, value)
        with open(CONF, "w") as f:  # same inode: owner and mode stay
            f.write(text)
        st = os.stat(CONF)
        report(oct(st.st_mode & 0o777) == "0o640",
               "edited config still 0640")

        ctl("migrate")
        for user in ("alice", "bob"):
            ctl("member", "add", user, "--email", "%s@%s" % (user, DOMAIN),
                "--firstname", user.title(), "--lastname", "Smoke")
        # A site template in /etc/pwreset/templates ([service]
        # local_template_dir): one file of a set the package lacks.
        os.makedirs(os.path.dirname(LOCAL_SUBJECT), exist_ok=True)
        with open(LOCAL_SUBJECT, "w") as f:
            f.write("Debsmoke reset for {emaildomain}\n")
        ctl("group", "add", "acme", "--description", "ACME", "--template",
            LOCAL_SET)
        ctl("group", "add-member", "acme", "bob")

        r = subprocess.run(["runuser", "-u", "pwreset", "--", PWRESET, "-n",
                            "-c", CONF], capture_output=True, text=True)
        report(r.returncode == 0, "pwreset -n as user pwreset",
               r.stderr.strip())

        log = open(os.path.join(args.dir, "installed-pwreset.log"), "ab")
        # What pwreset.socket + pwreset.service do, without systemd.
        spawn = subprocess.Popen(
            ["spawn-fcgi", "-n", "-s", SOCK, "-M", "0660",
             "-U", "pwreset", "-G", "www-data",
             "-u", "pwreset", "-g", "pwreset",
             "--", PWRESET, "-c", CONF],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        log.close()

        nd = os.path.join(args.dir, "deb-nginx")
        os.makedirs(os.path.join(nd, "tmp"), exist_ok=True)
        os.chmod(nd, 0o711)
        shutil.chown(os.path.join(nd, "tmp"), "www-data")
        with open(os.path.join(nd, "nginx.conf"), "w") as f:
            f.write(nginx_conf(nd, s.nginx_port))
        nlog = open(os.path.join(nd, "stderr.log"), "ab")
        nginx = subprocess.Popen(
            ["nginx", "-p", nd + "/", "-c", os.path.join(nd, "nginx.conf"),
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=nlog, stderr=nlog,
            start_new_session=True)
        nlog.close()
        deadline = time.monotonic() + 20
        while not stack.port_open(s.nginx_port):
            if time.monotonic() > deadline or nginx.poll() is not None:
                raise SystemExit("nginx did not start:\n" + stack.tail(
                    os.path.join(nd, "error.log")))
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while True:
            r = s.post("/service/members/resetpassword",
                       {"member-username": "nobody-here"})
            if r.status not in (502, 503, 504) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        report(r.status == 200, "pwreset answers through nginx (www-data)",
               "%d %r\n%s" % (r.status, r.body, stack.tail(
                   os.path.join(nd, "error.log"))))

        reset(s, "/ps/service/members/resetpassword", "alice",
              "alice@" + DOMAIN, "Update your password")
        reset(s, "/ps/service/groups/acme/members/resetpassword", "bob",
              "bob@" + DOMAIN, "Debsmoke reset for " + DOMAIN)
        r = s.request("GET", "/ps/service/members/resetpassword")
        report(r.status == 403, "the snippet passes POST only",
               str(r.status))
    finally:
        nd = os.path.join(args.dir, "deb-nginx")
        if nginx is not None:
            stack.stop_process(nginx.pid, "nginx", first=signal.SIGQUIT,
                               proc=nginx, timeout=10)
        if spawn is not None:
            stack.stop_process(spawn.pid, "pwreset", proc=spawn, timeout=20)
        s.stop()
        # Not the package's: purge would rightly leave it behind.
        shutil.rmtree(os.path.dirname(LOCAL_SUBJECT), ignore_errors=True)
        print(stack.tail(os.path.join(args.dir, "installed-pwreset.log")))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
