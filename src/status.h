/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * status.h - every answer the service can give, defined once.
 *
 * HB_STATUS_TABLE is an X-macro: each row names the enum constant, the error
 * code that clients see, the HTTP status, the HTTP reason phrase and the
 * default message. The enum, the HTTP mapping and the lookup by code are all
 * generated from it, so adding a code is one line and tests can walk it.
 * URI_TOO_LONG, BAD_GATEWAY and GATEWAY_TIMEOUT are answered by the web
 * server itself, in the same envelope (deploy/), never by a worker.
 */
#ifndef HB_STATUS_H
#define HB_STATUS_H

#include <stddef.h>

#define HB_STATUS_TABLE(X)                                                     \
	X(HB_OK, "OK", 200, "OK", "ok")                                        \
	X(HB_BAD_REQUEST, "BAD_REQUEST", 400, "Bad Request",                   \
	  "the request body is invalid")                                       \
	X(HB_INVALID_API_KEY, "INVALID_API_KEY", 401, "Unauthorized",          \
	  "the API key is missing, unknown or revoked")                        \
	X(HB_UNAUTHORIZED, "UNAUTHORIZED", 401, "Unauthorized",                \
	  "the bearer token is missing, unknown or expired")                   \
	X(HB_INVALID_SIGNATURE, "INVALID_SIGNATURE", 401, "Unauthorized",      \
	  "the request signature is invalid")                                  \
	X(HB_VENUE_NOT_ALLOWED, "VENUE_NOT_ALLOWED", 403, "Forbidden",         \
	  "the caller's address is outside the venue's ranges")                \
	X(HB_NOT_FOUND, "NOT_FOUND", 404, "Not Found", "no such endpoint")     \
	X(HB_SESSION_NOT_FOUND, "SESSION_NOT_FOUND", 404, "Not Found",         \
	  "no such game session")                                              \
	X(HB_GAME_NOT_FOUND, "GAME_NOT_FOUND", 404, "Not Found",               \
	  "no such game")                                                      \
	X(HB_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", 405,                    \
	  "Method Not Allowed", "method not allowed for this path")            \
	X(HB_ALREADY_ENDED, "ALREADY_ENDED", 409, "Conflict",                  \
	  "the session has already ended")                                     \
	X(HB_SESSION_ENDED, "SESSION_ENDED", 410, "Gone",                      \
	  "the session was terminated")                                        \
	X(HB_SESSION_ENDING, "SESSION_ENDING", 410, "Gone",                    \
	  "the session's termination is in progress")                          \
	X(HB_PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", 413, "Payload Too Large", \
	  "the request body is too large")                                     \
	X(HB_URI_TOO_LONG, "URI_TOO_LONG", 414, "URI Too Long",                \
	  "the request line is too long")                                      \
	X(HB_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", 415,            \
	  "Unsupported Media Type",                                            \
	  "the request body must be application/json")                         \
	X(HB_RATE_LIMITED, "RATE_LIMITED", 429, "Too Many Requests",           \
	  "too many requests")                                                 \
	X(HB_INTERNAL_ERROR, "INTERNAL_ERROR", 500, "Internal Server Error",   \
	  "internal error")                                                    \
	X(HB_BAD_GATEWAY, "BAD_GATEWAY", 502, "Bad Gateway",                   \
	  "no worker answered")                                                \
	X(HB_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", 503,                  \
	  "Service Unavailable", "the session store is unavailable")           \
	X(HB_GATEWAY_TIMEOUT, "GATEWAY_TIMEOUT", 504, "Gateway Timeout",       \
	  "no worker answered in time")

enum hb_status {
#define HB_STATUS_ENUM(name, code, http, phrase, msg) name,
	HB_STATUS_TABLE(HB_STATUS_ENUM)
#undef HB_STATUS_ENUM
	    HB_STATUS_COUNT
};

/* The client-facing code of a status ("SESSION_ENDED"). Never NULL. */
const char *hb_status_code(enum hb_status st);

/* The HTTP status number of a status (410). */
int hb_status_http(enum hb_status st);

/* The HTTP reason phrase of a status ("Gone"). Never NULL. */
const char *hb_status_phrase(enum hb_status st);

/* The default human-readable message of a status. Never NULL. */
const char *hb_status_message(enum hb_status st);

/*
 * Looks up a status by its client-facing code, as the Lua scripts return it.
 * Returns 0 and sets *out on a match, -1 if the code is unknown.
 */
int hb_status_from_code(const char *code, size_t len, enum hb_status *out);

#endif
