"""hoc cell templates (neurosim.io.hoc) against NEURON instantiating the same template:
sections, names, 3-D points, L, areas per segment, nseg, cm, Ra and every mechanism parameter,
segment by segment; unsupported statements are errors naming file, line and statement."""

import itertools

import numpy as np
import pytest

import neurosim as ns
from neurosim.io.hoc import HocError
from neurosim.lowering.cells import _section_values, discretize, lower

from peers import h
from shared_data import shared

_count = itertools.count()


def neuron_sections(cell):
    prefix = cell.hname() + "."
    return {sec.name()[len(prefix):]: sec for sec in h.allsec()
            if sec.name().startswith(prefix)}


def compare(path, template, rtol=1e-9):
    """Instantiate ``template`` in NEURON and in neurosim; assert every section agrees."""
    assert h.load_file(str(path))
    ncell = getattr(h, template)()
    nsecs = neuron_sections(ncell)
    cell = ns.Cell.from_hoc(path, template=template)
    m = cell.morphology
    assert sorted(cell.section_names) == sorted(nsecs)
    assert sorted(cell.section_names.values()) == list(range(len(m)))
    body = discretize(cell, point_processes=False)
    model = lower([cell])
    lay = body.layout
    sv = _section_values(cell)
    n_segments = 0
    for name, sid in cell.section_names.items():
        nsec, s = nsecs[name], m[sid]
        # 3-D points as given
        n3d = nsec.n3d()
        pts = np.array([[nsec.x3d(i), nsec.y3d(i), nsec.z3d(i)] for i in range(n3d)])
        dia = np.array([nsec.diam3d(i) for i in range(n3d)])
        if n3d:
            np.testing.assert_allclose(s.points, pts, rtol=0, atol=1e-12)
            np.testing.assert_allclose(s.diameters, dia, rtol=0, atol=1e-12)
        else:
            # no 3-D points: NEURON's L and diam; neurosim draws a straight cylinder
            assert len(s.points) == 2 and np.all(s.diameters == nsec.diam)
        assert s.length == pytest.approx(nsec.L, rel=rtol)
        # topology
        parent = nsec.parentseg()
        if parent is None:
            assert s.parent == -1
        else:
            pname = parent.sec.name()[len(ncell.hname()) + 1:]
            assert s.parent == cell.section_names[pname]
            assert s.parent_x == parent.x
        # discretization and cable properties
        assert lay.nseg[sid] == nsec.nseg
        assert sv["ra"][sid] == nsec.Ra
        assert sv["cm"][sid] == nsec.cm
        k0 = lay.seg0[sid]
        areas = body.area[k0:k0 + nsec.nseg]
        np.testing.assert_allclose(areas, [seg.area() for seg in nsec], rtol=rtol)
        cm = body.cap[k0:k0 + nsec.nseg] / areas / 1e-5     # nF per (uF/cm2 um2)
        np.testing.assert_allclose(cm, [seg.cm for seg in nsec], rtol=1e-12)
        # every inserted mechanism's parameters, segment by segment
        nmechs = {mech.name() for seg in nsec for mech in seg
                  if mech.name() not in ("morphology", "capacitance")
                  and not mech.name().endswith("_ion")}
        ours = {name for name, t in body.mechanisms.items()
                if np.any((t.nodes >= k0) & (t.nodes < k0 + nsec.nseg))}
        assert ours == nmechs, name
        for mname in nmechs:
            t = body.mechanisms[mname]
            for j, seg in enumerate(nsec):
                col = int(np.flatnonzero(t.nodes == k0 + j)[0])
                for row, pname in enumerate(t.mechanism.parameters):
                    if any(use.field(pname) for use in t.mechanism.ions):
                        continue            # an ion variable: compared below
                    # hh keeps ena, ek as its own parameters: NEURON's ion variables
                    want = getattr(seg, pname if pname in ("ena", "ek") else
                                   f"{pname}_{mname}")
                    assert t.params[row, col] == pytest.approx(want, rel=1e-12), \
                        (name, j, pname)
        # ion reversal potentials of the ions NEURON's mechanisms use here
        for ion, table in model.ions.items():
            if hasattr(nsec(0.5), f"e{ion}"):
                for seg in nsec:
                    node = model.locate((sid, seg.x))
                    assert table.e[node] == pytest.approx(getattr(seg, f"e{ion}"),
                                                          rel=1e-12), (name, ion)
        n_segments += nsec.nseg
    return cell, n_segments


BAAIWORM = ["AIAL", "ADAL", "RIAL", "AVAL", "I5", "PVDL", "DA01", "VD13"]


@pytest.mark.parametrize("template", BAAIWORM)
def test_baaiworm_templates_match_neuron(template):
    path = shared("baaiworm", "model", f"{template}.hoc")
    cell, n = compare(path, template)
    assert n > 0
    text = path.read_text()
    if template in ("I5", "PVDL"):
        assert "proc basic_shape_0()" in text      # the shape is split into several procs
    # BAAIWorm names: Soma first, hoc names map to ids
    assert cell.section_names["Soma"] == 0
    assert cell.morphology[0].type_name == "soma"


def test_every_baaiworm_template_matches_neuron():
    """All 302 templates of the model (the acceptance set is the parametrized one above)."""
    folder = shared("baaiworm", "model")
    paths = sorted(folder.glob("*.hoc"))
    assert len(paths) == 302
    segments = 0
    for path in paths:
        segments += compare(path, path.stem)[1]
    assert segments == 15910


def test_baaiworm_split_shape_has_all_points():
    path = shared("baaiworm", "model", "PVDL.hoc")
    cell = ns.Cell.from_hoc(path)
    n_points = sum(len(s.points) for s in cell.morphology.sections)
    assert n_points == path.read_text().count("pt3dadd(")


SYNTH = """
load_file("stdlib.hoc")
begintemplate Synth{k}
public soma, dend, axon, all, basal
create soma, axon, dend[4]
objref all, basal, junk
func half() {{ local a
    a = $1 / 2
    return a
}}
proc shape() {{ local i, d
    soma {{ pt3dclear() pt3dadd(0, 0, 0, 12) pt3dadd(15, 0, 0, 12) }}
    for (i = 0; i < 4; i += 1) {{
        dend[i] {{
            pt3dclear()
            pt3dadd(15, 0, 0, 3 - half(i))
            pt3dadd(15 + 40 * (i + 1), 10 * i, 2, 2.5 - i * 0.3)
            pt3dadd(15 + 40 * (i + 1) + 7, 10 * i + 5, -3, 1.1)
        }}
    }}
    axon {{ L = 250  diam = 0.8 }}
}}
proc init() {{ local i, n
    shape()
    connect dend[0](0), soma(1)
    for i = 1, 3 connect dend[i](0), dend[0](0.5 + i / 10)
    soma connect axon(0), 0
    all = new SectionList()
    basal = new SectionList()
    forall all.append()
    for i = 0, 3 dend[i] basal.append()
    junk = new List()
    n = 0
    while (n < 3) {{ n = n + 1 }}
    forsec all {{ Ra = 80 + n  cm = 1.5 }}
    forsec basal {{
        nseg = 2 * n + 1
        insert pas
        g_pas = 2e-5
        e_pas = -68
    }}
    soma {{ insert hh  gnabar_hh = 0.25  gl_hh = 1e-4  nseg = 3  cm = 1  ena = 55 }}
    soma.Ra = 120
    if (n == 3) {{ axon.nseg = 5 }} else {{ axon.nseg = 1 }}
    axon {{ insert pas  g_pas = 1e-3 }}
    forsec "end" {{ e_pas = -75 }}
    dend[1] {{ e_pas = -68 }}
}}
endtemplate Synth{k}
"""


def test_synthetic_template_matches_neuron(tmp_path):
    k = next(_count)
    path = tmp_path / f"synth{k}.hoc"
    path.write_text(SYNTH.format(k=k))
    cell, n = compare(path, f"Synth{k}")
    assert n == 3 + 5 + 4 * 7
    names = cell.section_names
    assert names["soma"] == 0 and set(names) == {"soma", "axon", "dend[0]", "dend[1]",
                                                  "dend[2]", "dend[3]"}
    assert cell.morphology[names["axon"]].type_name == "axon"
    assert cell.morphology[names["dend[2]"]].type_name == "dend"


@pytest.mark.parametrize("snippet, message", [
    ("soma { print L }", "unsupported statement 'print'"),
    ("soma { insert nosuchmech }", "unknown mechanism 'nosuchmech'"),
    ("soma { g_pas = 1 }", "'g_pas': not a variable of section soma"),
    ("soma { pt3dadd(0, 0, 0, 1) pt3dadd(1, 0, 0, 1) L = 3 }", "rescaling the points"),
    ("soma { pt3dadd(0, 0, 0, 1) pt3dadd(1, 0, 0, 1) diam = 3 }", "changing 3-D diameters"),
    ("soma { diam = 0 }", "diam = 0.0: must be > 0"),
    ("soma { Ra = -1 }", "Ra = -1.0: must be > 0"),
    ("soma { cm = 0 }", "cm = 0.0: must be > 0"),
    ("objref v\nv = new Vector(3)", "new Vector(): only SectionList and List"),
    ("soma { define_shape() }", "define_shape() is not supported"),
    ("connect soma(1), dend(0)", "child connected by its 1-end"),
    ("x = $s1", "only numeric arguments"),
    ("soma for (x, 0) { g_pas(x) = x }", "segment loops"),
    ('forsec "dend[0-9]" { nseg = 3 }', "only a plain name is supported"),
    ("soma { gnabar_hh(0.5) = 1 }", "cannot assign"),
])
def test_unsupported_statements_name_file_line_statement(tmp_path, snippet, message):
    path = tmp_path / "bad.hoc"
    body = "\n".join("    " + line for line in snippet.splitlines())
    path.write_text("begintemplate Bad\ncreate soma, dend\nproc init() {\n"
                    f"{body}\n}}\nendtemplate Bad\n")
    with pytest.raises(HocError) as info:
        ns.Cell.from_hoc(path)
    text = str(info.value)
    last = snippet.splitlines()[-1].strip()
    assert f"{path}:{3 + len(snippet.splitlines())}:" in text, text
    assert message in text, text
    assert f"`{last}`" in text, text


def test_unreadable_proc_is_an_error_only_when_called(tmp_path):
    path = tmp_path / "lazy.hoc"
    path.write_text('begintemplate Lazy\ncreate soma\nproc toString() {\n    print "cell"\n}\n'
                    'obfunc self() { return this }\n'
                    'proc init() {\n    if ($1) toString()\n}\nendtemplate Lazy\n')
    assert ns.Cell.from_hoc(path, args=(0,)).section_names == {"soma": 0}
    with pytest.raises(HocError, match=r"lazy.hoc:4: unsupported statement 'print': "
                                       r"`print \"cell\"`"):
        ns.Cell.from_hoc(path, args=(1,))


def test_outside_template_and_template_choice(tmp_path):
    path = tmp_path / "two.hoc"
    path.write_text("begintemplate A\ncreate soma\nendtemplate A\n"
                    "begintemplate B\ncreate soma\nendtemplate B\n")
    with pytest.raises(HocError, match="2 templates"):
        ns.Cell.from_hoc(path)
    with pytest.raises(HocError, match="no template 'C'"):
        ns.Cell.from_hoc(path, template="C")
    cell = ns.Cell.from_hoc(path, template="B")
    assert cell.section_names == {"soma": 0}
    assert cell.morphology[0].length == pytest.approx(100.0)      # NEURON's default L
    bad = tmp_path / "top.hoc"
    bad.write_text("create soma\n")
    with pytest.raises(HocError, match=r"top.hoc:1: only templates .*`create soma`"):
        ns.Cell.from_hoc(bad)


HOC_DIR = __import__("pathlib").Path(__file__).parent / "hoc"


@pytest.fixture(scope="module")
def nml_mechanisms(tmp_path_factory):
    from peers import compiled_mod_dir
    compiled_mod_dir(str(HOC_DIR), str(tmp_path_factory.mktemp("nml")))
    ns.load_catalogue(HOC_DIR)


def test_neuroml_exported_template_matches_neuron(nml_mechanisms):
    """tests/io/hoc/NmlCell.hoc and passiveChan.mod: what jNeuroML 0.14 (`jnml LEMS -neuron`)
    writes for tests/io/hoc/NmlCell.cell.nml (load_file outside the template, forsec over
    SectionLists, insert with parameters, a child at its parent's x = 0.406...)."""
    cell, n = compare(HOC_DIR / "NmlCell.hoc", "NmlCell")
    assert n == 4
    names = cell.section_names
    assert [cell.morphology[names[s]].type_name for s in ("soma", "axon", "dend", "dend2")] \
        == ["soma", "axon", "dend", "dend"]
    assert cell.morphology[names["dend2"]].parent_x == pytest.approx(0.4060960344070659)


def test_baaiworm_cell_simulates_like_neuron():
    """I5 (split shape) with pas everywhere and a clamp on its Soma placed by hoc name: the
    voltage at the soma and at a far neurite matches NEURON's."""
    from peers import run
    path = shared("baaiworm", "model", "I5.hoc")
    h.load_file(str(path))
    ncell = h.I5()
    nsecs = neuron_sections(ncell)
    for sec in nsecs.values():
        sec.insert("pas")
        for seg in sec:
            seg.g_pas, seg.e_pas = 5e-5, -65.0
    stim = h.IClamp(nsecs["Soma"](0.5))
    stim.delay, stim.dur, stim.amp = 2.0, 20.0, 0.005
    t, (v_soma, v_far) = run(30.0, 0.025, -65.0, probes=[nsecs["Soma"](0.5),
                                                         nsecs["Neurite10"](0.9)])
    cell = ns.Cell.from_hoc(path)
    cell.insert("pas", g=5e-5, e=-65.0)
    names = cell.section_names
    cell.add_iclamp((names["Soma"], 0.5), delay=2.0, dur=20.0, amp=0.005)
    sim = ns.Simulation(cell, dt=0.025)
    a = sim.record("v", (names["Soma"], 0.5))
    b = sim.record("v", (names["Neurite10"], 0.9))
    sim.run(30.0)
    del stim
    assert np.ptp(v_soma) > 1.0
    np.testing.assert_allclose(np.asarray(a.values)[:len(v_soma)], v_soma, atol=1e-6)
    np.testing.assert_allclose(np.asarray(b.values)[:len(v_far)], v_far, atol=1e-6)


def test_range_assigned_variable_no_block_writes_is_a_parameter():
    """NeuroML's channels declare `e` ASSIGNED and RANGE and let the template set it
    (`e_passiveChan = -70`); one a block writes stays assigned."""
    text = """NEURON { SUFFIX leakish NONSPECIFIC_CURRENT i RANGE e, gmax, g }
PARAMETER { gmax = 0 (S/cm2) }
ASSIGNED { v (mV) e (mV) g (S/cm2) i (mA/cm2) }
BREAKPOINT { g = gmax  i = g * (v - e) }
"""
    mech = ns.Mechanism.from_nmodl_text(text, "leakish.mod")
    assert list(mech.parameters) == ["gmax", "e"] and mech.parameters["e"] == 0.0
    assert "g" in mech.assigned
