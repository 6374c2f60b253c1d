/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_main.c - heartbeatctl: finds the command in the table, splits its
 * arguments, loads the settings, and runs it against the store.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "log.h"
#include "util.h"
#include "version.h"

/* The most positional arguments one command takes. */
#define CTL_POS_MAX 4

/* Every command; the usage text is generated from this table. */
/* clang-format off */
static const struct ctl_cmd ctl_cmds[] = {
	{"game", "add", 1, {"name", "rate"}, ctl_game_add,
		"GAME_ID --name NAME --rate COINS_PER_HOUR", CTL_ROUTE_CONFIG, 0},
	{"game", "list", 0, {NULL}, ctl_game_list, "", CTL_ROUTE_SELF, 0},
	{"game", "rate", 2, {NULL}, ctl_game_rate, "GAME_ID COINS_PER_HOUR", CTL_ROUTE_CONFIG, 0},
	{"game", "activate", 1, {NULL}, ctl_game_activate, "GAME_ID", CTL_ROUTE_CONFIG, 0},
	{"game", "deactivate", 1, {NULL}, ctl_game_deactivate, "GAME_ID", CTL_ROUTE_CONFIG, 0},
	{"key", "create", 1, {NULL}, ctl_key_create, "GAME_ID", CTL_ROUTE_CONFIG, 0},
	{"key", "list", 1, {NULL}, ctl_key_list, "GAME_ID", CTL_ROUTE_SELF, 0},
	{"key", "revoke", 1, {NULL}, ctl_key_revoke, "KEY_OR_KEY_ID", CTL_ROUTE_CONFIG, 0},
	{"venue", "add", 1, {"cidr", "secret", "billing"}, ctl_venue_add,
		"VENUE_ID --cidr CIDR[,CIDR...] --secret SECRET "
		"[--billing on|off]", CTL_ROUTE_SELF, 0},
	{"venue", "list", 0, {NULL}, ctl_venue_list, "", CTL_ROUTE_EACH, 0},
	{"venue", "billing", 2, {NULL}, ctl_venue_billing, "VENUE_ID on|off", CTL_ROUTE_SELF, 0},
	{"wallet", "topup", 2, {NULL}, ctl_wallet_topup, "VENUE_ID COINS", CTL_ROUTE_SELF, 0},
	{"wallet", "set", 2, {"actor", "note"}, ctl_wallet_set,
		"VENUE_ID COINS [--actor WHO] [--note WHY]", CTL_ROUTE_SELF, 0},
	{"wallet", "show", 1, {NULL}, ctl_wallet_show, "VENUE_ID", CTL_ROUTE_SELF, 0},
	{"session", "list", 0, {NULL}, ctl_session_list, "", CTL_ROUTE_EACH, 0},
	{"session", "show", 1, {NULL}, ctl_session_show, "GS_ID", CTL_ROUTE_SELF, 0},
	{"session", "revoke", 1, {"drain"}, ctl_session_revoke,
		"GS_ID [--drain SEC]", CTL_ROUTE_SELF, 0},
	{"launcher", "list", 0, {NULL}, ctl_launcher_list, "", CTL_ROUTE_EACH, 0},
	{"launcher", "revoke", 2, {NULL}, ctl_launcher_revoke,
		"VENUE_ID PC_ID", CTL_ROUTE_SELF, 0},
	{"token", "create", 0, {"user"}, ctl_token_create, "--user USER_ID", CTL_ROUTE_SELF, 0},
	{"token", "list", 0, {"user"}, ctl_token_list, "--user USER_ID", CTL_ROUTE_SELF, 0},
	{"token", "revoke", 1, {NULL}, ctl_token_revoke, "TOKEN_OR_HASH", CTL_ROUTE_SELF, 0},
	{"sweep", NULL, 0, {"limit"}, ctl_sweep, "[--limit N]", CTL_ROUTE_SELF, 0},
	{"events", NULL, 0, {"count"}, ctl_events, "[--count N]", CTL_ROUTE_EACH, 0},
	{"pause", NULL, 0, {"shard"}, ctl_pause, "[--shard N]", CTL_ROUTE_SELF, 0},
	{"resume", NULL, 0, {"shard"}, ctl_resume, "[--shard N]", CTL_ROUTE_SELF, 0},
	{"config", "status", 0, {NULL}, ctl_config_status, "", CTL_ROUTE_SELF, 0},
	{"config", "sync", 0, {NULL}, ctl_config_sync, "", CTL_ROUTE_SELF, 0},
	{"reshard", NULL, 0, {"to", "force"}, ctl_reshard, "--to N [--force]",
		CTL_ROUTE_SELF, 1u << 1},
};
/* clang-format on */

#define CTL_CMD_COUNT (sizeof ctl_cmds / sizeof ctl_cmds[0])

/* Prints the usage line of one command. */
static void ctl_usage_line(FILE *out, const struct ctl_cmd *cmd)
{
	fprintf(out, "  heartbeatctl %s%s%s%s%s\n", cmd->group,
		cmd->verb ? " " : "", cmd->verb ? cmd->verb : "",
		cmd->args[0] ? " " : "", cmd->args);
}

/* Prints the usage of every command. */
static void ctl_usage(FILE *out)
{
	fputs("usage:\n", out);
	for (size_t i = 0; i < CTL_CMD_COUNT; i++)
		ctl_usage_line(out, &ctl_cmds[i]);
	fputs("  heartbeatctl help | --version\n"
	      "Settings come from HB_* environment variables and the file "
	      "named by HB_CONFIG_FILE.\n"
	      "Exit codes: 0 done, 1 not found or refused, 2 usage error, "
	      "3 Redis unavailable, 78 bad configuration.\n",
	      out);
}

/*
 * Finds the command named by argv[1] (and argv[2] when the group has verbs).
 * Sets *used to the words the name took. Returns NULL when there is none.
 */
static const struct ctl_cmd *ctl_find(int argc, char **argv, int *used)
{
	for (size_t i = 0; i < CTL_CMD_COUNT; i++) {
		const struct ctl_cmd *cmd = &ctl_cmds[i];

		if (strcmp(cmd->group, argv[1]) != 0)
			continue;
		*used = cmd->verb ? 3 : 2;
		if (cmd->verb == NULL ||
		    (argc > 2 && strcmp(cmd->verb, argv[2]) == 0))
			return cmd;
	}
	return NULL;
}

/*
 * Sets the option that argv[*i] names ("--name value" or "--name=value",
 * or "--name" for a switch), moving *i past its value. Returns 0, or
 * CTL_EXIT_USAGE after saying why.
 */
static int ctl_set_option(const struct ctl_cmd *cmd, int argc, char **argv,
			  int *i, const char **opt)
{
	const char *name = argv[*i] + 2;
	size_t len = strcspn(name, "=");

	for (int k = 0; cmd->opts[k] != NULL; k++) {
		if (strlen(cmd->opts[k]) != len ||
		    strncmp(cmd->opts[k], name, len) != 0)
			continue;
		if (opt[k] != NULL)
			return ctl_fail(CTL_EXIT_USAGE, "--%s given twice",
					cmd->opts[k]);
		if (cmd->switches & (1u << k)) {
			if (name[len] == '=')
				return ctl_fail(CTL_EXIT_USAGE,
						"--%s takes no value",
						cmd->opts[k]);
			opt[k] = "";
		} else if (name[len] == '=')
			opt[k] = name + len + 1;
		else if (*i + 1 < argc)
			opt[k] = argv[++*i];
		else
			return ctl_fail(CTL_EXIT_USAGE, "--%s needs a value",
					cmd->opts[k]);
		return 0;
	}
	return ctl_fail(CTL_EXIT_USAGE, "unknown option %s", argv[*i]);
}

/*
 * Splits the words after the command's name into its positional arguments
 * and options. Returns 0, or CTL_EXIT_USAGE after saying why.
 */
static int ctl_split_args(const struct ctl_cmd *cmd, int argc, char **argv,
			  int first, const char **pos, const char **opt)
{
	int npos = 0;

	for (int i = first; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0') {
			if (ctl_set_option(cmd, argc, argv, &i, opt) != 0)
				return CTL_EXIT_USAGE;
		} else if (npos < cmd->npos) {
			pos[npos++] = argv[i];
		} else {
			return ctl_fail(CTL_EXIT_USAGE, "too many arguments");
		}
	}
	if (npos < cmd->npos)
		return ctl_fail(CTL_EXIT_USAGE, "too few arguments");
	return 0;
}

/*
 * The version of the configuration every shard holds, when they agree.
 * Returns 0 with *version (0: none written yet), or an exit status after
 * saying which shards disagree.
 */
static int ctl_config_version(struct ctl *c, int64_t *version)
{
	int64_t first = 0;

	for (int i = 0; i < store_shards(c->store); i++) {
		char key[CTL_KEY_MAX];
		struct store_reply *r;
		const char *s;
		size_t len;
		int64_t v = 0;
		int rc;

		ctl_use_shard(c, i);
		ctl_key(c, key, sizeof key, "%s", KEYS_NAME(CONFIG_VERSION));
		if ((rc = ctl_redis(c, &r, "GET", key, NULL)) != 0)
			return rc;
		s = store_reply_str(r, &len);
		if (s != NULL &&
		    util_parse_int64(s, len, 0, INT64_MAX, &v) != 0)
			v = -1;
		store_reply_free(r);
		if (i == 0)
			first = v;
		else if (v != first)
			return ctl_fail(
			    CTL_EXIT_REFUSED,
			    "the shards hold different configurations (shard "
			    "0 at version %lld, shard %d at %lld): "
			    "heartbeatctl "
			    "config sync repairs them",
			    (long long)first, i, (long long)v);
	}
	*version = first < 0 ? 0 : first;
	return 0;
}

/*
 * Runs cmd, a change of the configuration every shard holds (games, API
 * keys), on every shard in order, each write stamped with the next version
 * of the configuration in its own transaction: a change cut short leaves
 * shards of two versions, which the next change refuses and config sync
 * repairs. Only the first shard's run prints.
 */
static int ctl_config_change(struct ctl *c, const struct ctl_cmd *cmd,
			     const char *const *pos, const char *const *opt)
{
	int64_t version = 0;
	int rc = ctl_config_version(c, &version);

	if (rc != 0)
		return rc;
	c->config_version = version + 1;
	c->changed_ms = util_now_ms();
	for (int i = 0; i < store_shards(c->store); i++) {
		ctl_use_shard(c, i);
		c->quiet = i > 0;
		if ((rc = cmd->run(c, pos, opt)) == 0)
			continue;
		if (i > 0)
			ctl_fail(rc,
				 "the change reached shards 0 to %d only: "
				 "heartbeatctl config sync copies shard 0's "
				 "configuration to the others",
				 i - 1);
		break;
	}
	c->quiet = 0;
	c->config_version = 0;
	c->changed_ms = 0;
	return rc;
}

/* Runs cmd where its route says. */
static int ctl_dispatch(struct ctl *c, const struct ctl_cmd *cmd,
			const char *const *pos, const char *const *opt)
{
	int rc = 0;

	switch (cmd->route) {
	case CTL_ROUTE_CONFIG:
		return ctl_config_change(c, cmd, pos, opt);
	case CTL_ROUTE_EACH:
		for (int i = 0; rc == 0 && i < store_shards(c->store); i++) {
			ctl_use_shard(c, i);
			rc = cmd->run(c, pos, opt);
		}
		return rc;
	case CTL_ROUTE_SELF:
		break;
	}
	return cmd->run(c, pos, opt);
}

/* Loads the settings and runs cmd against the store. */
static int ctl_run(const struct ctl_cmd *cmd, const char *const *pos,
		   const char *const *opt)
{
	static struct config cfg; /* large: kept off the stack */
	char err[512];
	struct ctl c;
	int rc;

	if (config_load_env(&cfg, err, sizeof err) != 0)
		return ctl_fail(CTL_EXIT_CONFIG, "%s", err);
	log_set_level(cfg.log_level);
	/*
	 * The workers' bound on a command (HB_REDIS_TIMEOUT_MS) is sized for a
	 * request; an operator's command, such as a large sweep batch, may
	 * rightly take longer, and giving up would hide that it went through.
	 */
	if (cfg.redis_timeout_ms < CTL_REDIS_TIMEOUT_MIN_MS)
		cfg.redis_timeout_ms = CTL_REDIS_TIMEOUT_MIN_MS;
	memset(&c, 0, sizeof c);
	c.cfg = &cfg;
	c.store = store_new(&cfg);
	if (c.store == NULL)
		return ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	rc = ctl_dispatch(&c, cmd, pos, opt);
	store_free(c.store);
	return rc;
}

int main(int argc, char **argv)
{
	const char *pos[CTL_POS_MAX] = {NULL};
	const char *opt[CTL_OPTS_MAX] = {NULL};
	const struct ctl_cmd *cmd;
	int used, rc;

	if (argc < 2) {
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		ctl_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		version_print(stdout, "heartbeatctl", VERSION_LIBS_CTL);
		return CTL_EXIT_OK;
	}
	cmd = ctl_find(argc, argv, &used);
	if (cmd == NULL) {
		ctl_fail(CTL_EXIT_USAGE, "unknown command: %s%s%s", argv[1],
			 argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	rc = ctl_split_args(cmd, argc, argv, used, pos, opt);
	if (rc == 0)
		rc = ctl_run(cmd, pos, opt);
	if (rc == CTL_EXIT_USAGE) {
		fputs("usage:\n", stderr);
		ctl_usage_line(stderr, cmd);
	}
	fflush(stdout);
	return rc;
}
