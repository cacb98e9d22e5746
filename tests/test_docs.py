"""The documentation: README.md and docs/*.md.

Every example marked ``<!-- example: KIND -->`` just before its fenced block runs as written,
in a folder laid out like a clone with the data downloaded (the shipped sample under the
real names) and both datasets already run there; every relative link and ``#anchor``
resolves. KIND says what an example needs:

    api, loader, encode, numpy   Python, run as is
    torch, datasets, parquet     Python needing torch, datasets or pyarrow (skipped without)
    shell                        commands, one a line (``amc-keywords``, ``python``)
    clone                        the commands of a fresh clone, run from the clone itself

A python or shell block that is not marked is a test failure: an example that no test runs
goes stale. Fragments that are not meant to run (a file's layout, a message) are fenced as
``text``, ``json`` and the like.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from amc_keywords.sample_vectors import glove_like_zip

DOCS = [Path(ROOT, "README.md"), *sorted(Path(ROOT, "docs").glob("*.md"))]
SAMPLE = Path(ROOT, "amc_keywords", "sample_data")
DEV = "clickture/img_keyword_ind_clickture_dev_sk_6_sparse.npy"

FENCE = re.compile(r"^```([^`\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
MARKER = re.compile(r"<!-- example: ([\w-]+) -->\s*\Z")
RUNNABLE = {"python", "py", "sh", "shell", "bash", "console"}
NEEDS = {"torch": "torch", "datasets": "datasets", "parquet": "pyarrow"}
KINDS = {"api", "loader", "encode", "numpy", "shell", "clone", *NEEDS}


def fences(text):
    """``(language, kind or None, code)`` of each fenced block of a Markdown text."""
    for match in FENCE.finditer(text):
        marker = MARKER.search(text, 0, match.start())
        yield match.group(1).strip(), marker.group(1) if marker else None, match.group(2)


def examples():
    """``pytest.param(kind, code)`` of each marked example, named ``file:kind:n``."""
    found = []
    for doc in DOCS:
        for n, (_, kind, code) in enumerate(
                (f for f in fences(doc.read_text(encoding="utf-8")) if f[1]), 1):
            found.append(pytest.param(kind, code, id=f"{doc.name}:{kind}:{n}"))
    return found


def test_every_runnable_block_is_a_marked_example():
    problems = []
    for doc in DOCS:
        for language, kind, code in fences(doc.read_text(encoding="utf-8")):
            first = code.strip().splitlines()[0] if code.strip() else ""
            if not language:
                problems.append(f"{doc.name}: a fence without a language ({first!r}): say "
                                "python, sh, or text for a fragment that does not run")
            elif language in RUNNABLE and kind not in KINDS:
                problems.append(f"{doc.name}: {language} block {first!r} is not marked "
                                f"<!-- example: KIND --> with a KIND of {sorted(KINDS)}")
            elif kind and language not in RUNNABLE:
                problems.append(f"{doc.name}: a {language} block is marked as an example")
    assert not problems, "\n".join(problems)


def test_the_docs_have_the_examples():
    assert {p.values[0] for p in examples()} >= {"api", "loader", "torch", "encode", "shell",
                                                  "parquet", "datasets", "clone"}


@pytest.fixture(scope="module")
def example_folder(tmp_path_factory):
    """A folder like a clone with the data downloaded: ``keyword/`` holds the archives and
    ``clickture/`` the lists and maps (the sample's, under the real names); both datasets
    have been run there with the default options (and Flickr30k, in the same layout as COCO);
    ``glove.6B.zip`` holds synthetic vectors laid out as the real one, and the dev set's
    matrix of its 50-d ones is written."""
    folder = tmp_path_factory.mktemp("examples")
    (folder / "keyword").mkdir()
    (folder / "clickture").mkdir()
    for name in ("keywords_dev.zip", "keywords_lite.zip", "keywords_coco.zip",
                 "keywords_flickr30k.zip"):
        shutil.copy(SAMPLE / name, folder / "keyword" / name)
    for sample_name, real_name in (("sample-dev.lst", "clickture-dev.lst"),
                                   ("sample-lite.lst", "clickture-lite.lst"),
                                   ("sample_id_map_dev.pkl", "img_id_map_dev.pkl"),
                                   ("sample_id_map.pkl", "img_id_map.pkl")):
        shutil.copy(SAMPLE / sample_name, folder / "clickture" / real_name)
    for dataset in ("clickture", "coco", "flickr30k"):
        subprocess.run([sys.executable, "-m", "amc_keywords", dataset, "--quiet"], cwd=folder,
                       check=True, capture_output=True, timeout=600)
    # Word vectors: a zip laid out like glove.6B.zip, and the matrix the examples load.
    words = json.loads((folder / "clickture" / "vocabulary_clickture_sk_6.json").read_text(
        encoding="utf-8"))["words"]
    glove_like_zip(str(folder / "glove.6B.zip"), words)
    subprocess.run([sys.executable, "-m", "amc_keywords", "vectors", DEV, "glove.6B.zip",
                    "--member", "glove.6B.50d.txt"], cwd=folder, check=True,
                   capture_output=True, timeout=600)
    return folder


def command_line(command):
    """The argv of one documented command: ``amc-keywords`` and ``python`` as this
    interpreter runs them."""
    argv = shlex.split(command, comments=True)
    if argv[0] == "amc-keywords":
        return [sys.executable, "-m", "amc_keywords", *argv[1:]]
    if argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    raise AssertionError(f"{command!r}: the test does not know how to run {argv[0]!r}")


def commands(code):
    """The commands of a shell block: one a line, ``&&`` between commands of a line."""
    for line in code.splitlines():
        for command in line.split("&&"):
            if shlex.split(command, comments=True):
                yield command.strip()


def run_clone_commands(code, tmp_path):
    """A fresh clone's commands, from the clone. The install is done already (the tests
    run on the installed package) and the test suite is what is running: those two are
    checked to be the ones CI runs, not run again. Temporary folders go under ``tmp_path``."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    ci = Path(ROOT, ".ci", "run").read_text(encoding="utf-8")
    for command in commands(code):
        argv = shlex.split(command, comments=True)
        if argv[:2] == ["pip", "install"]:
            assert f"pip_install {' '.join(argv[2:])}" in ci, command
            continue
        if argv[1:3] == ["-m", "pytest"]:
            assert f"python3 {' '.join(argv[1:])}" in ci, command
            continue
        proc = subprocess.run(command_line(command), cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("kind,code", examples())
def test_examples_run_as_written(example_folder, tmp_path, kind, code):
    needs = NEEDS.get(kind)
    if needs:
        pytest.importorskip(needs, reason=f"{needs} is not installed")
    if kind in ("parquet", "datasets") and not (example_folder / "dev.parquet").exists():
        subprocess.run([sys.executable, "-m", "amc_keywords", "export", DEV, "dev.parquet",
                        "--words"], cwd=example_folder, check=True, capture_output=True)
    if kind == "clone":
        return run_clone_commands(code, tmp_path)
    if kind == "shell":
        for command in commands(code):
            if " export " in f" {command} ":
                pytest.importorskip("pyarrow", reason="pyarrow is not installed")
            if "--plot" in command:
                pytest.importorskip("matplotlib", reason="matplotlib is not installed")
        for command in commands(code):
            proc = subprocess.run(command_line(command), cwd=example_folder,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        return None
    if kind == "api":
        return run_api_example(example_folder, tmp_path, code)
    # As a user saves and runs it: a plain script file, no main guard.
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=example_folder,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return None


def run_api_example(example_folder, tmp_path, code):
    """An API example, as a user runs it: saved as a plain script (no ``if __name__ ==
    "__main__":``), and piped into ``python -``, each in a copy of the folder without its
    outputs, so that the run really starts its worker processes (they must not run the
    script again). Both write what the command line wrote in the example folder."""
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    for how, argv, stdin in (("script", [str(script)], None), ("stdin", ["-"], code)):
        folder = tmp_path / how
        shutil.copytree(example_folder / "keyword", folder / "keyword")
        shutil.copytree(example_folder / "clickture", folder / "clickture",
                        ignore=shutil.ignore_patterns("*.npy", "*.json"))
        proc = subprocess.run([sys.executable, *argv], cwd=folder, input=stdin,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{how}: {proc.stderr}"
        assert "waiting for" not in proc.stderr and "worker" not in proc.stderr, proc.stderr
        written = [p for p in folder.rglob("*.npy") if "keyword" not in p.parts]
        if re.search(r"prepare_\w+\(", code):
            assert written, f"{how}: the example wrote nothing"
        by_name = {p.name: p for p in example_folder.glob("*/*.npy")}
        for path in written:
            assert path.read_bytes() == by_name[path.name].read_bytes(), f"{how}: {path}"
        assert not list(folder.rglob(".amc-keywords-*")), f"{how}: temporaries left"


# --------------------------------------------------------------------------------------------
# Links


def slug(heading):
    """The anchor GitHub gives a heading: its text lowercased, punctuation but ``-`` and
    ``_`` dropped, spaces as ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def prose(text):
    """The text outside fenced blocks and inline code, where links are links."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def anchors(path):
    """The anchors of a Markdown file: its headings' slugs (repeats numbered, as GitHub
    does) and any ``id``/``name`` attribute."""
    text = prose(path.read_text(encoding="utf-8"))
    found, seen = set(), {}
    for match in re.finditer(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCE.sub("", path.read_text(
            encoding="utf-8")), re.M):
        base = slug(match.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    found.update(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", text))
    return found


LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def broken_links(paths):
    """``file: target: why`` of each relative link or anchor in ``paths`` that does not
    resolve."""
    problems = []
    for path in paths:
        for target in LINK.findall(prose(path.read_text(encoding="utf-8"))):
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue  # https:, mailto:: not checked here
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{path.name}: {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{path.name}: {target}: no heading #{anchor} in {linked.name}")
    return problems


def test_every_relative_link_and_anchor_resolves():
    problems = broken_links(DOCS + [Path(ROOT, "CHANGELOG.md"), Path(ROOT, "img", "README.md")])
    assert not problems, "\n".join(problems)


def test_the_link_check_finds_broken_links(tmp_path):
    (tmp_path / "a.md").write_text(
        "# Top\n\n## The `--sample` option\n\n## Top\n\n"
        "[ok](b.md) [ok](b.md#real-heading) [ok](#top-1) [ok](#the---sample-option) "
        "[ok](https://example.org/x.md#nothing) ![ok](b.md)\n"
        "[bad](missing.md) [bad](b.md#nope) [bad](#top-2) `[code](missing.md)`\n\n"
        "```text\n[fenced](missing-too.md)\n```\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Real heading\n", encoding="utf-8")
    assert broken_links([tmp_path / "a.md"]) == [
        "a.md: missing.md: no such file", "a.md: b.md#nope: no heading #nope in b.md",
        "a.md: #top-2: no heading #top-2 in a.md"]


def test_readme_is_short_and_links_every_doc():
    readme = Path(ROOT, "README.md").read_text(encoding="utf-8")
    assert len(readme) < 10_000
    linked = set(LINK.findall(prose(readme)))
    missing = [f"docs/{d.name}" for d in DOCS[1:]
               if not any(t.partition("#")[0] == f"docs/{d.name}" for t in linked)]
    assert not missing, f"README.md does not link {missing}"

