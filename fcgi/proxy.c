/*
 * proxy.c — trusted proxies and the client address (see proxy.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/xalloc.h"
#include "proxy.h"

/* Longest entry text: an IPv6 address with a "/128". */
#define ENTRY_MAX (INET6_ADDRSTRLEN + 4)

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};

/* Parse addr[0..len) into (family, bytes); v4-mapped v6 becomes v4. */
static bool
addr_parse(const char *s, size_t len, int *family, unsigned char out[16])
{
	char tmp[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, tmp, out) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, out) != 1)
		return false;
	if (memcmp(out, v4mapped, sizeof(v4mapped)) == 0) {
		memmove(out, out + 12, 4);
		memset(out + 4, 0, 12);
		*family = AF_INET;
	} else {
		*family = AF_INET6;
	}
	return true;
}

static bool
net_contains(const struct proxy_net *n, int family, const unsigned char a[16])
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	if (n->family != family)
		return false;
	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest != 0) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		if ((n->addr[full] & mask) != (a[full] & mask))
			return false;
	}
	return true;
}

static bool
list_contains(const struct proxy_list *pl, int family,
	      const unsigned char a[16])
{
	for (size_t i = 0; i < pl->n; i++)
		if (net_contains(&pl->nets[i], family, a))
			return true;
	return false;
}

/* One entry "addr" or "addr/bits". */
static bool
entry_parse(const char *s, size_t len, struct proxy_net *n)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	unsigned maxbits;

	if (!addr_parse(s, alen, &n->family, n->addr))
		return false;
	/* Written as IPv6 (a v4-mapped range included): up to /128. */
	maxbits = memchr(s, ':', alen) != NULL ? 128 : 32;
	n->bits = n->family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		char tmp[8], *end;
		size_t blen = len - alen - 1;
		unsigned long v;

		if (blen == 0 || blen >= sizeof(tmp) || slash[1] < '0' ||
		    slash[1] > '9')
			return false;
		memcpy(tmp, slash + 1, blen);
		tmp[blen] = '\0';
		errno = 0;
		v = strtoul(tmp, &end, 10);
		if (errno != 0 || *end != '\0' || v > maxbits)
			return false;
		/* A v4-mapped range (::ffff:10.0.0.0/104) became v4. */
		if (n->family == AF_INET && maxbits == 128) {
			if (v < 96)
				return false;
			v -= 96;
		}
		n->bits = (unsigned)v;
	}
	return true;
}

int
proxy_list_parse(struct proxy_list *pl, const char *spec, char *err,
		 size_t errlen)
{
	const char *s = spec ? spec : "", *end = s + strlen(s);
	const char *rest = s, *rest_end = end;

	pl->nets = NULL;
	pl->n = 0;
	ascii_trim(&rest, &rest_end);
	if (rest == rest_end)
		return 0;
	pl->nets = xcalloc(PROXY_LIST_MAX, sizeof(*pl->nets));
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end;
		const char *a = s, *b = e;

		ascii_trim(&a, &b);

		if (pl->n == PROXY_LIST_MAX) {
			snprintf(err, errlen,
				 "trusted_proxies: more than %d entries",
				 PROXY_LIST_MAX);
			goto fail;
		}
		if (b - a > ENTRY_MAX ||
		    !entry_parse(a, (size_t)(b - a), &pl->nets[pl->n])) {
			snprintf(err, errlen,
				 "trusted_proxies: '%.*s' is not an address "
				 "or CIDR range",
				 (int)(b - a > ENTRY_MAX ? ENTRY_MAX : b - a),
				 a);
			goto fail;
		}
		pl->n++;
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
fail:
	proxy_list_free(pl);
	return -1;
}

void
proxy_list_free(struct proxy_list *pl)
{
	free(pl->nets);
	pl->nets = NULL;
	pl->n = 0;
}

bool
proxy_list_contains(const struct proxy_list *pl, const char *addr)
{
	unsigned char a[16];
	int family;

	if (addr == NULL || !addr_parse(addr, strlen(addr), &family, a))
		return false;
	return list_contains(pl, family, a);
}

/*
 * One X-Forwarded-For entry: "a.b.c.d", "a.b.c.d:port", "v6", "[v6]" or
 * "[v6]:port".  Narrows *s and *len to the address.
 */
static void
xff_strip(const char **s, size_t *len)
{
	const char *p = *s;
	size_t n = *len;

	if (n > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', n);
		if (close != NULL) {
			*s = p + 1;
			*len = (size_t)(close - p - 1);
		}
		return;
	}
	/* Exactly one ':' is an IPv4 address with a port. */
	const char *colon = memchr(p, ':', n);
	if (colon != NULL &&
	    memchr(colon + 1, ':', n - (size_t)(colon - p) - 1) == NULL)
		*len = (size_t)(colon - p);
}

static void
addr_format(int family, const unsigned char a[16], char out[PROXY_ADDR_MAX])
{
	if (inet_ntop(family, a, out, PROXY_ADDR_MAX) == NULL)
		snprintf(out, PROXY_ADDR_MAX, "unknown");
}

void
proxy_client_address(const struct proxy_list *pl, const char *remote_addr,
		     const char *xff, char out[PROXY_ADDR_MAX])
{
	unsigned char ra[16], a[16];
	int rfamily, family;
	const char *start, *end;

	if (remote_addr == NULL ||
	    !addr_parse(remote_addr, strlen(remote_addr), &rfamily, ra)) {
		snprintf(out, PROXY_ADDR_MAX, "unknown");
		return;
	}
	addr_format(rfamily, ra, out);
	if (xff == NULL || !list_contains(pl, rfamily, ra))
		return;

	/* Walk the entries right to left. */
	start = xff;
	end = xff + strlen(xff);
	while (end > start) {
		const char *comma = end, *s, *e;
		size_t len;

		while (comma > start && comma[-1] != ',')
			comma--;
		s = comma;
		e = end;
		ascii_trim(&s, &e);
		len = (size_t)(e - s);
		end = comma > start ? comma - 1 : start;
		if (len == 0)
			continue; /* "a,,b" or a trailing comma */
		xff_strip(&s, &len);
		if (!addr_parse(s, len, &family, a))
			return; /* not an address: keep remote_addr */
		addr_format(family, a, out);
		if (!list_contains(pl, family, a))
			return;
		/* Trusted: look further left; if none is left, this one. */
	}
}
