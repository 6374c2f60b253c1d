/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_coro.c - the coroutines of coro.c on their own: switching back and
 * forth, yields from deep inside nested calls, floating-point state kept
 * across switches, stacks reused from the pool, and the guard page below
 * each stack (a coroutine that overflows dies by SIGSEGV, in a child).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "coro.h"

/* What the coroutines of a test write down, in order. */
struct trace {
	char steps[64];
	size_t n;
};

static void trace_add(struct trace *t, char step)
{
	if (t->n + 1 < sizeof t->steps)
		t->steps[t->n++] = step;
	t->steps[t->n] = '\0';
}

/* Writes its letter, yields, writes it again in upper case. */
struct letter {
	struct trace *t;
	char ch;
};

static void run_letter(void *arg)
{
	struct letter *l = arg;

	ck_assert_ptr_eq(coro_arg(coro_self()), arg);
	trace_add(l->t, l->ch);
	coro_yield();
	trace_add(l->t, (char)(l->ch - 'a' + 'A'));
}

START_TEST(test_switch_interleaves_two_coroutines)
{
	struct trace t = {{0}, 0};
	struct letter a = {&t, 'a'}, b = {&t, 'b'};
	struct coro *ca = coro_new(run_letter, &a);
	struct coro *cb = coro_new(run_letter, &b);

	ck_assert_ptr_nonnull(ca);
	ck_assert_ptr_nonnull(cb);
	ck_assert_ptr_null(coro_self());
	ck_assert_int_eq(coro_resume(ca), 0);
	ck_assert_int_eq(coro_resume(cb), 0);
	trace_add(&t, '-');
	ck_assert_int_eq(coro_resume(cb), 1);
	ck_assert_int_eq(coro_resume(ca), 1);
	ck_assert_str_eq(t.steps, "ab-BA");
	ck_assert_ptr_null(coro_self());
	coro_free(ca);
	coro_free(cb);
}
END_TEST

/* Recurses depth levels, yielding at each on the way down and up. */
static int nested(struct trace *t, int depth)
{
	volatile char frame[256];
	int sum;

	memset((char *)frame, depth, sizeof frame);
	trace_add(t, (char)('0' + depth));
	coro_yield();
	sum = depth == 0 ? 0 : nested(t, depth - 1);
	coro_yield();
	/* The frame survived every switch. */
	for (size_t i = 0; i < sizeof frame; i++)
		ck_assert_int_eq(frame[i], depth);
	return sum + depth;
}

static void run_nested(void *arg)
{
	struct trace *t = arg;

	ck_assert_int_eq(nested(t, 5), 15);
	trace_add(t, '!');
}

START_TEST(test_yields_from_nested_calls)
{
	struct trace t = {{0}, 0};
	struct coro *co = coro_new(run_nested, &t);
	int resumes = 1;

	ck_assert_ptr_nonnull(co);
	while (coro_resume(co) == 0)
		resumes++;
	/* Six levels, two yields each, then the last resume finishes. */
	ck_assert_int_eq(resumes, 13);
	ck_assert_str_eq(t.steps, "543210!");
	coro_free(co);
}
END_TEST

static void run_double(void *arg)
{
	volatile double *x = arg;
	double y = *x;

	coro_yield();
	*x = y * 1.5;
}

START_TEST(test_floating_point_survives_a_switch)
{
	double x = 2.5;
	struct coro *co = coro_new(run_double, &x);

	ck_assert_ptr_nonnull(co);
	ck_assert_int_eq(coro_resume(co), 0);
	ck_assert_int_eq(coro_resume(co), 1);
	ck_assert(x == 3.75);
	coro_free(co);
}
END_TEST

static void run_nothing(void *arg)
{
	(void)arg;
}

START_TEST(test_stacks_are_reused_and_sized)
{
	for (int i = 0; i < 200; i++) {
		struct coro *co = coro_new(run_nothing, NULL);

		ck_assert_ptr_nonnull(co);
		ck_assert_int_eq(coro_resume(co), 1);
		coro_free(co);
	}
	coro_free(NULL);
	ck_assert_uint_ge(coro_stack_size(), 64 * 1024);
	ck_assert_uint_le(coro_stack_high_water(), coro_stack_size());
	coro_pool_clear();
}
END_TEST

/* Deeper than any stack: the recursion below never gets there. */
static volatile int overflow_limit = 1 << 30;

/* Uses stack until it runs into the guard page. */
static int overflow(int depth)
{
	volatile char frame[4096];

	if (depth > overflow_limit)
		return 0;
	frame[0] = (char)depth;
	frame[sizeof frame - 1] = (char)depth;
	return overflow(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

static void run_overflow(void *arg)
{
	*(int *)arg = overflow(0);
}

START_TEST(test_overflow_hits_the_guard_page)
{
	pid_t pid = fork();
	int status = 0;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int out = 0;
		struct coro *co = coro_new(run_overflow, &out);

		/* No core file of the child's expected death. */
		signal(SIGSEGV, SIG_DFL);
		if (co != NULL)
			coro_resume(co);
		_exit(0); /* not reached when the guard page works */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer reports the overflow and exits itself. */
	ck_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 0);
#else
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGSEGV);
#endif
}
END_TEST

Suite *check_suite(void)
{
	Suite *s = suite_create("coro");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_switch_interleaves_two_coroutines);
	tcase_add_test(tc, test_yields_from_nested_calls);
	tcase_add_test(tc, test_floating_point_survives_a_switch);
	tcase_add_test(tc, test_stacks_are_reused_and_sized);
	tcase_add_test(tc, test_overflow_hits_the_guard_page);
	suite_add_tcase(s, tc);
	return s;
}
