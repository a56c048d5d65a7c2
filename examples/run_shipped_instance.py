"""Run a shipped instance from Python through the CLI, read its CSV output with pandas, and plot it.

`instances/dispatch_small.toml` is a 24-hour economic dispatch (three generators,
one day of real BPAT load), a convex QP.  We run it once per solver with
``python -m gridgames run ... --solver NAME --out DIR``, read each ``solvers.csv``,
check the solvers against each other (the independent answer here is a second
solver: HiGHS certifies global optimality of the QP, Ipopt is a local NLP method on
a convex problem, so objectives and balance-row duals must agree), and plot the
solve times to a temporary folder.

Run:  python examples/run_shipped_instance.py [OUTPUT_FOLDER]
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")                                   # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

INSTANCE = Path(__file__).resolve().parent.parent / "instances" / "dispatch_small.toml"
SOLVERS = ("highs", "ipopt")                           # add "scip", "scipy": slower


def run_cli(solver: str, out: Path) -> pd.DataFrame:
    """One CLI run; a non-zero exit raises with the CLI's own error message."""
    cmd = [sys.executable, "-m", "gridgames", "run", str(INSTANCE), "--solver", solver, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return pd.read_csv(out / "solvers.csv")


def main(folder: Path) -> None:
    table = pd.concat([run_cli(s, folder / s) for s in SOLVERS], ignore_index=True).set_index("solver")
    print(table[["status", "objective", "time_s", "mean_price"]].to_string())
    best = table["objective"].min()
    assert table["status"].isin(["optimal", "locally_optimal"]).all(), table["status"]
    assert ((table["objective"] - best).abs() / best).max() < 1e-8, table["objective"]
    duals = table["mean_price"]                          # mean marginal price, $/MWh
    assert duals.notna().all() and duals.max() - duals.min() < 1e-3, duals
    # it lies between the cheapest (b = 12) and the dearest (25 + 2 * 0.005 * 2500) marginal cost
    assert (12.0 < duals).all() and (duals < 50.0).all(), duals

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
    print(f"wrote {path} (and the CLI's own dispatch.png under {folder}/<solver>/)")
    assert path.stat().st_size > 0 and (folder / "highs" / "dispatch.png").exists()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:                 # kept only if a folder is given
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp))
