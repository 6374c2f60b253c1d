/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_cidr.c - address ranges (cidr.h) as HB_TRUSTED_PROXIES,
 * HB_METRICS_ALLOW and a venue's ranges give them, and matching client
 * addresses against them, compared with a bit-by-bit reference; then
 * http_client_addr with that list as the trusted proxies.
 *
 * Input: lines. The first is a list of ranges; each further line is parsed
 * as one range and matched as an address. The second and third lines are
 * also REMOTE_ADDR and X-Forwarded-For.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "config.h"
#include "harness.h"
#include "http.h"

/* The most lines of one input that are looked at. */
#define FUZZ_LINES_MAX 16

/* The address bytes and family of text, IPv4-mapped IPv6 as IPv4. */
static int ref_addr(const char *text, int *family, unsigned char a[16])
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,	   0,
						 0, 0, 0, 0, 0xff, 0xff};

	memset(a, 0, 16);
	if (inet_pton(AF_INET, text, a) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, a) != 1)
		return -1;
	*family = AF_INET6;
	if (memcmp(a, mapped, sizeof mapped) == 0) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		*family = AF_INET;
	}
	return 0;
}

static int ref_bit(const unsigned char *a, int bit)
{
	return (a[bit / 8] >> (7 - bit % 8)) & 1;
}

/* Whether addr is in the list, one bit at a time. */
static int ref_contains(const struct cidr_list *list, const char *addr)
{
	unsigned char a[16];
	int family;

	if (ref_addr(addr, &family, a) != 0)
		return 0;
	for (size_t i = 0; i < list->count; i++) {
		const struct cidr *c = &list->items[i];
		int bit = 0;

		if (c->family != family)
			continue;
		while (bit < c->prefix &&
		       ref_bit(a, bit) == ref_bit(c->addr, bit))
			bit++;
		if (bit == c->prefix)
			return 1;
	}
	return 0;
}

/* A parsed range is sane: a known family, a prefix in range, no host bits. */
static void fuzz_check_range(const struct cidr *c)
{
	int maxbits = c->family == AF_INET ? 32 : 128;

	if (c->family != AF_INET && c->family != AF_INET6)
		fuzz_fail("a range of family %d", c->family);
	if (c->prefix < 0 || c->prefix > maxbits)
		fuzz_fail("a prefix of %d bits", c->prefix);
	for (int bit = c->prefix; bit < 128; bit++)
		if (ref_bit(c->addr, bit))
			fuzz_fail("host bit %d of a /%d is set", bit,
				  c->prefix);
}

/* Parses one range; its network address must then match it. */
static void fuzz_one_range(const char *text)
{
	struct cidr_list *one = calloc(1, sizeof *one);
	char addr[INET6_ADDRSTRLEN];

	if (one == NULL)
		fuzz_fail("out of memory");
	if (cidr_parse(text, &one->items[0]) == 0) {
		fuzz_check_range(&one->items[0]);
		one->count = 1;
		if (inet_ntop(one->items[0].family, one->items[0].addr, addr,
			      sizeof addr) == NULL)
			fuzz_fail("a parsed range has no text");
		if (!cidr_list_contains(one, addr))
			fuzz_fail("%s is not in %s", addr, text);
	}
	free(one);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *lines[FUZZ_LINES_MAX];
	size_t nlines = 0;
	struct config *cfg = calloc(1, sizeof *cfg);
	char err[128];
	char *p;

	if (text == NULL || cfg == NULL)
		fuzz_fail("out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text; nlines < FUZZ_LINES_MAX;) {
		char *nl = strchr(p, '\n');

		lines[nlines++] = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}

	err[0] = '\0';
	if (cidr_list_parse(lines[0], &cfg->proxies, err, sizeof err) != 0) {
		if (err[0] == '\0')
			fuzz_fail("a refused list has no reason");
		cfg->proxies.count = 0;
	}
	if (cfg->proxies.count > CIDR_LIST_MAX)
		fuzz_fail("a list of %zu ranges", cfg->proxies.count);
	for (size_t i = 0; i < cfg->proxies.count; i++)
		fuzz_check_range(&cfg->proxies.items[i]);

	for (size_t i = 0; i < nlines; i++) {
		fuzz_one_range(lines[i]);
		if (cidr_list_contains(&cfg->proxies, lines[i]) !=
		    ref_contains(&cfg->proxies, lines[i]))
			fuzz_fail(
			    "cidr_list_contains(\"%s\") disagrees with the "
			    "reference",
			    lines[i]);
	}

	if (nlines >= 2) {
		const char *xff = nlines >= 3 ? lines[2] : NULL;
		char out[HTTP_ADDR_MAX], want[HTTP_ADDR_MAX];

		http_client_addr(cfg, lines[1], xff, out, sizeof out);
		fuzz_client_addr_ref(&cfg->proxies, lines[1], xff, want,
				     sizeof want);
		if (memchr(out, '\0', sizeof out) == NULL ||
		    strcmp(out, want) != 0)
			fuzz_fail("client address %s, where the rule gives %s",
				  out, want);
	}
	free(cfg);
	free(text);
	return 0;
}
