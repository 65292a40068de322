"""The comparison for `envgate scan`'s benchmark: the same walk in Python with the
standard library's `ast` (what a team would write first). Finds os.environ[...],
os.environ.get/setdefault, os.getenv and `in os.environ` reads in every *.py under
ROOT, skipping hidden directories, and prints how many it found.
Usage: python scan_ast.py ROOT"""

import ast
import os
import sys


def is_environ(node):
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def reads(tree):
    found = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_environ(node.value):
            found += 1
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            if func.attr in ("get", "setdefault") and is_environ(func.value):
                found += 1
            elif func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os":
                found += 1
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            found += 1
    return found


def main(root):
    files = found = 0
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        for name in names:
            if not name.endswith(".py"):
                continue
            files += 1
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as source:
                    found += reads(ast.parse(source.read(), path))
            except (SyntaxError, ValueError):
                pass
    print(f"{files} files, {found} reads")


main(sys.argv[1])
