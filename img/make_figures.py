"""Make the documentation's figures (needs matplotlib).

    python img/make_figures.py

Writes img/pipeline.png (the pipeline diagram of README.md, naming the modules of
amc_keywords/ that do each stage) and img/stats_clickture_dev_sample.png (what
`python -m amc_keywords stats --plot` draws for the shipped sample's Clickture-dev output,
shown in docs/cli.md).
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

STAGES = [
    ("keyword archives",
     "keywords_dev.zip\nkeywords_lite.zip\nkeywords_coco.zip\n+ lists, id maps",
     "zip_reader.py  lists.py\nidmap.py  sources.py"),
    ("vocabulary", "CountVectorizer\nmin_df=6, English\nstop words, fitted\non Clickture-dev",
     "analyzer.py\nvocabulary.py"),
    ("rows", "[img_id, word_id]\nN x 2 int64 .npy\n+ range table\n+ image names",
     "encoding.py  tables.py\nwriting.py  manifest.py"),
    ("loader", "load_keywords(path)\n.words(img_id)\n.padded(ids)\n.matrix (CSR)",
     "loader.py\nexport.py"),
]
# Under the boxes: what runs the stages (the module names of amc_keywords/).
DRIVER = ("cli.py → api.py (prepare_clickture, prepare_coco) → recipes.py → pipeline.py, "
          "with workers.py")


def pipeline(path):
    fig, ax = plt.subplots(figsize=(11, 3.2))
    ax.set_xlim(0, 11)
    ax.set_ylim(-0.5, 2.8)
    ax.axis("off")
    for i, (title, body, module) in enumerate(STAGES):
        x = 0.2 + i * 2.75
        ax.add_patch(FancyBboxPatch((x, 0.35), 2.2, 2.0, boxstyle="round,pad=0.05",
                                    facecolor="#e8eef7", edgecolor="#4477aa"))
        ax.text(x + 1.1, 2.1, title, ha="center", va="center", fontsize=12, weight="bold")
        ax.text(x + 1.1, 1.25, body, ha="center", va="center", fontsize=9)
        ax.text(x + 1.1, 0.02, module, ha="center", va="center", fontsize=8, color="#555555",
                family="monospace")
        if i < len(STAGES) - 1:
            ax.annotate("", xy=(x + 2.7, 1.35), xytext=(x + 2.3, 1.35),
                        arrowprops=dict(arrowstyle="->", lw=2, color="#4477aa"))
    ax.text(5.5, -0.4, DRIVER, ha="center", va="center", fontsize=8, color="#555555",
            family="monospace")
    fig.suptitle("AMC keyword preprocessing", fontsize=13)
    fig.savefig(path, dpi=100, bbox_inches="tight")
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
