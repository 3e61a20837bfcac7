"""Draw the figures of docs/output.md from that page's own model: ``python docs/make_figures.py``.

Runs the page's first code block (the model and its DP solution), then saves the IRF, policy and
distribution figures into docs/figures/.
"""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent


def main() -> None:
    first = re.findall(r"^```python\n(.*?)^```", (HERE / "output.md").read_text(), flags=re.S | re.M)[0]
    scope: dict = {}
    exec(compile(first, "output.md", "exec"), scope)
    sol = scope["sol"]
    out = HERE / "figures"
    out.mkdir(exist_ok=True)
    figures = {
        "irf": sol.plot.irf(frame=sol.irf("z", size=0.01, horizon=6)),
        "policy": sol.plot.policy(t=2),
        "distribution": sol.plot.distribution(t=4),
    }
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png", dpi=80)
        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
