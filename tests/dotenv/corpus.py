#!/usr/bin/env python3
"""A seeded random corpus of .env texts for the differential tests against python-dotenv.

    python3 corpus.py [--seed N] [--count N]    (defaults: the seed and count below)

prints a JSON array of cases `{"name", "text", "env"}`, the shape tests/dotenv/oracle.py reads, so
`corpus.py | oracle.py --version V` gives python-dotenv's answer for each. The same seed gives the
same corpus (Python's `random.Random(int)` has been stable since 3.2), so a failure names a case
that can be generated again.

The texts come from a small grammar of what python-dotenv's parser treats specially: quotes of
both kinds (closed, unclosed, escaped), backslashes before quotes and before newlines, `#` with and
without whitespace before it (right after `=` too), whitespace of several kinds (Python's `\\s` is
wider than ASCII), a leading BOM (one or two), `export`, `${VAR}` / `${VAR:-default}`, and the
three line endings. Two thirds of the texts are lines of `[export] KEY = VALUE # comment` with
those tokens inside; the rest is the same tokens in any order.
"""

import json
import random
import sys

SEED = 20261207
COUNT = 600

SPACES = ["", " ", "  ", "\t", "\u3000", "\u00a0", "\x0c"]
PREFIXES = ["", "", "", " ", "\t", "export ", "export ", "export\t", "export  ", "export", "\u3000export "]
KEYS = ["A", "B", "KEY", "k_1", "a.b", "x-y", "export", "\u00e9", "'q k'", "'A'", "\"D\"", "'", "", "#A"]
EQUALS = ["=", "=", "=", "=", "", "=="]
BODY = [
    "a", "b", "x y", "1", "#", " #", "\t#", "# c", "\\", "\\\\", "\\'", "\\\"", "'", "\"", "\\n", "\\t",
    "\\\n", "${A}", "${B:-d}", "${KEY:-}", "${X:-${A}}", "${", "}", ":-", "$A", "$", "{", "\n", "\r\n",
    "\r", " ", "\t", "\u00e9", "\ufeff", "=", "\u3000",
]
TAILS = ["", "", "", " ", " # c", "#c", "\t#c", " junk", " '", " \""]
ENDS = ["\n", "\n", "\n", "\r\n", "\r", ""]


def body(rng, most):
    return "".join(rng.choice(BODY) for _ in range(rng.randint(0, most)))


def value(rng):
    kind = rng.random()
    if kind < 0.35:
        return body(rng, 4)
    quote = rng.choice(["'", "\""])
    close = quote if rng.random() < 0.85 else ""
    return quote + body(rng, 5) + close


def line(rng):
    return (
        rng.choice(SPACES[:4])
        + rng.choice(PREFIXES)
        + rng.choice(KEYS)
        + rng.choice(SPACES)
        + rng.choice(EQUALS)
        + rng.choice(SPACES)
        + value(rng)
        + rng.choice(TAILS)
        + rng.choice(ENDS)
    )


def text(rng):
    bom = rng.choice(["", "", "", "\ufeff", "\ufeff\ufeff"])
    if rng.random() < 2 / 3:
        return bom + "".join(line(rng) for _ in range(rng.randint(1, 6)))
    tokens = BODY + KEYS + PREFIXES + EQUALS
    return bom + "".join(rng.choice(tokens) for _ in range(rng.randint(0, 30)))


def env(rng):
    names = [n for n in ["A", "B", "X", "KEY"] if rng.random() < 0.3]
    return {n: body(rng, 3) for n in names}


def corpus(seed, count):
    rng = random.Random(seed)
    return [{"name": "random %d/%d" % (seed, i), "text": text(rng), "env": env(rng)} for i in range(count)]


def main():
    args = sys.argv[1:]
    seed, count = SEED, COUNT
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    if "--count" in args:
        count = int(args[args.index("--count") + 1])
    sys.stdout.write(json.dumps(corpus(seed, count)) + "\n")


if __name__ == "__main__":
    main()
