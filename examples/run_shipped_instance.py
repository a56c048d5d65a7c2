"""Run a shipped instance from Python with ``gg.run_instance``, work with its tables, and plot them.

`instances/dispatch_small.toml` is a 24-hour economic dispatch (three generators,
one day of real BPAT load), a convex QP.  We run it once per solver with
``gg.run_instance("dispatch_small", solver=NAME)`` -- the Python form of
``gridgames run dispatch_small --solver NAME`` -- and get a report whose tables are
pandas DataFrames.  The independent answer is a second solver: HiGHS certifies
global optimality of the QP, Ipopt is a local NLP method on a convex problem, so
objectives and balance-row duals must agree.  Then we save one report (CSV tables,
its figure, ``report.md``), print its tables as LaTeX for a paper, and plot the solve
times.

Run:  python examples/run_shipped_instance.py [OUTPUT_FOLDER]
"""
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")                                   # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import gridgames as gg  # noqa: E402

SOLVERS = ("highs", "ipopt")                           # add "scip", "scipy": slower


def main(folder: Path) -> None:
    reports = {s: gg.run_instance("dispatch_small", solver=s) for s in SOLVERS}
    table = pd.concat([r.tables["solvers"] for r in reports.values()])   # one row per solver
    print(table[["status", "objective", "time_s", "mean_price"]].to_string())
    best = table["objective"].min()
    assert table["status"].isin(["optimal", "locally_optimal"]).all(), table["status"]
    assert ((table["objective"] - best).abs() / best).max() < 1e-8, table["objective"]
    duals = table["mean_price"]                          # mean marginal price, $/MWh
    assert duals.notna().all() and duals.max() - duals.min() < 1e-3, duals
    # it lies between the cheapest (b = 12) and the dearest (25 + 2 * 0.005 * 2500) marginal cost
    assert (12.0 < duals).all() and (duals < 50.0).all(), duals

    saved = reports["highs"].save(folder / "highs")      # solvers.csv, dispatch.png, report.md
    print("saved", ", ".join(p.name for p in saved))
    assert {p.name for p in saved} >= {"solvers.csv", "dispatch.png", "report.md"}
    latex = reports["highs"].to_latex()                  # booktabs tables: \usepackage{booktabs}
    assert latex.count(r"\begin{tabular}") == len(reports["highs"].tables)
    print(latex)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    colors = {"optimal": "tab:blue", "locally_optimal": "tab:orange"}
    for status, rows in table.groupby("status"):
        ax.barh(rows.index, rows["time_s"] * 1e3, color=colors.get(status, "tab:gray"), label=status)
    ax.set(xlabel="solve time (ms)", ylabel="solver",
           title=f"dispatch_small: one day, objective {best:,.0f} $")
    ax.legend(title="status", loc="upper left", bbox_to_anchor=(1.02, 1.0))   # outside the data
    fig.tight_layout()
    path = folder / "solve_times.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    assert path.stat().st_size > 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:                 # kept only if a folder is given
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp))
