"""Nothing silently wrong: each case a user or a hostile file can cause, and the clear
behaviour neurosim gives instead (an error naming the file and the key, or a refusal)."""

import json

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
from neurosim.codegen import load_module
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
