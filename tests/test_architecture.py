"""The package's import graph: no cycle among the modules, neither through the imports made
as a module loads nor through those made later (inside a function, or for type checkers
only). A module that needs another's part imports it from a floor below; nothing reaches up
and comes back."""
import ast
import graphlib
import os

import pytest

import amc_keywords

PACKAGE = os.path.dirname(amc_keywords.__file__)


def package_modules(folder, package):
    """``{dotted name: path}`` of every module of the package in ``folder``."""
    modules = {}
    for root, _, files in os.walk(folder):
        for file in files:
            if file.endswith(".py"):
                relative = os.path.relpath(os.path.join(root, file[:-3]), folder)
                name = ".".join([package, *relative.split(os.sep)])
                modules[name.removesuffix(".__init__")] = os.path.join(root, file)
    return modules


def _is_type_checking(node):
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _statements(body, at_load):
    """``(statement, whether it runs as the module loads)`` of ``body``, nested ones too."""
    for node in body:
        yield node, at_load
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            later = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom)]
            yield from ((n, False) for n in later)
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, [])
            yield from _statements(inner, at_load and not (field == "body" and
                                                          _is_type_checking(node)))


def import_edges(modules):
    """``{(importer, imported): whether the import runs as the importer loads}`` of the
    relative imports (an import made both ways counts as made at load)."""
    edges = {}
    for name, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        base = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        for node, at_load in _statements(tree.body, True):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            origin = base.rsplit(".", node.level - 1)[0] if node.level > 1 else base
            origin += f".{node.module}" if node.module else ""
            for alias in node.names:  # a submodule, or a name of the module imported from
                target = f"{origin}.{alias.name}"
                target = target if target in modules else origin
                if target != name:
                    edges[name, target] = edges.get((name, target), False) or at_load
    return edges


def cycle(edges):
    """A cycle of the graph (its modules, the first repeated last), or None."""
    graph = {}
    for importer, imported in edges:
        graph.setdefault(importer, set()).add(imported)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return exc.args[1]
    return None


def test_the_imports_made_as_modules_load_form_no_cycle():
    edges = import_edges(package_modules(PACKAGE, "amc_keywords"))
    assert cycle([edge for edge, at_load in edges.items() if at_load]) is None


def test_no_import_made_later_closes_a_cycle():
    """An import inside a function (to keep the command line's start light) or for type
    checkers only must not be the way round a cycle either."""
    edges = import_edges(package_modules(PACKAGE, "amc_keywords"))
    assert cycle(edges) is None


@pytest.mark.parametrize("later", ["def f():\n    from .a import A\n",
                                   "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                   "    from . import a\n",
                                   "from .a import A\n"])
def test_the_check_finds_a_cycle(tmp_path, later):
    """The check itself, on a package of three modules: ``a`` -> ``b`` -> ``c`` and back,
    at load or later."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import B\nA = 1\n")
    (package / "b.py").write_text("from . import c\nB = 2\n")
    (package / "c.py").write_text(later)
    edges = import_edges(package_modules(str(package), "pkg"))
    assert cycle(edges) is not None
    assert (cycle([e for e, at_load in edges.items() if at_load]) is None) == \
        (later != "from .a import A\n")
    (package / "c.py").write_text("import os\n")
    assert cycle(import_edges(package_modules(str(package), "pkg"))) is None
