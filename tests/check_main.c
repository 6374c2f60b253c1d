/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_main.c - the main of every Check program: runs the program's suite
 * (check_suite) and exits non-zero when a test failed.
 */
#include <stdlib.h>

#include <check.h>

#include "check_main.h"

int main(void)
{
	SRunner *sr = srunner_create(check_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
