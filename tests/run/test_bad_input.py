"""Bad input: each a clear exception naming the file and line, or the parameter at fault."""

import math

import pytest

import neurosim as ns

GOOD_SWC = """\
# id type x y z r parent
1 1 0 0 0 5 -1
2 3 0 5 0 1 1
3 3 0 20 0 1 2
4 3 5 30 0 0.5 3
5 3 -5 30 0 0.5 3
"""


def write(tmp_path, text, name="cell.swc"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_swc_loads(tmp_path):
    m = ns.Morphology.from_swc(write(tmp_path, GOOD_SWC))
    assert len(m) == 4 and m.has_soma


@pytest.mark.parametrize("lines,line_no,words", [
    ({3: "3 3 0 20 0 1 9"}, 4, "unknown parent 9"),
    ({3: "3 3 0 20 0 0 2"}, 4, "radius must be > 0"),
    ({3: "3 3 0 20 0 -1 2"}, 4, "radius must be > 0"),
    ({4: "3 3 5 30 0 0.5 3"}, 5, "duplicate sample id 3"),
    ({3: "3 3 0 20 0 1 3"}, 4, "own parent"),
    ({3: "3 3 0 20 zero 1 2"}, 4, "non-numeric"),
    ({3: "3 3 0 20 0 1"}, 4, "expected 7 columns"),
    ({3: "3 3 0 20 0 nan 2"}, 4, "non-finite"),
])
def test_malformed_swc_names_file_and_line(tmp_path, lines, line_no, words):
    rows = GOOD_SWC.splitlines()
    for k, text in lines.items():
        rows[k] = text
    path = write(tmp_path, "\n".join(rows) + "\n")
    with pytest.raises(ns.MorphologyError) as err:
        ns.Morphology.from_swc(path)
    assert f"{path}:{line_no}" in str(err.value)
    assert words in str(err.value)


def test_swc_cycle_is_reported(tmp_path):
    # 2 -> 3 -> 2: neither reaches the root
    text = GOOD_SWC.replace("2 3 0 5 0 1 1", "2 3 0 5 0 1 3")
    path = write(tmp_path, text)
    with pytest.raises(ns.MorphologyError, match=r"cycle"):
        ns.Morphology.from_swc(path)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(ns.MorphologyError, match="no such morphology file"):
        ns.Morphology.from_swc(tmp_path / "absent.swc")
    with pytest.raises(ns.MorphologyError, match="unknown morphology format"):
        ns.Morphology.from_file(write(tmp_path, "x", name="cell.txt"))


def make_cell():
    return ns.Cell(ns.Morphology.ball_and_stick(), cm=1.0, ra=100.0)


@pytest.mark.parametrize("loc,words", [
    ((2, 0.5), "section 2 does not exist"),
    ((-1, 0.5), "section -1 does not exist"),
    ((1, 1.5), "outside [0, 1]"),
    ((1, -0.1), "outside [0, 1]"),
    ((1, math.nan), "outside [0, 1]"),
    ("soma", "a location is (section_id, x)"),
])
def test_location_outside_cell(loc, words):
    cell = make_cell()
    with pytest.raises(ns.LocationError) as err:
        cell.add_iclamp(loc, delay=0, dur=1, amp=0.1)
    assert words in str(err.value)
    sim = ns.Simulation(make_cell())
    with pytest.raises(ns.LocationError):
        sim.record("v", loc)


@pytest.mark.parametrize("dt", [0.0, -0.025, math.nan, math.inf, "fast"])
def test_bad_dt(dt):
    with pytest.raises(ns.ParameterError, match=r"^dt"):
        ns.Simulation(make_cell(), dt=dt)


@pytest.mark.parametrize("kw,name", [({"cm": 0.0}, "cm"), ({"cm": -1.0}, "cm"),
                                     ({"ra": 0.0}, "ra"), ({"cm": math.nan}, "cm"),
                                     ({"v_init": math.nan}, "v_init")])
def test_bad_cable_parameters(kw, name):
    with pytest.raises(ns.ParameterError, match=f"^{name}"):
        ns.Cell(ns.Morphology.ball_and_stick(), **kw)
    with pytest.raises(ns.ParameterError, match=f"^{name}"):
        make_cell().paint("soma", **kw)


def test_nan_and_negative_mechanism_parameters():
    with pytest.raises(ns.ParameterError, match=r"pas\.g .*finite"):
        make_cell().insert("pas", g=math.nan)
    with pytest.raises(ns.ParameterError, match=r"hh\.gnabar .*>= 0"):
        make_cell().insert("hh", gnabar=-0.1)
    with pytest.raises(ns.ParameterError, match=r"IClamp amp"):
        make_cell().add_iclamp((0, 0.5), delay=0, dur=1, amp=math.nan)
    with pytest.raises(ns.ParameterError, match=r"IClamp dur"):
        make_cell().add_iclamp((0, 0.5), delay=0, dur=-1, amp=0.1)
    cell = make_cell()
    cell.insert("pas", g=lambda d: -1.0 + 0 * d)
    with pytest.raises(ns.ParameterError, match=r"pas\.g .*negative"):
        ns.Simulation(cell)


def test_unknown_mechanism_and_parameter_names():
    with pytest.raises(ns.MechanismError, match=r"unknown mechanism 'kdr'.*hh.*pas"):
        make_cell().insert("kdr")
    with pytest.raises(ns.ParameterError, match=r"'hh' has no parameter 'gnabr'"):
        make_cell().insert("hh", gnabr=0.1)
    make_cell().insert("pas", g_pas=1e-4, e_pas=-70.0)      # NEURON's names are accepted
    with pytest.raises(ns.ParameterError, match="'ExpSyn' is a point mechanism"):
        make_cell().insert("ExpSyn")


def test_unknown_region():
    with pytest.raises(ns.ParameterError, match=r"unknown region 'dendrite'"):
        make_cell().insert("pas", region="dendrite")
    with pytest.raises(ns.MorphologyError, match=r"section 7"):
        make_cell().insert("pas", region=[0, 7])


@pytest.mark.parametrize("call", [
    lambda c: c.paint("apic", cm=2.0),
    lambda c: c.insert("hh", region="axon"),
    lambda c: c.set_ion("na", region=["axon", "apic"], e=50.0),
    lambda c: c.set_discretization(ns.NSeg(3), region="apic"),
    lambda c: c.insert("pas", region=ns.Distance(min=10.0, region="apic")),
], ids=["paint", "insert", "set_ion", "discretization", "distance"])
def test_a_region_the_cell_lacks_names_it_and_the_cells_section_types(call):
    cell = ns.Cell(ns.Morphology.ball_and_stick())
    with pytest.raises(ns.ParameterError, match=r"(apic|axon).* matches no section of this "
                                                r"cell \(its sections are dend, soma\)"):
        call(cell)
    assert len(cell.paints) == 1 and not cell.inserts and not cell.ion_settings


def test_missing_ok_skips_a_region_the_cell_lacks_and_a_union_needs_one_part():
    cell = ns.Cell(ns.Morphology.ball_and_stick())
    cell.paint("apic", cm=2.0, missing_ok=True)
    cell.insert("hh", region="axon", missing_ok=True)
    cell.insert("hh", region=["soma", "axon"])          # the soma is there
    sim = ns.Simulation(cell)
    assert sim.backend.model.cap.size > 0
    assert [t.mechanism.name for t in sim.backend.tables] == ["hh"]


def test_bad_recordings_and_runs():
    cell = make_cell()
    cell.insert("hh", region="soma")
    sim = ns.Simulation(cell, dt=0.025)
    with pytest.raises(ns.ParameterError, match="not inserted"):
        sim.record("m_hh", (1, 0.5))
    with pytest.raises(ns.ParameterError, match="no state or assigned variable 'q'"):
        sim.record("q_hh", (0, 0.5))
    with pytest.raises(ns.ParameterError, match="no mechanism 'kdr'"):
        sim.record("n_kdr", (0, 0.5))
    with pytest.raises(ns.ParameterError, match="multiple of dt"):
        sim.record("v", (0, 0.5), interval=0.03)
    sim.run(1.0)
    with pytest.raises(ns.ParameterError, match="already at t"):
        sim.run(0.5)


@pytest.mark.slow
def test_blow_up_is_reported_with_time_and_place():
    # an explicit negative leak, hidden from the implicit solver (g = 0): v runs away
    runaway = ns.Mechanism(name="runaway", parameters={"gneg": 0.05},
                           current="i = -gneg * (v + 65.0)\ng = 0.0")
    cell = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-64.0)
    cell.insert(runaway, region="soma")
    sim = ns.Simulation(cell, dt=0.025)
    with pytest.raises(ns.NumericalInstabilityError) as err:
        sim.run(100.0)
    msg = str(err.value)
    assert "t = " in msg and "section 0" in msg
    assert 0 < sim.t < 100.0


def test_the_cuda_backend_without_a_gpu_is_a_clear_error():
    import neurosim as ns
    cell = ns.Cell(ns.Morphology.ball_and_stick())
    with pytest.raises(ns.ParameterError, match="backend 'cuda' needs"):
        ns.Simulation(cell, backend="cuda")
    with pytest.raises(ns.ParameterError, match="unknown backend 'tpu'"):
        ns.Simulation(cell, backend="tpu")


def test_float32_is_for_the_gpu_backend():
    import neurosim as ns
    with pytest.raises(ns.ParameterError, match="float32.*cuda"):
        ns.Simulation(ns.Cell(ns.Morphology.ball_and_stick()), precision="float32")
