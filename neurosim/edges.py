"""A network's connections, in connection order, as columns of arrays.

A rule or a circuit's edge file makes millions of connections at once: they are kept as
chunks of arrays (source, target, label, weights, delay: about 40 bytes a connection), not
as Python objects per connection.  Single ``connect`` calls gather in lists until the
arrays are asked for.
"""

import numpy as np


class Edges:
    def __init__(self):
        self._chunks = []           # (src, tgt, labels, weights (n, k), delays)
        self._single = []           # (src, tgt, label, weights (k,), delay) of connect()
        self._n = 0

    def __len__(self):
        return self._n

    def add(self, source, target, label, weights, delay):
        """One connection; ``weights`` a 1-d array (a NET_RECEIVE's arguments)."""
        self._single.append((int(source), int(target), label, np.asarray(weights, float),
                             float(delay)))
        self._n += 1

    def extend(self, sources, targets, labels, weights, delays):
        """Many connections: ``labels`` one label for all or one per connection;
        ``weights`` one number per connection (or an (n, k) array)."""
        self._flush()
        src = np.asarray(sources, dtype=np.int64)
        n = len(src)
        if isinstance(labels, (str, type(None))):
            lab = np.empty(n, dtype=object)
            lab[:] = labels
        else:
            lab = np.empty(n, dtype=object)
            lab[:] = list(labels)
        w = np.asarray(weights, dtype=float)
        self._chunks.append((src, np.asarray(targets, dtype=np.int64), lab,
                             w.reshape(n, -1) if n else w.reshape(0, 1),
                             np.asarray(delays, dtype=float)))
        self._n += n

    def _flush(self):
        if not self._single:
            return
        src, tgt, lab, w, d = zip(*self._single)
        width = max(len(x) for x in w)
        weights = np.full((len(w), width), np.nan)
        for k, x in enumerate(w):
            weights[k, :len(x)] = x
        labels = np.empty(len(lab), dtype=object)
        labels[:] = list(lab)
        self._chunks.append((np.array(src, dtype=np.int64), np.array(tgt, dtype=np.int64),
                             labels, weights, np.array(d, dtype=float)))
        self._single = []

    def arrays(self):
        """(sources, targets, labels (object array), weights (n, k): a row per connection,
        NaN beyond its own number of weights, delays).  The chunks become one, field by
        field, each field's pieces let go before the next is joined (a network of 1e8
        connections must not be held twice)."""
        self._flush()
        if not self._chunks:
            return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.empty(0, dtype=object),
                    np.zeros((0, 1)), np.zeros(0))
        width = max(c[3].shape[1] for c in self._chunks)
        if len(self._chunks) > 1 or self._chunks[0][3].shape[1] != width:
            pieces = [list(c) for c in self._chunks]
            self._chunks = []
            fields = []
            for f in range(5):
                parts = [c[f] for c in pieces]
                if f == 3:
                    parts = [w if w.shape[1] == width else
                             np.pad(w, ((0, 0), (0, width - w.shape[1])),
                                    constant_values=np.nan) for w in parts]
                fields.append(np.concatenate(parts))
                for c in pieces:
                    c[f] = None
            self._chunks = [tuple(fields)]
        return self._chunks[0]
