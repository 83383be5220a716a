/*
 * mime.c — RFC 5322 headers, RFC 2047 encoded-words, quoted-printable
 * bodies and the multipart/alternative frame around them.
 *
 * Every line this file writes ends in CRLF and is at most 76 characters
 * long, except a header word that cannot be split (an address), which
 * stays under the 998-character hard limit because inputs are bounded.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/ascii.h"
#include "common/utf8.h"
#include "mime.h"

/* RFC 2045 §6.7 and RFC 2047 §2: encoded lines stay within 76 columns. */
#define MIME_LINE_MAX 76
/* UTF-8 bytes per encoded-word: base64 of 39 bytes is 52 characters, so
 * "=?utf-8?B?" + 52 + "?=" is 64 and fits after "Subject: " on one line. */
#define MIME_EW_BYTES 39
/* A header word longer than this is encoded (and so split) rather than
 * left to make an over-long line. */
#define MIME_WORD_MAX	  60
#define MIME_RANDOM_BYTES 16

static const char hexdig[] = "0123456789ABCDEF";

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* ---- addresses ------------------------------------------------------- */

bool
mime_address_valid(const char *addr)
{
	const char *at = NULL, *p;
	size_t n = strlen(addr);

	if (n == 0 || n > MIME_ADDRESS_MAX)
		return false;
	for (p = addr; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\\\"", c))
			return false;
		if (c == '@') {
			if (at != NULL)
				return false;
			at = p;
		}
	}
	return at != NULL && at != addr && at[1] != '\0' && at[1] != '.' &&
	       addr[n - 1] != '.';
}

int
mime_address_of(const char *from, char *out, size_t outlen)
{
	const char *b, *e, *lt, *gt;
	size_t n;

	if (outlen > 0)
		out[0] = '\0';
	if (from == NULL)
		return -1;
	if ((lt = strrchr(from, '<')) != NULL) {
		if ((gt = strchr(lt, '>')) == NULL)
			return -1;
		for (e = gt + 1; *e != '\0'; e++)
			if (!ascii_is_blank(*e))
				return -1;
		b = lt + 1;
		e = gt;
	} else {
		b = from;
		e = from + strlen(from);
		ascii_trim(&b, &e);
	}
	n = (size_t)(e - b);
	if (n == 0 || n > MIME_ADDRESS_MAX || n >= outlen)
		return -1;
	memcpy(out, b, n);
	out[n] = '\0';
	if (!mime_address_valid(out)) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- folded header writer --------------------------------------------- */

struct hdr {
	struct buf *sb;
	size_t col;    /* characters on the current line */
	bool has_word; /* something after "Name:" on the first line */
};

static void
hdr_begin(struct hdr *h, struct buf *sb, const char *name)
{
	h->sb = sb;
	buf_adds(sb, name);
	buf_addc(sb, ':');
	h->col = strlen(name) + 1;
	h->has_word = false;
}

/* Append whitespace ws (never empty) and word; fold before ws when the
 * line would grow past the limit.  Unfolding (removing the CRLF) gives
 * back exactly ws + word. */
static void
hdr_unit(struct hdr *h, const char *ws, size_t wsn, const char *word, size_t wn)
{
	if (h->has_word && h->col + wsn + wn > MIME_LINE_MAX) {
		buf_add(h->sb, "\r\n", 2);
		h->col = 0;
	}
	buf_add(h->sb, ws, wsn);
	buf_add(h->sb, word, wn);
	h->col += wsn + wn;
	h->has_word = true;
}

static void
hdr_end(struct hdr *h)
{
	buf_add(h->sb, "\r\n", 2);
}

static size_t
base64_encode(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

/* Append s as a run of RFC 2047 "B" encoded-words.  A UTF-8 character is
 * never split between two words (RFC 2047 §5). */
static void
hdr_encoded(struct hdr *h, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char word[16 + (MIME_EW_BYTES + 2) / 3 * 4];
	size_t i = 0;

	while (i < n) {
		size_t take = 0, l, wn;

		while (i + take < n) {
			if ((l = utf8_decode(s + i + take, n - i - take,
					     NULL)) == 0)
				l = 1; /* callers pass validated UTF-8 */
			if (take + l > MIME_EW_BYTES)
				break;
			take += l;
		}
		memcpy(word, "=?utf-8?B?", 10);
		wn = 10 + base64_encode(p + i, take, word + 10);
		word[wn++] = '?';
		word[wn++] = '=';
		hdr_unit(h, " ", 1, word, wn);
		i += take;
	}
}

/* Would s[0..n) be misread or make a bad line if written as is? */
static bool
needs_encoding(const char *s, size_t n)
{
	size_t i, word = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return true;
		if (c == '=' && i + 1 < n && s[i + 1] == '?')
			return true;
		word = ascii_is_blank(s[i]) ? 0 : word + 1;
		if (word > MIME_WORD_MAX)
			return true;
	}
	return false;
}

/* Append plain text as folded words, keeping its whitespace. */
static void
hdr_words(struct hdr *h, const char *s, size_t n)
{
	size_t i = 0;
	bool first = true;

	while (i < n) {
		size_t ws = i, w;

		while (i < n && ascii_is_blank(s[i]))
			i++;
		w = i;
		while (i < n && !ascii_is_blank(s[i]))
			i++;
		if (w == i)
			break; /* trailing whitespace */
		if (first || w == ws)
			hdr_unit(h, " ", 1, s + w, i - w);
		else
			hdr_unit(h, s + ws, w - ws, s + w, i - w);
		first = false;
	}
}

static bool
is_atext_or_wsp(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || ascii_is_blank((char)c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A mailbox header: the display name (RFC 2047 when not ASCII, else atoms
 * or a quoted-string) and the address in angle brackets; the bare address
 * when there is no name. */
static void
write_mailbox(struct buf *out, const char *header, const char *name, size_t n,
	      const char *addr)
{
	struct hdr h;

	hdr_begin(&h, out, header);
	if (n > 0) {
		bool atoms = true;
		size_t i;

		for (i = 0; i < n; i++)
			atoms =
			    atoms && is_atext_or_wsp((unsigned char)name[i]);
		if (needs_encoding(name, n)) {
			hdr_encoded(&h, name, n);
		} else if (atoms) {
			hdr_words(&h, name, n);
		} else {
			struct buf q = BUF_INIT_WIPE;

			buf_addc(&q, '"');
			for (i = 0; i < n; i++) {
				if (name[i] == '"' || name[i] == '\\')
					buf_addc(&q, '\\');
				buf_addc(&q, name[i]);
			}
			buf_addc(&q, '"');
			hdr_unit(&h, " ", 1, q.p, q.len);
			buf_free(&q);
		}
		/* "<address>" is one word: it is never split. */
		struct buf a = BUF_INIT_WIPE;

		buf_addf(&a, "<%s>", addr);
		hdr_unit(&h, " ", 1, a.p, a.len);
		buf_free(&a);
	} else {
		hdr_unit(&h, " ", 1, addr, strlen(addr));
	}
	hdr_end(&h);
}

/* From: the configured value, split into display name and address. */
static int
write_from(struct buf *out, const char *from, char *err, size_t errlen)
{
	char addr[MIME_ADDRESS_MAX + 1], name[MIME_HEADER_MAX + 1];
	const char *b, *e, *lt;
	size_t n = 0;

	if (strlen(from) > MIME_HEADER_MAX || strpbrk(from, "\r\n")) {
		set_err(err, errlen, "From: too long or holds a line break");
		return -1;
	}
	if (mime_address_of(from, addr, sizeof(addr)) != 0) {
		set_err(err, errlen, "From: holds no valid address");
		return -1;
	}
	lt = strrchr(from, '<');
	b = from;
	e = lt != NULL ? lt : from;
	ascii_trim(&b, &e);
	if (e - b >= 2 && *b == '"' && e[-1] == '"') {
		for (b++, e--; b < e; b++) {
			if (*b == '\\' && b + 1 < e)
				b++;
			name[n++] = *b;
		}
	} else {
		memcpy(name, b, (size_t)(e - b));
		n = (size_t)(e - b);
	}
	name[n] = '\0';
	if (!utf8_valid(name, n)) {
		set_err(err, errlen, "From: display name is not UTF-8");
		return -1;
	}
	write_mailbox(out, "From", name, n, addr);
	return 0;
}

static void
write_subject(struct buf *out, const char *subject)
{
	size_t n = strlen(subject);
	struct hdr h;

	hdr_begin(&h, out, "Subject");
	if (needs_encoding(subject, n))
		hdr_encoded(&h, subject, n);
	else
		hdr_words(&h, subject, n);
	hdr_end(&h);
}

/* ---- quoted-printable (RFC 2045 §6.7) -------------------------------- */

/* The encoding of byte i of the line s[0..n) when it lands in column
 * col: into tok, returning its length. */
static size_t
qp_token(const unsigned char *s, size_t n, size_t i, size_t col, char tok[3])
{
	unsigned char c = s[i];
	bool lit = (c >= 33 && c <= 126 && c != '=') ||
		   (ascii_is_blank((char)c) && i + 1 < n);

	/* A '.' or "From " opening a line is fragile in transit (SMTP dot
	 * handling, mbox quoting): encode it. */
	if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 &&
				      memcmp(s + i, "From ", 5) == 0)))
		lit = false;
	if (lit) {
		tok[0] = (char)c;
		return 1;
	}
	tok[0] = '=';
	tok[1] = hexdig[c >> 4];
	tok[2] = hexdig[c & 15];
	return 3;
}

static void
qp_line(struct buf *out, const unsigned char *s, size_t n)
{
	size_t i, col = 0, tl;
	char tok[3];

	for (i = 0; i < n; i++) {
		tl = qp_token(s, n, i, col, tok);
		/* Leave room for the '=' of a soft line break. */
		if (col + tl > MIME_LINE_MAX - 1) {
			buf_add(out, "=\r\n", 3);
			col = 0;
			tl = qp_token(s, n, i, col, tok);
		}
		buf_add(out, tok, tl);
		col += tl;
	}
}

/* Encode text whose lines end in LF, CRLF or CR; hard line breaks come
 * out as CRLF. */
static void
qp_body(struct buf *out, const char *s)
{
	for (;;) {
		size_t n = strcspn(s, "\r\n");

		qp_line(out, (const unsigned char *)s, n);
		s += n;
		if (*s == '\0')
			break;
		s += (s[0] == '\r' && s[1] == '\n') ? 2 : 1;
		buf_add(out, "\r\n", 2);
	}
}

/* ---- the message ------------------------------------------------------ */

static int
random_hex(char *out, size_t nbytes)
{
	unsigned char b[MIME_RANDOM_BYTES];
	size_t got = 0, i;

	if (nbytes > sizeof(b))
		return -1;
	while (got < nbytes) {
		ssize_t r = getrandom(b + got, nbytes - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hexdig[b[i] >> 4];
		out[2 * i + 1] = hexdig[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

static bool
domain_valid(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-')
		return false;
	return strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789.-") == n;
}

static void
write_date(struct buf *out)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
					"Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	buf_addf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
		 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
write_part(struct buf *out, const char *boundary, const char *type,
	   const char *body)
{
	buf_addf(out,
		 "--%s\r\n"
		 "Content-Type: %s; charset=utf-8\r\n"
		 "Content-Transfer-Encoding: quoted-printable\r\n"
		 "\r\n",
		 boundary, type);
	qp_body(out, body);
	buf_add(out, "\r\n", 2);
}

int
mime_build(const struct mime_input *in, struct buf *out, char *err,
	   size_t errlen)
{
	char msgid[2 * MIME_RANDOM_BYTES + 1];
	char boundary[2 + 2 * MIME_RANDOM_BYTES + 1];
	char from_addr[MIME_ADDRESS_MAX + 1];
	const char *domain = in->domain;
	const char *to_name = in->to_name != NULL ? in->to_name : "";

	if (!mime_address_valid(in->to)) {
		set_err(err, errlen, "recipient is not a valid address");
		return -1;
	}
	if (strlen(to_name) > MIME_HEADER_MAX || strpbrk(to_name, "\r\n") ||
	    !utf8_valid(to_name, strlen(to_name))) {
		set_err(err, errlen,
			"recipient name too long, not UTF-8 or holds a line "
			"break");
		return -1;
	}
	if (strlen(in->subject) > MIME_HEADER_MAX ||
	    strpbrk(in->subject, "\r\n") != NULL) {
		set_err(err, errlen, "subject too long or holds a line break");
		return -1;
	}
	if (!utf8_valid(in->subject, strlen(in->subject)) ||
	    !utf8_valid(in->text, strlen(in->text)) ||
	    !utf8_valid(in->html, strlen(in->html))) {
		set_err(err, errlen, "message is not valid UTF-8");
		return -1;
	}
	if (domain == NULL || *domain == '\0') {
		if (mime_address_of(in->from, from_addr, sizeof(from_addr)))
			domain = "";
		else
			domain = strchr(from_addr, '@') + 1;
	}
	if (!domain_valid(domain)) {
		set_err(err, errlen, "emaildomain is not a domain name");
		return -1;
	}
	boundary[0] = '=';
	boundary[1] = '_';
	if (random_hex(msgid, MIME_RANDOM_BYTES) != 0 ||
	    random_hex(boundary + 2, MIME_RANDOM_BYTES) != 0) {
		set_err(err, errlen, "getrandom failed");
		return -1;
	}

	if (write_from(out, in->from, err, errlen) != 0)
		return -1;
	write_mailbox(out, "To", to_name, strlen(to_name), in->to);
	write_subject(out, in->subject);
	write_date(out);
	buf_addf(out, "Message-ID: <%s@%s>\r\n", msgid, domain);
	buf_adds(out, "MIME-Version: 1.0\r\n"
		      "Auto-Submitted: auto-generated\r\n");
	/* '=' is a tspecial, hence the quotes; "=_" never occurs in
	 * quoted-printable output, so the boundary cannot collide. */
	buf_addf(out,
		 "Content-Type: multipart/alternative;\r\n"
		 " boundary=\"%s\"\r\n"
		 "\r\n",
		 boundary);
	write_part(out, boundary, "text/plain", in->text);
	write_part(out, boundary, "text/html", in->html);
	buf_addf(out, "--%s--\r\n", boundary);
	return 0;
}
