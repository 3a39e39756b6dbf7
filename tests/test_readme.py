"""The README is executed: its Python snippets as written, one after another in one session
started in a folder laid out as a clone's root (``examples/``), and its cheap shell commands.
A snippet that stops working, or a file it reads that goes missing, fails here."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fenced(language):
    """The README's ```language blocks, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.S | re.M)


def first_line(block):
    return next(line for line in block.splitlines() if line.strip())


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A folder holding what the snippets read from a clone's root; they run in it, so
    what they write (run.h5) stays out of the repository."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", folder / "examples")
    return folder


@pytest.fixture(scope="module")
def session(clone):
    """Every Python snippet run in order in one namespace; returns [(snippet, the names
    after it)] and the namespace at the end."""
    here = os.getcwd()
    os.chdir(clone)
    scope, after = {}, []
    try:
        for block in fenced("python"):
            if "LiveView(sim" in block and not os.environ.get("DISPLAY"):
                # the window needs a display; off-screen (EGL) it runs the same code
                block = block.replace("LiveView(sim, interval=1.0)",
                                      "LiveView(sim, interval=1.0, show=False)")
            try:
                exec(compile(block, "README.md", "exec"), scope)
            except Exception as error:
                raise AssertionError(f"README snippet starting {first_line(block)!r} "
                                     f"failed: {type(error).__name__}: {error}") from error
            names = dict(scope)
            names["sim_t"] = getattr(scope.get("sim"), "t", None)    # the sim goes on later
            after.append((block, names))
    finally:
        os.chdir(here)
    return after, scope


def names_after(session, words):
    """The session's names after the snippet that holds ``words``."""
    return next(names for block, names in session[0] if words in block)


def test_the_readme_has_the_snippets_this_file_checks():
    starts = [first_line(b) for b in fenced("python")]
    assert starts[0] == "import neurosim as ns"
    assert len(starts) >= 6, starts
    assert "examples/cell.swc" in README and "examples/mod/intfire.mod" in README


@pytest.mark.slow
def test_the_user_guide_builds_and_runs_the_example_cell(session):
    guide = names_after(session, "import neurosim as ns")
    cell = guide["cell"]
    types = {s.type_name for s in cell.morphology.sections}
    assert types == {"soma", "axon", "dend", "apic"}
    assert guide["sim_t"] == pytest.approx(250.0)
    assert len(guide["v"].values) == 10001 and len(guide["m_gate"].values) == 2501
    assert guide["v"].values.max() > 0.0              # the clamp makes the cell fire


def test_the_mechanism_snippet_loads_the_shipped_mod_files(session):
    mechs = names_after(session, "ns.load_catalogue(")
    assert sorted(mechs["found"]) == ["Kdr", "LeakyIntFire", "NaTs"]
    assert mechs["refused"] == {}
    assert mechs["nats"].name == "NaTs"


def test_the_network_snippets_run_and_record_spikes_of_cells_and_sources(session, clone):
    net = names_after(session, "sim.record_spikes()")
    spikes = net["spikes"]
    assert net["sim_t"] == pytest.approx(2000.0)
    source = max(net["net"].spike_sources)            # add_spike_source's gid: its two spikes
    assert np.sum(spikes.gids == source) == 2
    assert set(net["art"]).isdisjoint(net["gids"])
    assert (clone / "run.h5").stat().st_size > 0
    rules = names_after(session, "net.connect_rule(")
    assert rules["sim_t"] == pytest.approx(100.0)
    assert len(rules["net"].spike_sources) == 100           # add_poisson's sources


def test_the_live_view_and_recipe_snippets_run(session):
    viewed = names_after(session, "LiveView(sim")
    assert viewed["sim_t"] == pytest.approx(500.0)
    one_cell = names_after(session, "import neurosim as ns")["sim"].n_compartments
    scope = session[1]
    assert scope["sim"].n_compartments == 1000 * one_cell       # Ring(): 1000 of the cell


@pytest.mark.slow
def test_the_example_channels_are_hodgkin_huxleys(clone):
    """NaTs + Kdr + a leak, as shipped, give the built-in hh's trace (exact rates)."""
    import neurosim as ns
    ns.load_catalogue(clone / "examples" / "mod")

    def soma_trace(channels):
        cell = ns.Cell(ns.Morphology.ball_and_stick())
        channels(cell)
        cell.add_iclamp((0, 0.5), delay=2.0, dur=20.0, amp=0.3)
        sim = ns.Simulation(cell, use_tables=False, celsius=16.0)
        v = sim.record("v", (0, 0.5))
        sim.run(25.0)
        return v.values

    def own(cell):
        cell.insert("NaTs", region="soma")
        cell.insert("Kdr", region="soma")
        cell.insert("pas", region="soma", g=3e-4, e=-54.3)
        cell.set_ion("na", e=50.0)
        cell.set_ion("k", e=-77.0)

    mine, theirs = soma_trace(own), soma_trace(lambda c: c.insert("hh", region="soma"))
    assert theirs.max() > 0.0
    np.testing.assert_allclose(mine, theirs, atol=1e-6)


# the SONATA block's commands that are cheap once the kernels are compiled, as written
SONATA_COMMANDS = [
    "neurosim info simulation_config.json",
    "neurosim run simulation_config.json --threads 2",
    "neurosim run simulation_config.json --checkpoint state.h5 --checkpoint-every 500",
    "neurosim render simulation_config.json --report soma_v --time 250 --out frame.png",
]


def shell_lines(block):
    """A bash block's commands, comments dropped."""
    return [line.split("  #")[0].split(" #")[0].strip() for line in block.splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.mark.slow
def test_the_sonata_commands_run_on_the_bundled_circuit(tmp_path):
    block = next(b for b in fenced("bash") if b.startswith("cd models/circuits/layer4"))
    lines = shell_lines(block)
    assert lines[0] == "cd models/circuits/layer4"
    assert set(SONATA_COMMANDS) <= set(lines), lines
    folder = tmp_path / "layer4"
    shutil.copytree(ROOT / "models" / "circuits" / "layer4", folder,
                    ignore=shutil.ignore_patterns("output"))
    # the console script where it is installed; the module otherwise (same entry point)
    program = shutil.which("neurosim") or f"{sys.executable} -m neurosim"
    for command in SONATA_COMMANDS:
        if "render" in command:
            pytest.importorskip("vispy")
        done = subprocess.run(command.replace("neurosim", program, 1), shell=True, cwd=folder,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
    assert (folder / "output" / "spikes.h5").stat().st_size > 0
    assert (folder / "state.h5").stat().st_size > 0
    assert (folder / "frame.png").read_bytes()[:4] == b"\x89PNG"


def test_installing_an_extra_changes_no_core_version():
    """Each extra's requirement on a core dependency admits every version the core admits,
    so that installing the extra later never moves a core package."""
    tomllib = pytest.importorskip("tomllib")
    requirements = pytest.importorskip("packaging.requirements")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {r.name: r.specifier for r in map(requirements.Requirement,
                                             project["dependencies"])}
    candidates = [f"{major}.{minor}.0" for major in range(4) for minor in range(30)]
    for extra, reqs in project["optional-dependencies"].items():
        parsed = [requirements.Requirement(r) for r in reqs]
        for req in parsed:
            if req.name not in core:
                continue
            allowed = [v for v in candidates if v in core[req.name]]
            assert allowed and all(v in req.specifier for v in allowed), (extra, str(req))
