/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * version.c - the release, the git revision and the libraries' versions.
 */
#include <stdio.h>

#include "json.h"
#include "revision.h"
#include "version.h"

/*
 * libfcgi has no version call and no version macro in fcgiapp.h: configure
 * records the version its fcgi.pc names (HB_FCGI_VERSION), or "unknown".
 */
#ifndef HB_FCGI_VERSION
#define HB_FCGI_VERSION "unknown"
#endif

const char *version_release(void)
{
	return PACKAGE_VERSION;
}

const char *version_revision(void)
{
	return HB_GIT_REVISION;
}

void version_print(FILE *out, const char *prog, enum version_libs libs)
{
	const char *rev = version_revision();

	fprintf(out, "%s %s%s%s%s\n", prog, version_release(),
		rev[0] != '\0' ? " (git " : "", rev, rev[0] != '\0' ? ")" : "");
	fprintf(out, "hiredis %s (compiled against)\n", store_lib_version());
	fprintf(out, "json-c %s\n", json_lib_version());
	if (libs == VERSION_LIBS_WORKER)
		fprintf(out, "libfcgi %s (compiled against)\n",
			HB_FCGI_VERSION);
	else
		fprintf(out,
			"libfcgi not linked (only heartbeat.fcgi uses it)\n");
}
