"""Prototype: 300_intfire as NEURON's TQueue (least_ slot + FIFO splay tree) would deliver."""
import heapq, json, math, sys, csv
import h5py, numpy as np
D = '/work/shared/data/sonata-examples/300_intfire/'
SC = D + '../shared_components/'
def types(fn):
    rows = list(csv.DictReader(open(fn), delimiter=' '))
    return {int(r['edge_type_id' if 'edge_type_id' in r else 'node_type_id']): r for r in rows}
nt = types(D + 'network/v1_node_types.csv')
v1 = h5py.File(D + 'network/v1_nodes.h5')['nodes/v1']
ntid = v1['node_type_id'][:]
tau = np.empty(300); ref = np.empty(300)
for i in range(300):
    p = json.load(open(SC + 'point_neuron_models_dir/' + nt[int(ntid[i])]['dynamics_params']))
    tau[i] = p['tau'] * 1000.0; ref[i] = p['refrac'] * 1000.0
# netcons: (src_kind, src_id, target, weight, delay) in creation order
netcons = []
vecstims = []   # (pop, id) in creation order
def edges(name, pop, src_kind):
    et = types(D + f'network/{name}_edge_types.csv')
    g = h5py.File(D + f'network/{name}_edges.h5')['edges'][pop]
    src = g['source_node_id'][:]; trg = g['target_node_id'][:]; typ = g['edge_type_id'][:]
    nsyn = g['0/nsyns'][:]
    n2r = g['indices/target_to_source/node_id_to_range'][:]
    r2e = g['indices/target_to_source/range_to_edge_id'][:]
    for t in range(300):
        a, b = n2r[t]
        for r in range(a, b):
            for e in range(r2e[r, 0], r2e[r, 1]):
                assert trg[e] == t
                row = et[int(typ[e])]
                sign = json.load(open(SC + 'synaptic_models/' + row['dynamics_params']))['sign']
                w = float(row['syn_weight']) * sign * int(nsyn[e])
                if src_kind != 'v1' and (src_kind, int(src[e])) not in seen:
                    seen.add((src_kind, int(src[e]))); vecstims.append((src_kind, int(src[e])))
                netcons.append((src_kind, int(src[e]), t, w, float(row['delay'])))
seen = set()
edges('v1_v1', 'v1_to_v1', 'v1')
edges('lgn_v1', 'lgn_to_v1', 'lgn')
edges('tw_v1', 'tw_v1' if False else 'tw_to_v1', 'tw')
dil = {}
for nc in netcons:
    dil.setdefault((nc[0], nc[1]), []).append(nc)
trains = {}
for kind in ('lgn', 'tw'):
    f = h5py.File(D + f'inputs/{kind}_spikes.h5')
    gg = f['spikes/gids'][:]; tt = f['spikes/timestamps'][:]
    for g_, t_ in zip(gg, tt):
        trains.setdefault((kind, int(g_)), []).append(float(t_))
for k in trains: trains[k].sort()

class Q:
    def __init__(self): self.least = None; self.tree = []; self.seq = 0
    def insert(self, t, item):
        if self.least is not None and t < self.least[0] or self.least is None and not self.tree:
            if self.least is not None:
                self.seq += 1; heapq.heappush(self.tree, (self.least[0], self.seq, self.least[1]))
            self.least = (t, item)
        elif self.least is None:   # never: least is None only when empty
            raise RuntimeError
        else:
            self.seq += 1; heapq.heappush(self.tree, (t, self.seq, item))
    def dq(self):
        if self.least is None: return None
        q = self.least
        self.least = (lambda x: (x[0], x[2]))(heapq.heappop(self.tree)) if self.tree else None
        return q
q = Q()
# VecStim state
vidx = {v: 0 for v in vecstims}
for v in vecstims:          # INITIAL: element(); net_send(etime - t, 1) at t = 0
    tr = trains.get(v, [])
    if tr:
        vidx[v] = 1; q.insert(0.0 + (tr[0] - 0.0), ('vs', v))
m = np.zeros(300); t0 = np.zeros(300); refr = np.zeros(300, bool)
spikes = []
tstop = float(sys.argv[1]) if len(sys.argv) > 1 else 3000.0
def send(src, t):
    for nc in dil.get(src, []):
        q.insert(t + nc[4], ('nc', nc))
while True:
    e = q.dq()
    if e is None or e[0] > tstop: break
    t, (kind, x) = e
    if kind == 'vs':
        send(x, t)
        tr = trains[x]; i = vidx[x]
        if i < len(tr):
            et = tr[i]; vidx[x] = i + 1; q.insert(t + (et - t), ('vs', x))
    elif kind == 'self':
        c = x
        if refr[c]:
            refr[c] = False; m[c] = 0; t0[c] = t
    else:
        c = x[2]; w = x[3]
        if not refr[c]:
            m[c] = m[c] * math.exp(-(t - t0[c]) / tau[c]); t0[c] = t; m[c] = m[c] + w
            if m[c] > 1:
                refr[c] = True; m[c] = 2
                q.insert(t + ref[c], ('self', c))
                spikes.append((t, c)); send(('v1', c), t)
sp = np.array(spikes)
ref_ = h5py.File(D + 'output/spikes.h5')['spikes/v1']
rid = ref_['node_ids'][:]; rt = ref_['timestamps'][:]
o = np.lexsort((rid, rt)); rid, rt = rid[o], rt[o]
mine_t = sp[:, 0]; mine_id = sp[:, 1].astype(int)
o = np.lexsort((mine_id, mine_t)); mine_t, mine_id = mine_t[o], mine_id[o]
print('mine', len(mine_t), 'ref', len(rt))
n = min(len(rt), len(mine_t))
bad = np.flatnonzero((rid[:n] != mine_id[:n]) | (np.abs(rt[:n] - mine_t[:n]) > 1e-9))
print('first diff', bad[:3], (rt[bad[0]], rid[bad[0]], mine_t[bad[0]], mine_id[bad[0]]) if len(bad) else None)
print('max |dt|', np.abs(rt[:n] - mine_t[:n]).max())
