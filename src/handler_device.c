/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handler_device.c - the device-session API (Flashback-compatible): bearer
 * authentication (HS256 JWT or an opaque token), then one script call whose
 * reply is the response body. The rules live in src/lua/device.lua.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "crypto.h"
#include "jwt.h"

/* The longest id accepted in a path. */
#define DEVICE_ID_MAX 64
/* The largest deviceInfo object kept. */
#define DEVICE_INFO_MAX 4096
/* The most arguments one device call passes after the common ones. */
#define DEVICE_ARGS_MAX 16

/* The credentials of one call, as the script takes them. */
struct device_auth {
	const char *kind; /* "jwt" or "opaque" */
	char subject[CRYPTO_SHA256_HEX + JWT_CLAIM_MAX];
	char sid[JWT_CLAIM_MAX];
	char exp[24], nbf[24];
};

/*
 * Reads the bearer token: a JWT (three dot-separated parts) is verified here,
 * an opaque token is hashed for the script to look up. Answers 401 and
 * returns -1 when the token is missing or not valid.
 */
static int device_authenticate(struct call *c, struct device_auth *a)
{
	const char *auth = http_param(c->req, "HTTP_AUTHORIZATION");
	const char *secret = c->app->cfg->jwt_secret;
	struct jwt_claims claims;
	size_t len;

	memset(a, 0, sizeof *a);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		call_error(c, HB_UNAUTHORIZED, "Authentication required");
		return -1;
	}
	auth += 7;
	while (*auth == ' ')
		auth++;
	len = strlen(auth);
	while (len > 0 && auth[len - 1] == ' ')
		len--;
	if (len == 0 || len > JWT_MAX) {
		call_error(c, HB_UNAUTHORIZED, "Invalid or expired token");
		return -1;
	}
	if (memchr(auth, '.', len) == NULL) {
		a->kind = "opaque";
		crypto_sha256_hex(auth, len, a->subject);
		snprintf(a->exp, sizeof a->exp, "0");
		snprintf(a->nbf, sizeof a->nbf, "0");
		return 0;
	}
	if (secret[0] == '\0' ||
	    jwt_verify_hs256(auth, len, secret, strlen(secret), &claims) !=
		JWT_OK) {
		call_error(c, HB_UNAUTHORIZED, "Invalid or expired token");
		return -1;
	}
	a->kind = "jwt";
	snprintf(a->subject, sizeof a->subject, "%s", claims.sub);
	snprintf(a->sid, sizeof a->sid, "%s", claims.sid);
	snprintf(a->exp, sizeof a->exp, "%lld", (long long)claims.exp);
	snprintf(a->nbf, sizeof a->nbf, "%lld", (long long)claims.nbf);
	return 0;
}

/* Whether a path id is one this service could have issued. */
static int device_id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n <= DEVICE_ID_MAX &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789-_") == n;
}

/*
 * Runs operation op with its nargs arguments and writes the script's body.
 * The caller has authenticated the request into a.
 */
static void device_run(struct call *c, const struct device_auth *a,
		       const char *op, int nargs, const char *const *args,
		       const size_t *arg_lens)
{
	const struct config *cfg = c->app->cfg;
	char leeway[24], idle[24], maxlife[24], trust[24];
	const char *argv[11 + DEVICE_ARGS_MAX];
	size_t lens[11 + DEVICE_ARGS_MAX];
	struct store_reply *r;
	const char *body;
	size_t blen;
	int n = 0;

	snprintf(leeway, sizeof leeway, "%lld", (long long)cfg->jwt_leeway_sec);
	snprintf(idle, sizeof idle, "%lld",
		 (long long)cfg->device_idle_sec * 1000);
	snprintf(maxlife, sizeof maxlife, "%lld",
		 (long long)cfg->device_max_sec * 1000);
	snprintf(trust, sizeof trust, "%lld",
		 (long long)cfg->device_trust_sec * 1000);
	argv[n++] = a->kind;
	argv[n++] = a->subject;
	argv[n++] = a->sid;
	argv[n++] = a->exp;
	argv[n++] = a->nbf;
	argv[n++] = leeway;
	argv[n++] = idle;
	argv[n++] = maxlife;
	argv[n++] = trust;
	argv[n++] = c->req->client_addr;
	argv[n++] = op;
	for (int i = 0; i < n; i++)
		lens[i] = strlen(argv[i]);
	for (int i = 0; i < nargs && i < DEVICE_ARGS_MAX; i++, n++) {
		argv[n] = args[i];
		lens[n] = arg_lens ? arg_lens[i] : strlen(args[i]);
	}
	if (call_script(c, SCRIPT_DEVICE, n, argv, lens, &r) != 0)
		return;
	body = store_reply_str(store_reply_at(r, 1), &blen);
	jw_reset(&c->resp->body);
	jw_raw(&c->resp->body, body ? body : "{}", body ? blen : 2);
	store_reply_free(r);
}

/* An operation on the id in the path: authenticate, check the id, run. */
static void device_on_path_id(struct call *c, const char *op,
			      const char *not_found)
{
	struct device_auth a;
	const char *args[1] = {c->path_id};

	if (device_authenticate(c, &a) != 0)
		return;
	if (!device_id_ok(c->path_id)) {
		call_error(c, HB_NOT_FOUND, not_found);
		return;
	}
	device_run(c, &a, op, 1, args, NULL);
}

/* An operation that takes nothing but the caller's identity. */
static void device_on_user(struct call *c, const char *op)
{
	struct device_auth a;

	if (device_authenticate(c, &a) == 0)
		device_run(c, &a, op, 0, NULL, NULL);
}

void handle_device_session_create(struct call *c)
{
	struct device_auth a;
	const char *fp, *info = "{}", *login = "";
	size_t fp_len, info_len = 2, login_len = 0;
	char sid[40], dev[40];

	if (device_authenticate(c, &a) != 0 || call_read_body(c, 0) != 0 ||
	    call_string_field(c, "fingerprint", &fp, &fp_len) != 0)
		return;
	switch (json_body_object_text(c->body, "deviceInfo", DEVICE_INFO_MAX,
				      &info, &info_len)) {
	case JSON_FIELD_OK:
		break;
	case JSON_FIELD_MISSING:
	case JSON_FIELD_NULL:
		info = "{}";
		info_len = 2;
		break;
	case JSON_FIELD_WRONG_TYPE:
		call_error(c, HB_BAD_REQUEST, "deviceInfo must be an object");
		return;
	default:
		call_error(c, HB_BAD_REQUEST, "deviceInfo is too large");
		return;
	}
	switch (json_body_string(c->body, "loginMethod", &login, &login_len)) {
	case JSON_FIELD_OK:
		break;
	case JSON_FIELD_MISSING:
		login = "";
		login_len = 0;
		break;
	default:
		call_error(c, HB_BAD_REQUEST,
			   "loginMethod must be a string of 1 to 128 bytes");
		return;
	}
	if (crypto_uuid4(sid) != 0 || crypto_uuid4(dev) != 0) {
		call_error(c, HB_INTERNAL_ERROR, NULL);
		return;
	}
	{
		const char *args[5] = {fp, info, login, sid, dev};
		const size_t lens[5] = {fp_len, info_len, login_len,
					strlen(sid), strlen(dev)};
		device_run(c, &a, "create", 5, args, lens);
	}
}

void handle_device_session_list(struct call *c)
{
	device_on_user(c, "list");
}

void handle_device_session_heartbeat(struct call *c)
{
	device_on_path_id(c, "heartbeat", "Session not found or expired");
}

void handle_device_session_revoke(struct call *c)
{
	device_on_path_id(c, "revoke", "Session not found or expired");
}

void handle_device_session_revoke_all(struct call *c)
{
	device_on_user(c, "revoke_all");
}

void handle_device_list(struct call *c)
{
	device_on_user(c, "devices");
}

void handle_device_get(struct call *c)
{
	device_on_path_id(c, "device", "Device not found");
}

void handle_device_trust(struct call *c)
{
	struct device_auth a;
	const char *fp;
	size_t fp_len;

	if (device_authenticate(c, &a) != 0 || call_read_body(c, 0) != 0 ||
	    call_string_field(c, "fingerprint", &fp, &fp_len) != 0)
		return;
	{
		const char *args[1] = {fp};
		const size_t lens[1] = {fp_len};
		device_run(c, &a, "trust", 1, args, lens);
	}
}

void handle_device_untrust(struct call *c)
{
	device_on_path_id(c, "untrust", "Device not found");
}

void handle_device_delete(struct call *c)
{
	device_on_path_id(c, "delete", "Device not found");
}
