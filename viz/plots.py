"""Static pictures with matplotlib (headless: the Agg backend)."""


def plot_traces(traces, path, title="", labels=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=120)
    for k, tr in enumerate(traces):
        sec, x = tr.location
        label = labels[k] if labels else f"{tr.variable} section {sec} ({x:g})"
        ax.plot(tr.times, tr.values, lw=1.0, label=label)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("membrane potential (mV)")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_raster(gids, times, path, groups=(), title="", tstop=None):
    """A spike raster: one dot per spike at (time, gid); ``groups`` [(name, first gid,
    last gid + 1)] are coloured and labelled, bottom to top."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    gids, times = np.asarray(gids), np.asarray(times)
    fig, ax = plt.subplots(figsize=(10, 5), dpi=120, layout="constrained")
    groups = list(groups) or [("spikes", int(gids.min(initial=0)), int(gids.max(initial=0)) + 1)]
    for k, (name, lo, hi) in enumerate(groups):
        sel = (gids >= lo) & (gids < hi)
        rate = sel.sum() / max(hi - lo, 1) / ((tstop or max(times.max(initial=1.0), 1.0))
                                              / 1000.0)
        ax.scatter(times[sel], gids[sel], s=2, color=f"C{k}",
                   label=f"{name} ({hi - lo} cells, {rate:.1f} Hz)")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("gid")
    if tstop:
        ax.set_xlim(0, tstop)
    if title:
        ax.set_title(title)
    # the legend right of the axes, never over the spikes
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8,
              markerscale=4)
    fig.savefig(path)
    plt.close(fig)
    return path
