"""Morphologies from files and from code; discretization policies; regions."""

import glob
import os

import numpy as np
import pytest

import neurosim as ns
from neurosim.lowering.geometry import segment_geometry

MIXED_SWC = """\
# apical first in the file, then axon, then basal: ids must still be soma, axon, dend, apic
1 1 0 0 0 4 -1
2 4 0 4 0 1 1
3 4 0 30 0 1 2
4 2 0 -4 0 0.5 1
5 2 0 -40 0 0.5 4
6 3 4 0 0 0.8 1
7 3 30 0 0 0.8 6
8 3 40 10 0 0.5 7
9 3 40 -10 0 0.5 7
"""

THREE_POINT_SWC = """\
1 1 10 20 30 5 -1
2 1 10 15 30 5 1
3 1 10 25 30 5 1
4 3 15 20 30 1 1
5 3 60 20 30 1 4
"""

ASC = """\
("CellBody"
 (Color Red)
 (CellBody)
 ( 6 0 0 1) ( 4 4 0 1) ( 0 5 0 1) (-4 4 0 1)
 (-6 0 0 1) (-4 -4 0 1) ( 0 -5 0 1) ( 4 -4 0 1)
)
( (Color White)
  (Dendrite)
  ( 0 5 0 2)
  ( 0 20 0 2)
  (
   ( 0 20 0 1) ( 10 40 0 1)
  |
   ( 0 20 0 1) ( -10 40 0 1)
  )
)
( (Color Blue)
  (Axon)
  ( 0 -5 0 1)
  ( 0 -50 0 1)
)
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_swc_sections_in_sonata_order_with_import3d_soma(tmp_path):
    m = ns.Morphology.from_swc(write(tmp_path, "mixed.swc", MIXED_SWC))
    assert [s.type_name for s in m.sections] == ["soma", "axon", "dend", "dend", "dend", "apic"]
    soma = m[0]
    # single-point soma -> cylinder along x, length = diameter = 2r
    assert soma.length == pytest.approx(8.0) and np.allclose(soma.diameters, 8.0)
    assert [m[i].parent for i in range(len(m))] == [-1, 0, 0, 2, 2, 0]
    assert [m[i].parent_x for i in (1, 2, 5)] == [0.5, 0.5, 0.5]
    assert m[3].parent_x == 1.0
    # a child repeats its parent's last point
    np.testing.assert_allclose(m[3].points[0], m[2].points[-1])
    assert m.children(2) == [3, 4]


def test_three_point_soma_is_a_cylinder_of_sphere_area(tmp_path):
    m = ns.Morphology.from_swc(write(tmp_path, "three.swc", THREE_POINT_SWC))
    soma = m[0]
    assert soma.length == pytest.approx(10.0)
    area, _ = segment_geometry(soma, 1, 100.0)
    assert area[0] == pytest.approx(4 * np.pi * 5.0 ** 2)


def test_asc_contour_soma_close_to_neuron_import3d(tmp_path):
    path = write(tmp_path, "cell.asc", ASC)
    m = ns.Morphology.from_asc(path)
    assert [s.type_name for s in m.sections] == ["soma", "axon", "dend", "dend", "dend"]
    assert m[1].length == pytest.approx(45.0)
    assert m[3].parent == 2 and m[4].parent == 2
    from peers import clear, h
    clear()
    reader = h.Import3d_Neurolucida3()
    reader.input(str(path))
    h.Import3d_GUI(reader, False).instantiate(None)
    secs = list(h.allsec())
    theirs = secs[0](0.5).area()
    mine = segment_geometry(m[0], 1, 100.0)[0][0]
    assert mine == pytest.approx(theirs, rel=0.03)       # Import3d's centroid rule differs
    for s, sec in zip(m.sections[1:], secs[1:]):
        assert s.length == pytest.approx(sec.L)
    clear()


def test_from_sections_attaches_children_at_parent_end():
    m = ns.Morphology.from_sections(parents=[-1, 0, 0], lengths=[20.0, 200.0, 150.0],
                                    diameters=[20.0, 2.0, (1.5, 0.5)],
                                    types=["soma", "dend", "dend"])
    assert [round(s.length, 9) for s in m.sections] == [20.0, 200.0, 150.0]
    np.testing.assert_allclose(m[1].points[0], m[0].points[-1])
    np.testing.assert_allclose(m[2].diameters, [1.5, 0.5])
    with pytest.raises(ns.MorphologyError, match="must come before"):
        ns.Morphology.from_sections(parents=[-1, 2, 0], lengths=[1, 1, 1], diameters=[1, 1, 1])
    with pytest.raises(ns.MorphologyError, match="length must be > 0"):
        ns.Morphology.from_sections(parents=[-1], lengths=[0.0], diameters=[1])


def test_tree_builder_counts_and_rall_rule():
    t = ns.Morphology.tree(4, length=50.0, diameter=2.0, soma_diameter=20.0,
                           diameter_ratio=2 ** (-2 / 3), length_ratio=0.5)
    assert len(t) == 1 + 1 + 2 + 4 + 8
    leaves = [s for s in t.sections if not t.children(s.id)]
    assert len(leaves) == 8
    d_parent = t[1].diameters[0]
    d_child = t[t.children(1)[0]].diameters[0]
    assert d_parent ** 1.5 == pytest.approx(2 * d_child ** 1.5)


def test_path_distance_from_soma_centre():
    m = ns.Morphology.ball_and_stick(soma_diameter=20.0, dend_length=200.0)
    assert m.distance(0, 0.5) == 0.0
    assert m.distance(0, 1.0) == pytest.approx(10.0)
    assert m.distance(1, 1.0) == pytest.approx(210.0)


def test_discretization_policies():
    cable = ns.Morphology.cable(100.0, 1.0)
    assert ns.MaxLength(30.0).nseg(cable[0], 100.0, 1.0) == 4
    assert ns.MaxLength(30.0, odd=True).nseg(cable[0], 100.0, 1.0) == 5
    assert ns.NSeg(7).nseg(cable[0], 100.0, 1.0) == 7
    with pytest.raises(ns.ParameterError):
        ns.NSeg(0)
    with pytest.raises(ns.ParameterError):
        ns.MaxLength(-1.0)


def test_dlambda_matches_neuron_geom_nseg():
    from peers import bmtk_dir, h, load_swc
    swc = sorted(glob.glob(os.path.join(bmtk_dir(), "morphologies", "*.swc")))[-1]
    m = ns.Morphology.from_swc(swc)
    secs = load_swc(swc)
    for sec in secs:
        sec.Ra, sec.cm = 150.0, 2.0
    h.load_file("stdlib.hoc")
    h("proc ns_geom_nseg() { forall { nseg = int((L/(0.1*lambda_f(100))+.9)/2)*2 + 1 } }")
    h.ns_geom_nseg()
    cell = ns.Cell(m, ra=150.0, cm=2.0, discretization=ns.DLambda(0.1, freq=100.0))
    sim = ns.Simulation(cell)
    np.testing.assert_array_equal(sim.model.layouts[0].nseg, [s.nseg for s in secs])
    assert sum(s.nseg for s in secs) == sim.n_compartments
    h("forall delete_section()")


def test_distance_region_and_parameter_functions():
    m = ns.Morphology.ball_and_stick(soma_diameter=20.0, dend_length=200.0)
    cell = ns.Cell(m, discretization=ns.NSeg(10))
    cell.insert("pas", region=ns.Distance(min=100.0), g=lambda d: 1e-5 * d)
    sim = ns.Simulation(cell)
    table = sim.model.mechanisms[0]
    dist = sim.model.node_distance[table.nodes]
    # soma centre to its far end 10 µm, then dend centres every 20 µm: 20, 40, ... 200
    np.testing.assert_allclose(dist, [100, 120, 140, 160, 180, 200])
    np.testing.assert_allclose(table.params[0], 1e-5 * dist)
