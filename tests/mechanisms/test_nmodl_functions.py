"""NMODL FUNCTIONs and PROCEDUREs called from Python (``Mechanism.function``) against
NEURON's ``h.<name>_<suffix>(...)`` and ``seg.<suffix>.<name>(...)`` on corpus files:
hnn-core's hh2.mod (a rate FUNCTION with a trap for 0/0; a PROCEDURE assigning GLOBALs under
a TABLE that DEPENDs on celsius), the use cases' table.mod (TABLEs DEPENDing on GLOBALs) and
functions.mod (a FUNCTION reading a RANGE variable, one reading v).  NEURON runs in a
subprocess (its mechanism names would clash with other tests' in this one); its tables are
off (``usetable_<suffix> = 0``), as neurosim computes what a TABLE caches."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import neurosim as ns

from shared_data import NMODL_CORPUS

FILES = {"hh2": ("hnn-core", "hh2.mod"), "tbl": ("nmodl-usecases", "table", "table.mod"),
         "functions": ("nmodl-usecases", "function", "functions.mod")}
VS = [-100.0, -65.0, -55.0, -40.0 + 1e-8, -40.0, -12.5, 0.0, 30.0]
XS = [-3.0, -0.4, 0.0, 1.7, 5.0]
RATES = ("minf", "mtau", "hinf", "htau", "ninf", "ntau")

NEURON_SCRIPT = """
import json, sys
from neuron import h
import neuron
neuron.load_mechanisms(sys.argv[1])
out = {}
h.usetable_hh2 = 0
h.usetable_tbl = 0
out["vtrap"] = [h.vtrap_hh2(-(v + 40), 10) for v in %(vs)r]
out["rates"] = {}
for celsius in (6.3, 30.0):
    h.celsius = celsius
    rows = []
    for v in %(vs)r:
        h.rates_hh2(v)
        rows.append([getattr(h, n + "_hh2") for n in %(rates)r])
    out["rates"][str(celsius)] = rows
h.c1_tbl, h.c2_tbl = 2.0, 3.0
out["quadratic"] = [h.quadratic_tbl(x) for x in %(xs)r]
s = h.Section()
s.insert("tbl")
s.insert("functions")
sinus = []
for x in %(xs)r:
    s(0.5).tbl.sinusoidal(x)
    sinus.append([s(0.5).tbl.v1, s(0.5).tbl.v2])
out["sinusoidal"] = sinus
s(0.5).functions.x = 0.1
out["x_plus_a"] = s(0.5).functions.x_plus_a(100.0)
h.finitialize(-42.0)
out["v_plus_a"] = s(0.5).functions.v_plus_a(40.0)
out["identity"] = s(0.5).functions.identity(42.0)
json.dump(out, open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="module")
def neuron_values(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("functions")
    build = tmp / "nrnmech"
    build.mkdir()
    for parts in FILES.values():
        shutil.copy(NMODL_CORPUS.joinpath(*parts), build)
    out = subprocess.run(["nrnivmodl"], cwd=build, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    script = tmp / "run.py"
    script.write_text(NEURON_SCRIPT % {"vs": VS, "xs": XS, "rates": RATES})
    out = subprocess.run([sys.executable, str(script), str(build), str(tmp / "out.json")],
                         capture_output=True, text=True, cwd=tmp)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return json.loads((tmp / "out.json").read_text())


def mech(name):
    return ns.Mechanism.from_nmodl(os.fspath(NMODL_CORPUS.joinpath(*FILES[name])))


def test_rate_functions_and_procedures_of_hh2_as_neuron(neuron_values):
    hh2 = mech("hh2")
    vtrap = hh2.function("vtrap")
    # vtrap(0, 10): NEURON's trap branch, and one just beside it
    np.testing.assert_allclose([vtrap(-(v + 40.0), 10.0) for v in VS], neuron_values["vtrap"],
                               rtol=1e-13)
    rates = hh2.function("rates")
    for celsius in (6.3, 30.0):
        ours = [[rates(v, celsius=celsius)[n] for n in RATES] for v in VS]
        np.testing.assert_allclose(ours, neuron_values["rates"][str(celsius)], rtol=1e-13)
    assert rates(-65.0) == rates(-65.0, celsius=6.3)        # NEURON's default celsius


def test_table_functions_with_their_globals_as_neuron(neuron_values):
    tbl = mech("tbl")
    quadratic = tbl.function("quadratic")
    np.testing.assert_allclose([quadratic(x, c1=2.0, c2=3.0) for x in XS],
                               neuron_values["quadratic"], rtol=1e-14)
    assert quadratic(2.0) == 1.0 * 4.0 + 2.0               # the file's c1, c2
    sinusoidal = tbl.function("sinusoidal")      # NEURON: the GLOBALs set above
    np.testing.assert_allclose([[sinusoidal(x, c1=2.0, c2=3.0)[n] for n in ("v1", "v2")]
                                for x in XS],
                               neuron_values["sinusoidal"], rtol=1e-14)


def test_functions_reading_instance_variables_as_neuron(neuron_values):
    f = mech("functions")
    assert f.function("x_plus_a")(100.0, x=0.1) == neuron_values["x_plus_a"]
    assert f.function("v_plus_a")(40.0, v=-42.0) == neuron_values["v_plus_a"]
    assert f.function("identity")(42.0) == neuron_values["identity"]
    with pytest.raises(ns.ParameterError, match="reads 'v', a variable of an instance"):
        f.function("v_plus_a")(40.0)
    with pytest.raises(ns.ParameterError, match="takes 1 argument"):
        f.function("identity")(1.0, 2.0)
    with pytest.raises(ns.ParameterError, match="does not read \\['celsius'\\]"):
        f.function("identity")(1.0, celsius=20.0)
    with pytest.raises(ns.ParameterError, match="no FUNCTION or PROCEDURE 'nope'"):
        f.function("nope")
