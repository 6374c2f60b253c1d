/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger_main.c - heartbeat-ledger: the settlement ledger. Reads the event
 * log through a Redis consumer group and writes every entry to PostgreSQL
 * once (docs/ledger.md).
 *
 *   heartbeat-ledger [run]            the daemon (the default)
 *   heartbeat-ledger --check-config   validate the settings and exit
 *   heartbeat-ledger report --venue V --from DATE --to DATE
 *                    [--format csv|json]
 *
 * The loop: read a batch (this consumer's unacknowledged entries first,
 * then new ones, waiting up to HB_LEDGER_BLOCK_MS), write it in one
 * transaction, acknowledge it after COMMIT, trim the log. Every
 * HB_LEDGER_INTERVAL_MS it also takes over entries other consumers left
 * pending for HB_LEDGER_CLAIM_IDLE_MS and writes the metrics file. A crash
 * anywhere re-delivers; the tables' unique keys absorb the repeats.
 *
 * With HB_SHARDS > 1 each shard has a log of its own, and one command can
 * only name one shard's keys: a batch gathers what each shard's log holds,
 * shard after shard, without waiting in Redis; when a whole pass found
 * nothing, the ledger sleeps HB_LEDGER_BLOCK_MS before the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "ledger_pg.h"
#include "ledger_stream.h"
#include "log.h"
#include "version.h"
#include "store.h"
#include "util.h"

/* Exit statuses. */
#define LEDGER_EXIT_FAILED 1
#define LEDGER_EXIT_USAGE 2
#define LEDGER_EXIT_CONFIG 78 /* a bad setting or a newer schema */

/* The first and the longest wait before trying a store again (ms). */
#define LEDGER_BACKOFF_MIN_MS 100
#define LEDGER_BACKOFF_MAX_MS 5000
/* XREADGROUP's BLOCK stays this far below the store's command timeout. */
#define LEDGER_BLOCK_MARGIN_MS 100
/*
 * The least time between two trims after batches (ms): at a high rate the
 * log then holds at most this long's entries more, for a few round trips
 * saved per batch.
 */
#define LEDGER_TRIM_MIN_MS 100
/* The most claims (each up to a batch) in one round of housekeeping. */
#define LEDGER_CLAIM_ROUNDS 16
/* Room for the metrics text. */
#define LEDGER_METRICS_BUF 4096

static volatile sig_atomic_t ledger_stop;

static void ledger_on_signal(int sig)
{
	(void)sig;
	ledger_stop = 1;
}

static void ledger_usage(FILE *out)
{
	fprintf(out,
		"usage: heartbeat-ledger [run] [--check-config] | --version\n"
		"       heartbeat-ledger report --venue VENUE_ID --from "
		"YYYY-MM-DD --to YYYY-MM-DD [--format csv|json]\n"
		"Settings come from HB_* environment variables and the file "
		"named by HB_CONFIG_FILE;\nPostgreSQL from HB_LEDGER_PG (a "
		"libpq connection string) or the PG* variables.\n");
}

/* ---- Settings ------------------------------------------------------------ */

/* Whether s is a name Redis takes as a group or consumer in our commands. */
static int ledger_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 200)
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',')
			return 0;
	return 1;
}

/* Checks the ledger's settings beyond the table's bounds. */
static int ledger_check_config(const struct config *cfg, char *err,
			       size_t errlen)
{
	if (!ledger_name_ok(cfg->ledger_group)) {
		snprintf(err, errlen,
			 "HB_LEDGER_GROUP: 1 to 200 characters "
			 "without spaces or commas");
		return -1;
	}
	if (cfg->ledger_consumer[0] != '\0' &&
	    !ledger_name_ok(cfg->ledger_consumer)) {
		snprintf(err, errlen,
			 "HB_LEDGER_CONSUMER: 1 to 200 "
			 "characters without spaces or commas");
		return -1;
	}
	if (cfg->ledger_block_ms + LEDGER_BLOCK_MARGIN_MS >
	    cfg->redis_timeout_ms) {
		snprintf(err, errlen,
			 "HB_LEDGER_BLOCK_MS: must be at least %d ms below "
			 "HB_REDIS_TIMEOUT_MS (%lld)",
			 LEDGER_BLOCK_MARGIN_MS,
			 (long long)cfg->redis_timeout_ms);
		return -1;
	}
	return 0;
}

/* ---- State and metrics ------------------------------------------------- */

/* One store's health, so an outage is logged once, not per attempt. */
struct ledger_health {
	const char *name; /* "redis", "postgres" */
	int down;
	int64_t since_ms;
	uint64_t errors;
	int64_t backoff_ms;
};

struct ledger {
	const struct config *cfg;
	struct store *store;
	struct ledger_pg *pg;
	struct ledger_names nm; /* every shard's log */
	char consumer[256];
	const char *trim_groups;
	struct ledger_batch batch;
	struct ledger_health redis, postgres;
	/*
	 * Per shard (nm.shards of each, owned): whether this consumer's
	 * pending entries come first, and whether entries were acknowledged
	 * since the log was last trimmed.
	 */
	unsigned char *history, *dirty;
	int next_shard; /* where the next pass over the shards starts */
	struct ledger_pg_counts counts;
	uint64_t batches, trimmed, claimed;
	struct ledger_stream_stats stats; /* summed over shards (lag: max) */
	int stats_ok;
	int64_t next_tick_ms;
	int64_t last_trim_ms;
};

/* Notes a failure of h: logs the first of an outage. */
static void ledger_down(struct ledger_health *h, const char *err)
{
	h->errors++;
	log_line(LOG_DEBUG, "event=%s_failed err=\"%s\"", h->name, err);
	if (!h->down) {
		h->down = 1;
		h->since_ms = util_now_ms();
		h->backoff_ms = LEDGER_BACKOFF_MIN_MS;
		log_line(LOG_WARN, "event=%s_unavailable err=\"%s\"", h->name,
			 err);
	} else if (h->backoff_ms < LEDGER_BACKOFF_MAX_MS) {
		h->backoff_ms *= 2;
		if (h->backoff_ms > LEDGER_BACKOFF_MAX_MS)
			h->backoff_ms = LEDGER_BACKOFF_MAX_MS;
	}
}

/* Notes a success of h: logs the end of an outage. */
static void ledger_up(struct ledger_health *h)
{
	if (!h->down)
		return;
	h->down = 0;
	log_line(LOG_INFO, "event=%s_recovered down_ms=%lld", h->name,
		 (long long)(util_now_ms() - h->since_ms));
}

/* Sleeps ms, waking early for a stop signal. */
static void ledger_sleep(int64_t ms)
{
	while (ms > 0 && !ledger_stop) {
		int64_t step = ms < 50 ? ms : 50;
		struct timespec ts = {0, (long)step * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* The metrics text while it is written. */
struct ledger_metrics {
	char buf[LEDGER_METRICS_BUF];
	size_t n;
};

/* Appends formatted text (cut at the buffer's end). */
static void ledger_put(struct ledger_metrics *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ledger_put(struct ledger_metrics *m, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (m->n >= sizeof m->buf)
		return;
	va_start(ap, fmt);
	k = vsnprintf(m->buf + m->n, sizeof m->buf - m->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		m->n += (size_t)k;
}

/* One metric's HELP and TYPE lines. */
static void ledger_meta(struct ledger_metrics *m, const char *name,
			const char *type, const char *help)
{
	ledger_put(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric without labels: its HELP and TYPE lines and its value. */
static void ledger_metric(struct ledger_metrics *m, const char *name,
			  const char *type, const char *help, double value)
{
	ledger_meta(m, name, type, help);
	ledger_put(m, "%s %.15g\n", name, value);
}

/* A metric with one label: HELP, TYPE, and one line per value. */
static void ledger_metric_by(struct ledger_metrics *m, const char *name,
			     const char *type, const char *help,
			     const char *label, const char *const *keys,
			     const double *values, int count)
{
	ledger_meta(m, name, type, help);
	for (int i = 0; i < count; i++)
		ledger_put(m, "%s{%s=\"%s\"} %.15g\n", name, label, keys[i],
			   values[i]);
}

/*
 * Writes the metrics file for node_exporter's textfile collector: to a
 * temporary file beside it, renamed over it, so a reader never sees half.
 */
static void ledger_write_metrics(const struct ledger *l)
{
	static const char *const kinds[] = {"settlement", "topup",
					    "adjustment"};
	static const char *const stores[] = {"redis", "postgres"};
	const char *path = l->cfg->ledger_metrics_file;
	struct ledger_metrics m;
	char tmp[CONFIG_STR_MAX + 32];
	double v[3];
	int fd, ok = 0;

	if (path[0] == '\0')
		return;
	m.n = 0;
	v[0] = !l->redis.down;
	v[1] = !l->postgres.down;
	ledger_metric_by(&m, "heartbeat_ledger_up", "gauge",
			 "Whether the ledger reaches the store (1) or not (0).",
			 "store", stores, v, 2);
	if (l->stats_ok) {
		ledger_metric(&m, "heartbeat_ledger_stream_length", "gauge",
			      "Entries in the event log (XLEN).",
			      (double)l->stats.length);
		ledger_metric(&m, "heartbeat_ledger_pending_entries", "gauge",
			      "Entries delivered to the group and not yet "
			      "acknowledged.",
			      (double)l->stats.pending);
		ledger_metric(&m, "heartbeat_ledger_lag_entries", "gauge",
			      "Entries the group has not acknowledged: "
			      "pending and not yet delivered.",
			      (double)l->stats.lag_entries);
		ledger_metric(&m, "heartbeat_ledger_lag_seconds", "gauge",
			      "Age of the oldest entry the group has not "
			      "acknowledged (0: none).",
			      l->stats.lag_seconds);
	}
	for (int k = 0; k < 3; k++)
		v[k] = (double)l->counts.written[k];
	ledger_metric_by(
	    &m, "heartbeat_ledger_entries_written_total", "counter",
	    "Rows this process inserted, by entry type.", "type", kinds, v, 3);
	ledger_metric(&m, "heartbeat_ledger_entries_duplicate_total", "counter",
		      "Entries found already written (re-deliveries the "
		      "unique keys absorbed).",
		      (double)l->counts.duplicates);
	ledger_metric(&m, "heartbeat_ledger_dead_letters_total", "counter",
		      "Entries written to the dead-letter table.",
		      (double)l->counts.dead);
	ledger_metric(&m, "heartbeat_ledger_batches_total", "counter",
		      "Batches committed and acknowledged.",
		      (double)l->batches);
	ledger_metric(&m, "heartbeat_ledger_claimed_total", "counter",
		      "Entries taken over from consumers that left them idle.",
		      (double)l->claimed);
	ledger_metric(&m, "heartbeat_ledger_trimmed_total", "counter",
		      "Entries this process trimmed from the log.",
		      (double)l->trimmed);
	v[0] = (double)l->redis.errors;
	v[1] = (double)l->postgres.errors;
	ledger_metric_by(&m, "heartbeat_ledger_errors_total", "counter",
			 "Failed calls, by store.", "store", stores, v, 2);
	if (m.n >= sizeof m.buf)
		m.n = sizeof m.buf - 1;
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		ok = write(fd, m.buf, m.n) == (ssize_t)m.n;
		ok = close(fd) == 0 && ok;
		ok = ok && rename(tmp, path) == 0;
	}
	if (!ok) {
		log_line(LOG_WARN,
			 "event=metrics_write_failed file=\"%s\" err=\"%s\"",
			 path, strerror(errno));
		unlink(tmp);
	}
}

/* ---- The loop ---------------------------------------------------------------
 */

/* Creates the group in every shard's log that lacks it. */
static enum store_result ledger_ensure_groups(struct ledger *l)
{
	for (int i = 0; i < l->nm.shards; i++) {
		enum store_result rc =
		    ledger_stream_ensure_group(l->store, &l->nm, i);

		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/*
 * Notes a failed Redis call; NOGROUP (a log is gone) recreates the group.
 * Whatever this consumer was given and did not acknowledge is read again
 * first, in every shard.
 */
static void ledger_redis_failed(struct ledger *l)
{
	ledger_down(&l->redis, store_last_error(l->store));
	if (strstr(store_last_error(l->store), "NOGROUP") != NULL &&
	    ledger_ensure_groups(l) == STORE_OK)
		log_line(LOG_WARN, "event=group_created group=%s", l->nm.group);
	memset(l->history, 1, (size_t)l->nm.shards);
}

/*
 * Writes the items of the batch one transaction each, after the batch as a
 * whole was refused: an entry PostgreSQL refuses becomes a dead letter with
 * its message, so that one entry never blocks the log. Returns 0, or -1
 * when PostgreSQL failed otherwise.
 */
static int ledger_write_singly(struct ledger *l)
{
	for (size_t i = 0; i < l->batch.n; i++) {
		struct ledger_item *it = &l->batch.items[i];
		enum ledger_pg_result rc;

		if (it->deleted)
			continue;
		rc = ledger_pg_write(l->pg, it, 1, &l->counts);
		if (rc == LEDGER_PG_REJECTED && it->entry.kind != LEDGER_DEAD) {
			log_line(LOG_WARN,
				 "event=entry_refused id=%s err=\"%s\"",
				 it->entry.stream_id, ledger_pg_error(l->pg));
			it->entry.kind = LEDGER_DEAD;
			snprintf(it->entry.dead_reason,
				 sizeof it->entry.dead_reason,
				 "refused by PostgreSQL: %s",
				 ledger_pg_error(l->pg));
			rc = ledger_pg_write(l->pg, it, 1, &l->counts);
		}
		if (rc != LEDGER_PG_OK)
			return -1;
	}
	return 0;
}

/*
 * Writes the batch in hand and acknowledges it. Returns 0 when done (or
 * empty), -1 after a failure (noted; the entries stay pending and come
 * back, to this consumer first).
 */
static int ledger_settle_batch(struct ledger *l)
{
	enum ledger_pg_result rc;
	enum store_result sr;
	int64_t t0, t1;

	if (l->batch.n == 0)
		return 0;
	t0 = util_now_ms();
	rc = ledger_pg_write(l->pg, l->batch.items, l->batch.n, &l->counts);
	if (rc == LEDGER_PG_REJECTED) {
		log_line(LOG_WARN, "event=batch_refused entries=%zu err=\"%s\"",
			 l->batch.n, ledger_pg_error(l->pg));
		rc = ledger_write_singly(l) == 0 ? LEDGER_PG_OK
						 : LEDGER_PG_UNAVAILABLE;
	}
	if (rc != LEDGER_PG_OK) {
		ledger_down(&l->postgres, ledger_pg_error(l->pg));
		memset(l->history, 1, (size_t)l->nm.shards);
		return -1;
	}
	ledger_up(&l->postgres);
	for (size_t i = 0; i < l->batch.n; i++)
		if (l->batch.items[i].entry.kind == LEDGER_DEAD &&
		    !l->batch.items[i].deleted)
			log_line(LOG_WARN,
				 "event=dead_letter shard=%d id=%s "
				 "reason=\"%s\"",
				 l->batch.items[i].shard,
				 l->batch.items[i].entry.stream_id,
				 l->batch.items[i].entry.dead_reason);
	t1 = util_now_ms();
	sr = ledger_stream_ack(l->store, &l->nm, &l->batch);
	if (sr != STORE_OK) {
		ledger_redis_failed(l);
		return -1;
	}
	l->batches++;
	for (size_t i = 0; i < l->batch.nparts; i++)
		l->dirty[l->batch.parts[i].shard] = 1;
	log_line(LOG_DEBUG,
		 "event=batch entries=%zu shards=%zu write_ms=%lld ack_ms=%lld",
		 l->batch.n, l->batch.nparts, (long long)(t1 - t0),
		 (long long)(util_now_ms() - t1));
	return 0;
}

/*
 * Trims the logs as far as the configured groups allow: every shard's with
 * all, else those where entries were acknowledged since their last trim.
 */
static int ledger_trim(struct ledger *l, int all)
{
	for (int i = 0; i < l->nm.shards; i++) {
		int64_t n;

		if (!all && !l->dirty[i])
			continue;
		if (ledger_stream_trim(l->store, &l->nm, i, l->trim_groups,
				       &n) != STORE_OK) {
			ledger_redis_failed(l);
			return -1;
		}
		l->dirty[i] = 0;
		l->trimmed += (uint64_t)n;
	}
	l->last_trim_ms = util_now_ms();
	return 0;
}

/*
 * Reads the stats of every shard's log into l->stats: lengths, pending and
 * lag entries summed, the lag in seconds the largest.
 */
static int ledger_stats(struct ledger *l)
{
	memset(&l->stats, 0, sizeof l->stats);
	for (int i = 0; i < l->nm.shards; i++) {
		struct ledger_stream_stats s;

		if (ledger_stream_stats(l->store, &l->nm, i, &s) != STORE_OK)
			return -1;
		l->stats.length += s.length;
		l->stats.pending += s.pending;
		l->stats.lag_entries += s.lag_entries;
		if (s.lag_seconds > l->stats.lag_seconds)
			l->stats.lag_seconds = s.lag_seconds;
	}
	return 0;
}

/*
 * Takes over, in shard's log, the entries other consumers left idle, and
 * writes them. Returns 0, or -1 after a failure (noted).
 */
static int ledger_claim(struct ledger *l, int shard)
{
	snprintf(l->batch.cursor, sizeof l->batch.cursor, "0-0");
	for (int round = 0; round < LEDGER_CLAIM_ROUNDS && !ledger_stop;
	     round++) {
		if (ledger_stream_claim(l->store, &l->nm, shard,
					l->cfg->ledger_claim_idle_ms,
					&l->batch) != STORE_OK) {
			ledger_redis_failed(l);
			return -1;
		}
		if (l->batch.n > 0) {
			log_line(LOG_INFO, "event=claimed shard=%d entries=%zu",
				 shard, l->batch.n);
			l->claimed += l->batch.n;
		}
		if (ledger_settle_batch(l) != 0)
			return -1;
		if (strcmp(l->batch.cursor, "0-0") == 0)
			break;
	}
	return 0;
}

/*
 * Housekeeping, every HB_LEDGER_INTERVAL_MS: entries other consumers left
 * idle are taken over and written, the log trimmed, the metrics written.
 */
static void ledger_tick(struct ledger *l)
{
	for (int i = 0; i < l->nm.shards && !ledger_stop; i++)
		if (ledger_claim(l, i) != 0)
			break;
	ledger_batch_clear(&l->batch);
	if (!l->redis.down)
		ledger_trim(l, 1);
	l->stats_ok = !l->redis.down && ledger_stats(l) == 0;
	ledger_write_metrics(l);
}

/*
 * Reads the next batch into l->batch: from each shard in turn, from where
 * the last pass stopped, this consumer's pending entries first, until the
 * batch is full or every shard was read once. With one shard the read
 * waits in Redis up to HB_LEDGER_BLOCK_MS for an entry; with several none
 * does (a wait on one log would hold back the others), and a pass that
 * found nothing sleeps HB_LEDGER_BLOCK_MS (at most until the next
 * housekeeping): the bound on the extra lag of an entry that arrives while
 * everything is quiet. Returns 0 (the batch may be empty), or -1 after a
 * failure (noted; what was read stays pending and is read again).
 */
static int ledger_gather(struct ledger *l)
{
	int shards = l->nm.shards;
	int64_t block = shards == 1 ? l->cfg->ledger_block_ms : 0;

	for (int k = 0; k < shards && l->batch.n < l->batch.cap && !ledger_stop;
	     k++) {
		int s = l->next_shard;
		size_t before = l->batch.n;

		l->next_shard = (s + 1) % shards;
		if (ledger_stream_read(l->store, &l->nm, s, l->history[s],
				       block, &l->batch) != STORE_OK) {
			ledger_batch_clear(&l->batch);
			ledger_redis_failed(l);
			return -1;
		}
		if (l->batch.n == before)
			l->history[s] = 0; /* nothing of ours is pending */
	}
	ledger_up(&l->redis);
	if (l->batch.n == 0 && shards > 1) {
		int64_t wait = l->next_tick_ms - util_now_ms();

		ledger_sleep(wait < l->cfg->ledger_block_ms
				 ? wait
				 : l->cfg->ledger_block_ms);
	}
	return 0;
}

/* Connects what is down; returns 0 when both stores are usable. */
static int ledger_connect(struct ledger *l)
{
	enum ledger_pg_result pr = ledger_pg_connect(l->pg, 1);

	if (pr == LEDGER_PG_NEWER_SCHEMA)
		return LEDGER_EXIT_CONFIG;
	if (pr != LEDGER_PG_OK) {
		ledger_down(&l->postgres, ledger_pg_error(l->pg));
		return -1;
	}
	ledger_up(&l->postgres);
	if (ledger_ensure_groups(l) != STORE_OK) {
		ledger_down(&l->redis, store_last_error(l->store));
		return -1;
	}
	ledger_up(&l->redis);
	return 0;
}

/* Says why the ledger will not write to this database; returns 78. */
static int ledger_refuse(const struct ledger *l)
{
	log_line(LOG_ERROR, "event=schema_refused err=\"%s\"",
		 ledger_pg_error(l->pg));
	fprintf(stderr, "heartbeat-ledger: %s\n", ledger_pg_error(l->pg));
	return LEDGER_EXIT_CONFIG;
}

/* The daemon. Returns an exit status. */
static int ledger_run(const struct config *cfg)
{
	struct ledger l;
	int rc = 0, c;

	memset(&l, 0, sizeof l);
	l.cfg = cfg;
	l.redis.name = "redis";
	l.postgres.name = "postgres";
	l.trim_groups = cfg->ledger_trim_groups[0] ? cfg->ledger_trim_groups
						   : cfg->ledger_group;
	if (cfg->ledger_consumer[0] != '\0') {
		snprintf(l.consumer, sizeof l.consumer, "%.200s",
			 cfg->ledger_consumer);
	} else {
		char host[200];

		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "ledger");
		host[sizeof host - 1] = '\0';
		snprintf(l.consumer, sizeof l.consumer, "%s-%d", host,
			 (int)getpid());
	}
	l.store = store_new(cfg);
	l.pg = ledger_pg_new(cfg->ledger_pg);
	if (l.store == NULL || l.pg == NULL ||
	    ledger_names_init(&l.nm, l.store, cfg->ledger_group, l.consumer) !=
		0 ||
	    (l.history = malloc((size_t)l.nm.shards)) == NULL ||
	    (l.dirty = calloc((size_t)l.nm.shards, 1)) == NULL ||
	    ledger_batch_init(&l.batch, (size_t)cfg->ledger_batch,
			      l.nm.shards) != 0) {
		fprintf(stderr, "heartbeat-ledger: out of memory\n");
		rc = LEDGER_EXIT_FAILED;
		goto done;
	}
	memset(l.history, 1, (size_t)l.nm.shards);
	log_line(LOG_INFO,
		 "event=started stream=%s shards=%d group=%s consumer=%s",
		 l.nm.keys[0], l.nm.shards, l.nm.group, l.nm.consumer);

	while (!ledger_stop) {
		c = ledger_connect(&l);
		if (c == LEDGER_EXIT_CONFIG) {
			rc = ledger_refuse(&l);
			goto done;
		}
		if (c == 0)
			break;
		ledger_write_metrics(&l);
		ledger_sleep(l.redis.down ? l.redis.backoff_ms
					  : l.postgres.backoff_ms);
	}
	l.next_tick_ms = util_now_ms();
	while (!ledger_stop) {
		if (l.redis.down || l.postgres.down) {
			int64_t wait = l.redis.down ? l.redis.backoff_ms : 0;

			if (l.postgres.down && l.postgres.backoff_ms > wait)
				wait = l.postgres.backoff_ms;
			ledger_write_metrics(&l);
			ledger_sleep(wait);
			if (ledger_stop)
				break;
			c = ledger_connect(&l);
			if (c == LEDGER_EXIT_CONFIG) {
				rc = ledger_refuse(&l);
				goto done;
			}
			if (c != 0)
				continue;
		}
		if (util_now_ms() >= l.next_tick_ms) {
			ledger_tick(&l);
			l.next_tick_ms =
			    util_now_ms() + cfg->ledger_interval_ms;
			continue;
		}
		if (ledger_gather(&l) != 0 || l.batch.n == 0)
			continue;
		/* The batch in hand is finished even when a stop arrives. */
		if (ledger_settle_batch(&l) == 0 &&
		    util_now_ms() - l.last_trim_ms >= LEDGER_TRIM_MIN_MS)
			ledger_trim(&l, 0);
		ledger_batch_clear(&l.batch);
	}
	log_line(LOG_INFO, "event=stopped batches=%llu",
		 (unsigned long long)l.batches);
	ledger_write_metrics(&l);
done:
	ledger_batch_free(&l.batch);
	ledger_names_free(&l.nm);
	free(l.history);
	free(l.dirty);
	ledger_pg_free(l.pg);
	store_free(l.store);
	return rc;
}

/* ---- The report ------------------------------------------------------- */

/* Whether s is a date YYYY-MM-DD that exists. */
static int ledger_date_ok(const char *s)
{
	char t[32];
	int64_t ms;

	if (strlen(s) != 10)
		return 0;
	snprintf(t, sizeof t, "%sT00:00:00Z", s);
	return ledger_parse_time(t, strlen(t), &ms) == 0;
}

/* Writes s as one CSV field: quoted when it holds a comma, quote or newline. */
static void ledger_csv_field(const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void ledger_print_csv(const struct ledger_report *r)
{
	puts("game_id,sessions,play_duration_sec,charged_millicoins");
	for (size_t i = 0; i < r->count; i++) {
		ledger_csv_field(r->rows[i].game_id);
		printf(",%lld,%lld,%lld\n", (long long)r->rows[i].sessions,
		       (long long)r->rows[i].play_duration_sec,
		       (long long)r->rows[i].charged_millicoins);
	}
}

static void ledger_print_json(const struct ledger_report *r, const char *venue,
			      const char *from, const char *to)
{
	int64_t sessions = 0, play = 0, charged = 0;
	struct jw w;

	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "venue_id");
	jw_string(&w, venue);
	jw_key(&w, "from");
	jw_string(&w, from);
	jw_key(&w, "to");
	jw_string(&w, to);
	jw_key(&w, "games");
	jw_array_begin(&w);
	for (size_t i = 0; i < r->count; i++) {
		jw_object_begin(&w);
		jw_key(&w, "game_id");
		jw_string(&w, r->rows[i].game_id);
		jw_key(&w, "sessions");
		jw_int(&w, r->rows[i].sessions);
		jw_key(&w, "play_duration_sec");
		jw_int(&w, r->rows[i].play_duration_sec);
		jw_key(&w, "charged_millicoins");
		jw_int(&w, r->rows[i].charged_millicoins);
		jw_object_end(&w);
		sessions += r->rows[i].sessions;
		play += r->rows[i].play_duration_sec;
		charged += r->rows[i].charged_millicoins;
	}
	jw_array_end(&w);
	jw_key(&w, "totals");
	jw_object_begin(&w);
	jw_key(&w, "sessions");
	jw_int(&w, sessions);
	jw_key(&w, "play_duration_sec");
	jw_int(&w, play);
	jw_key(&w, "charged_millicoins");
	jw_int(&w, charged);
	jw_object_end(&w);
	jw_key(&w, "wallet");
	jw_object_begin(&w);
	jw_key(&w, "topups");
	jw_int(&w, r->topups);
	jw_key(&w, "topup_millicoins");
	jw_int(&w, r->topup_millicoins);
	jw_key(&w, "adjustments");
	jw_int(&w, r->adjustments);
	jw_key(&w, "adjustment_millicoins");
	jw_int(&w, r->adjustment_millicoins);
	jw_object_end(&w);
	jw_object_end(&w);
	if (!w.failed)
		printf("%.*s\n", (int)w.len, w.buf);
	jw_free(&w);
}

/* heartbeat-ledger report. Returns an exit status. */
static int ledger_report(const struct config *cfg, int argc, char **argv)
{
	const char *venue = NULL, *from = NULL, *to = NULL, *format = "csv";
	struct ledger_report r;
	struct ledger_pg *pg;
	enum ledger_pg_result rc;

	for (int i = 0; i < argc; i++) {
		const char **dst = NULL;

		if (strcmp(argv[i], "--venue") == 0)
			dst = &venue;
		else if (strcmp(argv[i], "--from") == 0)
			dst = &from;
		else if (strcmp(argv[i], "--to") == 0)
			dst = &to;
		else if (strcmp(argv[i], "--format") == 0)
			dst = &format;
		if (dst == NULL || i + 1 >= argc) {
			ledger_usage(stderr);
			return LEDGER_EXIT_USAGE;
		}
		*dst = argv[++i];
	}
	if (venue == NULL || from == NULL || to == NULL || *venue == '\0' ||
	    !ledger_date_ok(from) || !ledger_date_ok(to) ||
	    (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
		fprintf(stderr, "heartbeat-ledger: report needs --venue, "
				"--from and --to as YYYY-MM-DD, and --format "
				"csv or json\n");
		return LEDGER_EXIT_USAGE;
	}
	pg = ledger_pg_new(cfg->ledger_pg);
	if (pg == NULL)
		return LEDGER_EXIT_FAILED;
	rc = ledger_pg_connect(pg, 0);
	if (rc == LEDGER_PG_OK)
		rc = ledger_pg_report(pg, venue, from, to, &r);
	if (rc != LEDGER_PG_OK) {
		fprintf(stderr, "heartbeat-ledger: %s\n", ledger_pg_error(pg));
		ledger_pg_free(pg);
		return rc == LEDGER_PG_NEWER_SCHEMA ? LEDGER_EXIT_CONFIG
						    : LEDGER_EXIT_FAILED;
	}
	if (strcmp(format, "csv") == 0)
		ledger_print_csv(&r);
	else
		ledger_print_json(&r, venue, from, to);
	ledger_report_free(&r);
	ledger_pg_free(pg);
	return fflush(stdout) == 0 ? 0 : LEDGER_EXIT_FAILED;
}

/* ---- main -----------------------------------------------------------------
 */

int main(int argc, char **argv)
{
	static struct config cfg; /* large: kept off the stack */
	struct sigaction sa;
	char err[512];
	int check_only = 0, report = 0;

	if (argc > 1 && strcmp(argv[1], "report") == 0) {
		report = 1;
	} else {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "run") == 0 && i == 1) {
				continue;
			} else if (strcmp(argv[i], "--check-config") == 0) {
				check_only = 1;
			} else if (strcmp(argv[i], "--version") == 0) {
				int pq = ledger_pg_lib_version();

				version_print(stdout, "heartbeat-ledger",
					      VERSION_LIBS_CTL);
				printf("libpq %d.%d\n", pq / 10000, pq % 10000);
				return 0;
			} else if (strcmp(argv[i], "--help") == 0 ||
				   strcmp(argv[i], "help") == 0) {
				ledger_usage(stdout);
				return 0;
			} else {
				ledger_usage(stderr);
				return LEDGER_EXIT_USAGE;
			}
		}
	}
	if (config_load_env(&cfg, err, sizeof err) != 0 ||
	    ledger_check_config(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "heartbeat-ledger: configuration error: %s\n",
			err);
		return LEDGER_EXIT_CONFIG;
	}
	if (check_only) {
		printf("configuration ok\n");
		return 0;
	}
	log_set_level(cfg.log_level);
	if (report)
		return ledger_report(&cfg, argc - 2, argv + 2);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ledger_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return ledger_run(&cfg);
}
