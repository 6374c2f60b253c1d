/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_version.c - part of the store: the version of hiredis it was compiled
 * against, kept apart from the connection code so that only the store's
 * files include hiredis.h.
 */
#include <hiredis/hiredis.h>

#include "version.h"

#define STORE_STR(x) #x
#define STORE_XSTR(x) STORE_STR(x)

const char *store_lib_version(void)
{
	return STORE_XSTR(HIREDIS_MAJOR) "." STORE_XSTR(
	    HIREDIS_MINOR) "." STORE_XSTR(HIREDIS_PATCH);
}
