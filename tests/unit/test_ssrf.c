/*
 * Unit tests for lib/netguard.c: the address classifier that keeps Web Push
 * deliveries (URLs chosen by clients) off loopback, private, link-local and
 * other non-public addresses, at subscription time and at connect time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "netguard.h"

static void assert_refused(const char *addr, const char *class)
{
    const char *c = netguard_classify_text(addr);
    if (!c || strcmp(c, class) != 0)
        fail_msg("%s: expected %s, got %s", addr, class, c ? c : "public");
}

static void assert_public(const char *addr)
{
    const char *c = netguard_classify_text(addr);
    if (c)
        fail_msg("%s: expected public, got %s", addr, c);
}

static void test_ipv4(void **state)
{
    (void)state;
    assert_refused("0.0.0.0", "unspecified");
    assert_refused("0.1.2.3", "unspecified");
    assert_refused("127.0.0.1", "loopback");
    assert_refused("127.255.255.254", "loopback");
    assert_refused("10.0.0.1", "private");
    assert_refused("10.255.255.255", "private");
    assert_refused("172.16.0.1", "private");
    assert_refused("172.31.255.255", "private");
    assert_refused("192.168.1.1", "private");
    assert_refused("169.254.169.254", "link-local"); /* cloud metadata */
    assert_refused("100.64.0.1", "shared");
    assert_refused("100.127.255.255", "shared");
    assert_refused("192.0.0.8", "reserved");
    assert_refused("192.0.2.10", "documentation");
    assert_refused("198.18.0.1", "benchmarking");
    assert_refused("198.19.255.255", "benchmarking");
    assert_refused("224.0.0.1", "multicast");
    assert_refused("239.255.255.250", "multicast");
    assert_refused("240.0.0.1", "reserved");
    assert_refused("255.255.255.255", "reserved");

    /* Neighbours of the ranges are public. */
    assert_public("8.8.8.8");
    assert_public("9.255.255.255");
    assert_public("11.0.0.0");
    assert_public("172.15.255.255");
    assert_public("172.32.0.0");
    assert_public("192.167.255.255");
    assert_public("192.169.0.0");
    assert_public("100.63.255.255");
    assert_public("100.128.0.0");
    assert_public("169.253.255.255");
    assert_public("126.255.255.255");
    assert_public("128.0.0.0");
    assert_public("223.255.255.255");
    assert_public("142.250.74.106");
}

static void test_ipv6(void **state)
{
    (void)state;
    assert_refused("::", "unspecified");
    assert_refused("::1", "loopback");
    assert_refused("fe80::1", "link-local");
    assert_refused("febf:ffff::1", "link-local");
    assert_refused("fec0::1", "site-local");
    assert_refused("fc00::1", "unique-local");
    assert_refused("fd12:3456:789a::1", "unique-local");
    assert_refused("ff02::1", "multicast");
    assert_refused("ff0e::1", "multicast");
    assert_refused("2001:db8::1", "documentation");
    assert_refused("100::1", "reserved");
    assert_refused("2001::1", "reserved"); /* Teredo */
    assert_refused("::5", "reserved");     /* IPv4-compatible */
    assert_refused("4000::1", "reserved"); /* outside 2000::/3 */
    assert_refused("64:ff9b:1::1", "private");

    /* IPv4 hidden in IPv6 is judged as IPv4. */
    assert_refused("::ffff:127.0.0.1", "loopback");
    assert_refused("::ffff:10.1.2.3", "private");
    assert_refused("::ffff:169.254.169.254", "link-local");
    assert_refused("64:ff9b::127.0.0.1", "loopback");
    assert_refused("64:ff9b::192.168.0.1", "private");
    assert_refused("2002:7f00:0001::1", "loopback"); /* 6to4 of 127.0.0.1 */
    assert_refused("2002:0a00:0001::1", "private");  /* 6to4 of 10.0.0.1 */
    assert_public("::ffff:8.8.8.8");
    assert_public("64:ff9b::8.8.8.8");
    assert_public("2002:0808:0808::1");

    assert_public("2001:4860:4860::8888");
    assert_public("2a00:1450:4001:80b::200a");
    assert_public("2606:4700::1111");
    assert_public("3fff:ffff::1");
}

static void test_not_an_address(void **state)
{
    (void)state;
    assert_string_equal(netguard_classify_text("example.com"), "invalid");
    assert_string_equal(netguard_classify_text(""), "invalid");
    assert_string_equal(netguard_classify_text("1.2.3"), "invalid");
    assert_string_equal(netguard_classify(NULL, 0), "unsupported");
    struct sockaddr sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNIX;
    assert_string_equal(netguard_classify(&sa, sizeof sa), "unsupported");
    /* A truncated sockaddr is not read past its length. */
    sa.sa_family = AF_INET6;
    assert_string_equal(netguard_classify(&sa, 4), "unsupported");
}

static void test_check_host(void **state)
{
    char why[256];
    (void)state;
    /* IP literals resolve without DNS, so these run offline. */
    why[0] = '\0';
    assert_int_equal(netguard_check_host("127.0.0.1", 0, why, sizeof why), -1);
    assert_non_null(strstr(why, "loopback"));
    assert_int_equal(netguard_check_host("10.0.0.1", 0, why, sizeof why), -1);
    assert_non_null(strstr(why, "private"));
    assert_int_equal(netguard_check_host("::1", 0, why, sizeof why), -1);
    assert_int_equal(netguard_check_host("169.254.169.254", 0, why, sizeof why), -1);
    /* Other spellings of IPv4 addresses (getaddrinfo and libcurl accept them) are
     * refused outright, even when private addresses are allowed. */
    static const char *const odd[] = {"2130706433", "0x7f.1", "127.1", "0x7f000001",
                                      "017700000001", "8.8.0x8.8", "example.0x10", "a.b.123"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        assert_int_equal(netguard_check_host(odd[i], 1, why, sizeof why), -1);
        assert_non_null(strstr(why, "dotted-quad"));
    }
    /* localhost resolves to loopback only. */
    assert_int_equal(netguard_check_host("localhost", 0, why, sizeof why), -1);
    /* A public literal passes; the test setting lets private ones through. */
    assert_int_equal(netguard_check_host("8.8.8.8", 0, why, sizeof why), 0);
    assert_int_equal(netguard_check_host("2001:4860:4860::8888", 0, why, sizeof why), 0);
    assert_int_equal(netguard_check_host("127.0.0.1", 1, why, sizeof why), 0);
    /* A name that cannot resolve is refused, allowed or not. */
    assert_int_equal(netguard_check_host("no-such-host.invalid", 1, why, sizeof why), -1);
    assert_non_null(strstr(why, "does not resolve"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_not_an_address),
        cmocka_unit_test(test_check_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
