/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handlers.h - the handlers, one per route of app.c's table: each answers
 * one request (handler_game.c, handler_launcher.c, handler_device.c,
 * handler_ops.c).
 */
#ifndef HB_HANDLERS_H
#define HB_HANDLERS_H

#include "call.h"

typedef void (*handler_fn)(struct call *c);

void handle_game_verify(struct call *c);
void handle_game_heartbeat(struct call *c);
void handle_game_check(struct call *c);
void handle_game_end(struct call *c);
void handle_launcher_start(struct call *c);
void handle_launcher_heartbeat(struct call *c);
void handle_launcher_ott(struct call *c);
void handle_launcher_end(struct call *c);
void handle_healthz(struct call *c);
void handle_metrics(struct call *c);
void handle_device_session_create(struct call *c);
void handle_device_session_list(struct call *c);
void handle_device_session_heartbeat(struct call *c);
void handle_device_session_revoke(struct call *c);
void handle_device_session_revoke_all(struct call *c);
void handle_device_list(struct call *c);
void handle_device_get(struct call *c);
void handle_device_trust(struct call *c);
void handle_device_untrust(struct call *c);
void handle_device_delete(struct call *c);

#endif
