/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_int.h - what the store's own files share (store.c, store_conn.c,
 * store_node.c, store_sentinel.c, store_cluster.c, store_script.c,
 * store_pipeline.c, store_tx.c). No other module includes it: it is the one
 * header besides them that includes hiredis.
 */
#ifndef HB_STORE_INT_H
#define HB_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "store.h"

/* The longest host name or address of a sentinel, master or cluster node. */
#define STORE_HOST_MAX 256
/* The longest key name built by store_key. */
#define STORE_KEY_MAX (CONFIG_STR_MAX + 64)
/* The most connections of one store (a cluster: one per node it uses). */
#define STORE_NODES_MAX 8
/* The longest settings line of the scripts (store_prologue). */
#define STORE_PROLOGUE_MAX (4 * CONFIG_STR_MAX + 2048)
/* The longest function name: the library's, '_' and a script's name. */
#define STORE_FNAME_MAX 64
/* The most MOVED and ASK redirects one call follows. */
#define STORE_REDIRECTS_MAX 5
/*
 * Cluster: how long after failing to learn or reach the owner of the key
 * base's slot calls answer "unavailable" before asking the nodes again.
 */
#define STORE_MAP_RETRY_MS 100

/*
 * A command waiting for its pipelined reply. It lives on the waiting
 * request's own (suspended) stack.
 */
struct store_wait {
	redisReply *reply; /* NULL: the command failed with the connection */
	void *req;	   /* NULL: a reply nobody reads (ASKING's) */
	struct store_wait *next;
};

/*
 * One Redis connection and the pipelined commands waiting on it. Without a
 * cluster the store has one (conn[0]); with one, a connection per node it
 * has used, named by host and port.
 */
struct store_conn {
	redisContext *ctx;
	struct store_wait *wait_head, *wait_tail;
	size_t pending;
	char host[STORE_HOST_MAX];
	int port; /* cluster nodes only; 0: an unused entry */
	/* Counts the times the entry was made over to another node. */
	unsigned gen;
	/* A WATCH or MULTI is open on ctx (heartbeatctl's: store_tx.c). */
	int tx;
	/* The node has the scripts as functions (FCALL), not by SHA. */
	int functions;
};

/*
 * How the store chooses the node a connection opens to: standalone (the
 * configured server), Sentinel (the master the sentinels name) or Cluster
 * (the master of the key base's slot). store_node.c picks one at start.
 */
struct store_chooser {
	const char *name; /* what store_mode says */
	/*
	 * Makes the node that serves shard's slot known (its owner >= 0),
	 * and those of the other shards as it learns them. Returns 0, or -1
	 * with the error recorded. NULL: always conn[0].
	 */
	int (*locate)(struct store *st, int shard);
	/* Opens c's socket to the node. Returns 0, or -1 with the error. */
	int (*open)(struct store *st, struct store_conn *c);
};

/* One shard of the deployment (shard.h) as the store reaches it. */
struct store_shard {
	int slot; /* the hash slot of its key base */
	/*
	 * The connection that serves the slot: always 0 without a cluster;
	 * with one, the slot's master as last learnt (CLUSTER SLOTS or
	 * MOVED), or -1 to learn it on the next call.
	 */
	int owner;
};

struct store {
	const struct config *cfg;
	const struct store_chooser *chooser;
	struct store_conn conn[STORE_NODES_MAX];
	int cluster;		   /* HB_REDIS_CLUSTER is set */
	int nshards;		   /* HB_SHARDS */
	struct store_shard *shard; /* nshards of them */
	int64_t map_retry_ms;	   /* cluster: no new try before this time */
	/* Pipelining (store_set_pipeline); every connection's count. */
	const struct store_pipeline_ops *pipe;
	size_t pending;
	int connecting; /* connect's own commands go unpipelined */
	int paused;	/* the last call found the service paused */
	char sha[SCRIPT_COUNT][41];
	/* The function library (hb_<8 hex>) and its functions' names. */
	char library[16];
	char fname[SCRIPT_COUNT][STORE_FNAME_MAX];
	char error[256];
	int connected_before;
	/* The settings as Lua constants, put before every script loaded. */
	char prologue[STORE_PROLOGUE_MAX];
};

/* One call on its way (store.c): its command and where it stands. */
struct store_call {
	int script; /* the script's id, or -1 for a plain command */
	int shard;  /* the shard it goes to */
	int argc;
	const char **argv;
	size_t *lens;
	struct store_conn *c; /* the node it goes to next */
	unsigned gen;	      /* c->gen when the call chose c */
	int asking;	      /* send ASKING first (an ASK redirect) */
	int redirects;	      /* redirects followed so far */
	int reloaded;	      /* the script was reloaded on c */
	int track_tx;	      /* a plain command on a cluster (store_tx.c) */
	int closes;	      /* ... that is EXEC or DISCARD */
	int in_tx;	      /* a transaction was open when it was sent */
};

/* ---- store.c ------------------------------------------------------------- */

/* Records why the store failed; the text goes to the log only. */
void store_set_error(struct store *st, const char *what, const char *detail);

/*
 * Cluster: forgets which node serves the slots of the shards c served
 * (NULL: of every shard); their next call asks the nodes again, not
 * sooner than STORE_MAP_RETRY_MS from now.
 */
void store_forget_owner(struct store *st, const struct store_conn *c);

/* ---- store_conn.c: the connection -----------------------------------------
 */

/*
 * Opens a connection to host:port (or the unix socket path when port is 0)
 * with the configured timeouts and TCP keepalive. Returns it (caller owns),
 * or NULL with the error recorded.
 */
redisContext *store_open_ctx(struct store *st, const char *host, int port);

/* Opens c to host:port (see store_open_ctx). Returns 0, or -1. */
int store_open(struct store *st, struct store_conn *c, const char *host,
	       int port);

/*
 * Opens c (through the store's chooser), authenticates, selects the
 * database and loads every script. Returns 0, or -1 with c closed.
 */
int store_connect(struct store *st, struct store_conn *c);

/* Closes c; every pipelined command waiting on it fails. Accepts closed c. */
void store_disconnect(struct store *st, struct store_conn *c);

/*
 * Sends one command on c (after ASKING when asking): pipelined when a
 * request of the event loop sends it, else at once. Returns the reply
 * (caller owns), or NULL after dropping a dead connection.
 */
redisReply *store_send(struct store *st, struct store_conn *c, int asking,
		       int argc, const char **argv, const size_t *lens);

/* ---- store_node.c, store_sentinel.c, store_cluster.c: node choice -------- */

/* The chooser the settings ask for (cfg borrowed). Never NULL. */
const struct store_chooser *store_chooser_for(const struct config *cfg);

/*
 * Reads the next item of a comma-separated HOST:PORT list (IPv6 hosts in
 * brackets) at *p into host and *port and moves *p past it, skipping
 * malformed items. Returns 1, or 0 at the end of the list.
 */
int store_next_addr(const char **p, char *host, size_t size, int *port);

/*
 * The connection the commands of shard go to: the only one, or the master
 * of the shard's slot (every key of a shard shares its hash tag). Connects
 * when needed. Returns NULL with the error recorded.
 */
struct store_conn *store_route(struct store *st, int shard);

extern const struct store_chooser store_chooser_sentinel;
extern const struct store_chooser store_chooser_cluster;

/*
 * Cluster: follows a MOVED (the slot has a new master: it becomes the
 * owner of shard's slot) or ASK (this one command goes to the importing
 * node, after ASKING) error msg from node from. Returns 1 with *to the
 * connected node to send to and *asking set for ASK; 0 when msg is not a
 * redirect; -1 when the node named cannot be reached.
 */
int store_redirect(struct store *st, int shard, const struct store_conn *from,
		   const char *msg, struct store_conn **to, int *asking);

/* ---- store_script.c: the scripts ----------------------------------------- */

/*
 * Writes the settings and the key layout the scripts read (common.lua) as
 * Lua constants. Returns 0, or -1 when they do not fit in size.
 */
int store_prologue(const struct config *cfg, char *out, size_t size);

/*
 * Names the library by a hash of its text (settings, key layout and
 * scripts), so that services of other settings or versions sharing a Redis
 * load libraries of other names. Returns 0, or -1 out of memory.
 */
int store_library_name(struct store *st);

/*
 * Loads the scripts on c: the library when the node has functions and
 * lacks it (c->functions set), else each script with SCRIPT LOAD, recording
 * their SHAs. Returns 0, or -1 with the error recorded.
 */
int store_load_scripts(struct store *st, struct store_conn *c);

/*
 * Loads script id on c again after NOSCRIPT or "Function not found" (the
 * whole library on a node with functions). Returns 0, or -1.
 */
int store_reload_script(struct store *st, struct store_conn *c,
			enum script_id id);

/* ---- store_pipeline.c: pipelining for the event loop --------------------- */

/*
 * Appends one command (after ASKING when asking) to c's pipeline and
 * suspends the calling request req until store_pipeline_flush has its
 * reply. Returns what store_send does.
 */
redisReply *store_send_pipelined(struct store *st, struct store_conn *c,
				 void *req, int asking, int argc,
				 const char **argv, const size_t *lens);

/*
 * Fails every pipelined command still waiting on c: their requests are made
 * ready with no reply, which reads as a dropped connection.
 */
void store_fail_waiting(struct store *st, struct store_conn *c);

/* ---- store_tx.c: heartbeatctl's transactions on a cluster ---------------- */

/* Sets up q's transaction bookkeeping before it is first sent. */
void store_tx_begin(const struct store *st, struct store_call *q);

/* Notes on q's connection whether its reply r opened or closed one. */
void store_tx_note(const struct store_call *q, const redisReply *r);

/* Whether the redirect msg must not be followed: a transaction pins q. */
int store_tx_pins(const struct store_call *q, const char *msg);

#endif
