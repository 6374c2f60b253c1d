/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cidr.h - IPv4 and IPv6 address ranges ("10.0.0.0/8", "2001:db8::/32").
 */
#ifndef HB_CIDR_H
#define HB_CIDR_H

#include <stddef.h>

/* The most ranges one list holds. */
#define CIDR_LIST_MAX 64

struct cidr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network address, host bits cleared */
	int prefix;		/* prefix length in bits */
};

struct cidr_list {
	size_t count;
	struct cidr items[CIDR_LIST_MAX];
};

/*
 * Parses one range. A bare address is a single host (/32 or /128). Returns 0,
 * or -1 when the text is not a range.
 */
int cidr_parse(const char *text, struct cidr *out);

/*
 * Parses a comma-separated list of ranges (spaces around commas allowed; an
 * empty string is an empty list). Returns 0, or -1 naming the bad item in err.
 */
int cidr_list_parse(const char *text, struct cidr_list *out, char *err,
		    size_t errlen);

/*
 * Whether the textual address addr (IPv4, IPv6, or IPv4-mapped IPv6) lies in
 * one of the list's ranges. Returns 1 or 0; an unparsable address is 0.
 */
int cidr_list_contains(const struct cidr_list *list, const char *addr);

#endif
