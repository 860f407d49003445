"""The house rules of the package's layout, read from its source.

Imports run one way (no circle), no module imports another's private name,
no module grows past 600 lines, and docs/architecture.md's table lists each
module's cnnfix imports as the code has them.
"""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnfix"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"

#: Heavy libraries that may be imported inside a function, so that
#: ``import cnnfix`` and its light modules stay cheap.
LAZY_IMPORTS = {
    "tensorflow",
    "keras",
    "keras_tuner",
    "matplotlib",
    "PIL",
    "pyspng",
    "sklearn",
    "joblib",
}

#: cnnfix modules imported inside a function, and why: each imports a heavy
#: library at its top.
LAZY_CNNFIX = {
    ("cnnfix.tuning.search", "adapter"): "keras-tuner",
}

#: Modules exempt from the rule, and why.
EXEMPT = {
    "cnnfix.__main__": "imports only the standard library, so --help is instant",
}


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name):
    """``(module, names, node)`` for each ``cnnfix`` import in module ``name``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - max(node.level - 1, 0)]
            target = (
                ".".join([*base, *([node.module] if node.module else [])])
                if node.level
                else node.module or ""
            )
            if target.split(".")[0] == "cnnfix":
                yield target, [a.name for a in node.names], node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cnnfix":
                    yield alias.name, [], node


def _targets(name):
    """The cnnfix modules that module ``name`` imports."""
    for target, names, _ in _imports(name):
        found = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
        yield from found or [target]


def _unit(name):
    """A module, or the first-level package that holds it (``cnnfix._input``)."""
    return ".".join(name.split(".")[:2])


def test_no_import_circle():
    graph = {name: set(_targets(name)) - {name} for name in MODULES}
    done, path = set(), []

    def visit(name):
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail(f"import circle: {' -> '.join(cycle)}")
        if name in done:
            return
        path.append(name)
        for target in graph.get(name, ()):
            visit(target)
        path.pop()
        done.add(name)

    for name in MODULES:
        visit(name)


def test_no_private_name_crosses_a_module():
    for name in MODULES:
        for target, names, _ in _imports(name):
            if _unit(target) == _unit(name):
                continue  # inside one module or one private package
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{name} imports private {private} from {target}"


def test_function_level_imports_are_for_heavy_optional_modules():
    for name, path in MODULES.items():
        if name in EXEMPT:
            continue
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.level:
                    imported = node.module or node.names[0].name
                    assert (name, imported) in LAZY_CNNFIX, (
                        f"{name}.{function.name} imports .{imported} inside"
                    )
                    continue
                if isinstance(node, ast.Import) or (
                    isinstance(node, ast.ImportFrom) and not node.level
                ):
                    modules = (
                        [a.name for a in node.names]
                        if isinstance(node, ast.Import)
                        else [node.module]
                    )
                    top = {m.split(".")[0] for m in modules}
                    assert top <= LAZY_IMPORTS, (
                        f"{name}.{function.name} imports {modules} inside a function"
                    )


def test_no_module_over_600_lines():
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert {n: k for n, k in long.items() if k > 600} == {}


def test_the_architecture_page_lists_each_module_s_imports():
    rows = re.findall(
        r"^\| \d+ \| `([\w/]+)` \| [^|]+ \|([^|]*)\|$",
        ARCHITECTURE.read_text(),
        flags=re.MULTILINE,
    )
    documented = {
        "cnnfix." + module.rstrip("/"): set(re.findall(r"`([\w.]+)`", imports))
        for module, imports in rows
    }
    code = {}
    for name in MODULES:
        unit = _unit(name)
        targets = {_unit(t) for t in _targets(name)} - {unit}
        code.setdefault(unit, set()).update(t.removeprefix("cnnfix.") for t in targets)
    code.pop("cnnfix", None)  # the package's own lazy table
    code = {k: v - {"cnnfix"} if k != "cnnfix.__main__" else v for k, v in code.items()}
    assert documented == code


def test_no_function_over_80_lines_of_code():
    # Docstrings are not counted: numpydoc parameter lists are long by design.
    long = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = node.body[0]
                docstring = isinstance(first, ast.Expr) and isinstance(
                    getattr(first, "value", None), ast.Constant
                )
                start = first.end_lineno + 1 if docstring else node.lineno
                if node.end_lineno - start + 1 > 80:
                    long[f"{name}.{node.name}"] = node.end_lineno - start + 1
    assert long == {}
