/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * noop.c - the FastCGI ceiling of bench/run: a libfcgi responder that reads
 * each request's body and answers a fixed heartbeat-shaped JSON, touching
 * nothing else. What nginx + libfcgi cost with no work in between.
 *
 *   cc -O2 -o hb-noop bench/noop.c -lfcgi
 *   spawn-fcgi -s SOCKET -F 4 -- ./hb-noop
 */
#include <fcgiapp.h>
#include <stdio.h>

#define BODY                                                                   \
	"{\"success\":true,\"request_id\":\"req_0000000000000000\","           \
	"\"data\":{\"result\":\"OK\",\"next_heartbeat_in\":120,"               \
	"\"play_duration_sec\":0}}"

int main(void)
{
	static char resp[1024];
	char buf[4096];
	FCGX_Request req;
	int n;

	n = snprintf(resp, sizeof resp,
		     "Status: 200 OK\r\n"
		     "Content-Type: application/json; charset=utf-8\r\n"
		     "Content-Length: %zu\r\n"
		     "X-Request-Id: req_0000000000000000\r\n"
		     "Cache-Control: no-store\r\n"
		     "\r\n%s",
		     sizeof BODY - 1, BODY);
	if (n < 0 || (size_t)n >= sizeof resp || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		while (FCGX_GetStr(buf, sizeof buf, req.in) > 0)
			;
		FCGX_PutStr(resp, n, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
