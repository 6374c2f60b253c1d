/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handler_device.c - the device-session API (Flashback-compatible): bearer
 * authentication (HS256 JWT or an opaque token), then one script call whose
 * reply, data, is rendered here into the body. The rules live in
 * src/lua/device.lua.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "crypto.h"
#include "jwt.h"
#include "shard.h"
#include "util.h"

/* The longest id accepted in a path. */
#define DEVICE_ID_MAX 64
/* The largest deviceInfo object kept. */
#define DEVICE_INFO_MAX 4096
/* The most arguments one device call passes after the common ones. */
#define DEVICE_ARGS_MAX 16

/* The latest time rendered (9999-12-31T23:59:59.999Z); later ones are null. */
#define DEVICE_TIME_MAX INT64_C(253402300799999)

/* The operations of device.lua, with the message of those that answer one. */
enum device_op {
	DEVICE_CREATE,
	DEVICE_LIST,
	DEVICE_HEARTBEAT,
	DEVICE_REVOKE,
	DEVICE_REVOKE_ALL,
	DEVICE_DEVICES,
	DEVICE_DEVICE,
	DEVICE_TRUST,
	DEVICE_UNTRUST,
	DEVICE_DELETE
};

static const struct {
	const char *name;
	const char *message;
} device_ops[] = {
    [DEVICE_CREATE] = {"create", NULL},
    [DEVICE_LIST] = {"list", NULL},
    [DEVICE_HEARTBEAT] = {"heartbeat", "Session updated successfully"},
    [DEVICE_REVOKE] = {"revoke", "Session revoked successfully"},
    [DEVICE_REVOKE_ALL] = {"revoke_all", "All sessions revoked successfully"},
    [DEVICE_DEVICES] = {"devices", NULL},
    [DEVICE_DEVICE] = {"device", NULL},
    [DEVICE_TRUST] = {"trust", "Device trusted successfully"},
    [DEVICE_UNTRUST] = {"untrust", "Device untrusted successfully"},
    [DEVICE_DELETE] = {"delete", "Device removed successfully"},
};

/* The credentials of one call, as the script takes them. */
struct device_auth {
	const char *kind; /* "jwt" or "opaque" */
	char subject[CRYPTO_SHA256_HEX + JWT_CLAIM_MAX];
	char sid[JWT_CLAIM_MAX];
	char exp[24], nbf[24];
};

/*
 * Reads the bearer token: a JWT (three dot-separated parts) is verified here,
 * an opaque token is hashed for the script to look up; either routes the
 * call to its user's shard. Answers 401 and
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
		/* heartbeatctl's tokens carry their user's home (shard.h). */
		if (len == SHARD_TOKEN_LEN)
			call_route_id(c, SHARD_TOKEN_PREFIX, auth, len);
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
	c->shard = shard_of_owner(c->app->cfg, claims.sub, strlen(claims.sub));
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

/* ---- Rendering --------------------------------------------------------- */

/* Where each value stands in a SESSION and a DEVICE of device.lua's reply. */
enum {
	DS_ID,
	DS_DEVICE,
	DS_NAME,
	DS_IP,
	DS_STARTED,
	DS_LAST,
	DS_EXPIRES,
	DS_LOGIN
};
enum {
	DD_ID,
	DD_NAME,
	DD_TYPE,
	DD_OS,
	DD_BROWSER,
	DD_IP,
	DD_SEEN,
	DD_CREATED,
	DD_TRUST_UNTIL,
	DD_UA,
	DD_FP
};

/* How one key's value is made from the reply's value at its index. */
enum device_kind {
	DK_STR,	       /* the string, or null when not set */
	DK_NONEMPTY,   /* the string, or null when not set or empty */
	DK_PRESENT,    /* the string; the key is left out when not set */
	DK_TIME,       /* the time in ms as RFC 3339, or null */
	DK_NULL,       /* null: this service does not know it */
	DK_TRUSTED,    /* whether a trust time is set */
	DK_TRUST_LEVEL /* "trusted" or "untrusted", as DK_TRUSTED */
};

struct device_field {
	const char *key;
	enum device_kind kind;
	int at;
};

/*
 * The keys of each object in the order the device API has always written
 * them (they were once the order of cjson's Lua tables): clients see the same
 * bytes.
 */
static const struct device_field device_session_fields[] = {
    {"id", DK_STR, DS_ID},
    {"deviceId", DK_STR, DS_DEVICE},
    {"deviceName", DK_STR, DS_NAME},
    {"startedAt", DK_TIME, DS_STARTED},
    {"loginMethod", DK_NONEMPTY, DS_LOGIN},
    {"ipAddress", DK_STR, DS_IP},
    {"location", DK_NULL, 0},
    {"lastActivity", DK_TIME, DS_LAST},
    {"expiresAt", DK_TIME, DS_EXPIRES},
};

static const struct device_field device_list_fields[] = {
    {"country", DK_NULL, 0},
    {"id", DK_STR, DD_ID},
    {"trustExpiresAt", DK_TIME, DD_TRUST_UNTIL},
    {"trustLevel", DK_TRUST_LEVEL, DD_TRUST_UNTIL},
    {"deviceType", DK_STR, DD_TYPE},
    {"createdAt", DK_TIME, DD_CREATED},
    {"deviceName", DK_STR, DD_NAME},
    {"os", DK_STR, DD_OS},
    {"lastSeen", DK_TIME, DD_SEEN},
    {"ipAddress", DK_STR, DD_IP},
    {"browser", DK_STR, DD_BROWSER},
    {"isTrusted", DK_TRUSTED, DD_TRUST_UNTIL},
    {"city", DK_NULL, 0},
};

/* One device (GET /devices/{id}): more keys, in another order. */
static const struct device_field device_one_fields[] = {
    {"lastSeen", DK_TIME, DD_SEEN},
    {"userAgent", DK_STR, DD_UA},
    {"country", DK_NULL, 0},
    {"id", DK_STR, DD_ID},
    {"trustExpiresAt", DK_TIME, DD_TRUST_UNTIL},
    {"trustLevel", DK_TRUST_LEVEL, DD_TRUST_UNTIL},
    {"deviceType", DK_STR, DD_TYPE},
    {"createdAt", DK_TIME, DD_CREATED},
    {"deviceName", DK_STR, DD_NAME},
    {"os", DK_STR, DD_OS},
    {"deviceFingerprint", DK_PRESENT, DD_FP},
    {"ipAddress", DK_STR, DD_IP},
    {"browser", DK_STR, DD_BROWSER},
    {"isTrusted", DK_TRUSTED, DD_TRUST_UNTIL},
    {"city", DK_NULL, 0},
};

#define DEVICE_FIELDS(t) (t), sizeof(t) / sizeof((t)[0])

/* Writes key and the time in ms at index i of r, or null. */
static void device_put_time(struct jw *w, const char *key,
			    const struct store_reply *r, size_t i)
{
	size_t len;
	const char *s = store_reply_str(store_reply_at(r, i), &len);
	int64_t ms;

	jw_key(w, key);
	if (s != NULL && util_parse_int64(s, len, 0, DEVICE_TIME_MAX, &ms) == 0)
		jw_time_ms(w, ms);
	else
		jw_null(w);
}

/* Writes the keys of fields (n of them) of the object r. */
static void device_put_fields(struct jw *w, const struct device_field *fields,
			      size_t n, const struct store_reply *r)
{
	for (size_t i = 0; i < n; i++) {
		const struct device_field *f = &fields[i];
		size_t len;
		const char *s = store_reply_str(store_reply_at(r, f->at), &len);

		if (f->kind == DK_TIME) {
			device_put_time(w, f->key, r, f->at);
			continue;
		}
		if (f->kind == DK_PRESENT && s == NULL)
			continue;
		jw_key(w, f->key);
		if (f->kind == DK_NULL || (f->kind == DK_NONEMPTY && len == 0))
			jw_null(w);
		else if (f->kind == DK_TRUSTED)
			jw_bool(w, s != NULL);
		else if (f->kind == DK_TRUST_LEVEL)
			jw_string(w, s != NULL ? "trusted" : "untrusted");
		else
			jw_string_n(w, s, len);
	}
}

/* Writes key and the array r of objects of fields. */
static void device_put_list(struct jw *w, const char *key,
			    const struct device_field *fields, size_t n,
			    const struct store_reply *r)
{
	jw_key(w, key);
	jw_array_begin(w);
	for (size_t i = 0; i < store_reply_count(r); i++) {
		jw_object_begin(w);
		device_put_fields(w, fields, n, store_reply_at(r, i));
		jw_object_end(w);
	}
	jw_array_end(w);
}

/* Writes the body of op from the script's reply r (see device.lua). */
static void device_render(struct jw *w, enum device_op op,
			  const struct store_reply *r)
{
	const char *message = device_ops[op].message;

	jw_object_begin(w);
	switch (op) {
	case DEVICE_CREATE:
		jw_key(w, "success");
		jw_bool(w, 1);
		jw_key(w, "session");
		jw_object_begin(w);
		device_put_fields(w, DEVICE_FIELDS(device_session_fields),
				  store_reply_at(r, 1));
		jw_object_end(w);
		break;
	case DEVICE_LIST:
	case DEVICE_DEVICES:
		jw_key(w, "success");
		jw_bool(w, 1);
		if (op == DEVICE_LIST)
			device_put_list(w, "sessions",
					DEVICE_FIELDS(device_session_fields),
					store_reply_at(r, 1));
		else
			device_put_list(w, "devices",
					DEVICE_FIELDS(device_list_fields),
					store_reply_at(r, 1));
		break;
	case DEVICE_DEVICE:
		jw_key(w, "success");
		jw_bool(w, 1);
		jw_key(w, "device");
		jw_object_begin(w);
		device_put_fields(w, DEVICE_FIELDS(device_one_fields),
				  store_reply_at(r, 1));
		device_put_list(w, "sessions",
				DEVICE_FIELDS(device_session_fields),
				store_reply_at(r, 2));
		jw_object_end(w);
		break;
	case DEVICE_HEARTBEAT:
		jw_key(w, "message");
		jw_string(w, message);
		device_put_time(w, "newExpiry", r, 1);
		jw_key(w, "success");
		jw_bool(w, 1);
		break;
	case DEVICE_TRUST:
		jw_key(w, "message");
		jw_string(w, message);
		jw_key(w, "success");
		jw_bool(w, 1);
		device_put_time(w, "trustExpiresAt", r, 1);
		break;
	default:
		jw_key(w, "success");
		jw_bool(w, 1);
		jw_key(w, "message");
		jw_string(w, message);
	}
	jw_object_end(w);
}

/* ---- Calls --------------------------------------------------------------- */

/*
 * Runs operation op with its nargs arguments and renders its body.
 * The caller has authenticated the request into a.
 */
static void device_run(struct call *c, const struct device_auth *a,
		       enum device_op op, int nargs, const char *const *args,
		       const size_t *arg_lens)
{
	const struct config *cfg = c->app->cfg;
	char leeway[24], idle[24], maxlife[24], trust[24];
	const char *argv[11 + DEVICE_ARGS_MAX];
	size_t lens[11 + DEVICE_ARGS_MAX];
	struct store_reply *r;
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
	argv[n++] = device_ops[op].name;
	for (int i = 0; i < n; i++)
		lens[i] = strlen(argv[i]);
	for (int i = 0; i < nargs && i < DEVICE_ARGS_MAX; i++, n++) {
		argv[n] = args[i];
		lens[n] = arg_lens ? arg_lens[i] : strlen(args[i]);
	}
	if (call_script(c, SCRIPT_DEVICE, n, argv, lens, &r) != 0)
		return;
	jw_reset(&c->resp->body);
	jw_set_escape(&c->resp->body, JW_ESCAPE_CJSON);
	device_render(&c->resp->body, op, r);
	store_reply_free(r);
}

/* An operation on the id in the path: authenticate, check the id, run. */
static void device_on_path_id(struct call *c, enum device_op op,
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
static void device_on_user(struct call *c, enum device_op op)
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
	    call_string_field(c, "fingerprint", &fp, &fp_len) != 0 ||
	    call_object_field(c, "deviceInfo", DEVICE_INFO_MAX, &info,
			      &info_len) != 0)
		return;
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
		device_run(c, &a, DEVICE_CREATE, 5, args, lens);
	}
}

void handle_device_session_list(struct call *c)
{
	device_on_user(c, DEVICE_LIST);
}

void handle_device_session_heartbeat(struct call *c)
{
	device_on_path_id(c, DEVICE_HEARTBEAT, "Session not found or expired");
}

void handle_device_session_revoke(struct call *c)
{
	device_on_path_id(c, DEVICE_REVOKE, "Session not found or expired");
}

void handle_device_session_revoke_all(struct call *c)
{
	device_on_user(c, DEVICE_REVOKE_ALL);
}

void handle_device_list(struct call *c)
{
	device_on_user(c, DEVICE_DEVICES);
}

void handle_device_get(struct call *c)
{
	device_on_path_id(c, DEVICE_DEVICE, "Device not found");
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
		device_run(c, &a, DEVICE_TRUST, 1, args, lens);
	}
}

void handle_device_untrust(struct call *c)
{
	device_on_path_id(c, DEVICE_UNTRUST, "Device not found");
}

void handle_device_delete(struct call *c)
{
	device_on_path_id(c, DEVICE_DELETE, "Device not found");
}
