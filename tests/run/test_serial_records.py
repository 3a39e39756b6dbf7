"""A Network's records (gap junctions, POINTER bindings, Poisson drives) are typed, read by
field, and come back typed from a checkpoint's description, which writes them as the tuples
it always wrote (so a checkpoint of an earlier version keeps its digest)."""

import h5py
import numpy as np

import neurosim as ns
from neurosim.description.items import DriveRecord, GapJunctionRecord, PointerBinding
from neurosim.run import serial

READER = """
NEURON { SUFFIX reader POINTER vs RANGE copy }
ASSIGNED { vs (mV) copy (mV) }
BREAKPOINT { copy = vs }
"""


def network():
    net = ns.Network(seed=4)
    c = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    c.insert(reader(), region="soma")
    c.add_synapse((1, 0.5), "ExpSyn", label="syn")
    a, b = (int(g) for g in net.add_cells(c, n=2))
    net.add_gap_junction((a, (1, 0.9)), (b, (1, 0.1)), g=0.003)
    net.set_pointer((a, (0, 0.5), "reader"), "vs", (b, (1, 0.7)))
    net.add_poisson_drive([(b, "syn")], rate=40.0, weight=0.02, start=5.0, stop=50.0)
    return net, a, b


def reader():
    return ns.Mechanism.from_nmodl_text(READER, "reader.mod")


def check(net, a, b):
    (j,), (p,), (d,) = net.gap_junctions, net.pointers, net.drives
    assert type(j) is GapJunctionRecord and type(p) is PointerBinding and type(d) is DriveRecord
    assert (j.gid_a, j.gid_b, j.g) == (a, b, 0.003)
    assert (p.gid, p.pointer, p.source_gid) == (a, "vs", b)
    assert (d.gid, d.label, d.rate, d.start, d.stop, d.index) == (b, "syn", 40.0, 5.0, 50.0, 0)
    np.testing.assert_array_equal(d.weight, [0.02])


def test_records_are_typed_and_come_back_typed(tmp_path):
    net, a, b = network()
    check(net, a, b)
    with h5py.File(tmp_path / "model.h5", "w") as f:
        serial.encode(net, f.create_group("model"))
        kinds = set()
        f["model"].visititems(lambda name, g: kinds.add(str(g.attrs.get(serial._KIND))))
    assert "tuple" in kinds and not kinds & {"GapJunctionRecord", "PointerBinding",
                                             "DriveRecord"}
    with h5py.File(tmp_path / "model.h5", "r") as f:
        back = serial.decode(f["model"], mechanisms=[reader()])
    check(back, a, b)
