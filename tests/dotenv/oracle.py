#!/usr/bin/env python3
"""The reference for our .env parser: python-dotenv's own `dotenv_values`.

Reads a JSON array of cases `{"name": str, "text": str, "env": {str: str}}` on stdin. For each case,
os.environ is set to exactly `env`, then `dotenv_values(stream=io.StringIO(text))` is called.

Output (stdout):
  default  a JSON array with one entry per case: the result as a list of [key, value-or-null] pairs,
           in dict order.
  --rust   a line format that needs no JSON parser, with every string as UTF-8 hex:
             case <name>
             text <text>
             env <key> <value>          (one line per env var)
             expect <key> =<value>      (one line per result pair; `!` instead of `=<value>` for None)
             end

`--version V` names the python-dotenv release the parser follows (core/src/dotenv.rs
`PYTHON_DOTENV_VERSION`; the tests pass it). When another release is installed, the oracle answers
nothing and exits with code 4, naming both: python-dotenv's rules change between releases, and the
cases are checked against the one the parser follows.

Exits with code 3 if python-dotenv is not installed.
"""

import io
import json
import logging
import os
import sys


def wanted_version():
    args = sys.argv[1:]
    if "--version" in args:
        i = args.index("--version")
        if i + 1 < len(args):
            return args[i + 1]
    return None


try:
    import dotenv
except ImportError:
    sys.stderr.write(
        "oracle.py: python-dotenv is not installed for %s: pip install python-dotenv==%s\n"
        % (sys.executable, wanted_version() or "<the version in core/src/dotenv.rs>")
    )
    sys.exit(3)


def check_version(wanted):
    try:
        from importlib.metadata import version

        found = version("python-dotenv")
    except Exception as e:  # metadata missing: cannot tell which rules it follows
        found = "of unknown version (%s)" % e
    if found != wanted:
        sys.stderr.write(
            "oracle.py: the parser follows python-dotenv %s, but python-dotenv %s is installed for %s: "
            "pip install python-dotenv==%s (or, if python-dotenv has a new release, move the parser "
            "and PYTHON_DOTENV_VERSION in core/src/dotenv.rs to it)\n"
            % (wanted, found, sys.executable, wanted)
        )
        sys.exit(4)


def hexed(s):
    return s.encode("utf-8").hex()


def main():
    rust = "--rust" in sys.argv[1:]
    wanted = wanted_version()
    if wanted is None:
        sys.stderr.write("oracle.py: --version VERSION (the python-dotenv the parser follows) is required\n")
        sys.exit(2)
    check_version(wanted)
    # python-dotenv warns about each statement it cannot parse; those are expected here.
    logging.getLogger("dotenv").setLevel(logging.CRITICAL)

    cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    results = []
    lines = []
    for case in cases:
        env = case.get("env") or {}
        os.environ.clear()
        os.environ.update(env)
        values = dotenv.dotenv_values(stream=io.StringIO(case["text"]))
        pairs = [[key, value] for key, value in values.items()]
        results.append(pairs)
        if rust:
            lines.append("case " + hexed(case["name"]))
            lines.append("text " + hexed(case["text"]))
            for key, value in env.items():
                lines.append("env %s %s" % (hexed(key), hexed(value)))
            for key, value in pairs:
                lines.append(
                    "expect %s %s" % (hexed(key), "!" if value is None else "=" + hexed(value))
                )
            lines.append("end")

    if rust:
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
