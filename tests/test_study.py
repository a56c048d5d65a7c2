"""The Study contract: declared methods, solvers and options, checked once; lazy imports."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gridgames.cli import main
from gridgames.models.instance import BUILTIN_MODELS, known_models, load_instance, registered_models
from gridgames.models.study import Option, Study
from gridgames.solvers.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"
HEAVY = ("torch", "statsmodels", "sklearn", "pymoo", "matplotlib")


def _modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has imported after running ``code``."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return {name.split(".")[0] for name in out.split()}


def test_every_family_is_a_registered_study():
    models = registered_models()
    assert sorted(models) == sorted(BUILTIN_MODELS) == known_models()
    for name, entry in models.items():
        assert isinstance(entry.study, Study) and entry.study.name == name
        assert entry.run == entry.study.run and entry.methods == entry.study.methods


def test_undeclared_option_is_an_error_naming_the_declared_ones(capsys):
    assert main(["run", str(INSTANCES / "dispatch_small.toml"), "--day", "2019-01-01"]) == 1
    err = capsys.readouterr().err
    assert "model 'economic_dispatch'" in err and "no option --day" in err and "its options: none" in err
    assert main(["run", str(INSTANCES / "stackelberg_bpat.toml"), "--sweeps"]) == 1
    err = capsys.readouterr().err
    assert "--day, --days, --demand-forecast" in err


def test_python_api_checks_the_same_declaration():
    study = registered_models()["stackelberg_pricing"].study
    instance = load_instance(INSTANCES / "stackelberg_bpat.toml")
    with pytest.raises(ModelError, match=r"no option 'sweeps'; its options: day, days, demand_forecast"):
        study.run(instance, sweeps=False)
    with pytest.raises(ModelError, match=r"has no method 'simplex'; choose one of analytic, kkt"):
        study.run(instance, method="simplex")
    with pytest.raises(ModelError, match=r"option 'days' takes 2 values"):
        study.run(instance, days=["2019-06-01"])
    rtp = registered_models()["rtp"].study
    with pytest.raises(ModelError, match=r"solver highs only; --solver 'scip' is not supported"):
        rtp.validate(None, "scip", {})
    microgrid = registered_models()["microgrid_market"].study
    with pytest.raises(ModelError, match=r"method 'vectorised' uses no solver"):
        microgrid.solve(None, method="vectorised", solver="highs", options={})


def test_run_help_lists_the_family_flags(capsys):
    assert main(["run", str(INSTANCES / "stackelberg_bpat.toml"), "--help"]) == 0
    text = capsys.readouterr().out
    assert "options of model 'stackelberg_pricing'" in text
    assert "--days FIRST LAST" in text and "--demand-forecast" in text and "analytic, kkt, kkt-bigm, nested" in text
    assert main(["run", str(INSTANCES / "tou_community.toml"), "--help"]) == 0
    assert "--sweeps, --no-sweeps" in capsys.readouterr().out


def test_option_declaration_converts_and_checks():
    opt = Option("n", int, choices=(1, 2))
    assert opt.check("2", "toy") == 2
    with pytest.raises(ModelError, match=r"option 'n' must be one of 1, 2, got 3"):
        opt.check(3, "toy")
    with pytest.raises(ModelError, match=r"option 'n': invalid literal"):
        opt.check("two", "toy")
    with pytest.raises(ModelError, match=r"must be true or false"):
        Option("sweeps", bool).check("yes", "toy")


def test_imports_are_lazy():
    assert not _modules_after("import gridgames") & {*HEAVY, "pyomo", "pandas"}
    assert not _modules_after("import gridgames.cli, gridgames.models") & {*HEAVY, "pyomo"}
    loaded = _modules_after("from gridgames.models.instance import get_model; get_model('economic_dispatch')")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    families = _modules_after("import gridgames as gg; gg.load_instance")
    assert "gridgames" in families and not families & set(HEAVY)


def test_old_flat_module_names_still_import():
    with pytest.warns(DeprecationWarning, match="moved to gridgames.models.tou.solve"):
        from gridgames.models.tou_solve import solve_tou  # noqa: F401
    from gridgames.models.tou.solve import solve_tou as new
    assert solve_tou is new


def test_engine_pieces_families_use_are_public_names():
    import gridgames.solvers as solvers
    from gridgames.solvers.games import agent_solve, kkt_methods, structure

    assert solvers.AgentSolver is agent_solve.AgentSolver
    assert solvers.default_solver_for is agent_solve.default_solver_for
    assert solvers.analyse_agents is structure.analyse_agents
    assert solvers.run_scholtes is kkt_methods.run_scholtes
    assert {"AgentSolver", "run_scholtes", "solve_bilevel"} <= set(solvers.__all__)
