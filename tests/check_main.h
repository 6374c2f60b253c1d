/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_main.h - what each Check program gives the shared main
 * (tests/check_main.c): its suite.
 */
#ifndef HB_CHECK_MAIN_H
#define HB_CHECK_MAIN_H

#include <check.h>

/* The program's suite; the caller (main) owns it through its runner. */
Suite *check_suite(void);

#endif
