/*
 * proxy.h — trusted proxies and the client address.
 *
 * The [service] trusted_proxies list ("127.0.0.1, 10.0.0.0/8, ::1") is
 * parsed once per process into a struct proxy_list owned by the caller
 * (proxy_list_free() is safe on a zeroed or freed list).  IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) match IPv4 entries.
 */
#ifndef PWR_FCGI_PROXY_H
#define PWR_FCGI_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#define PROXY_LIST_MAX 64		/* entries in trusted_proxies */
#define PROXY_ADDR_MAX INET6_ADDRSTRLEN /* room for a client address */

struct proxy_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

struct proxy_list {
	struct proxy_net *nets; /* owned */
	size_t n;
};

/* Parse a comma-separated list of addresses and CIDR ranges ("" → empty
 * list).  0, or -1 with a reason in err and *pl left empty. */
int proxy_list_parse(struct proxy_list *pl, const char *spec, char *err,
		     size_t errlen);
void proxy_list_free(struct proxy_list *pl);

/* true when the textual address addr is inside one of the ranges. */
bool proxy_list_contains(const struct proxy_list *pl, const char *addr);

/*
 * The client address of SPEC §2: remote_addr, unless it is a trusted proxy;
 * then the right-most X-Forwarded-For entry (xff, may be NULL) that is not
 * itself trusted (the left-most entry when all are).  An entry that is not
 * an address falls back to remote_addr.  Written normalised (inet_ntop) to
 * out, which holds PROXY_ADDR_MAX bytes; "unknown" when remote_addr is not
 * an address either.
 */
void proxy_client_address(const struct proxy_list *pl, const char *remote_addr,
			  const char *xff, char out[PROXY_ADDR_MAX]);

#endif
