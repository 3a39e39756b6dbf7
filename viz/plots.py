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
