"""The first run of a model: a line says when kernels are compiled (only then), the progress
line shows, and every speed figure leaves the compilation out and reports it apart."""

import io
import json
import logging
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurosim.io.sonata.simulation import Progress
from neurosim.kernels import compilation

ROOT = Path(__file__).resolve().parents[2]
COMPILE_LINE = r"neurosim: compiling kernels for \d+ mechanisms? — once, cached in "


def neurosim(*args, cwd):
    """``neurosim ARGS`` in a new process (the environment's cache folders); its result
    and its wall time."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "neurosim", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    return done, wall


def one_cell_circuit(folder, tstop=50.0):
    """A SONATA circuit of one neurosim-described cell (the README's example SWC, hh in the
    soma, a leak elsewhere) and a current step; returns its simulation config."""
    from neurosim.io.sonata.writer import write_nodes
    comp = folder / "components"
    comp.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "cell.swc", comp / "cell.swc")
    (comp / "cell.json").write_text(json.dumps({
        "cm": 1.0, "ra": 100.0, "v_init": -65.0, "max_length": 40.0,
        "mechanisms": [{"name": "hh", "region": "soma"},
                       {"name": "pas", "region": "dend", "params": {"g": 3e-5}}]}))
    write_nodes(str(folder / "nodes.h5"), "pop", [1], {}, str(folder / "node_types.csv"),
                [{"node_type_id": 1, "model_type": "biophysical", "model_processing": "neurosim",
                  "dynamics_params": "cell.json", "morphology": "cell.swc"}])
    config = {"components": {"morphologies_dir": str(comp),
                             "biophysical_neuron_models_dir": str(comp)},
              "networks": {"nodes": [{"nodes_file": "nodes.h5",
                                      "node_types_file": "node_types.csv"}]},
              "run": {"tstop": tstop, "dt": 0.025},
              "inputs": {"step": {"input_type": "current_clamp", "node_set": "All",
                                  "amp": 0.3, "delay": 5.0, "duration": 40.0}}}
    path = folder / "simulation_config.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.slow
def test_neurosim_run_says_it_compiles_only_on_a_cold_cache_and_times_the_run_apart(
        tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("NEUROSIM_CACHE_DIR", str(cache))    # cold: nothing compiled there
    config = one_cell_circuit(tmp_path / "circuit")
    cold, cold_wall = neurosim("run", str(config), cwd=tmp_path)
    warm, _ = neurosim("run", str(config), cwd=tmp_path)

    said = re.findall(COMPILE_LINE + re.escape(str(cache / "kernels")), cold.stderr)
    assert len(said) == 1, cold.stderr                      # once, though it compiles twice
    assert "compiling kernels" not in warm.stderr
    # the line comes before the compilation: before the progress lines
    assert cold.stderr.index("compiling kernels") < cold.stderr.index("per simulated s")
    assert re.search(r"\[#{30}\]\s+50\.0 / 50 ms  wall .* s per simulated s", cold.stderr)

    summary = re.search(r"simulated 50 ms in ([\d.]+) s \(([\d.]+) s per simulated s\), "
                        r"after ([\d.]+) s compiling;", cold.stdout)
    assert summary, cold.stdout
    run_s, per_s, compile_s = map(float, summary.groups())
    assert compile_s > 0.5
    assert run_s < cold_wall - compile_s
    assert per_s == pytest.approx(run_s / 0.05, abs=0.3)   # both rounded to 0.01
    # the kernel comes from the cache: the run compiles nothing
    assert "compiling" not in re.search(r"simulated 50 ms.*", warm.stdout).group()


@pytest.mark.slow
def test_a_second_thread_count_compiles_nothing(tmp_path, monkeypatch):
    """One kernel serves every thread count: --threads 2 after a --threads 1 run loads it
    from the cache (no new cache file, no compile line)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NEUROSIM_CACHE_DIR", str(cache))
    config = one_cell_circuit(tmp_path / "circuit")

    def cached():
        return sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file())

    one, _ = neurosim("run", str(config), "--threads", "1", cwd=tmp_path)
    assert "compiling kernels" in one.stderr
    before = cached()
    two, _ = neurosim("run", str(config), "--threads", "2", "--force", cwd=tmp_path)
    assert "compiling kernels" not in two.stderr
    assert "simulated 50 ms in" in two.stdout
    assert cached() == before


@pytest.mark.slow
def test_neurosim_model_shows_progress_and_its_summary_leaves_compilation_out(
        tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "ring"
    done, wall = neurosim("model", "ring", "--cells", "4", "--tstop", "10", "--out", str(out),
                          cwd=tmp_path)
    assert re.search(COMPILE_LINE, done.stderr), done.stderr
    assert re.search(r"\[#{30}\]\s+10\.0 / 10 ms  wall .* s per simulated s", done.stderr)
    got = json.loads((out / "summary.json").read_text())
    assert got["compile_s"] > 0.5
    assert got["setup_s"] + got["compile_s"] + got["run_s"] < wall
    steps = got["compartments"] * 10.0 / 0.025
    assert got["compartment_steps_per_s"] == pytest.approx(steps / got["run_s"])


def fresh_function():
    """A function Numba has not compiled yet (a new closure each call; no disk cache)."""
    from numba import njit

    @njit(cache=False)
    def plus_one(x):
        return x + 1
    return plus_one


def test_the_compile_line_goes_to_the_neurosim_logger_and_can_be_silenced(caplog, capfd):
    logger = logging.getLogger("neurosim")
    assert logger.getEffectiveLevel() == logging.INFO       # shown unless turned off
    before = compilation.compile_seconds()
    with caplog.at_level(logging.INFO, logger="neurosim"):
        with compilation.announcing("test-a", "compiling kernels for 0 mechanisms — test"):
            function = fresh_function()
            function(1)
            function(2)                                     # compiled: nothing more said
        with compilation.announcing("test-b", "compiling again — test"):
            function(3)                                     # no compile, no line
    assert [r.getMessage() for r in caplog.records if "test" in r.getMessage()] == [
        "compiling kernels for 0 mechanisms — test"]
    assert compilation.compile_seconds() > before

    caplog.clear()
    level = logger.level
    logger.setLevel(logging.WARNING)                        # what a user does to silence it
    try:
        with compilation.announcing("test-c", "compiling silently — test"):
            fresh_function()(1)
    finally:
        logger.setLevel(level)
    assert "silently" not in caplog.text
    assert "silently" not in capfd.readouterr().err


def test_the_progress_line_divides_the_time_without_compilation():
    out = io.StringIO()
    Progress(100.0, stream=out)(50.0, wall=10.0, compile_s=8.0)
    line = out.getvalue()
    assert "wall    10.0 s (compiling 8.0 s)" in line
    assert re.search(r"\s40\.00 s per simulated s", line), line     # (10 - 8) s / 0.05 s
