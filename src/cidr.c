/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cidr.c - parsing and matching of address ranges.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "util.h"

/* The longest textual range accepted: an IPv6 address and "/128". */
#define CIDR_TEXT_MAX (INET6_ADDRSTRLEN + 4)

/* Parses a textual address into family and bytes. Returns 0, or -1. */
static int cidr_parse_addr(const char *text, int *family,
			   unsigned char addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		static const unsigned char mapped[12] = {
		    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		/* An IPv4-mapped IPv6 address is the IPv4 address. */
		if (memcmp(addr, mapped, sizeof mapped) == 0) {
			memmove(addr, addr + 12, 4);
			memset(addr + 4, 0, 12);
			*family = AF_INET;
		} else {
			*family = AF_INET6;
		}
		return 0;
	}
	return -1;
}

int cidr_parse(const char *text, struct cidr *out)
{
	char buf[CIDR_TEXT_MAX + 1];
	const char *slash;
	size_t alen;
	int64_t prefix;
	int maxbits;

	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen > CIDR_TEXT_MAX)
		return -1;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (cidr_parse_addr(buf, &out->family, out->addr) != 0)
		return -1;
	maxbits = out->family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		prefix = maxbits;
	} else if (util_parse_int64(slash + 1, strlen(slash + 1), 0, maxbits,
				    &prefix) != 0) {
		return -1;
	}
	out->prefix = (int)prefix;
	/* Clear the host bits so matching compares networks only. */
	for (int bit = out->prefix; bit < maxbits; bit++)
		out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return 0;
}

int cidr_list_parse(const char *text, struct cidr_list *out, char *err,
		    size_t errlen)
{
	const char *p = text;

	out->count = 0;
	while (*p != '\0') {
		char item[CIDR_TEXT_MAX + 2];
		const char *end;
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		end = p;
		while (*end != '\0' && *end != ',' && *end != ' ')
			end++;
		len = (size_t)(end - p);
		if (len > CIDR_TEXT_MAX) {
			snprintf(err, errlen, "address range too long");
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (out->count == CIDR_LIST_MAX) {
			snprintf(err, errlen, "more than %d ranges",
				 CIDR_LIST_MAX);
			return -1;
		}
		if (cidr_parse(item, &out->items[out->count]) != 0) {
			snprintf(err, errlen, "not an address range: %s", item);
			return -1;
		}
		out->count++;
		p = end;
	}
	return 0;
}

int cidr_list_contains(const struct cidr_list *list, const char *addr)
{
	unsigned char a[16];
	int family;

	if (list == NULL || addr == NULL ||
	    cidr_parse_addr(addr, &family, a) != 0)
		return 0;
	for (size_t i = 0; i < list->count; i++) {
		const struct cidr *c = &list->items[i];
		int full = c->prefix / 8, rest = c->prefix % 8;

		if (c->family != family)
			continue;
		if (memcmp(a, c->addr, (size_t)full) != 0)
			continue;
		if (rest != 0) {
			unsigned char mask =
			    (unsigned char)(0xff << (8 - rest));
			if ((a[full] & mask) != c->addr[full])
				continue;
		}
		return 1;
	}
	return 0;
}
