/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * version.h - what this build is: the release (AC_INIT in configure.ac), the
 * git revision it was built from, and the libraries it was built with, for
 * --version, GET /healthz and /metrics.
 */
#ifndef HB_VERSION_H
#define HB_VERSION_H

#include <stdio.h>

/* The release, e.g. "1.0.0". Static storage. */
const char *version_release(void);

/*
 * The git revision of the build (`git describe --always --dirty`), or "" when
 * it was built from a release tarball. Static storage.
 */
const char *version_revision(void);

/*
 * The version of hiredis the store was compiled against (hiredis 0.14 has no
 * run-time version call). Defined in store_version.c, the only other file
 * that includes hiredis.h. Static storage.
 */
const char *store_lib_version(void);

/* Which libraries a program links, for version_print. */
enum version_libs {
	VERSION_LIBS_CTL,   /* hiredis and json-c */
	VERSION_LIBS_WORKER /* hiredis, json-c and libfcgi */
};

/*
 * Prints --version's text for program prog to out: the release and revision
 * on the first line, then one line per library with its version.
 */
void version_print(FILE *out, const char *prog, enum version_libs libs);

#endif
