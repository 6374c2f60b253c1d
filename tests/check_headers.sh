#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# check_headers.sh - every header under src/ compiles on its own: each is
# included alone, first, in an otherwise empty file. Run by make check
# (srcdir, builddir, CC and HEADER_CFLAGS from the environment).
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
builddir=${builddir:-.}
cc=${CC:-cc}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0
n=0
for h in "$srcdir"/src/*.h; do
	name=$(basename "$h")
	n=$((n + 1))
	printf '#include "%s"\n' "$name" >"$tmp/t.c"
	# shellcheck disable=SC2086
	if ! $cc -std=c11 -Wall -Werror -fsyntax-only -I"$srcdir/src" \
		-I"$builddir/src" ${HEADER_CFLAGS:-} "$tmp/t.c" 2>"$tmp/err"; then
		echo "FAIL $name does not compile on its own:"
		sed 's/^/    /' "$tmp/err"
		failed=$((failed + 1))
	fi
done
echo "$n headers, $failed failed"
[ "$failed" -eq 0 ]
