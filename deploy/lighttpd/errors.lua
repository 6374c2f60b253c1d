-- SPDX-License-Identifier: BSD-3-Clause
-- errors.lua - lighttpd's own errors in the service's JSON envelope: a body
-- over server.max-request-size, a request lighttpd cannot read, no worker
-- answering. Runs as each response starts (mod_magnet,
-- magnet.attract-response-start-to); an answer of the workers, which
-- always carries X-Request-Id, passes unchanged.
local r = lighty.r
local status = r.req_item.http_status
if status < 400 or r.resp_header["X-Request-Id"] then
	return 0
end

local known = {
	[400] = { "BAD_REQUEST", "the web server could not read the request" },
	[404] = { "NOT_FOUND", "no such endpoint" },
	[413] = { "PAYLOAD_TOO_LARGE", "the request body is too large" },
	[414] = { "URI_TOO_LONG", "the request line is too long" },
	[431] = { "BAD_REQUEST", "the request headers are too large" },
	[500] = { "INTERNAL_ERROR", "internal error" },
	[502] = { "BAD_GATEWAY", "no worker answered" },
	[503] = { "SERVICE_UNAVAILABLE", "no worker is available" },
	[504] = { "GATEWAY_TIMEOUT", "no worker answered in time" },
}
local e = known[status]
	or (status >= 500 and known[500])
	or { "BAD_REQUEST", "the web server refused the request" }

local sec, nsec = lighty.c.hrtime()
local id = string.format("req_%08x%08x", lighty.c.rand() & 0xffffffff,
	lighty.c.rand() & 0xffffffff)
local body = string.format(
	'{"success":false,"request_id":"%s","error":{"code":"%s",'
		.. '"message":"%s","timestamp":"%s.%03dZ"}}',
	id, e[1], e[2], os.date("!%Y-%m-%dT%H:%M:%S", sec), nsec // 1000000)

r.resp_header["Content-Type"] = "application/json; charset=utf-8"
r.resp_header["X-Request-Id"] = id
if status >= 502 and status <= 504 then
	r.resp_header["Retry-After"] = "1"
end
r.resp_body.set({ body })
-- Returning the status ends the response with this body.
return status
