"""The reference reading of .env text: python-dotenv's own, as `load_dotenv` reads
a file (interpolation on, the process environment winning over the file).

Reads a JSON list of texts on stdin; prints a JSON list with, for each text,
{"values": [[key, value or null], ...]} in python-dotenv's order, or
{"error": [first_line, last_line]} for the first statement python-dotenv could
not parse (it logs and skips such a statement; envgate refuses the file there)."""

import json
import os
import sys
import tempfile

from dotenv.main import DotEnv
from dotenv.parser import parse_stream


def first_error(path):
    with open(path, encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            if binding.error:
                text = binding.original.string
                leading = text[: len(text) - len(text.lstrip())]
                first = binding.original.line + leading.count("\n")
                return [first, binding.original.line + text.rstrip("\n").count("\n")]
    return None


def read(text, directory):
    path = os.path.join(directory, "case.env")
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    error = first_error(path)
    if error is not None:
        return {"error": error}
    values = DotEnv(path, interpolate=True, override=False, encoding="utf-8").dict()
    return {"values": [[key, value] for key, value in values.items()]}


def main():
    texts = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as directory:
        json.dump([read(text, directory) for text in texts], sys.stdout)


main()
