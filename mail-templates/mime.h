/*
 * mime.h — the RFC 5322 / MIME side of the mail module (internal).
 *
 * mime_build() turns a rendered subject, plain-text part and HTML part
 * into one complete message: headers folded and RFC 2047-encoded where
 * needed, multipart/alternative with two quoted-printable UTF-8 parts,
 * CRLF line ends throughout.  Nothing here knows about templates.
 */
#ifndef PWR_MIME_H
#define PWR_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Longest address accepted anywhere (RFC 5321 path limit). */
#define MIME_ADDRESS_MAX 254
/* Longest header value accepted before encoding (From, Subject). */
#define MIME_HEADER_MAX 998

/* True when addr is a bare address we are willing to put in an envelope
 * and a header: local@domain, printable ASCII, no space or specials. */
bool mime_address_valid(const char *addr);

/* The bare address of a From value: "a <b@c>" → "b@c", "b@c" → "b@c".
 * Returns 0, or -1 when it holds no address (out is then "").  Published
 * to the other layers as mail_address_of(). */
int mime_address_of(const char *from, char *out, size_t outlen);

struct mime_input {
	const char *from;    /* header value, e.g. "pwreset <a@b>" */
	const char *to;	     /* bare address */
	const char *to_name; /* display name of To, UTF-8; NULL or "" → none */
	const char *subject; /* UTF-8, one line */
	const char *text;    /* UTF-8, any line ends */
	const char *html;    /* UTF-8, any line ends */
	const char *domain;  /* right-hand side of the Message-ID */
};

/* Append the whole message to out.  0, or -1 with a reason in err (out
 * then holds garbage the caller frees). */
int mime_build(const struct mime_input *in, struct buf *out, char *err,
	       size_t errlen);

#endif
