/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_launcher.c - heartbeatctl launcher: the PCs' launcher sessions. A PC's
 * record pc:<venue>:<pc> {lt, ll, gs, ex} names its launcher session
 * lt:<sha256 of the token> {venue, pc, ip, hw, started, last}, a copy of
 * that session's last, its game session, and until when it is kept.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "util.h"

/*
 * Prints one PC: venue, PC, when its launcher was last heard from ("-" when
 * it has none or it expired), and its game session ("-" when none).
 */
static int ctl_launcher_print(struct ctl *c, const char *name,
			      const struct ctl_row *row, void *ctx)
{
	static const char *const fields[] = {"last", NULL};
	const char *venue = name + strlen(KEYS_NAME(PC));
	size_t vlen = strcspn(venue, ":");
	const char *pc = venue[vlen] == ':' ? venue + vlen + 1 : "";
	char key[CTL_KEY_MAX], seen[UTIL_TIME_BUF] = "-";
	struct ctl_row lt;

	(void)ctx;
	if (row->v[0][0] != '\0') {
		int rc;

		ctl_key(c, key, sizeof key, "%s%s", KEYS_NAME(LT), row->v[0]);
		rc = ctl_hmget(c, key, fields, &lt);
		if (rc != 0)
			return rc;
		if (lt.found)
			ctl_time_text(lt.v[0], seen, sizeof seen);
	}
	printf("%.*s\t%s\t%s\t%s\n", (int)vlen, venue, pc, seen,
	       row->v[1][0] != '\0' ? row->v[1] : "-");
	return 0;
}

int ctl_launcher_list(struct ctl *c, const char *const *pos,
		      const char *const *opt)
{
	static const char *const fields[] = {"lt", "gs", NULL};
	struct ctl_names pcs;
	int rc = ctl_scan(c, KEYS_NAME(PC), &pcs);

	(void)pos;
	(void)opt;
	if (rc != 0)
		return rc;
	return ctl_each_row(c, &pcs, "", fields, ctl_launcher_print, NULL);
}

int ctl_launcher_revoke(struct ctl *c, const char *const *pos,
			const char *const *opt)
{
	static const char *const fields[] = {"lt", NULL};
	char pk[CTL_KEY_MAX], lk[CTL_KEY_MAX];
	struct ctl_row row;
	int rc;

	(void)opt;
	if ((rc = ctl_check_id("VENUE_ID", pos[0], CTL_ID_NO_COLON)) != 0 ||
	    (rc = ctl_check_id("PC_ID", pos[1], CTL_ID_ANY)) != 0)
		return rc;
	ctl_use_owner(c, pos[0]);
	ctl_key(c, pk, sizeof pk, "%s%s:%s", KEYS_NAME(PC), pos[0], pos[1]);
	/* A launcher starting meanwhile replaces lt: then nothing is done. */
	if ((rc = ctl_redis(c, NULL, "WATCH", pk, NULL)) != 0 ||
	    (rc = ctl_hmget(c, pk, fields, &row)) != 0)
		return rc;
	if (row.v[0][0] == '\0')
		return ctl_fail(CTL_EXIT_REFUSED,
				"no launcher session on venue %s PC %s", pos[0],
				pos[1]);
	ctl_key(c, lk, sizeof lk, "%s%s", KEYS_NAME(LT), row.v[0]);
	{
		const char *del[] = {"DEL", lk, NULL};
		const char *hdel[] = {"HDEL", pk, "lt", "ll", NULL};
		const char *const *cmds[] = {del, hdel, NULL};

		rc = ctl_write(c, NULL, CTL_GUARD_NONE, cmds);
	}
	if (rc == CTL_EXIT_REFUSED)
		return ctl_fail(rc, "the PC's launcher changed meanwhile; "
				    "try again");
	if (rc == 0)
		printf("launcher on venue %s PC %s revoked\n", pos[0], pos[1]);
	return rc;
}
