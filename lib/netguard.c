/*
 * netguard: the address classifier behind the Web Push SSRF checks.
 *
 * Ranges from the IANA IPv4 and IPv6 Special-Purpose Address Registries
 * (RFC 6890 and updates); anything a public push service would never use is
 * refused, not only what is strictly private.
 */
#include "netguard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct v4range {
    uint32_t net;
    int bits;
    const char *name;
};

static const struct v4range v4ranges[] = {
    {0x00000000u, 8, "unspecified"},   /* 0.0.0.0/8 "this network" */
    {0x0a000000u, 8, "private"},       /* 10.0.0.0/8 */
    {0x64400000u, 10, "shared"},       /* 100.64.0.0/10 carrier-grade NAT */
    {0x7f000000u, 8, "loopback"},      /* 127.0.0.0/8 */
    {0xa9fe0000u, 16, "link-local"},   /* 169.254.0.0/16 (cloud metadata) */
    {0xac100000u, 12, "private"},      /* 172.16.0.0/12 */
    {0xc0000000u, 24, "reserved"},     /* 192.0.0.0/24 IETF protocol assignments */
    {0xc0000200u, 24, "documentation"}, /* 192.0.2.0/24 TEST-NET-1 */
    {0xc0586300u, 24, "reserved"},     /* 192.88.99.0/24 6to4 relay anycast */
    {0xc0a80000u, 16, "private"},      /* 192.168.0.0/16 */
    {0xc6120000u, 15, "benchmarking"}, /* 198.18.0.0/15 */
    {0xc6336400u, 24, "documentation"}, /* 198.51.100.0/24 TEST-NET-2 */
    {0xcb007100u, 24, "documentation"}, /* 203.0.113.0/24 TEST-NET-3 */
    {0xe0000000u, 4, "multicast"},     /* 224.0.0.0/4 */
    {0xf0000000u, 4, "reserved"},      /* 240.0.0.0/4, incl. 255.255.255.255 */
};

static const char *classify_v4(uint32_t a)
{
    for (size_t i = 0; i < sizeof v4ranges / sizeof v4ranges[0]; i++) {
        uint32_t mask = 0xffffffffu << (32 - v4ranges[i].bits);
        if ((a & mask) == v4ranges[i].net)
            return v4ranges[i].name;
    }
    return NULL;
}

static uint32_t v4_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* 1 if the first bits of a match prefix (given as bytes). */
static int has_prefix(const unsigned char *a, const unsigned char *prefix, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, prefix, (size_t)bytes) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((a[bytes] & mask) != (prefix[bytes] & mask))
            return 0;
    }
    return 1;
}

static const char *classify_v6(const unsigned char *a)
{
    static const unsigned char zero[16] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 0x01};
    static const unsigned char discard[8] = {0x01, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char teredo_etc[4] = {0x20, 0x01, 0, 0};
    static const unsigned char doc[4] = {0x20, 0x01, 0x0d, 0xb8};
    static const unsigned char sixtofour[2] = {0x20, 0x02};
    static const unsigned char ula[1] = {0xfc};
    static const unsigned char linklocal[2] = {0xfe, 0x80};
    static const unsigned char sitelocal[2] = {0xfe, 0xc0};
    static const unsigned char mcast[1] = {0xff};

    if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
        return a[15] == 0 ? "unspecified" : "loopback";
    /* IPv4 inside IPv6: judge the IPv4 address (a mapped 127.0.0.1 is loopback). */
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
        const char *c = classify_v4(v4_at(a + 12));
        return c ? c : NULL;
    }
    if (has_prefix(a, zero, 96))
        return "reserved"; /* ::/96 deprecated IPv4-compatible */
    if (has_prefix(a, nat64_local, 48))
        return "private"; /* 64:ff9b:1::/48 local-use NAT64 */
    if (has_prefix(a, discard, 64))
        return "reserved"; /* 100::/64 discard-only */
    if (has_prefix(a, doc, 32))
        return "documentation";
    if (has_prefix(a, teredo_etc, 23))
        return "reserved"; /* 2001::/23 IETF protocol assignments (Teredo, ORCHID, ...) */
    if (has_prefix(a, sixtofour, 16)) {
        const char *c = classify_v4(v4_at(a + 2));
        return c ? c : NULL;
    }
    if (has_prefix(a, ula, 7))
        return "unique-local";
    if (has_prefix(a, linklocal, 10))
        return "link-local";
    if (has_prefix(a, sitelocal, 10))
        return "site-local";
    if (has_prefix(a, mcast, 8))
        return "multicast";
    /* Only global unicast (2000::/3) is routed on the internet. */
    if ((a[0] & 0xe0) != 0x20)
        return "reserved";
    return NULL;
}

const char *netguard_classify(const struct sockaddr *sa, size_t salen)
{
    if (!sa)
        return "unsupported";
    if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return classify_v4(ntohl(in.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return classify_v6(in6.sin6_addr.s6_addr);
    }
    return "unsupported";
}

const char *netguard_classify_text(const char *text)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;

    memset(&in, 0, sizeof in);
    memset(&in6, 0, sizeof in6);
    if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        return netguard_classify((const struct sockaddr *)&in, sizeof in);
    }
    if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        return netguard_classify((const struct sockaddr *)&in6, sizeof in6);
    }
    return "invalid";
}

/*
 * 1 if host ends in a numeric label (decimal, or 0x hex) without being a dotted
 * quad: an IPv4 address spelt another way ("2130706433", "0x7f.1", "127.1"),
 * which resolvers and libcurl turn into an address. The origin we sign for
 * would then not be the host we connect to; no push service uses such names.
 */
static int odd_ipv4(const char *host)
{
    struct in_addr a;
    const char *last = strrchr(host, '.');
    last = last ? last + 1 : host;
    if (!*last)
        return 0;
    int hex = (last[0] == '0' && (last[1] == 'x' || last[1] == 'X'));
    for (const char *p = last + (hex ? 2 : 0); *p; p++)
        if (hex ? !isxdigit((unsigned char)*p) : !isdigit((unsigned char)*p))
            return 0;
    return inet_pton(AF_INET, host, &a) != 1;
}

int netguard_check_host(const char *host, int allow_private, char *why, size_t whylen)
{
    struct addrinfo hints, *res = NULL;
    int rc, ret = 0;

    if (odd_ipv4(host)) {
        snprintf(why, whylen, "the host %s is not a DNS name or a dotted-quad IPv4 address", host);
        return -1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, "443", &hints, &res);
    if (rc != 0 || !res) {
        snprintf(why, whylen, "the host %s does not resolve", host);
        return -1;
    }
    for (struct addrinfo *ai = res; ai && !allow_private; ai = ai->ai_next) {
        const char *c = netguard_classify(ai->ai_addr, ai->ai_addrlen);
        if (c) {
            char addr[INET6_ADDRSTRLEN] = "?";
            if (ai->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, addr,
                          sizeof addr);
            else if (ai->ai_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, addr,
                          sizeof addr);
            snprintf(why, whylen, "the host %s resolves to %s, a %s address", host, addr, c);
            ret = -1;
            break;
        }
    }
    freeaddrinfo(res);
    return ret;
}
