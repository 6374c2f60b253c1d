/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * coro.h - coroutines on fixed-size stacks (ucontext), so the event loop can
 * run a request's handler until it waits for Redis, run others meanwhile,
 * and resume it with the reply. Stacks have a guard page below them and are
 * kept in a small pool for reuse. One thread only.
 */
#ifndef HB_CORO_H
#define HB_CORO_H

#include <stddef.h>

struct coro;

typedef void (*coro_fn)(void *arg);

/*
 * Makes a coroutine that runs fn(arg) on a stack of its own, taken from the
 * pool or mapped. It starts at the first coro_resume. Returns NULL when no
 * stack can be had. The caller owns it (coro_free).
 */
struct coro *coro_new(coro_fn fn, void *arg);

/*
 * Runs co until it yields or fn returns. Call only from outside every
 * coroutine. Returns 1 when fn has returned, 0 when co yielded.
 */
int coro_resume(struct coro *co);

/* From inside a coroutine: back to the coro_resume that ran it. */
void coro_yield(void);

/* The coroutine running now, or NULL outside every coroutine. */
struct coro *coro_self(void);

/* The arg co was made with. */
void *coro_arg(const struct coro *co);

/*
 * Gives co's stack back to the pool. co must have finished or never have
 * started. Accepts NULL.
 */
void coro_free(struct coro *co);

/* Unmaps the stacks kept in the pool. */
void coro_pool_clear(void);

/*
 * The most bytes any pooled stack has ever had in use (stacks start zeroed
 * and are never cleared, so this is a high-water mark), and the usable size
 * of each stack. For the log.
 */
size_t coro_stack_high_water(void);
size_t coro_stack_size(void);

#endif
