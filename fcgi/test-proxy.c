/*
 * test-proxy.c — trusted_proxies: parsing the list, matching addresses,
 * and the client address behind X-Forwarded-For.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy.h"

static void
client_of(const struct proxy_list *pl, const char *remote, const char *xff,
	  const char *want)
{
	char out[PROXY_ADDR_MAX];

	proxy_client_address(pl, remote, xff, out);
	assert_string_equal(out, want);
}

static void
test_forwarded_for(void **state)
{
	struct proxy_list pl, none = {0};
	char err[128];

	(void)state;
	assert_int_equal(proxy_list_parse(&pl,
					  "127.0.0.1, 10.0.0.0/8,::1, fd00::/8",
					  err, sizeof(err)),
			 0);
	assert_int_equal(pl.n, 4);
	/* Not from a proxy: REMOTE_ADDR, whatever the header says. */
	client_of(&pl, "192.0.2.1", "203.0.113.9", "192.0.2.1");
	client_of(&none, "127.0.0.1", "203.0.113.9", "127.0.0.1");
	/* From a proxy: the right-most untrusted entry. */
	client_of(&pl, "127.0.0.1", "203.0.113.9", "203.0.113.9");
	client_of(&pl, "127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.2.3",
		  "203.0.113.9");
	client_of(&pl, "10.200.0.1", " 1.2.3.4 ,  5.6.7.8 ", "5.6.7.8");
	/* A spoofed left part is ignored. */
	client_of(&pl, "127.0.0.1", "127.0.0.1, 203.0.113.9", "203.0.113.9");
	/* All trusted: the left-most. */
	client_of(&pl, "127.0.0.1", "10.0.0.2, 10.0.0.1", "10.0.0.2");
	/* No header, or an empty one: the proxy itself. */
	client_of(&pl, "127.0.0.1", NULL, "127.0.0.1");
	client_of(&pl, "127.0.0.1", "", "127.0.0.1");
	client_of(&pl, "127.0.0.1", " , ", "127.0.0.1");
	/* Garbage where the client should be: the proxy. */
	client_of(&pl, "127.0.0.1", "1.2.3.4, nonsense", "127.0.0.1");
	/* IPv6 and CIDR. */
	client_of(&pl, "::1", "2001:db8::1", "2001:db8::1");
	client_of(&pl, "fd12:3456::1", "2001:db8::2, fd00::9", "2001:db8::2");
	client_of(&pl, "fe80::1", "2001:db8::1", "fe80::1");
	client_of(&pl, "::1", "[2001:db8::3]:443", "2001:db8::3");
	client_of(&pl, "::1", "203.0.113.5:8080", "203.0.113.5");
	/* A v4-mapped REMOTE_ADDR matches the IPv4 entry and is shown as
	 * IPv4. */
	client_of(&pl, "::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9");
	client_of(&none, "::ffff:192.0.2.1", NULL, "192.0.2.1");
	/* Normalised output. */
	client_of(&none, "2001:DB8:0:0::1", NULL, "2001:db8::1");
	/* No address at all. */
	client_of(&pl, NULL, "1.2.3.4", "unknown");
	client_of(&pl, "not-an-ip", "1.2.3.4", "unknown");
	proxy_list_free(&pl);
	proxy_list_free(&pl);
}

static void
test_proxy_list(void **state)
{
	struct proxy_list pl;
	char err[128];

	(void)state;
	assert_int_equal(proxy_list_parse(&pl, "", err, sizeof(err)), 0);
	assert_int_equal(pl.n, 0);
	assert_false(proxy_list_contains(&pl, "127.0.0.1"));
	assert_int_equal(proxy_list_parse(&pl, NULL, err, sizeof(err)), 0);
	assert_int_equal(proxy_list_parse(&pl, "  ", err, sizeof(err)), 0);

	assert_int_equal(proxy_list_parse(&pl,
					  "192.168.0.0/16,172.16.0.0/12,"
					  "10.1.2.3/32,2001:db8::/32,0.0.0.0/0",
					  err, sizeof(err)),
			 0);
	assert_true(proxy_list_contains(&pl, "192.168.255.1"));
	assert_true(proxy_list_contains(&pl, "172.31.0.1"));
	assert_true(proxy_list_contains(&pl, "2001:db8:ffff::1"));
	assert_false(proxy_list_contains(&pl, "2001:db9::1"));
	assert_true(proxy_list_contains(&pl, "8.8.8.8")); /* 0.0.0.0/0 */
	proxy_list_free(&pl);

	assert_int_equal(
	    proxy_list_parse(&pl, "172.16.0.0/12, 10.1.2.3", err, sizeof(err)),
	    0);
	assert_false(proxy_list_contains(&pl, "172.32.0.1"));
	assert_true(proxy_list_contains(&pl, "172.16.0.0"));
	assert_false(proxy_list_contains(&pl, "10.1.2.4"));
	assert_false(proxy_list_contains(&pl, "bogus"));
	proxy_list_free(&pl);

	assert_int_equal(
	    proxy_list_parse(&pl, "::ffff:10.0.0.0/104", err, sizeof(err)), 0);
	assert_true(proxy_list_contains(&pl, "10.9.9.9"));
	assert_true(proxy_list_contains(&pl, "::ffff:10.9.9.9"));
	assert_false(proxy_list_contains(&pl, "11.0.0.1"));
	proxy_list_free(&pl);

	static const char *const bad[] = {
	    "1.2.3.4/33", "::1/129",	  "1.2.3", "1.2.3.4/",
	    "1.2.3.4/-1", "1.2.3.4/+8",	  "a,b",   "1.2.3.4,,5.6.7.8",
	    "1.2.3.4,",	  "host.example",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    proxy_list_parse(&pl, bad[i], err, sizeof(err)), -1);
		assert_null(pl.nets);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forwarded_for),
	    cmocka_unit_test(test_proxy_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
