-- SPDX-License-Identifier: BSD-3-Clause
-- heartbeat.lua - wrk script: PATCH /v1/game/session/heartbeat for random
-- live game sessions, with the real JSON body and X-Api-Key header.
--
--   wrk -s bench/heartbeat.lua URL -- SESSIONS_FILE API_KEY
--
-- SESSIONS_FILE has one "game_session_id provider_user_id" per line (bench/run
-- writes it when it seeds the sessions). Every request is built once per
-- thread in init(); request() picks one at random. done() prints one
-- machine-readable line that bench/run reads (latencies in microseconds;
-- non2xx counts responses with a status above 399, as wrk does).

local reqs = {}
local n = 0
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local file, key = args[1], args[2]
  if not file or not key then
    error("usage: wrk -s heartbeat.lua URL -- SESSIONS_FILE API_KEY")
  end
  local headers = {["Content-Type"] = "application/json",
                   ["X-Api-Key"] = key}
  for line in io.lines(file) do
    local gs, user = line:match("^(%S+)%s+(%S+)$")
    if gs then
      n = n + 1
      local body = string.format(
        '{"game_session_id": "%s", "provider_user_id": "%s"}', gs, user)
      reqs[n] = wrk.format("PATCH", "/v1/game/session/heartbeat", headers,
                           body)
    end
  end
  if n == 0 then error("no sessions in " .. file) end
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

function request()
  return reqs[math.random(n)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d " ..
    "write=%d timeout=%d p50=%.0f p90=%.0f p99=%.0f max=%.0f mean=%.1f\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
