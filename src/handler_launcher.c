/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handler_launcher.c - the launcher API of the PC side: a signed start, then
 * heartbeats, OTTs and the end under a bearer token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "cidr.h"
#include "crypto.h"
#include "keys.h"
#include "shard.h"
#include "util.h"

/* Room for a launcher token: "lt_" and 48 hex digits. */
#define LAUNCHER_TOKEN_MAX 56
/* Room for an OTT: "ott_" and 32 hex digits. */
#define LAUNCHER_OTT_MAX 40
/* The largest hardware object kept. */
#define LAUNCHER_HARDWARE_MAX 4096
/* The longest venue id accepted in X-Venue-Id. */
#define LAUNCHER_VENUE_MAX 128
/* The longest secret a venue may have. */
#define LAUNCHER_SECRET_MAX 1024

/* What the store holds about a venue, as the signature check needs it. */
struct venue {
	char secret[LAUNCHER_SECRET_MAX];
	size_t secret_len;
	char cidrs[CONFIG_STR_MAX];
};

/*
 * Loads a venue. Returns 1 when found, 0 when unknown, -1 after answering a
 * store error.
 */
static int launcher_load_venue(struct call *c, const char *id, struct venue *v)
{
	char key[LAUNCHER_VENUE_MAX + CONFIG_STR_MAX + 16];
	const char *argv[4] = {"HMGET", key, KEYS_FIELD(VENUE, SECRET),
			       KEYS_FIELD(VENUE, CIDRS)};
	struct store_reply *r = NULL;
	enum store_result res;
	size_t len;
	const char *s;

	char base[SHARD_BASE_MAX];

	if (shard_base(c->app->cfg, c->shard, base, sizeof base) != 0 ||
	    keys_make(key, sizeof key, base, KEYS_VENUE, id, NULL) != 0) {
		call_error(c, HB_INTERNAL_ERROR, NULL);
		return -1;
	}
	res = store_command(c->app->store, c->shard, 4, argv, NULL, &r);
	if (res != STORE_OK) {
		call_error(c,
			   res == STORE_UNAVAILABLE ? HB_SERVICE_UNAVAILABLE
						    : HB_INTERNAL_ERROR,
			   NULL);
		return -1;
	}
	s = store_reply_str(store_reply_at(r, 0), &len);
	if (s == NULL || len == 0 || len >= sizeof v->secret) {
		store_reply_free(r);
		return 0;
	}
	memcpy(v->secret, s, len);
	v->secret[len] = '\0';
	v->secret_len = len;
	call_reply_str(r, 1, v->cidrs, sizeof v->cidrs);
	store_reply_free(r);
	return 1;
}

/*
 * Checks X-Signature against the request: lowercase hex
 * HMAC-SHA256(secret, METHOD \n PATH \n TIMESTAMP \n hex SHA-256(body)).
 */
static int launcher_signature_ok(struct call *c, const struct venue *v,
				 const char *timestamp, const char *signature)
{
	char bodyhash[CRYPTO_SHA256_HEX], expect[CRYPTO_SHA256_HEX];
	char *msg;
	size_t mlen;
	int ok;

	crypto_sha256_hex(c->req->body ? c->req->body : "", c->req->body_len,
			  bodyhash);
	mlen = strlen(c->req->method) + strlen(c->req->raw_path) +
	       strlen(timestamp) + 64 + 4;
	msg = malloc(mlen);
	if (msg == NULL)
		return 0;
	snprintf(msg, mlen, "%s\n%s\n%s\n%s", c->req->method, c->req->raw_path,
		 timestamp, bodyhash);
	crypto_hmac_sha256_hex(v->secret, v->secret_len, msg, strlen(msg),
			       expect);
	free(msg);
	ok = crypto_equal(expect, 64, signature, strlen(signature));
	return ok;
}

void handle_launcher_start(struct call *c)
{
	const char *venue_id = http_param(c->req, "HTTP_X_VENUE_ID");
	const char *timestamp = http_param(c->req, "HTTP_X_TIMESTAMP");
	const char *signature = http_param(c->req, "HTTP_X_SIGNATURE");
	const char *pc, *ip, *hw = "{}";
	size_t pc_len, ip_len, hw_len = 2;
	char token[LAUNCHER_TOKEN_MAX], hash[CRYPTO_SHA256_HEX];
	char window[24];
	struct venue *v;
	struct cidr_list *ranges;
	int64_t ts;
	struct store_reply *r;
	unsigned home;
	int found;

	if (venue_id == NULL || *venue_id == '\0' ||
	    strlen(venue_id) > LAUNCHER_VENUE_MAX || timestamp == NULL ||
	    signature == NULL ||
	    util_parse_int(timestamp, 0, INT64_MAX / 1000, &ts) != 0) {
		call_error(
		    c, HB_INVALID_SIGNATURE,
		    "X-Venue-Id, X-Timestamp and X-Signature are required");
		return;
	}
	if (call_read_body(c, 0) != 0)
		return;
	v = malloc(sizeof *v + sizeof *ranges);
	if (v == NULL) {
		call_error(c, HB_INTERNAL_ERROR, NULL);
		return;
	}
	ranges = (struct cidr_list *)(v + 1);
	home = shard_home(venue_id, strlen(venue_id));
	c->shard = shard_of_home(c->app->cfg, home);
	found = launcher_load_venue(c, venue_id, v);
	if (found < 0)
		goto done;
	if (found == 0 || !launcher_signature_ok(c, v, timestamp, signature)) {
		call_error(c, HB_INVALID_SIGNATURE, NULL);
		goto done;
	}
	{
		char err[128];
		if (cidr_list_parse(v->cidrs, ranges, err, sizeof err) != 0 ||
		    !cidr_list_contains(ranges, c->req->client_addr)) {
			call_error(c, HB_VENUE_NOT_ALLOWED, NULL);
			goto done;
		}
	}
	if (call_string_field(c, "pc_id", &pc, &pc_len) != 0 ||
	    call_string_field(c, "internal_ip", &ip, &ip_len) != 0 ||
	    call_object_field(c, "hardware", LAUNCHER_HARDWARE_MAX, &hw,
			      &hw_len) != 0)
		goto done;
	if (crypto_random_token("lt_", 24, token) != 0) {
		call_error(c, HB_INTERNAL_ERROR, NULL);
		goto done;
	}
	shard_put_home(home, token + 3); /* the token names its venue's shard */
	crypto_sha256_hex(token, strlen(token), hash);
	snprintf(window, sizeof window, "%lld",
		 (long long)c->app->cfg->signature_window_sec);
	{
		/* The record keeps the home its token carries (reshard). */
		const char *argv[9] = {venue_id,  pc,	  ip,
				       hw,	  hash,	  signature,
				       timestamp, window, token + 3};
		const size_t lens[9] = {strlen(venue_id),
					pc_len,
					ip_len,
					hw_len,
					64,
					strlen(signature),
					strlen(timestamp),
					strlen(window),
					SHARD_HOME_HEX};
		if (call_script(c, SCRIPT_LAUNCHER_START, 9, argv, lens, &r) !=
		    0)
			goto done;
	}
	call_data_begin(c);
	jw_key(&c->resp->body, "launcher_token");
	jw_string(&c->resp->body, token);
	jw_key(&c->resp->body, "next_heartbeat_in");
	jw_int(&c->resp->body, c->app->cfg->launcher_interval_sec);
	jw_key(&c->resp->body, "games");
	jw_array_begin(&c->resp->body);
	for (size_t i = 1; i + 1 < store_reply_count(r); i += 2) {
		size_t glen, nlen;
		const char *g = store_reply_str(store_reply_at(r, i), &glen);
		const char *n =
		    store_reply_str(store_reply_at(r, i + 1), &nlen);

		jw_object_begin(&c->resp->body);
		jw_key(&c->resp->body, "game_id");
		jw_string_n(&c->resp->body, g, glen);
		jw_key(&c->resp->body, "name");
		jw_string_n(&c->resp->body, n, nlen);
		jw_object_end(&c->resp->body);
	}
	jw_array_end(&c->resp->body);
	call_data_end(c);
	store_reply_free(r);
done:
	free(v);
}

/*
 * Hashes the bearer token of the Authorization header into hash and routes
 * the call to the shard the token names; writes the home it carries at
 * home (SHARD_HOME_HEX digits, NULL: not wanted) when it carries one.
 * Answers 401 and returns -1 when there is none.
 */
static int launcher_bearer(struct call *c, char hash[CRYPTO_SHA256_HEX],
			   char *home)
{
	const char *auth = http_param(c->req, "HTTP_AUTHORIZATION");
	size_t len;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		call_error(c, HB_UNAUTHORIZED,
			   "an Authorization: Bearer token is required");
		return -1;
	}
	auth += 7;
	while (*auth == ' ')
		auth++;
	len = strlen(auth);
	while (len > 0 && auth[len - 1] == ' ')
		len--;
	if (len == 0 || len > JSON_STRING_MAX) {
		call_error(c, HB_UNAUTHORIZED, NULL);
		return -1;
	}
	crypto_sha256_hex(auth, len, hash);
	call_route_id(c, "lt_", auth, len);
	if (home != NULL)
		call_copy_home("lt_", auth, len, home);
	return 0;
}

/* Writes a game session id from a reply (borrowed): a string, else null. */
static void launcher_write_gs(struct call *c, const struct store_reply *r)
{
	size_t len;
	const char *gs = store_reply_str(r, &len);

	jw_key(&c->resp->body, "game_session_id");
	if (gs != NULL)
		jw_string_n(&c->resp->body, gs, len);
	else
		jw_null(&c->resp->body);
}

void handle_launcher_heartbeat(struct call *c)
{
	char hash[CRYPTO_SHA256_HEX];
	const char *argv[1] = {hash};
	struct store_reply *r;

	if (launcher_bearer(c, hash, NULL) != 0 || call_read_body(c, 1) != 0 ||
	    call_script(c, SCRIPT_LAUNCHER_HEARTBEAT, 1, argv, NULL, &r) != 0)
		return;
	call_data_begin(c);
	jw_key(&c->resp->body, "result");
	jw_string(&c->resp->body, "OK");
	jw_key(&c->resp->body, "next_heartbeat_in");
	jw_int(&c->resp->body, c->app->cfg->launcher_interval_sec);
	/* The session id, or 0 when there is none (launcher_heartbeat.lua). */
	launcher_write_gs(c, r);
	call_data_end(c);
	store_reply_free(r);
}

void handle_launcher_ott(struct call *c)
{
	char hash[CRYPTO_SHA256_HEX], ott[LAUNCHER_OTT_MAX], keep[24];
	const char *game;
	size_t game_len;
	struct store_reply *r;

	if (crypto_random_token("ott_", 16, ott) != 0) {
		call_error(c, HB_INTERNAL_ERROR, NULL);
		return;
	}
	/* The OTT carries the launcher's home: its game session's shard. */
	if (launcher_bearer(c, hash, ott + 4) != 0 ||
	    call_read_body(c, 0) != 0 ||
	    call_string_field(c, "game_id", &game, &game_len) != 0)
		return;
	snprintf(keep, sizeof keep, "%lld",
		 (long long)c->app->cfg->ott_record_sec * 1000);
	{
		const char *argv[4] = {hash, game, ott, keep};
		const size_t lens[4] = {64, game_len, strlen(ott),
					strlen(keep)};
		if (call_script(c, SCRIPT_LAUNCHER_OTT, 4, argv, lens, &r) != 0)
			return;
	}
	call_data_begin(c);
	jw_key(&c->resp->body, "ott");
	jw_string(&c->resp->body, ott);
	jw_key(&c->resp->body, "expires_in");
	jw_int(&c->resp->body, c->app->cfg->ott_ttl_sec);
	call_data_end(c);
	store_reply_free(r);
}

void handle_launcher_end(struct call *c)
{
	char hash[CRYPTO_SHA256_HEX];
	const char *argv[1] = {hash};
	struct store_reply *r;

	if (launcher_bearer(c, hash, NULL) != 0 || call_read_body(c, 1) != 0 ||
	    call_script(c, SCRIPT_LAUNCHER_END, 1, argv, NULL, &r) != 0)
		return;
	call_data_begin(c);
	jw_key(&c->resp->body, "result");
	jw_string(&c->resp->body, "SUCCESS");
	launcher_write_gs(c, store_reply_at(r, 1));
	call_data_end(c);
	store_reply_free(r);
}
