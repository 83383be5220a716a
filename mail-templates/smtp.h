/*
 * smtp.h — delivery of one rendered message with libesmtp: the only code
 * that includes libesmtp.h.  Synchronous, bounded by opts->timeout_s for
 * the connection and each protocol step, and by opts->session_s (if set)
 * for the whole session.  No state survives a call but the caller's TLS
 * context.
 */
#ifndef PWR_SMTP_H
#define PWR_SMTP_H

#include <stdbool.h>
#include <stddef.h>

enum smtp_starttls {
	SMTP_STARTTLS_NO,
	SMTP_STARTTLS_TRY,
	SMTP_STARTTLS_REQUIRED
};

/* A TLS client context (TLS 1.2, trust from OpenSSL's certificate
 * directory), made once and shared by deliveries.  smtp_tls_new() gives
 * NULL when OpenSSL cannot set it up. */
struct smtp_tls;
struct smtp_tls *smtp_tls_new(void);
void smtp_tls_free(struct smtp_tls *t);

struct smtp_opts {
	const char *host;
	int port;
	enum smtp_starttls starttls;
	const char *user;     /* NULL or "" → no AUTH */
	const char *password; /* read from password_file by the caller */
	int timeout_s;	      /* for connect() and for each SMTP step */
	int session_s;	      /* > 0: for the whole session, too */
	int final_s; /* for the reply to the final ".", at least timeout_s */
	struct smtp_tls *tls; /* borrowed; NULL: any STARTTLS fails */
};

enum smtp_rc {
	SMTP_SENT,     /* accepted by the relay */
	SMTP_TEMPFAIL, /* try again later (connect failure, 4xx) */
	SMTP_PERMFAIL, /* will never succeed (5xx for the recipient) */
	/* The whole message went out but no reply to it came (the session
	 * was cut or timed out waiting): the relay may have it.  Sending it
	 * again risks a second copy (RFC 5321 §4.5.3.2.6). */
	SMTP_UNCONFIRMED
};

/*
 * Send message (complete RFC 5322 text, CRLF line ends) from the envelope
 * address `from` to `to`.  On failure, reason receives the server's reply
 * or the local cause.
 */
enum smtp_rc smtp_deliver(const struct smtp_opts *opts, const char *from,
			  const char *to, const char *message, char *reason,
			  size_t reasonlen);

/*
 * Can a relay be reached?  Connects to host:port (every address
 * getaddrinfo gives, in order) and reads the greeting, all within
 * timeout_s; says QUIT and sends nothing else.  true when the greeting is
 * a "220" reply; else false with the cause in why.
 */
bool smtp_probe(const char *host, int port, int timeout_s, char *why,
		size_t whylen);

#endif
