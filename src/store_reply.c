/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_reply.c - the reply accessors: how the rest of the program reads a
 * hiredis reply without seeing hiredis.
 */
#include "store_int.h"

void store_reply_free(struct store_reply *r)
{
	if (r != NULL)
		freeReplyObject((redisReply *)r);
}

enum store_type store_reply_type(const struct store_reply *r)
{
	const redisReply *rr = (const redisReply *)r;

	if (rr == NULL)
		return STORE_T_NIL;
	switch (rr->type) {
	case REDIS_REPLY_INTEGER:
		return STORE_T_INT;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		return STORE_T_STR;
	case REDIS_REPLY_ARRAY:
		return STORE_T_ARRAY;
	default:
		return STORE_T_NIL;
	}
}

size_t store_reply_count(const struct store_reply *r)
{
	const redisReply *rr = (const redisReply *)r;

	return rr && rr->type == REDIS_REPLY_ARRAY ? rr->elements : 0;
}

const struct store_reply *store_reply_at(const struct store_reply *r, size_t i)
{
	const redisReply *rr = (const redisReply *)r;

	if (rr == NULL || rr->type != REDIS_REPLY_ARRAY || i >= rr->elements)
		return NULL;
	return (const struct store_reply *)rr->element[i];
}

const char *store_reply_str(const struct store_reply *r, size_t *len)
{
	const redisReply *rr = (const redisReply *)r;

	if (rr == NULL || (rr->type != REDIS_REPLY_STRING &&
			   rr->type != REDIS_REPLY_STATUS)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = rr->len;
	return rr->str;
}

long long store_reply_int(const struct store_reply *r)
{
	const redisReply *rr = (const redisReply *)r;

	return rr && rr->type == REDIS_REPLY_INTEGER ? rr->integer : 0;
}
