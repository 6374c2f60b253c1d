#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""check_keys.py - the key layout is written once, in src/keys.h.

Fails (exit 1, naming file and line) when, anywhere under src/ but keys.h:
  - a key name of KEYS_TABLE appears as a literal: a quoted string starting
    with it ("game:%s", 'game:', "%sgame:"), or, for a key of its own such
    as "games", that exact quoted word outside a JSON key (jw_key) or a
    heartbeatctl command table row;
  - a field of KEYS_FIELD_TABLE appears as a literal in a C statement that
    sends a Redis hash command (HSET, HMGET, ...) or lists a record's
    fields (fields[] = ...), or in a Lua line that names one of the
    records (K_GAME, K_APIKEY, K_DTOK, venue_key), or, for the fields no
    other record has (the venue's, a game's active flag), in any Lua line;
and when the key table of docs/internals.md does not list exactly the keys of
KEYS_TABLE. Run by make check (srcdir from the environment).
"""
import os
import re
import sys

top = os.environ.get("srcdir") or os.path.join(os.path.dirname(__file__), "..")
src = os.path.join(top, "src")
with open(os.path.join(src, "keys.h")) as f:
    table = f.read()
keys = re.findall(r'X\(\w+, "([^"]*)", (?:NULL|"\w+")\)', table)
fields = sorted(set(re.findall(r'X\(\w+, \w+, "([^"]*)", (?:NULL|"\w+")\)',
                               table)))
# Field names no record outside the table uses: any Lua literal is a slip.
LUA_ONLY_TABLE = ("secret", "cidrs", "billing", "wallet", "active")
HASH_CMDS = ("HSET", "HSETNX", "HMGET", "HGET", "HINCRBY", "HDEL")
ALLOWED_WORD = re.compile(r'jw_key\(|^\s*\{"')
problems = []


def say(path, lineno, what):
    problems.append("%s:%d: %s" % (os.path.relpath(path, top), lineno, what))


def check_keys(path, lines):
    for i, line in enumerate(lines, 1):
        for k in keys:
            if k.endswith(":"):
                if re.search(r"[\"'](%s)?" + re.escape(k), line):
                    say(path, i, "key name %r as a literal" % k)
            elif re.search(r"[\"']%s[\"']" % re.escape(k), line) and \
                    not ALLOWED_WORD.search(line):
                say(path, i, "key name %r as a literal" % k)


def field_literals(text):
    return [f for f in fields if re.search(r"[\"']%s[\"']" % f, text)]


def check_c_fields(path, text):
    for m in re.finditer(r"[^;{}]*(?:\{[^;]*?\})?[^;]*;", text):
        stmt = m.group(0)
        if not (any('"%s"' % c in stmt for c in HASH_CMDS) or
                re.search(r"fields\[\]\s*=", stmt)):
            continue
        for f in field_literals(stmt):
            say(path, text.count("\n", 0, m.start()) + 1,
                "record field %r as a literal" % f)


def check_lua_fields(path, lines):
    for i, line in enumerate(lines, 1):
        code = line.split("--", 1)[0]
        names_record = re.search(r"K_GAME\b|K_APIKEY|K_DTOK|venue_key\(", code)
        for f in field_literals(code):
            if names_record or f in LUA_ONLY_TABLE:
                say(path, i, "record field %r as a literal" % f)


for root, _, files in os.walk(src):
    for name in sorted(files):
        path = os.path.join(root, name)
        if name == "keys.h" or not name.endswith((".c", ".h", ".lua", ".sh")):
            continue
        if name.endswith("_gen.c"):
            continue
        with open(path, errors="replace") as f:
            text = f.read()
        if name.endswith((".c", ".h")):
            # Comments may name keys: blank them, keeping the lines.
            text = re.sub(r"/\*.*?\*/",
                          lambda m: re.sub(r"[^\n]", " ", m.group(0)),
                          text, flags=re.S)
        elif name.endswith(".lua"):
            text = re.sub(r"--[^\n]*", "", text)
        lines = text.split("\n")
        check_keys(path, lines)
        if name.endswith(".lua"):
            check_lua_fields(path, lines)
        elif name.endswith((".c", ".h")):
            check_c_fields(path, text)

# docs/internals.md: the key table lists exactly the keys of the table.
with open(os.path.join(top, "docs", "internals.md")) as f:
    readme = f.read()
m = re.search(r"\| key \| what \| lifetime \|\n(.*?)\n\s*\n", readme, re.S)
if m is None:
    problems.append("docs/internals.md: no key table (| key | what | lifetime |)")
else:
    listed = set()
    for row in m.group(1).split("\n")[1:]:
        first = row.strip().strip("|").split("|")[0]
        for name in re.findall(r"`([^`]*)`", first):
            if not name.startswith("<"):
                listed.add(re.match(r"[^<]*", name).group(0))
    for k in sorted(set(keys) - listed):
        problems.append("docs/internals.md: key table lacks %r (src/keys.h)" % k)
    for k in sorted(listed - set(keys)):
        problems.append("docs/internals.md: key table has %r, not in src/keys.h" % k)

for p in problems:
    print(p)
print("%d keys, %d fields; %d problems" % (len(keys), len(fields),
                                          len(problems)))
sys.exit(1 if problems else 0)
