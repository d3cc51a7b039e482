/*
 * netguard: which network addresses a server-side request (a Web Push delivery:
 * a URL chosen by a client) may reach.
 *
 * A push endpoint is a URL the browser hands us; without a check, a client
 * could make the worker POST to 127.0.0.1, the metadata service at
 * 169.254.169.254, or anything on the private network (SSRF). Two checks use
 * the same classifier: at subscription time every address the host resolves to
 * must be public, and at connect time (libcurl's opensocket callback) the
 * address actually connected to must be public, so DNS rebinding between the
 * two gains nothing.
 */
#ifndef MISSIVE_NETGUARD_H
#define MISSIVE_NETGUARD_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * NULL if the address is an ordinary public unicast address; otherwise a short
 * static name of its class ("loopback", "private", "link-local", "unique-local",
 * "multicast", "unspecified", "reserved", ...). Covers IPv4 and IPv6, including
 * IPv4 addresses embedded in IPv6 (mapped, compatible, NAT64, 6to4). Families
 * other than AF_INET and AF_INET6 are "unsupported".
 */
const char *netguard_classify(const struct sockaddr *sa, size_t salen);

/* netguard_classify for a numeric address in text ("10.0.0.1", "::1"); "invalid"
 * if text is not one. For tests and logs. */
const char *netguard_classify_text(const char *text);

/*
 * Resolves host (a DNS name or an IP literal, IPv6 without brackets) and checks
 * every address it resolves to. 0 if all are public (or allow_private is set
 * and it resolves at all); -1 with a one-line reason in why when one is not or
 * the name does not resolve. IPv4 addresses spelt other than as a dotted quad
 * ("2130706433", "0x7f.1", "127.1") are refused whatever allow_private says.
 * Blocks for as long as getaddrinfo() does.
 */
int netguard_check_host(const char *host, int allow_private, char *why, size_t whylen);

#endif
