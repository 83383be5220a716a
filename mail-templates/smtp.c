/*
 * smtp.c — one delivery attempt with libesmtp; the only file that
 * includes libesmtp.h.
 *
 * Bounds: libesmtp times every protocol wait (greeting, envelope, DATA,
 * transfer, final reply) with the limits set here, but its connect() is
 * blocking and has no limit of its own, so a one-shot SIGALRM (handler
 * only sets a flag, no SA_RESTART) interrupts a connection attempt that
 * takes longer than timeout_s.  The previous SIGALRM and SIGPIPE
 * dispositions are restored before returning; if the caller already has
 * an interval timer running we leave it alone and rely on libesmtp.
 *
 * libesmtp adds Date, From and Message-Id only when the message lacks
 * them; mail_render() always writes them, so nothing is duplicated.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

/* openssl/ssl.h first: libesmtp.h declares smtp_starttls_set_ctx() only
 * when it has seen it. */
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <auth-client.h>
#include <libesmtp.h>

#include "common/ascii.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "mime.h"
#include "smtp.h"

#define SMTP_TIMEOUT_MIN 1
#define SMTP_TIMEOUT_MAX 3600
#define SMTP_HOST_MAX	 253
#define SMTP_MESSAGE_MAX (16 * 1024 * 1024)

/* State shared with libesmtp's callbacks for one smtp_deliver() call. */
struct deliver_ctx {
	const char *msg;
	size_t len;
	bool given; /* the message callback handed out the text */
	/* It then said "end of message": libesmtp sends the final "." next,
	 * so from here on the relay may hold the message whatever follows. */
	bool handed_over;
	enum smtp_starttls starttls;
	char *user; /* copies, wiped at the end */
	char *pass;
	bool tls;	/* STARTTLS succeeded: the session is encrypted */
	char note[256]; /* the first local cause of a failure, if any */
	int lowest_fd;	/* lowest free descriptor before the session */
	int port;	/* the relay's, to recognise libesmtp's socket */
	int fd;		/* libesmtp's socket once connected, else -1 */
	bool whole;	/* the deadline bounds the whole session */
	struct deadline *dl;
};

/* Descriptors scanned for libesmtp's socket above lowest_fd (getaddrinfo
 * may briefly hold a few). */
#define SMTP_FD_SCAN 16

/*
 * libesmtp writes the message through a 2 KiB buffer, so any message
 * longer than that leaves in at least two writes.  With Nagle on, the
 * last (short) segment waits for the ACK of the previous one, which the
 * relay delays (40 ms on Linux, up to 200 ms elsewhere) because it
 * answers nothing before the end of DATA: every mail paid that stall.
 * libesmtp does not expose its socket, so find it: the TCP socket
 * connected to the relay's port at or just above the lowest descriptor
 * that was free before smtp_start_session().
 */
static int
session_socket(const struct deliver_ctx *c)
{
	for (int fd = c->lowest_fd; fd >= 0 && fd < c->lowest_fd + SMTP_FD_SCAN;
	     fd++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int proto = 0;
		socklen_t plen = sizeof(proto);
		int port;

		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) !=
			0 ||
		    proto != IPPROTO_TCP ||
		    getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
			continue;
		if (peer.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
		else if (peer.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
		else
			continue;
		if (port == c->port)
			return fd;
	}
	return -1;
}

/*
 * The deadline.  libesmtp bounds each protocol step but not connect() nor
 * the session as a whole, so an alarm does: it interrupts connect()
 * (EINTR), and once connected, when the whole session is bounded, it
 * shuts the socket down, which ends whatever libesmtp waits for.  The
 * handler can only reach the socket through this variable.
 */
static volatile sig_atomic_t smtp_alarm_fired;
static volatile sig_atomic_t smtp_session_fd = -1;

static void
on_alarm(int sig)
{
	int fd = smtp_session_fd;

	(void)sig;
	smtp_alarm_fired = 1;
	if (fd >= 0)
		(void)shutdown(fd, SHUT_RDWR); /* async-signal-safe */
}

struct deadline {
	struct sigaction old_alrm, old_pipe;
	bool armed;
};

static void
deadline_start(struct deadline *d, int seconds)
{
	struct sigaction sa;
	struct itimerval cur, it;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* libesmtp writes to sockets with write(): a server that hangs up
	 * must not kill the process. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &d->old_pipe);

	d->armed = false;
	smtp_alarm_fired = 0;
	if (getitimer(ITIMER_REAL, &cur) != 0 || cur.it_value.tv_sec != 0 ||
	    cur.it_value.tv_usec != 0)
		return;
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0; /* no SA_RESTART: connect() must see EINTR */
	sigaction(SIGALRM, &sa, &d->old_alrm);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = seconds;
	setitimer(ITIMER_REAL, &it, NULL);
	d->armed = true;
}

/* Stop the alarm (SIGPIPE stays ignored until deadline_stop()). */
static void
deadline_disarm(struct deadline *d)
{
	struct itimerval zero;

	smtp_session_fd = -1;
	if (d->armed) {
		memset(&zero, 0, sizeof(zero));
		setitimer(ITIMER_REAL, &zero, NULL);
		sigaction(SIGALRM, &d->old_alrm, NULL);
		d->armed = false;
	}
}

static void
deadline_stop(struct deadline *d)
{
	deadline_disarm(d);
	sigaction(SIGPIPE, &d->old_pipe, NULL);
}

static void note(struct deliver_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note(struct deliver_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->note[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->note, sizeof(c->note), fmt, ap);
	va_end(ap);
}

/* The message in one piece; len == NULL asks to rewind, *len = 0 ends. */
static const char *
message_cb(void **buf, int *len, void *arg)
{
	struct deliver_ctx *c = arg;

	(void)buf;
	if (len == NULL) {
		c->given = false;
		return NULL;
	}
	if (c->given) {
		c->handed_over = true;
		*len = 0;
		return c->msg;
	}
	c->given = true;
	*len = (int)c->len;
	return c->msg;
}

static void
event_cb(smtp_session_t session, int event, void *arg, ...)
{
	struct deliver_ctx *c = arg;
	bool lenient = c->starttls == SMTP_STARTTLS_TRY;
	va_list ap;
	int *ok;

	(void)session;
	va_start(ap, arg);
	/*
	 * With starttls = try, TLS is opportunistic (RFC 7435): an
	 * unverifiable certificate still beats plain text, which is what an
	 * attacker able to forge one could get by stripping STARTTLS anyway.
	 * With starttls = required the certificate must verify.
	 */
	switch (event) {
	case SMTP_EV_CONNECT: {
		int one = 1;

		if ((c->fd = session_socket(c)) >= 0)
			(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
					 sizeof(one));
		if (!c->whole)
			deadline_disarm(c->dl); /* libesmtp's steps take over */
		else if (c->fd >= 0)
			smtp_session_fd = c->fd;
		break;
	}
	case SMTP_EV_DISCONNECT:
		smtp_session_fd = -1; /* libesmtp closes it next */
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE: {
		long vfy = va_arg(ap, long);

		ok = va_arg(ap, int *);
		*ok = lenient;
		if (!lenient)
			note(c, "TLS: server certificate not trusted: %s",
			     X509_verify_cert_error_string(vfy));
		break;
	}
	case SMTP_EV_NO_PEER_CERTIFICATE:
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
		ok = va_arg(ap, int *);
		*ok = lenient;
		if (!lenient)
			note(c, "TLS: server certificate %s",
			     event == SMTP_EV_NO_PEER_CERTIFICATE
				 ? "missing"
				 : "does not match the host name");
		break;
	case SMTP_EV_WEAK_CIPHER:
		(void)va_arg(ap, int);
		ok = va_arg(ap, int *);
		*ok = 0;
		note(c, "TLS: cipher too weak");
		break;
	case SMTP_EV_STARTTLS_OK:
		c->tls = true;
		break;
	case SMTP_EV_EXTNA_STARTTLS:
		note(c, "server does not offer STARTTLS (starttls = required)");
		break;
	case SMTP_EV_UNUSABLE_CA_LIST:
	case SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE:
		note(c, "TLS: unusable certificate files");
		break;
	default:
		break;
	}
	va_end(ap);
}

static int
auth_interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct deliver_ctx *c = arg;
	int i;

	/* The second lock: with AUTH, STARTTLS is required (smtp_deliver),
	 * but whatever libesmtp does, no credential leaves in clear. */
	if (!c->tls) {
		note(c, "SMTP AUTH refused: the session is not encrypted");
		return 0;
	}
	for (i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_PASS)
			result[i] = c->pass;
		else if (req[i].flags & AUTH_USER)
			result[i] = c->user;
		else
			return 0; /* a realm or anything else: not supported */
	}
	return 1;
}

/* "CODE text" of a reply, on one printable line. */
static void
reason_status(char *reason, size_t len, const char *what,
	      const smtp_status_t *st)
{
	char *p;

	snprintf(reason, len, "%s: %d %s", what, st->code,
		 st->text != NULL ? st->text : "");
	for (p = reason; *p != '\0'; p++)
		if (ascii_is_control(*p))
			*p = ' ';
	while (p > reason && p[-1] == ' ')
		*--p = '\0';
}

static void reason_set(char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reason_set(char *reason, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, len, fmt, ap);
	va_end(ap);
}

static char *
dup_secret(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

static bool
host_valid(const char *h)
{
	size_t n = h != NULL ? strlen(h) : 0;
	size_t i;

	if (n == 0 || n > SMTP_HOST_MAX)
		return false;
	/* libesmtp splits "host:port" at the first ':', so an IPv6
	 * literal cannot be given; use a host name for it. */
	for (i = 0; i < n; i++)
		if (ascii_is_control(h[i]) || h[i] == ' ' || h[i] == ':')
			return false;
	return true;
}

/*
 * The TLS client context, made once by the caller and shared by every
 * delivery (libesmtp takes its own reference for each session).  Trusted
 * certificates come from OpenSSL's hashed directory (/etc/ssl/certs on
 * Debian, or SSL_CERT_DIR), looked up when a certificate is verified.
 * Loading the whole bundle file instead took 50 ms and 1.5 MiB, which,
 * paid per message, was most of the mailer's CPU.
 */
struct smtp_tls {
	SSL_CTX *ctx;
};

struct smtp_tls *
smtp_tls_new(void)
{
	struct smtp_tls *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	/*
	 * TLS 1.2 at most: libesmtp 1.1's protocol loop serves a readable
	 * socket before it flushes the command it has buffered.  TLS 1.3
	 * servers send session tickets just after the handshake, so the
	 * socket turns readable while our EHLO still sits in the buffer,
	 * and the session stalls until the timeout (about one STARTTLS in
	 * ten against aiosmtpd).  TLS 1.2 sends its tickets inside the
	 * handshake.
	 */
	if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(t->ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_default_verify_dir(t->ctx))
		goto fail;
	/* libesmtp checks the verification result (and the host name)
	 * after the handshake and asks event_cb. */
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	return t;
fail:
	smtp_tls_free(t);
	return NULL;
}

void
smtp_tls_free(struct smtp_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/*
 * Why a session failed when no SMTP reply says it: the deadline (after
 * connecting, only a whole-session bound fires: see event_cb), a cause
 * event_cb noted, or libesmtp's error.
 */
static void
reason_local(char *reason, size_t reasonlen, const char *hostport,
	     const struct deliver_ctx *c, int alarm_s)
{
	char buf[128];
	int e = smtp_errno();

	if (smtp_alarm_fired && c->fd >= 0)
		reason_set(reason, reasonlen,
			   "%s: session not over within %d s", hostport,
			   alarm_s);
	else if (smtp_alarm_fired)
		reason_set(reason, reasonlen, "%s: no connection within %d s",
			   hostport, alarm_s);
	else
		reason_set(reason, reasonlen, "%s: %s", hostport,
			   c->note[0] != '\0' ? c->note
			   : e != 0 ? smtp_strerror(e, buf, sizeof(buf))
				    : "session ended without a reply");
}

enum smtp_rc
smtp_deliver(const struct smtp_opts *opts, const char *from, const char *to,
	     const char *message, char *reason, size_t reasonlen)
{
	static const int stages[] = {Timeout_GREETING, Timeout_ENVELOPE,
				     Timeout_DATA, Timeout_TRANSFER};
	struct deliver_ctx c;
	struct deadline dl;
	smtp_session_t session = NULL;
	smtp_message_t msg;
	smtp_recipient_t rcpt = NULL;
	auth_context_t auth = NULL;
	const smtp_status_t *rs, *ms, *fs;
	enum smtp_rc rc = SMTP_TEMPFAIL;
	enum starttls_option how;
	char hostport[SMTP_HOST_MAX + 16], buf[128];
	bool use_auth, started;
	long ms_timeout;
	size_t i;
	int timeout_s, final_s, alarm_s;

	if (reasonlen > 0)
		reason[0] = '\0';
	memset(&c, 0, sizeof(c));
	if (opts == NULL || message == NULL || !host_valid(opts->host) ||
	    opts->port < 1 || opts->port > 65535) {
		reason_set(reason, reasonlen, "SMTP host or port not usable");
		return SMTP_TEMPFAIL;
	}
	if (from == NULL || !mime_address_valid(from)) {
		reason_set(reason, reasonlen, "envelope sender not valid");
		return SMTP_TEMPFAIL;
	}
	if (to == NULL || !mime_address_valid(to)) {
		reason_set(reason, reasonlen, "recipient address not valid");
		return SMTP_PERMFAIL;
	}
	if ((c.len = strlen(message)) > SMTP_MESSAGE_MAX) {
		reason_set(reason, reasonlen, "message too large");
		return SMTP_PERMFAIL;
	}
	c.msg = message;
	c.starttls = opts->starttls;
	timeout_s = opts->timeout_s;
	if (timeout_s < SMTP_TIMEOUT_MIN)
		timeout_s = SMTP_TIMEOUT_MIN;
	if (timeout_s > SMTP_TIMEOUT_MAX)
		timeout_s = SMTP_TIMEOUT_MAX;
	final_s = opts->final_s > timeout_s ? opts->final_s : timeout_s;
	if (final_s > SMTP_TIMEOUT_MAX)
		final_s = SMTP_TIMEOUT_MAX;
	use_auth = opts->user != NULL && opts->user[0] != '\0';
	/* AUTH PLAIN sends the password as it is: with AUTH, a relay that
	 * offers no STARTTLS (or an attacker who strips it) gets nothing,
	 * and its certificate must verify. */
	if (use_auth)
		c.starttls = SMTP_STARTTLS_REQUIRED;

	if ((session = smtp_create_session()) == NULL ||
	    (msg = smtp_add_message(session)) == NULL)
		abort(); /* only on no memory: the rule of common/xalloc.h */
	snprintf(hostport, sizeof(hostport), "%s:%d", opts->host, opts->port);
	ms_timeout = timeout_s * 1000L;
	/* Our limit, not RFC 5321's minutes-long minimums: a member waits
	 * on step 2 for this. */
	for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		smtp_set_timeout(session,
				 stages[i] | Timeout_OVERRIDE_RFC2822_MINIMUM,
				 ms_timeout);
	/* The reply to the final "." gets its own, longer wait (RFC 5321
	 * §4.5.3.2.6): giving up on it early is how a relay that has the
	 * message gets it a second time. */
	smtp_set_timeout(session,
			 Timeout_DATA2 | Timeout_OVERRIDE_RFC2822_MINIMUM,
			 final_s * 1000L);
	if (!smtp_set_server(session, hostport) ||
	    !smtp_set_eventcb(session, event_cb, &c) ||
	    !smtp_set_reverse_path(msg, from) ||
	    (rcpt = smtp_add_recipient(msg, to)) == NULL ||
	    !smtp_set_messagecb(msg, message_cb, &c) ||
	    !smtp_size_set_estimate(msg, (unsigned long)c.len)) {
		reason_set(reason, reasonlen, "libesmtp: %s",
			   smtp_strerror(smtp_errno(), buf, sizeof(buf)));
		goto out;
	}

	how = c.starttls == SMTP_STARTTLS_REQUIRED ? Starttls_REQUIRED
	      : c.starttls == SMTP_STARTTLS_TRY	   ? Starttls_ENABLED
						   : Starttls_DISABLED;
	if (how != Starttls_DISABLED) {
		if (opts->tls == NULL) {
			reason_set(reason, reasonlen, "cannot set up TLS");
			goto out;
		}
		if (!smtp_starttls_set_ctx(session, opts->tls->ctx) ||
		    !smtp_starttls_enable(session, how)) {
			if (how == Starttls_REQUIRED) {
				reason_set(reason, reasonlen,
					   "starttls = required, but libesmtp "
					   "was built without TLS");
				goto out;
			}
		}
	}

	if (use_auth) {
		c.user = dup_secret(opts->user);
		c.pass = dup_secret(opts->password);
		auth_client_init();
		if ((auth = auth_create_context()) == NULL)
			abort();
		auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(auth, auth_interact, &c);
		smtp_auth_set_context(session, auth);
	}

	/* open() returns the lowest free descriptor: libesmtp's socket()
	 * will get this one or, past getaddrinfo's files, one just above. */
	c.port = opts->port;
	c.fd = -1;
	c.whole = opts->session_s > 0;
	c.dl = &dl;
	c.lowest_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (c.lowest_fd >= 0)
		close(c.lowest_fd);
	else
		c.lowest_fd = 0;
	alarm_s = c.whole ? opts->session_s : timeout_s;
	deadline_start(&dl, alarm_s);
	started = smtp_start_session(session);
	deadline_stop(&dl);
	if (!started) {
		reason_local(reason, reasonlen, hostport, &c, alarm_s);
		goto unconfirmed;
	}

	rs = smtp_recipient_status(rcpt);
	ms = smtp_message_transfer_status(msg);
	fs = smtp_reverse_path_status(msg);
	/* The DATA reply only counts once the recipient was accepted: a
	 * server answers DATA with 503 after a refused RCPT. */
	if (rs->code / 100 == 2 && ms->code / 100 == 2) {
		rc = SMTP_SENT;
	} else if (rs->code / 100 == 5) {
		rc = SMTP_PERMFAIL;
		reason_status(reason, reasonlen, "RCPT", rs);
	} else if (rs->code / 100 == 4) {
		reason_status(reason, reasonlen, "RCPT", rs);
	} else if (rs->code / 100 == 2 && ms->code / 100 == 5) {
		rc = SMTP_PERMFAIL;
		reason_status(reason, reasonlen, "DATA", ms);
	} else if (rs->code / 100 == 2 && ms->code / 100 == 4) {
		reason_status(reason, reasonlen, "DATA", ms);
	} else if (fs->code != 0 && fs->code / 100 != 2) {
		/* The sender refused (or AUTH failed): our configuration,
		 * not this message; keep it for a later attempt. */
		reason_status(reason, reasonlen, "MAIL FROM", fs);
	} else {
		reason_local(reason, reasonlen, hostport, &c, alarm_s);
		goto unconfirmed;
	}
	goto out;
unconfirmed:
	/* No reply to the message, yet it went out whole: the relay may have
	 * it.  Not a failure to retry blindly (a second copy), nor a success.
	 */
	if (c.handed_over && smtp_message_transfer_status(msg)->code == 0) {
		char cause[sizeof(c.note)];

		snprintf(cause, sizeof cause, "%s",
			 reasonlen > 0 ? reason : "");
		rc = SMTP_UNCONFIRMED;
		reason_set(reason, reasonlen,
			   "message handed over, final reply not seen (%s)",
			   cause);
	}
out:
	if (session != NULL)
		smtp_destroy_session(session);
	if (auth != NULL)
		auth_destroy_context(auth);
	buf_wipe_str(c.user);
	buf_wipe_str(c.pass);
	return rc;
}
