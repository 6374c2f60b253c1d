/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * coro.c - coroutines on pooled stacks.
 *
 * Each stack is one private anonymous mapping: a PROT_NONE guard page at the
 * low end (an overflow faults instead of corrupting the heap), the stack
 * above it, and the struct coro at the very top. Untouched pages cost no
 * memory, so the resident size of a stack is what its deepest call used.
 *
 * Switching: on x86-64, a dozen instructions that save the registers the
 * calling convention says a callee keeps (rbx, rbp, r12-r15, the SSE and
 * x87 control words) and swap stack pointers. Elsewhere, or built with
 * -DCORO_UCONTEXT, makecontext/swapcontext. The small switch spares the two
 * system calls swapcontext makes to save and restore the signal mask (which
 * never changes here), and AddressSanitizer, which warns on every process
 * that calls swapcontext, accepts it with its fiber annotations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro.h"

#if defined(__x86_64__) && !defined(CORO_UCONTEXT)
#define CORO_SWITCH_X86_64 1
#else
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
/* AddressSanitizer's redzones make frames several times larger. */
#define CORO_STACK_SIZE (512 * 1024)
#else
/* The usable stack of a coroutine; a request's deepest call needs ~8 KiB. */
#define CORO_STACK_SIZE (128 * 1024)
#endif

/* How many finished stacks are kept for reuse; more are unmapped. */
#define CORO_POOL_KEEP 64

/* ---- Context switching ----------------------------------------------------
 */

#ifdef CORO_SWITCH_X86_64
/*
 * A suspended context is its stack pointer; the stack holds, from there up,
 * the MXCSR and x87 control words, r15, r14, r13, r12, rbx, rbp and the
 * address to return to.
 */
struct coro_ctx {
	void *sp;
};

/* Saves the running context in *from and resumes to. */
void hb_coro_switch(void **from, void *to)
    __attribute__((visibility("hidden")));

__asm__(".text\n"
	".globl hb_coro_switch\n"
	".hidden hb_coro_switch\n"
	".type hb_coro_switch, @function\n"
	".p2align 4\n"
	"hb_coro_switch:\n"
	"\tpushq %rbp\n"
	"\tpushq %rbx\n"
	"\tpushq %r12\n"
	"\tpushq %r13\n"
	"\tpushq %r14\n"
	"\tpushq %r15\n"
	"\tsubq $8, %rsp\n"
	"\tstmxcsr (%rsp)\n"
	"\tfnstcw 4(%rsp)\n"
	"\tmovq %rsp, (%rdi)\n"
	"\tmovq %rsi, %rsp\n"
	"\tldmxcsr (%rsp)\n"
	"\tfldcw 4(%rsp)\n"
	"\taddq $8, %rsp\n"
	"\tpopq %r15\n"
	"\tpopq %r14\n"
	"\tpopq %r13\n"
	"\tpopq %r12\n"
	"\tpopq %rbx\n"
	"\tpopq %rbp\n"
	"\tret\n"
	".size hb_coro_switch, .-hb_coro_switch\n");

/* Values of MXCSR and the x87 control word at process start. */
#define CORO_MXCSR_DEFAULT 0x1f80u
#define CORO_FPCW_DEFAULT 0x037fu

/*
 * Prepares ctx to run entry on the stack [stack, stack + len) as if called:
 * entry finds the stack aligned as the ABI requires after a call.
 */
static int coro_ctx_make(struct coro_ctx *ctx, char *stack, size_t len,
			 void (*entry)(void))
{
	uintptr_t top = ((uintptr_t)stack + len) & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)top;

	*--sp = 0;		    /* entry's return address: none */
	*--sp = (uintptr_t)entry;   /* where hb_coro_switch returns */
	for (int i = 0; i < 6; i++) /* rbp, rbx, r12-r15 */
		*--sp = 0;
	*--sp =
	    (uint64_t)CORO_MXCSR_DEFAULT | ((uint64_t)CORO_FPCW_DEFAULT << 32);
	ctx->sp = sp;
	return 0;
}

static void coro_ctx_switch(struct coro_ctx *from, struct coro_ctx *to)
{
	hb_coro_switch(&from->sp, to->sp);
}

#else /* ucontext */

struct coro_ctx {
	ucontext_t uc;
	int made; /* uc holds a getcontext() state */
};

/*
 * getcontext() in a frame of its own: it "returns twice" as far as the
 * compiler knows, which would clobber the caller's locals (it never does
 * here, as makecontext() replaces where the context resumes).
 */
__attribute__((noinline)) static int coro_getcontext(ucontext_t *uc)
{
	return getcontext(uc);
}

static int coro_ctx_make(struct coro_ctx *ctx, char *stack, size_t len,
			 void (*entry)(void))
{
	/*
	 * getcontext() once per stack: it costs a system call (the signal
	 * mask), and makecontext() can reuse the state it filled in.
	 */
	if (!ctx->made) {
		if (coro_getcontext(&ctx->uc) != 0)
			return -1;
		ctx->made = 1;
	}
	ctx->uc.uc_stack.ss_sp = stack;
	ctx->uc.uc_stack.ss_size = len;
	ctx->uc.uc_link = NULL;
	makecontext(&ctx->uc, entry, 0);
	return 0;
}

static void coro_ctx_switch(struct coro_ctx *from, struct coro_ctx *to)
{
	swapcontext(&from->uc, &to->uc);
}

#endif

/* ---- Coroutines ------------------------------------------------------------
 */

struct coro {
	struct coro_ctx ctx;
	coro_fn fn;
	void *arg;
	int done;
	char *map; /* the mapping: guard page, stack, this struct */
	size_t map_len;
	char *stack; /* the usable stack, above the guard page */
	size_t stack_len;
	struct coro *next; /* in the pool */
#ifdef CORO_ASAN
	void *fake_stack;
#endif
};

static struct coro_ctx coro_main;
static struct coro *coro_running;
static struct coro *coro_pool;
static size_t coro_pool_len;

#ifdef CORO_ASAN
static const void *coro_main_bottom;
static size_t coro_main_size;
#endif

/* Where the struct goes: the top of the mapping, aligned down. */
static size_t coro_struct_offset(size_t map_len)
{
	size_t off = map_len - sizeof(struct coro);

	return off & ~(size_t)63;
}

static struct coro *coro_map(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = page + CORO_STACK_SIZE + page; /* guard, stack, struct */
	char *map;
	struct coro *co;
	size_t off;

	/* The struct must fit in the last page with the stack below it. */
	if (sizeof(struct coro) + 64 > page)
		len += sizeof(struct coro) + 64;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map, page, PROT_NONE) != 0) {
		munmap(map, len);
		return NULL;
	}
	off = coro_struct_offset(len);
	co = (struct coro *)(map + off);
	co->map = map;
	co->map_len = len;
	co->stack = map + page;
	/* Keep the stack 16-byte aligned below the struct. */
	co->stack_len = (off - page) & ~(size_t)15;
	return co;
}

static void coro_unmap(struct coro *co)
{
	munmap(co->map, co->map_len);
}

/* The entry of every coroutine: runs fn, then returns to the resumer. */
static void coro_trampoline(void)
{
	struct coro *co = coro_running;

#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(NULL, &coro_main_bottom,
					&coro_main_size);
#endif
	co->fn(co->arg);
	co->done = 1;
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(NULL, coro_main_bottom, coro_main_size);
#endif
	coro_ctx_switch(&co->ctx, &coro_main);
	/* Never resumed again: coro_resume refuses a finished coroutine. */
	abort();
}

struct coro *coro_new(coro_fn fn, void *arg)
{
	struct coro *co = coro_pool;

	if (co != NULL) {
		coro_pool = co->next;
		coro_pool_len--;
	} else {
		co = coro_map();
		if (co == NULL)
			return NULL;
	}
	if (coro_ctx_make(&co->ctx, co->stack, co->stack_len,
			  coro_trampoline) != 0) {
		coro_unmap(co);
		return NULL;
	}
	co->fn = fn;
	co->arg = arg;
	co->done = 0;
	co->next = NULL;
	return co;
}

int coro_resume(struct coro *co)
{
#ifdef CORO_ASAN
	void *fake = NULL;
#endif

	if (co->done || coro_running != NULL)
		return 1;
	coro_running = co;
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&fake, co->stack, co->stack_len);
#endif
	coro_ctx_switch(&coro_main, &co->ctx);
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	coro_running = NULL;
	return co->done;
}

void coro_yield(void)
{
	struct coro *co = coro_running;

	if (co == NULL)
		return;
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&co->fake_stack, coro_main_bottom,
				       coro_main_size);
#endif
	coro_ctx_switch(&co->ctx, &coro_main);
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(co->fake_stack, &coro_main_bottom,
					&coro_main_size);
#endif
}

struct coro *coro_self(void)
{
	return coro_running;
}

void *coro_arg(const struct coro *co)
{
	return co->arg;
}

void coro_free(struct coro *co)
{
	if (co == NULL)
		return;
	if (coro_pool_len >= CORO_POOL_KEEP) {
		coro_unmap(co);
		return;
	}
	co->fn = NULL;
	co->arg = NULL;
	co->next = coro_pool;
	coro_pool = co;
	coro_pool_len++;
}

void coro_pool_clear(void)
{
	while (coro_pool != NULL) {
		struct coro *co = coro_pool;

		coro_pool = co->next;
		coro_unmap(co);
	}
	coro_pool_len = 0;
}

size_t coro_stack_high_water(void)
{
	size_t most = 0;

	for (const struct coro *co = coro_pool; co != NULL; co = co->next) {
		size_t i = 0;

		/* The stack grows down: the lowest non-zero byte is the
		 * deepest. */
		while (i < co->stack_len && co->stack[i] == 0)
			i++;
		if (co->stack_len - i > most)
			most = co->stack_len - i;
	}
	return most;
}

size_t coro_stack_size(void)
{
	return CORO_STACK_SIZE;
}
