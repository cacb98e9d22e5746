"""Make the documentation's figures (needs matplotlib).

    python img/make_figures.py

Writes img/pipeline.png (the pipeline diagram of README.md, naming the modules of
amc_keywords/ that do each stage) and img/stats_clickture_dev_sample.png (what
`python -m amc_keywords stats --plot` draws for the shipped sample's Clickture-dev output,
shown in docs/cli.md).

The modules the diagram names are the literal tuples of module names in STAGES, VECTORS,
DRIVER and GROUND below, as paths under amc_keywords/ without ``.py`` (a package ends in
``/``); tests/test_module_map.py checks that each one exists.
"""
import os
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The stages of a run, left to right: (title, what it is, the modules that do it).
STAGES = (
    ("keyword\narchives",
     "keywords_<set>.zip,\nread in place, or\nits unzipped folder",
     ("zip_reader", "folder_files", "safe_paths", "extract", "sources", "plans")),
    ("image sets",
     "opened as the\ndataset's description\nsays: list + id map,\nor dataset.json",
     ("datasets/", "lists", "idmap", "pickle_walk", "entry_checks", "fingerprints")),
    ("vocabulary",
     "CountVectorizer's:\nmin_df=6, English\nstop words, fitted\non Clickture-dev",
     ("keyword_files", "json_files", "analyzer", "vocabulary")),
    ("encoding",
     "worker processes\nturn keyword files\ninto rows, in the\nsets' order",
     ("encoding", "workers", "byte_arrays")),
    ("outputs",
     "rows [img_id, word_id],\nrange table,\nnames table,\nvocabulary, manifest",
     ("tables", "writing", "folder_lock", "stale_runs", "manifest", "filenames")),
    ("loader",
     "load_keywords(path)\n.words(img_id)\n.padded(ids)\n.matrix (CSR)\n.vectors",
     ("loader", "keywords", "export", "stats", "verify")),
)
# A side output: pretrained word vectors aligned to the outputs' vocabulary, which the
# loader opens beside the rows.
VECTORS = ("word vectors",
           "a word2vec, fastText or GloVe file aligned to\n"
           "the vocabulary: row i is word id i's vector",
           ("vector_files", "vectors", "vectors_matrix", "vector_command"))
# What runs the stages, in the order it calls them.
DRIVER = ("what runs them", ("cli", "run_options", "api", "settings", "recipes", "pipeline"))
# What every stage uses.
GROUND = ("what they all use", ("errors", "log", "stop_signals", "hashing"))

BOX = "#e8eef7"
SIDE = "#eef4e8"
EDGE = "#4477aa"
GREY = "#3a3a3a"
MONO = dict(family="monospace", fontsize=10.5, color=GREY)
WIDTH, GAP = 1.8, 0.3  # a stage's box and the arrow between two, in inches


def box(ax, x, y, width, height, facecolor=BOX):
    ax.add_patch(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.04",
                                facecolor=facecolor, edgecolor=EDGE, linewidth=1.2))


def arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", lw=1.8, color=EDGE, mutation_scale=14,
                                shrinkA=0, shrinkB=0))


def pipeline(path):
    left = 0.1
    figure_width = 2 * left + len(STAGES) * WIDTH + (len(STAGES) - 1) * GAP
    height = 5.35
    fig = plt.figure(figsize=(figure_width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, figure_width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.text(figure_width / 2, height - 0.25, "AMC keyword preprocessing: the stages of a run, "
            "and the modules of amc_keywords/ that do them", ha="center", va="center",
            fontsize=14)
    top, rule, bottom = height - 0.55, 2.9, 1.66
    xs = [left + i * (WIDTH + GAP) for i in range(len(STAGES))]
    for x, (title, body, modules) in zip(xs, STAGES):
        box(ax, x, bottom, WIDTH, top - bottom)
        ax.text(x + WIDTH / 2, top - 0.27, title, ha="center", va="center", fontsize=13,
                weight="bold", linespacing=1.0)
        ax.text(x + WIDTH / 2, (top - 0.55 + rule) / 2, body, ha="center", va="center",
                fontsize=10.5, linespacing=1.3)
        ax.plot([x + 0.1, x + WIDTH - 0.1], [rule, rule], color=EDGE, lw=0.6)
        ax.text(x + WIDTH / 2, rule - 0.08, "\n".join(modules), ha="center", va="top",
                linespacing=1.25, **MONO)
    for x in xs[:-1]:
        arrow(ax, (x + WIDTH + 0.06, 3.8), (x + WIDTH + GAP - 0.06, 3.8))
    # The side output, under the last three stages: made from the outputs' vocabulary,
    # opened by the loader.
    title, body, modules = VECTORS
    x0, x1, y0, y1 = xs[3], xs[5] + WIDTH, 0.06, 1.42
    box(ax, x0, y0, x1 - x0, y1 - y0, facecolor=SIDE)
    ax.text((x0 + x1) / 2, y1 - 0.22, title, ha="center", va="center", fontsize=13,
            weight="bold")
    ax.text((x0 + x1) / 2, y1 - 0.7, body, ha="center", va="center", fontsize=10.5,
            linespacing=1.3)
    ax.text((x0 + x1) / 2, y0 + 0.2, "   ".join(modules), ha="center", va="center", **MONO)
    arrow(ax, (xs[4] + WIDTH / 2, bottom - 0.06), (xs[4] + WIDTH / 2, y1 + 0.06))
    arrow(ax, (xs[5] + WIDTH / 2, y1 + 0.06), (xs[5] + WIDTH / 2, bottom - 0.06))
    # What runs the stages and what they all use, under the first three.
    for y, (title, modules), joint in ((1.3, DRIVER, " → "), (0.5, GROUND, "   ")):
        ax.text(xs[0] + 0.05, y, title + ":", ha="left", va="center", fontsize=12,
                weight="bold", color=GREY)
        ax.text(xs[0] + 0.05, y - 0.36, joint.join(modules), ha="left", va="center",
                **dict(MONO, fontsize=11))
    fig.savefig(path, dpi=150)
    plt.close(fig)


def sample_stats(path):
    out = tempfile.mkdtemp(prefix="amc-figures-")
    subprocess.run([sys.executable, os.path.join(ROOT, "clickture", "pro_keyword_clickture.py"),
                    "--sample", "--out-dir", out, "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "amc_keywords", "stats",
                    os.path.join(out, "img_keyword_ind_clickture_dev_sk_6_sparse.npy"), "--plot",
                    path], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    pipeline(os.path.join(HERE, "pipeline.png"))
    sample_stats(os.path.join(HERE, "stats_clickture_dev_sample.png"))
    print("wrote img/pipeline.png and img/stats_clickture_dev_sample.png")
