"""neurosim.providers: what the stages ask of io and the kernels, provided by name."""

import pytest

import neurosim as ns
from neurosim import providers


def test_a_reader_provided_by_the_user_reads_morphologies(tmp_path, monkeypatch):
    calls = []

    def reader(path):
        calls.append(path)
        return ns.Morphology.cable(100.0, 1.0)
    monkeypatch.setitem(providers._PROVIDED, "morphology reader", reader)
    m = ns.Morphology.from_file(tmp_path / "cell.mine")
    assert calls == [tmp_path / "cell.mine"]
    assert len(m.sections) == 1 and m.sections[0].length == pytest.approx(100.0)


def test_importing_neurosim_provides_every_need():
    assert sorted(providers._PROVIDED) == sorted(providers.NEEDS)


def test_a_missing_provider_and_an_unknown_need_are_named(monkeypatch):
    monkeypatch.delitem(providers._PROVIDED, "hoc reader")
    with pytest.raises(ns.NeurosimError, match="nothing provides the hoc reader"):
        ns.Cell.from_hoc("cell.hoc")
    with pytest.raises(ns.NeurosimError, match="no part of neurosim needs 'swc writer'"):
        providers.provide("swc writer", print)
    with pytest.raises(ns.NeurosimError, match="must be callable"):
        providers.provide("hoc reader", "read_hoc")
