/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handler_game.c - the game-session API: verify, heartbeat, check, end.
 * Each is one script call; the rules live in src/lua/game_*.lua.
 */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "crypto.h"

/* Room for "gs_" and a UUID. */
#define GAME_SESSION_ID_MAX 40

/*
 * Hashes the X-Api-Key header into keyhash. Answers 401 and returns -1 when
 * the header is missing or empty.
 */
static int game_api_key(struct call *c, char keyhash[CRYPTO_SHA256_HEX])
{
	const char *key = http_param(c->req, "HTTP_X_API_KEY");

	if (key == NULL || *key == '\0') {
		call_error(c, HB_INVALID_API_KEY,
			   "the X-Api-Key header is required");
		return -1;
	}
	crypto_sha256_hex(key, strlen(key), keyhash);
	return 0;
}

void handle_game_verify(struct call *c)
{
	char keyhash[CRYPTO_SHA256_HEX], id[GAME_SESSION_ID_MAX];
	char ttl[24], word[32], reason[32];
	const char *ott, *user;
	size_t ott_len, user_len;
	struct store_reply *r;

	if (game_api_key(c, keyhash) != 0 || call_read_body(c, 0) != 0 ||
	    call_string_field(c, "ott", &ott, &ott_len) != 0 ||
	    call_string_field(c, "provider_user_id", &user, &user_len) != 0)
		return;
	memcpy(id, "gs_", 3);
	if (crypto_uuid4(id + 3) != 0) {
		call_error(c, HB_INTERNAL_ERROR, NULL);
		return;
	}
	/* The session lives with its venue, whose home the OTT carries. */
	call_route_id(c, "ott_", ott, ott_len);
	call_copy_home("ott_", ott, ott_len, id + 3);
	snprintf(ttl, sizeof ttl, "%lld",
		 (long long)c->app->cfg->ott_ttl_sec * 1000);
	{
		const char *argv[5] = {keyhash, ott, user, id, ttl};
		const size_t lens[5] = {64, ott_len, user_len, strlen(id),
					strlen(ttl)};
		if (call_script(c, SCRIPT_GAME_VERIFY, 5, argv, lens, &r) != 0)
			return;
	}
	call_reply_str(r, 1, word, sizeof word);
	call_data_begin(c);
	if (strcmp(word, "VALID") == 0) {
		jw_key(&c->resp->body, "is_valid");
		jw_bool(&c->resp->body, 1);
		jw_key(&c->resp->body, "game_session_id");
		jw_string(&c->resp->body, id);
		jw_key(&c->resp->body, "is_pc_cafe");
		jw_bool(&c->resp->body, 1);
	} else {
		jw_key(&c->resp->body, "is_valid");
		jw_bool(&c->resp->body, 0);
		jw_key(&c->resp->body, "reason");
		jw_string(&c->resp->body,
			  call_reply_str(r, 2, reason, sizeof reason));
	}
	call_data_end(c);
	store_reply_free(r);
}

/* Heartbeat and check differ only in whether the gap is counted. */
static void game_keepalive(struct call *c, const char *mode)
{
	char keyhash[CRYPTO_SHA256_HEX], result[32];
	const char *id, *user;
	size_t id_len, user_len;
	struct store_reply *r;
	long long play;

	if (game_api_key(c, keyhash) != 0 || call_read_body(c, 0) != 0 ||
	    call_string_field(c, "game_session_id", &id, &id_len) != 0 ||
	    call_string_field(c, "provider_user_id", &user, &user_len) != 0)
		return;
	call_route_id(c, "gs_", id, id_len);
	{
		const char *argv[4] = {keyhash, id, user, mode};
		const size_t lens[4] = {64, id_len, user_len, strlen(mode)};
		if (call_script(c, SCRIPT_GAME_HEARTBEAT, 4, argv, lens, &r) !=
		    0)
			return;
	}
	if (store_reply_type(r) == STORE_T_INT) {
		/* The play time, or -1 minus it in grace (game_heartbeat.lua).
		 */
		play = store_reply_int(r);
		snprintf(result, sizeof result, "%s",
			 play >= 0 ? "OK" : "CHARGE_EXHAUSTED");
		if (play < 0)
			play = -1 - play;
	} else {
		call_reply_str(r, 1, result, sizeof result);
		play = store_reply_int(store_reply_at(r, 2));
	}
	call_data_begin(c);
	jw_key(&c->resp->body, "result");
	jw_string(&c->resp->body, result);
	jw_key(&c->resp->body, "next_heartbeat_in");
	jw_int(&c->resp->body, c->app->cfg->heartbeat_interval_sec);
	jw_key(&c->resp->body, "play_duration_sec");
	jw_int(&c->resp->body, play);
	call_data_end(c);
	store_reply_free(r);
}

void handle_game_heartbeat(struct call *c)
{
	game_keepalive(c, "heartbeat");
}

void handle_game_check(struct call *c)
{
	game_keepalive(c, "check");
}

void handle_game_end(struct call *c)
{
	char keyhash[CRYPTO_SHA256_HEX];
	const char *id;
	size_t id_len;
	int64_t client = -1;
	struct store_reply *r;

	if (game_api_key(c, keyhash) != 0 || call_read_body(c, 0) != 0 ||
	    call_string_field(c, "game_session_id", &id, &id_len) != 0)
		return;
	switch (json_body_int(c->body, "play_duration_sec", 0, INT32_MAX,
			      &client)) {
	case JSON_FIELD_OK:
	case JSON_FIELD_MISSING:
	case JSON_FIELD_NULL:
		break;
	case JSON_FIELD_WRONG_TYPE:
		call_error(c, HB_BAD_REQUEST,
			   "play_duration_sec must be an integer or null");
		return;
	default:
		call_error(c, HB_BAD_REQUEST,
			   "play_duration_sec must be from 0 to 2147483647");
		return;
	}
	call_route_id(c, "gs_", id, id_len);
	{
		const char *argv[2] = {keyhash, id};
		const size_t lens[2] = {64, id_len};
		if (call_script(c, SCRIPT_GAME_END, 2, argv, lens, &r) != 0)
			return;
	}
	call_data_begin(c);
	jw_key(&c->resp->body, "result");
	jw_string(&c->resp->body, "SUCCESS");
	jw_key(&c->resp->body, "play_duration_sec");
	jw_int(&c->resp->body, store_reply_int(store_reply_at(r, 1)));
	jw_key(&c->resp->body, "client_play_duration_sec");
	if (client >= 0)
		jw_int(&c->resp->body, client);
	else
		jw_null(&c->resp->body);
	call_data_end(c);
	store_reply_free(r);
}
