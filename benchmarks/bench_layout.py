"""The package's size and shape: lines of code, the largest modules and the
longest functions, for this checkout and (``--against REV``) another commit.

Lines of code are the lines of ``cnnfix/*.py`` that are neither blank, nor
comments, nor inside a docstring (a string standing alone as a statement).
A function's length is counted without its docstring. The house rules
(docs/architecture.md, ``tests/test_layout.py``): no module over 600 lines,
no function over 80 lines of code.

    python benchmarks/bench_layout.py [--against 26e06e1]

Prints a Markdown report.
"""

import argparse
import ast
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _docstring_lines(tree):
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def measure(package):
    """``(code lines by module, longest functions)`` of the package folder."""
    by_module, functions = {}, []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        skip = _docstring_lines(tree)
        by_module[str(path.relative_to(package))] = sum(
            1
            for number, line in enumerate(source.splitlines(), 1)
            if line.strip() and not line.strip().startswith("#") and number not in skip
        )
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = node.body[0]
                start = first.end_lineno + 1 if first.lineno in skip else node.lineno
                functions.append((node.end_lineno - start + 1, path.name, node.name))
    return by_module, sorted(functions, reverse=True)


def _at(revision):
    """The package folder as it was at ``revision`` (a temporary copy)."""
    folder = Path(tempfile.mkdtemp(prefix="cnnfix-layout-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "cnnfix"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "cnnfix"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="a commit to compare with")
    args = parser.parse_args()
    now, functions = measure(ROOT / "cnnfix")
    rows = [("this checkout", now)]
    if args.against:
        rows.insert(0, (f"commit {args.against}", measure(_at(args.against))[0]))
    print("| code | lines of code | modules | largest module (lines of code) |")
    print("|---|---|---|---|")
    for name, modules in rows:
        largest = max(modules, key=modules.get)
        print(
            f"| {name} | {sum(modules.values()):,} | {len(modules)} "
            f"| {largest} ({modules[largest]}) |"
        )
    print("\nLongest functions of this checkout (lines of code, docstrings not")
    print("counted):\n")
    print("| function | lines |")
    print("|---|---|")
    for length, module, function in functions[:5]:
        print(f"| {module}: {function} | {length} |")


if __name__ == "__main__":
    main()
