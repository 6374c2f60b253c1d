<?php
// SPDX-License-Identifier: BSD-3-Clause
// heartbeat.php - PATCH /v1/game/session/heartbeat the way a shared-hosting
// user would write it: one PHP script under PHP-FPM, phpredis with a
// persistent connection, EVALSHA of the very Lua script the C worker runs
// (its settings line, src/lua/common.lua and src/lua/game_heartbeat.lua)
// with the same arguments: KEYS[1] the anchor key, then the API key's
// SHA-256, the session id, the user id and 'heartbeat'. On NOSCRIPT it
// sends the script with EVAL, as the worker reloads it.
//
// Settings come from the FPM pool's env[] (bench/run writes the pool):
//   HB_BENCH_REDIS_SOCKET, HB_BENCH_SCRIPT_FILE, HB_BENCH_SCRIPT_SHA,
//   HB_BENCH_ANCHOR, HB_BENCH_INTERVAL

$rid = 'req_' . bin2hex(random_bytes(8));

function reply(int $status, array $payload, array $headers = []): void
{
    global $rid;
    http_response_code($status);
    header('Content-Type: application/json; charset=utf-8');
    header('X-Request-Id: ' . $rid);
    header('Cache-Control: no-store');
    foreach ($headers as $h) {
        header($h);
    }
    echo json_encode($payload);
    exit;
}

function fail(string $code, string $message, array $headers = []): void
{
    global $rid;
    static $status = [
        'BAD_REQUEST' => 400, 'INVALID_API_KEY' => 401,
        'SESSION_NOT_FOUND' => 404, 'METHOD_NOT_ALLOWED' => 405,
        'SESSION_ENDED' => 410, 'SESSION_ENDING' => 410,
        'RATE_LIMITED' => 429, 'INTERNAL_ERROR' => 500,
        'SERVICE_UNAVAILABLE' => 503,
    ];
    $now = microtime(true);
    reply($status[$code] ?? 500, [
        'success' => false,
        'request_id' => $rid,
        'error' => [
            'code' => $code,
            'message' => $message,
            'timestamp' => gmdate('Y-m-d\TH:i:s', (int)$now)
                . sprintf('.%03dZ', (int)(($now - floor($now)) * 1000)),
        ],
    ], $headers);
}

if ($_SERVER['REQUEST_METHOD'] !== 'PATCH') {
    fail('METHOD_NOT_ALLOWED', 'use PATCH', ['Allow: PATCH']);
}
$key = $_SERVER['HTTP_X_API_KEY'] ?? '';
if ($key === '') {
    fail('INVALID_API_KEY', 'the X-Api-Key header is required');
}
$body = json_decode(file_get_contents('php://input'), true);
if (!is_array($body)) {
    fail('BAD_REQUEST', 'a JSON object body is required');
}
foreach (['game_session_id', 'provider_user_id'] as $f) {
    if (!isset($body[$f]) || !is_string($body[$f]) || $body[$f] === '') {
        fail('BAD_REQUEST', $f . ' must be a string');
    }
}

$args = [getenv('HB_BENCH_ANCHOR'), hash('sha256', $key),
         $body['game_session_id'], $body['provider_user_id'], 'heartbeat'];
try {
    $redis = new Redis();
    $redis->pconnect(getenv('HB_BENCH_REDIS_SOCKET'));
    $r = $redis->evalSha(getenv('HB_BENCH_SCRIPT_SHA'), $args, 1);
    if ($r === false && str_starts_with((string)$redis->getLastError(), 'NOSCRIPT')) {
        $redis->clearLastError();
        $r = $redis->eval(file_get_contents(getenv('HB_BENCH_SCRIPT_FILE')), $args, 1);
    }
} catch (RedisException $e) {
    fail('SERVICE_UNAVAILABLE', 'the store is unavailable', ['Retry-After: 1']);
}
// The play time, or -1 minus it in grace; else a table (game_heartbeat.lua).
if (is_int($r)) {
    $r = $r >= 0 ? ['OK', 'OK', $r] : ['OK', 'CHARGE_EXHAUSTED', -1 - $r];
}
if (!is_array($r) || !isset($r[0])) {
    fail('INTERNAL_ERROR', 'internal error');
}
if ($r[0] !== 'OK') {
    fail($r[0], $r[1] ?? $r[0],
         $r[0] === 'RATE_LIMITED' ? ['Retry-After: ' . (int)$r[2]] : []);
}
reply(200, [
    'success' => true,
    'request_id' => $rid,
    'data' => [
        'result' => $r[1],
        'next_heartbeat_in' => (int)getenv('HB_BENCH_INTERVAL'),
        'play_duration_sec' => (int)$r[2],
    ],
]);
