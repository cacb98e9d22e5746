"""The module map of docs/architecture.md and the pipeline figure against the package.

The map (its tables under "## Modules", up to "Around the package") names every module of
``amc_keywords/`` once, and nothing that does not exist; its layers ("### N. ...", lowest
first) agree with the imports: a module imports from its own layer or a lower one. The
figure's source, ``img/make_figures.py``, names only modules that exist.
"""
import ast
import re
from pathlib import Path

from conftest import ROOT

PACKAGE = Path(ROOT, "amc_keywords")
MAP = Path(ROOT, "docs", "architecture.md")
FIGURE = Path(ROOT, "img", "make_figures.py")

LAYER = re.compile(r"^### (\d+)\. ", re.M)
ROW = re.compile(r"^\| `([^`]+)` \|", re.M)


def module_files(package):
    """Every module of the package, as its path inside it (``datasets/karpathy.py``)."""
    return sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py")
                  if "__pycache__" not in p.parts)


def map_layers(text):
    """``[(layer number, [name, ...]), ...]`` of the map's module tables, in order."""
    section = text[text.index("\n## Modules"):text.index("\nAround the package")]
    starts = list(LAYER.finditer(section))
    return [(int(start.group(1)), ROW.findall(section, start.end(),
                                              ends.start() if ends else len(section)))
            for start, ends in zip(starts, [*starts[1:], None])]


def map_problems(text, package):
    """What the map gets wrong about the package's files, one line each."""
    named = [name for _, names in map_layers(text) for name in names]
    problems = [f"{name}: no such file in {package.name}/" for name in named
                if not (package / name).exists()]
    for module in module_files(package):
        if named.count(module) != 1:
            problems.append(f"{module}: named {named.count(module)} times, not once")
    return problems


def imports(package):
    """``{(importer, imported)}`` of the package's imports of its own modules (at load, in a
    function, or for type checkers), as paths inside the package."""
    edges = set()
    for module in module_files(package):
        folder = Path(module).parent.parts
        for node in ast.walk(ast.parse((package / module).read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            dotted = node.module.split(".") if node.module else []
            if node.level:  # relative to the importer's folder
                origin = [*folder[:len(folder) - node.level + 1], *dotted]
            elif dotted[:1] == [package.name]:
                origin = dotted[1:]
            else:
                continue
            for alias in node.names:  # a submodule, or a name of the module imported from
                for candidate in ([*origin, alias.name, "__init__.py"],
                                  [*origin, f"{alias.name}.py"],
                                  [*origin[:-1], f"{origin[-1]}.py"] if origin else [],
                                  [*origin, "__init__.py"]):
                    target = "/".join(candidate)
                    if candidate and (package / target).is_file():
                        if target != module:
                            edges.add((module, target))
                        break
    return edges


def upward_imports(text, package):
    """The imports that reach a higher layer than their importer's, as the map lays them."""
    layer = {name: number for number, names in map_layers(text) for name in names}
    return sorted((importer, imported) for importer, imported in imports(package)
                  if importer in layer and imported in layer
                  and layer[imported] > layer[importer])


def test_the_module_map_names_every_module_once_and_nothing_else():
    text = MAP.read_text(encoding="utf-8")
    assert [number for number, _ in map_layers(text)] == list(range(1, 9))
    problems = map_problems(text, PACKAGE)
    assert not problems, "docs/architecture.md:\n" + "\n".join(problems)


def test_no_module_imports_from_a_higher_layer_of_the_map():
    upward = upward_imports(MAP.read_text(encoding="utf-8"), PACKAGE)
    assert not upward, f"imports from a higher layer of docs/architecture.md: {upward}"


def test_the_map_checks_find_what_is_wrong(tmp_path):
    """The checks themselves, on a package of three modules and maps of it."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("import os\n")
    (package / "sub" / "__init__.py").write_text(
        "def f():\n    from ..low import x\n    from .. import high\n")
    (package / "high.py").write_text("from .sub import g\nfrom pkg.low import y\n")
    good = ("intro\n## Modules\n\n### 1. Low\n\n| module | holds |\n|---|---|\n"
            "| `low.py` | l |\n| `__init__.py` | i |\n\n### 2. High\n\n| module | holds |\n"
            "|---|---|\n| `sub/__init__.py` | s |\n| `high.py` | h |\n\nAround the package\n")
    assert imports(package) == {("sub/__init__.py", "low.py"), ("sub/__init__.py", "high.py"),
                                ("high.py", "sub/__init__.py"), ("high.py", "low.py")}
    assert map_problems(good, package) == []
    assert upward_imports(good, package) == []
    wrong = good.replace("`high.py`", "`gone.py`").replace("`__init__.py` | i", "`low.py` | l")
    assert map_problems(wrong, package) == [
        "gone.py: no such file in pkg/", "__init__.py: named 0 times, not once",
        "high.py: named 0 times, not once", "low.py: named 2 times, not once"]
    upside_down = good.replace("### 1. Low", "### 3. Low")
    assert upward_imports(upside_down, package) == [("high.py", "low.py"),
                                                    ("sub/__init__.py", "low.py")]


def figure_modules(source):
    """The module names the figure's source draws: the tuples of strings only in the values
    of its module-level constants (``STAGES`` and the like)."""
    names = []
    constants = [statement.value for statement in ast.parse(source).body
                 if isinstance(statement, ast.Assign) and all(
                     isinstance(t, ast.Name) and t.id.isupper() for t in statement.targets)]
    for node in (n for constant in constants for n in ast.walk(constant)):
        if isinstance(node, ast.Tuple) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            names.extend(e.value for e in node.elts)
    return names


def test_the_figure_names_only_modules_that_exist():
    names = figure_modules(FIGURE.read_text(encoding="utf-8"))
    assert len(names) > 30, names  # the stages' modules were found at all
    missing = [name for name in names
               if not (PACKAGE / (f"{name}__init__.py" if name.endswith("/") else f"{name}.py")
                       ).is_file()]
    assert not missing, f"img/make_figures.py draws modules that do not exist: {missing}"
