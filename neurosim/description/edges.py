"""A network's connections, in connection order, as columns of arrays.

A rule or a circuit's edge file makes millions of connections at once: they are kept as
chunks of arrays, not as Python objects per connection: source and target gids (int32 while
gids fit), the synapse label as a code into a list of the labels used (a rule's chunk holds
one label, not an array of them), weights and delays — 25 bytes a connection with one
weight, so the full-scale cortical microcircuit's 3e8 connections fit in memory.  Single
``connect`` calls gather in lists until the arrays are asked for.
"""

import numpy as np


class Edges:
    def __init__(self):
        self._chunks = []           # [src, tgt, label code or codes, weights (n, k), delays]
        self._single = []           # (src, tgt, label, weights (k,), delay) of connect()
        self._labels = []           # the labels used; a code indexes this list
        self._codes = {}            # label -> code
        self._n = 0

    def __len__(self):
        return self._n

    def nbytes(self):
        """Bytes the connections' arrays hold (a single ``connect``'s counted as a row)."""
        held = sum(np.asarray(a).nbytes for chunk in self._chunks for a in chunk)
        return held + sum(25 + 8 * len(w) for _, _, _, w, _ in self._single)

    def add(self, source, target, label, weights, delay):
        """One connection; ``weights`` a 1-d array (a NET_RECEIVE's arguments)."""
        self._single.append((int(source), int(target), label, np.asarray(weights, float),
                             float(delay)))
        self._n += 1

    def extend(self, sources, targets, labels, weights, delays):
        """Many connections: ``labels`` one label for all or one per connection;
        ``weights`` one number per connection (or an (n, k) array)."""
        self._flush()
        src = _gids(sources)
        n = len(src)
        if isinstance(labels, (str, type(None))):
            codes = self._code(labels)
        else:
            names = np.asarray(list(labels), dtype=object)
            uniq, inverse = _unique_labels(names)
            codes = np.array([self._code(u) for u in uniq], dtype=np.int64)[inverse]
        w = np.asarray(weights, dtype=float)
        self._chunks.append([src, _gids(targets), codes,
                             w.reshape(n, -1) if n else w.reshape(0, 1),
                             np.asarray(delays, dtype=float)])
        self._n += n

    def _code(self, label):
        code = self._codes.get(label)
        if code is None:
            code = self._codes[label] = len(self._labels)
            self._labels.append(label)
        return code

    def _flush(self):
        if not self._single:
            return
        src, tgt, lab, w, d = zip(*self._single)
        width = max(len(x) for x in w)
        weights = np.full((len(w), width), np.nan)
        for k, x in enumerate(w):
            weights[k, :len(x)] = x
        codes = np.array([self._code(x) for x in lab], dtype=np.int64)
        self._chunks.append([_gids(src), _gids(tgt), codes, weights, np.array(d, dtype=float)])
        self._single = []

    def columns(self):
        """(sources, targets, label codes, labels, weights (n, k): a row per connection,
        NaN beyond its own number of weights, delays): ``labels[codes[c]]`` is connection
        c's label.  The chunks become one, field by field, each field's pieces let go before
        the next is joined (a network of 1e8 connections must not be held twice)."""
        self._flush()
        labels = np.empty(len(self._labels), dtype=object)
        labels[:] = self._labels
        if not self._chunks:
            return (np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int8),
                    labels, np.zeros((0, 1)), np.zeros(0))
        width = max(c[3].shape[1] for c in self._chunks)
        code_type = np.min_scalar_type(max(len(self._labels) - 1, 0))
        one = self._chunks[0]
        if len(self._chunks) > 1 or one[3].shape[1] != width or np.ndim(one[2]) == 0:
            pieces, self._chunks = self._chunks, []
            sizes = [len(c[0]) for c in pieces]
            fields = []
            for f in range(5):
                parts = [c[f] for c in pieces]
                if f == 2:      # a chunk's single label becomes one code per connection
                    parts = [np.full(size, p, dtype=code_type) if np.ndim(p) == 0
                             else p.astype(code_type) for size, p in zip(sizes, parts)]
                if f == 3:
                    parts = [w if w.shape[1] == width else
                             np.pad(w, ((0, 0), (0, width - w.shape[1])),
                                    constant_values=np.nan) for w in parts]
                fields.append(np.concatenate(parts) if len(parts) > 1 else parts[0])
                for c in pieces:
                    c[f] = None
            self._chunks = [fields]
        src, tgt, codes, weights, delays = self._chunks[0]
        return src, tgt, codes, labels, weights, delays

    def arrays(self):
        """(sources, targets, labels (object array), weights, delays): ``columns`` with
        every connection's label spelled out (8 bytes a connection more, made on asking)."""
        src, tgt, codes, labels, weights, delays = self.columns()
        return src, tgt, labels[codes], weights, delays


def _gids(values):
    """Gids as int32 while they fit (half the memory of int64), else int64."""
    a = np.asarray(values, dtype=np.int64)
    if len(a) == 0 or (a.min() >= 0 and a.max() < 2**31):
        return a.astype(np.int32)
    return a


def _unique_labels(names):
    """The distinct labels of an object array (None among strings) and each one's index."""
    try:
        uniq, inverse = np.unique(names, return_inverse=True)
        return list(uniq), inverse
    except TypeError:           # None beside strings: sort by a spelling of each
        pass
    keys = np.array(["\0none" if x is None else str(x) for x in names], dtype=object)
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return [names[k] for k in first], inverse
