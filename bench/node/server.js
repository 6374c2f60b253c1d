// SPDX-License-Identifier: BSD-3-Clause
'use strict';
// server.js - PATCH /v1/game/session/heartbeat in Node.js with fastify and
// ioredis: the peer bench/run measures session-heartbeat against. It runs
// the very Lua script the C worker runs (its settings line,
// src/lua/common.lua and src/lua/game_heartbeat.lua) with the same
// arguments: KEYS[1] the anchor key, then the API key's SHA-256, the session
// id, the user id and 'heartbeat'. ioredis's defineCommand sends EVALSHA and falls
// back to EVAL on NOSCRIPT, as the worker does.
//
// Settings come from the environment (bench/run sets them):
//   HB_BENCH_LISTEN        unix socket path to listen on
//   HB_BENCH_REDIS_SOCKET  Redis unix socket
//   HB_BENCH_SCRIPT_FILE   the script text (settings, common.lua, game_heartbeat.lua)
//   HB_BENCH_ANCHOR        KEYS[1]
//   HB_BENCH_INTERVAL      next_heartbeat_in, seconds
const crypto = require('node:crypto');
const fs = require('node:fs');
const Fastify = require('fastify');
const Redis = require('ioredis');

const env = process.env;
const listen = env.HB_BENCH_LISTEN;
const anchor = env.HB_BENCH_ANCHOR;
const interval = Number(env.HB_BENCH_INTERVAL || 120);

const redis = new Redis({ path: env.HB_BENCH_REDIS_SOCKET });
redis.defineCommand('gameHeartbeat', {
  numberOfKeys: 1,
  lua: fs.readFileSync(env.HB_BENCH_SCRIPT_FILE, 'utf8'),
});

// The codes the heartbeat script answers, as the worker maps them.
const STATUS = {
  BAD_REQUEST: 400, INVALID_API_KEY: 401, SESSION_NOT_FOUND: 404,
  SESSION_ENDED: 410, SESSION_ENDING: 410, RATE_LIMITED: 429,
  INTERNAL_ERROR: 500, SERVICE_UNAVAILABLE: 503,
};

const app = Fastify({ logger: false });

function fail(reply, rid, code, message, retryAfter) {
  reply.code(STATUS[code] || 500)
    .header('X-Request-Id', rid)
    .header('Cache-Control', 'no-store')
    .type('application/json; charset=utf-8');
  if (retryAfter) reply.header('Retry-After', String(retryAfter));
  return {
    success: false, request_id: rid,
    error: { code, message, timestamp: new Date().toISOString() },
  };
}

const okSchema = {
  type: 'object',
  properties: {
    success: { type: 'boolean' },
    request_id: { type: 'string' },
    data: {
      type: 'object',
      properties: {
        result: { type: 'string' },
        next_heartbeat_in: { type: 'integer' },
        play_duration_sec: { type: 'integer' },
      },
    },
  },
};

app.patch('/v1/game/session/heartbeat', {
  schema: { response: { 200: okSchema } },
}, async (req, reply) => {
  const rid = 'req_' + crypto.randomBytes(8).toString('hex');
  const key = req.headers['x-api-key'];
  if (!key) {
    return fail(reply, rid, 'INVALID_API_KEY', 'the X-Api-Key header is required');
  }
  const b = req.body;
  if (!b || typeof b !== 'object' || Array.isArray(b)) {
    return fail(reply, rid, 'BAD_REQUEST', 'a JSON object body is required');
  }
  for (const f of ['game_session_id', 'provider_user_id']) {
    if (typeof b[f] !== 'string' || b[f].length === 0) {
      return fail(reply, rid, 'BAD_REQUEST', f + ' must be a string');
    }
  }
  const keyhash = crypto.createHash('sha256').update(key).digest('hex');
  let r;
  try {
    r = await redis.gameHeartbeat(anchor, keyhash,
      b.game_session_id, b.provider_user_id, 'heartbeat');
  } catch (e) {
    return fail(reply, rid, 'SERVICE_UNAVAILABLE', 'the store is unavailable', 1);
  }
  // The play time, or -1 minus it in grace; else a table (game_heartbeat.lua).
  if (typeof r === 'number') {
    r = r >= 0 ? ['OK', 'OK', r] : ['OK', 'CHARGE_EXHAUSTED', -1 - r];
  }
  if (r[0] !== 'OK') {
    return fail(reply, rid, r[0], r[1] || r[0], r[0] === 'RATE_LIMITED' ? r[2] : 0);
  }
  reply.header('X-Request-Id', rid)
    .header('Cache-Control', 'no-store')
    .type('application/json; charset=utf-8');
  return {
    success: true, request_id: rid,
    data: { result: r[1], next_heartbeat_in: interval, play_duration_sec: r[2] },
  };
});

app.get('/healthz', async () => ({ status: 'ok' }));

function stop() {
  app.close().finally(() => {
    redis.disconnect();
    process.exit(0);
  });
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

app.listen({ path: listen }).then(() => {
  fs.chmodSync(listen, 0o666);
}, (err) => {
  console.error(err);
  process.exit(1);
});
