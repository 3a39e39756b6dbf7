"""Nothing silently wrong: each case a user or a hostile file can cause, and the clear
behaviour neurosim gives instead (an error naming the file and the key, or a refusal)."""

import json
import re

import pytest

from neurosim.io.sonata import SonataError, load_config
from neurosim.io.sonata.config import MAX_EXPANDED


def config_with(tmp_path, manifest, value="$A/out"):
    path = tmp_path / "simulation_config.json"
    path.write_text(json.dumps({"manifest": manifest, "output": {"output_dir": value}}))
    return path


@pytest.mark.parametrize("manifest, cycle", [
    ({"$A": "$B", "$B": "$A"}, r"\$A -> \$B -> \$A"),
    ({"$A": "$A$A"}, r"\$A -> \$A"),
    ({"$A": "${B}/x", "$B": "$C", "$C": "${A}"}, r"\$A -> \$B -> \$C -> \$A"),
])
def test_a_manifest_cycle_is_an_error_naming_the_variables(tmp_path, manifest, cycle):
    with pytest.raises(SonataError, match="manifest variables refer to themselves: " + cycle):
        load_config(config_with(tmp_path, manifest))


def test_a_manifest_that_doubles_at_each_level_is_refused_quickly(tmp_path):
    manifest = {f"$V{k}": f"$V{k + 1}$V{k + 1}" for k in range(40)}
    manifest["$V40"] = "ab"
    manifest["$A"] = "$V0"                  # 2^41 characters if expanded
    with pytest.raises(SonataError, match=f"expands to over {MAX_EXPANDED} characters"):
        load_config(config_with(tmp_path, manifest))


def test_manifest_variables_in_any_order_expand_in_full(tmp_path):
    path = config_with(tmp_path, {"$OUT": "$BASE/output", "$BASE": "${configdir}/run"},
                       "$OUT/spikes")
    assert load_config(path)["output"]["output_dir"] == f"{tmp_path}/run/output/spikes"


# ---------------------------------------------------------------------- SONATA run values
@pytest.fixture
def intfire(tmp_path):
    import shutil

    from tests.shared_data import SONATA_EXAMPLES
    for name in ("300_intfire", "shared_components"):
        shutil.copytree(SONATA_EXAMPLES / name, tmp_path / name)
    return tmp_path / "300_intfire"


def edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("change, message", [
    (lambda d: d["run"].update(tstop=-5.0), r"run.tstop = -5 ms must be after run.tstart"),
    (lambda d: d["run"].update(dt=50.0, tstop=10.0), r"run.dt = 50 ms must be > 0 and no "
                                                     r"longer than the run \(10 ms\)"),
    (lambda d: d.update(reports={"v": {"cells": "v1", "variable_name": "m",
                                       "file_name": "spikes.h5"}}),
     r"reports.v: writes .*spikes.h5, the file of output.spikes_file"),
])
def test_run_values_that_would_do_nothing_or_overwrite_are_errors(intfire, change, message):
    from neurosim.cli import main
    edit(intfire / "simulation_config.json", change)
    with pytest.raises(SonataError, match=message):
        from neurosim.io.sonata import SonataRun
        SonataRun(intfire / "config.json")
    assert main(["run", str(intfire / "config.json"), "--quiet"]) == 2
    assert not (intfire / "output" / "spikes.h5").exists() or \
        (intfire / "output" / "spikes.h5").stat().st_size > 0     # nothing clobbered


@pytest.mark.parametrize("model, params, message", [
    ("LIF", {"tau_m": -10.0}, r"iaf_psc_exp\.tau_m \(add_cells\) must be > 0, got -10\.0"),
    ("LIF", {"C_m": 0.0}, r"iaf_psc_exp\.C_m \(add_cells\) must be > 0"),
    ("LIFAlpha", {"t_ref": -1.0}, r"iaf_psc_alpha\.t_ref \(add_cells\) must be >= 0"),
    ("LIFAlpha", {"V_reset": -50.0}, r"V_reset = -50\.0 must be smaller than V_th = -55\.0"),
    ("LIFCond", {"tau_syn_in": -2.0}, r"iaf_cond_exp\.tau_syn_in \(add_cells\) must be > 0"),
    ("AdEx", {"tau_w": [100.0, -1.0]}, r"aeif_cond_exp\.tau_w \(add_cells\) must be > 0"),
])
def test_point_neuron_values_nest_refuses_are_errors(model, params, message):
    """Issue 21, case 8: a LIF with a negative tau_m or C_m was accepted.  The values
    NEST's own models refuse (set_status) are a ParameterError naming the parameter."""
    import neurosim as ns
    net = ns.Network()
    per_cell = {k: v for k, v in params.items() if isinstance(v, list)}
    template = getattr(ns.models, model)(**{k: v for k, v in params.items()
                                            if k not in per_cell})
    with pytest.raises(ns.errors.ParameterError, match=message):
        net.add_cells(template, n=2, **per_cell)


def test_a_sonata_point_neuron_nest_refuses_names_its_file(tmp_path):
    import shutil

    from shared_data import shared
    shutil.copytree(shared("sonata-examples", "300_pointneurons"),
                    tmp_path / "300_pointneurons", ignore=shutil.ignore_patterns("output"))
    models = tmp_path / "shared_components" / "nest_models"
    shutil.copytree(shared("sonata-examples", "shared_components", "nest_models"), models)
    path = models / "cell_models" / "472363762_point.json"
    params = json.loads(path.read_text())
    params["tau_m"] = -5.0
    path.write_text(json.dumps(params))
    from neurosim.io.sonata import SonataRun
    with pytest.raises(SonataError, match=r"internal_nodes\.h5: node \d+ of population "
                                          r"'internal' \(dynamics_params 472363762_point\.json"
                                          r"\): iaf_psc_alpha\.tau_m must be > 0, got -5\.0"):
        SonataRun(str(tmp_path / "300_pointneurons" / "config.json"))


def test_negative_input_spike_times_are_an_error_naming_the_file(intfire):
    import h5py
    with h5py.File(intfire / "inputs" / "tw_spikes.h5", "r+") as f:
        f["spikes/timestamps"][3] = -2.0
    from neurosim.io.sonata import SonataRun
    with pytest.raises(SonataError, match=r"tw_spikes.h5: spike 3 .* t = -2.0 ms; spike "
                                          r"times must be >= 0"):
        SonataRun(intfire / "config.json")


# ---------------------------------------------------------------------- kernel cache
LOAD = """
import sys
from neurosim.kernels.codegen import load_module
module = load_module("VALUE = 42\\n", "probe", "k1")
print("VALUE", module.VALUE)
"""


def load_in_a_new_process(cache, tmp_path):
    import os
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True,
                          env={**os.environ, "NEUROSIM_CACHE_DIR": str(cache)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("damage", ["planted", "truncated"])
def test_a_cached_kernel_file_runs_only_if_it_is_exactly_the_generated_source(tmp_path,
                                                                              damage):
    cache = tmp_path / "cache"
    load_in_a_new_process(cache, tmp_path)                   # written once
    kernel = cache / "kernels" / "probe_k1.py"
    marker = tmp_path / "pwned"
    kernel.write_text(f"open({str(marker)!r}, 'w').write('x')\nVALUE = 0\n"
                      if damage == "planted" else "VALUE = (")
    done = load_in_a_new_process(cache, tmp_path)
    assert "VALUE 42" in done.stdout
    assert not marker.exists()
    assert kernel.read_text() == "VALUE = 42\n"              # rebuilt in place


def test_a_cache_folder_others_can_write_is_not_used(tmp_path):
    import os
    cache = tmp_path / "shared_cache"
    (cache / "kernels").mkdir(parents=True)
    os.chmod(cache / "kernels", 0o777)
    done = load_in_a_new_process(cache, tmp_path)
    assert "VALUE 42" in done.stdout
    assert "writable by others" in done.stderr and "not used" in done.stderr
    assert not (cache / "kernels" / "probe_k1.py").exists()


# ---------------------------------------------------------------------- blow-ups
def test_a_probe_keeps_its_samples_up_to_a_blow_up():
    import numpy as np

    import neurosim as ns
    cell = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    cell.insert("hh", region="soma")
    cell.add_iclamp((0, 0.5), 5.0, 100.0, 1e7)         # nA: v runs away at 5 ms
    sim = ns.Simulation(cell, dt=0.025)
    v = sim.record("v", (0, 0.5))
    with pytest.raises(ns.NumericalInstabilityError, match="blow-up at t = 5 ms"):
        sim.run(50.0)
    assert sim.t == pytest.approx(5.0)
    assert len(v.values) == 201 and v.times[-1] == pytest.approx(5.0)
    assert np.all(np.isfinite(v.values)) and abs(v.values[-1] + 65.0) < 1.0


# ---------------------------------------------------------------------- checkpoints
def small_sim(dt=0.025):
    import neurosim as ns
    net = ns.Network(seed=1)
    cell = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    cell.insert("hh", region="soma")
    cell.add_synapse((1, 0.5), "ExpSyn", label="syn", tau=2.0)
    cell.add_detector((0, 0.5), threshold=-20.0)
    gids = net.add_cells(cell, n=3)
    net.add_spike_source([5.0, 15.0], targets=[(int(g), "syn") for g in gids], weight=0.05,
                         delay=1.0)
    net.connect(int(gids[0]), (int(gids[1]), "syn"), weight=0.05, delay=2.0)
    return ns.Simulation(net, dt=dt), gids


def test_a_checkpoint_restores_bitwise_and_holds_no_pickle(tmp_path):
    import h5py
    import numpy as np

    import neurosim as ns
    sim, gids = small_sim()
    v = sim.record("v", (0, 0.5), cell=int(gids[1]))
    sim.run(10.0)
    sim.checkpoint(tmp_path / "state.h5")
    sim.run(30.0)
    again = ns.Simulation.restore(tmp_path / "state.h5")
    w = again.record("v", (0, 0.5), cell=int(gids[1]))
    again.run(30.0)
    np.testing.assert_array_equal(w.values, v.values[-len(w.values):])
    with h5py.File(tmp_path / "state.h5") as f:
        kinds = []
        f.visititems(lambda name, obj: kinds.append(obj.dtype.kind)
                     if isinstance(obj, h5py.Dataset) else None)
    assert "V" not in kinds and "O" not in kinds           # no opaque bytes, no objects


def test_a_checkpoint_written_before_the_stage_folders_restores(tmp_path):
    """Checkpoints name the classes of the model they hold by module; files written when the
    modules sat at the top of neurosim (``neurosim.cell:Cell``) restore as they did."""
    import h5py
    import numpy as np

    import neurosim as ns
    from neurosim.run import serial
    sim, gids = small_sim()
    v = sim.record("v", (0, 0.5), cell=int(gids[1]))
    sim.run(10.0)
    sim.checkpoint(tmp_path / "state.h5")
    sim.run(30.0)
    renamed = []

    def old_name(name, obj):
        kind = obj.attrs.get("class")
        if kind is not None and str(kind).startswith("neurosim.description."):
            obj.attrs["class"] = str(kind).replace("neurosim.description.", "neurosim.")
            renamed.append(obj.attrs["class"])
    with h5py.File(tmp_path / "state.h5", "a") as f:
        f.visititems(old_name)
        f.attrs["model_digest"] = serial.digest(f["model"])     # as the old writer digested
    assert {"neurosim.cell:Cell", "neurosim.network:Network"} <= set(renamed)
    again = ns.Simulation.restore(tmp_path / "state.h5")
    w = again.record("v", (0, 0.5), cell=int(gids[1]))
    again.run(30.0)
    np.testing.assert_array_equal(w.values, v.values[-len(w.values):])


def test_an_old_pickle_checkpoint_is_refused_and_never_unpickled(tmp_path):
    import pickle

    import h5py
    import numpy as np

    import neurosim as ns
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)
    with h5py.File(tmp_path / "old.h5", "w") as f:
        f.attrs["format"], f.attrs["step"], f.attrs["ranks"] = 1, 0, 1
        f.attrs["settings"] = "{}"
        f.create_dataset("model", data=np.frombuffer(pickle.dumps(Payload()), np.uint8))
    with pytest.raises(ns.ParameterError, match="older neurosim .*format changed"):
        ns.Simulation.restore(tmp_path / "old.h5")
    assert not marker.exists()


def test_a_crafted_class_in_the_model_description_is_refused(tmp_path):
    import h5py

    import neurosim as ns
    from neurosim.run import serial
    sim, _ = small_sim()
    sim.checkpoint(tmp_path / "state.h5")
    with h5py.File(tmp_path / "state.h5", "r+") as f:
        f["model"].attrs["class"] = "os:system"            # the Network's class
        f.attrs["model_digest"] = serial.digest(f["model"])  # a digest is no signature
    with pytest.raises(ns.ParameterError, match="class 'os:system' is not one of neurosim"):
        ns.Simulation.restore(tmp_path / "state.h5")


def test_a_tampered_voltage_is_caught_by_its_checksum(tmp_path):
    import h5py

    import neurosim as ns
    sim, _ = small_sim()
    sim.run(5.0)
    sim.checkpoint(tmp_path / "state.h5")
    with h5py.File(tmp_path / "state.h5", "r+") as f:
        f["rank0/v"][0] = 1e5
    with pytest.raises(ns.ParameterError, match=r"state.h5: rank0/v does not match its "
                                                r"checksum"):
        ns.Simulation.restore(tmp_path / "state.h5")


@pytest.mark.parametrize("damage", ["flipped data", "flipped header", "truncated"])
def test_a_damaged_checkpoint_is_an_error_naming_the_file(tmp_path, damage):
    """Bytes damaged on disk: in the state's data (the voltages' storage), in the file's
    header, or the file cut short.  (Bytes of the file's slack space, which nothing reads,
    may change without harm.)"""
    import h5py

    import neurosim as ns
    sim, _ = small_sim()
    sim.run(5.0)
    path = tmp_path / "state.h5"
    sim.checkpoint(path)
    with h5py.File(path, "r") as f:
        start = f["rank0/v"].id.get_offset()
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:len(data) // 2]
    else:
        first = start if damage == "flipped data" else 0
        for k in range(first, first + 64):
            data[k] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ns.NeurosimError, match="state.h5"):
        ns.Simulation.restore(path)


def test_a_state_is_not_loaded_into_another_simulation(tmp_path):
    import neurosim as ns
    from neurosim.run.checkpoint import load_state
    sim, _ = small_sim()
    sim.run(5.0)
    sim.checkpoint(tmp_path / "state.h5")
    other, _ = small_sim(dt=0.05)
    with pytest.raises(ns.ParameterError, match=r"taken of another simulation; dt: 0.025 in "
                                                r"the checkpoint, 0.05 here"):
        load_state(other, tmp_path / "state.h5")
    import neurosim as ns2
    net = ns2.Network(seed=1)
    net.add_cells(ns2.Cell(ns2.Morphology.ball_and_stick()), n=3)
    with pytest.raises(ns.ParameterError, match="the model .* differs"):
        load_state(ns2.Simulation(net, dt=0.025), tmp_path / "state.h5")


def test_a_mechanism_defined_in_python_is_found_again_or_named(tmp_path):
    import numpy as np

    import neurosim as ns
    leak = ns.Mechanism(name="myleak_ck", parameters={"gl": 1e-4},
                        current="i = gl * (v + 70.0)\ng = gl")
    cell = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-60.0)
    cell.insert(leak, region="all")
    sim = ns.Simulation(cell, dt=0.025)
    sim.run(5.0)
    sim.checkpoint(tmp_path / "state.h5")
    with pytest.raises(ns.ParameterError, match="mechanism 'myleak_ck', which this process "
                                                "does not know"):
        ns.Simulation.restore(tmp_path / "state.h5")
    again = ns.Simulation.restore(tmp_path / "state.h5", mechanisms=[leak])
    v = again.record("v", (0, 0.5))
    ref = sim.record("v", (0, 0.5))
    sim.run(10.0)
    again.run(10.0)
    np.testing.assert_array_equal(v.values, ref.values)
    changed = ns.Mechanism(name="myleak_ck", parameters={"gl": 1e-4},
                           current="i = gl * (v + 60.0)\ng = gl")
    with pytest.raises(ns.ParameterError, match="differs from the one the checkpoint was "
                                                "taken with"):
        ns.Simulation.restore(tmp_path / "state.h5", mechanisms=[changed])


# ---------------------------------------------------------------------- morphology files
@pytest.mark.parametrize("text, line, words", [
    ("1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n3 3 0 20 0 1 2\n4 3 50 50 0 1 -1\n", 4,
     "sample 4 (type 3) starts a tree of its own (parent -1) and has no children"),
    ("1 3 0 0 0 1 -1\n2 1 10 0 0 5 -1\n3 3 10 5 0 1 2\n4 3 10 9 0 1 3\n", 1,
     "sample 1 (type 3) starts a tree of its own"),
    ("1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n", 2, "sample 2 (type 3) leaves the soma (parent 1)"),
])
def test_a_lone_point_is_named_not_dropped(tmp_path, text, line, words):
    import neurosim as ns
    path = tmp_path / "cell.swc"
    path.write_text(text)
    with pytest.raises(ns.MorphologyError, match=rf"cell.swc:{line}: {re.escape(words)}"):
        ns.Morphology.from_swc(path)


def test_a_binary_asc_is_an_error_naming_the_file(tmp_path):
    import neurosim as ns
    path = tmp_path / "cell.asc"
    path.write_bytes(b'("CellBody"\n' + b"\x8f\xff" * 40)   # MorphIO: UnicodeDecodeError
    with pytest.raises(ns.MorphologyError, match="cell.asc: not a ASC text file"):
        ns.Morphology.from_asc(path)


# ---------------------------------------------------------------------- memory
def test_a_model_larger_than_the_machine_is_refused_before_it_is_built():
    """10^5 copies of a cell of ~10^4 compartments: ~250 GB by the estimate.  Refused in
    seconds with the estimate and what to change, before the arrays exist."""
    import time

    import neurosim as ns
    from neurosim.lowering.memory import available
    cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.MaxLength(0.02))
    net = ns.Network()
    net.add_cells(cell, n=100_000)
    assert available() < 200e9                      # this machine: far less than needed
    started = time.perf_counter()
    with pytest.raises(ns.ParameterError, match=r"needs about \d+\.\d GiB .* available: run "
                                                r"on more machines .*force=True"):
        ns.Simulation(net)
    assert time.perf_counter() - started < 30.0


def test_the_memory_check_asks_only_for_what_the_description_does_not_hold(monkeypatch):
    """A network's connections are in memory before its Simulation is made: the check
    asks the machine for the estimate less their bytes (the full-scale microcircuit's 3e8
    connections hold 7.5 GB of a 17 GB peak)."""
    import neurosim as ns
    from neurosim.lowering import memory
    net = ns.Network(seed=1)
    cells = net.add_cells(ns.models.LIFAlpha(), n=2000)
    net.connect_rule(cells, cells, ns.FixedInDegree(100), weight=1.0, delay=1.5)
    held = net.connection_bytes()
    assert 24 * net.n_connections <= held <= 26 * net.n_connections
    need = memory.estimate([], 2000, net.n_connections)
    monkeypatch.setattr(memory, "available", lambda: need - held // 2)
    ns.Simulation(net, dt=0.1)                      # fits: the description is held already
    monkeypatch.setattr(memory, "available", lambda: need - held - 2**20)
    with pytest.raises(ns.ParameterError, match=r"needs about 0\.0 GiB"):
        ns.Simulation(net, dt=0.1)


def test_the_estimate_is_what_info_prints(tmp_path, capsys):
    import shutil

    from neurosim.cli import main
    from neurosim.io.sonata import SonataRun
    from neurosim.lowering.memory import estimate
    from tests.shared_data import SONATA_EXAMPLES
    for name in ("300_intfire", "shared_components"):
        shutil.copytree(SONATA_EXAMPLES / name, tmp_path / name)
    config = tmp_path / "300_intfire" / "config.json"
    assert main(["info", str(config)]) == 0
    out = capsys.readouterr().out
    net = SonataRun(config).circuit.network
    mib = estimate(list(net.cells.values()), len(net.artificial), net.n_connections) / 2**20
    assert f"memory estimate: {mib:.1f} MiB" in out
