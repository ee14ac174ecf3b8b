/*
 * agent/endpoint.c: the target text of circuit_breaker commands, IPv4 and
 * bracketed IPv6 with a port, the any addresses, and everything else
 * refused (names, zones, shorthand, missing or bad ports); and back to text.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "agent/endpoint.h"
#include "tests/lib/leakcheck.h"

TestSuite(endpoint, .fini = test_no_leaks);

Test(endpoint, parses_ipv4_with_a_port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	socklen_t len = 0;

	cr_assert_eq(endpoint_parse("127.0.0.1:8003", &ss, &len), 0);
	cr_expect_eq(ss.ss_family, AF_INET);
	cr_expect_eq(len, sizeof(struct sockaddr_in));
	cr_expect_eq(ntohs(in->sin_port), 8003);
	cr_expect_eq(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	cr_assert_eq(endpoint_parse("0.0.0.0:1", &ss, NULL), 0);
	cr_expect_eq(in->sin_addr.s_addr, htonl(INADDR_ANY));
	cr_expect_eq(ntohs(in->sin_port), 1);
	cr_assert_eq(endpoint_parse("10.0.0.5:65535", &ss, NULL), 0);
	cr_expect_eq(ntohs(in->sin_port), 65535);
}

Test(endpoint, parses_bracketed_ipv6_with_a_port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr mapped;
	socklen_t len = 0;

	cr_assert_eq(endpoint_parse("[::1]:8003", &ss, &len), 0);
	cr_expect_eq(ss.ss_family, AF_INET6);
	cr_expect_eq(len, sizeof(struct sockaddr_in6));
	cr_expect_eq(ntohs(in6->sin6_port), 8003);
	cr_expect(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	cr_assert_eq(endpoint_parse("[::]:80", &ss, NULL), 0);
	cr_expect(IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr));
	cr_assert_eq(endpoint_parse("[fe80::1:2]:443", &ss, NULL), 0);
	cr_expect(IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr));
	/* the v4-mapped form is IPv6 text; the breaker folds it onto the IPv4 entry */
	cr_assert_eq(endpoint_parse("[::ffff:127.0.0.1]:8003", &ss, NULL), 0);
	cr_assert_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped), 1);
	cr_expect(IN6_ARE_ADDR_EQUAL(&in6->sin6_addr, &mapped));
}

Test(endpoint, refuses_what_is_not_one_numeric_address_and_port)
{
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		":8003",
		"127.0.0.1:0",
		"127.0.0.1:65536",
		"127.0.0.1:80x",
		"127.0.0.1:-1",
		"127.0.0.1: 80",
		" 127.0.0.1:80",
		"127.1:80",
		"localhost:80",
		"payments:8003",
		"::1:8003",
		"[::1]",
		"[::1]8003",
		"[::1]:",
		"[::1]:8003:1",
		"[127.0.0.1]:80",
		"[fe80::1%eth0]:80",
		"[]:80",
		"1.2.3.4.5:80",
		"[::1]:99999999999999999999",
	};
	struct sockaddr_storage ss;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ss, 0x5a, sizeof(ss));
		cr_expect_eq(endpoint_parse(bad[i], &ss, NULL), -EINVAL, "'%s' parsed", bad[i]);
		cr_expect_eq(((unsigned char *)&ss)[0], 0x5a, "'%s' wrote its output", bad[i]);
	}
}

Test(endpoint, formats_what_it_parses)
{
	static const char *const good[] = { "127.0.0.1:8003", "[::1]:8003", "0.0.0.0:1",
					    "[::]:65535", "[2001:db8::5]:443" };
	char text[ENDPOINT_TEXT_MAX];
	struct sockaddr_storage ss, again;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(endpoint_parse(good[i], &ss, NULL), 0, "%s", good[i]);
		endpoint_format((struct sockaddr *)&ss, text, sizeof(text));
		cr_expect_str_eq(text, good[i]);
		cr_assert_eq(endpoint_parse(text, &again, NULL), 0);
		cr_expect(endpoint_equal(&ss, &again));
	}
	ss.ss_family = AF_UNIX;
	endpoint_format((struct sockaddr *)&ss, text, sizeof(text));
	cr_expect_str_eq(text, "?");
}

Test(endpoint, equal_compares_family_address_and_port)
{
	struct sockaddr_storage a, b;

	cr_assert_eq(endpoint_parse("127.0.0.1:8003", &a, NULL), 0);
	cr_assert_eq(endpoint_parse("127.0.0.1:8003", &b, NULL), 0);
	cr_expect(endpoint_equal(&a, &b));
	cr_assert_eq(endpoint_parse("127.0.0.1:8004", &b, NULL), 0);
	cr_expect_not(endpoint_equal(&a, &b));
	cr_assert_eq(endpoint_parse("127.0.0.2:8003", &b, NULL), 0);
	cr_expect_not(endpoint_equal(&a, &b));
	/* the same service in another family is another target */
	cr_assert_eq(endpoint_parse("[::ffff:127.0.0.1]:8003", &b, NULL), 0);
	cr_expect_not(endpoint_equal(&a, &b));
}
