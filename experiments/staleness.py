"""PBS staleness: how long after a write commits does a read see it, for every R, W of N = 3?

Bailis et al., "Probabilistically Bounded Staleness for Practical Partial
Quorums" (VLDB 2012), run inside the simulator: the probe workload
(sim/shop/workloads/probe.py) writes versions and reads each at a grid of
offsets t after its commit, with read repair and anti-entropy off. Three
latency profiles, one scenario file each, differ only in their [network]:
scenarios/staleness_exponential.toml (PBS's synthetic check: writes 10 ms,
everything else 1 ms), staleness_mixture.toml (PBS's long-tailed LinkedIn disk
fit, writes slower than reads) and staleness_wan.toml (the exponential profile
over two data centres, 75 ms between them). For each profile and every R, W
in 1..3: P(consistent) against t, the 99.9% t-visibility (`t_999_ms`, the
first t with P(consistent) >= 0.999) and the probe's read and write p99.
R + W > N is consistent at t = 0 (every read quorum meets every write quorum)
and pays for it in read or write latency.

One seed by default: the probe's 10,000 trials per run are its sample (--quick:
500). With --seeds K the curves pool the K runs' reads.

    python experiments/staleness.py [--quick] [--seeds N]

Writes results/staleness[-quick].csv (the sweep, one row per run; the curves
are list cells), results/staleness-curves[-quick].csv (one row per profile,
R, W and offset) and figures/staleness[-quick].png.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
import matplotlib.pyplot as plt
import pandas as pd

from sim import Scenario, load_scenario
from sim.metrics.visibility import first_reaching, wilson

PROFILES = {
    "exponential": "staleness_exponential.toml",
    "mixture": "staleness_mixture.toml",
    "wan": "staleness_wan.toml",
}
"""Short name -> scenario file; the files differ only in `name` and [network]."""
TITLES = {
    "exponential": "exponential: W 10 ms, A = R = S 1 ms",
    "mixture": "long-tailed mixture (LinkedIn disk fit)",
    "wan": "two zones, +75 ms between them",
}
N = 3
QUICK_TRIALS = 500
LEVEL = 0.999
"""The consistency level the table reports (t_999_ms)."""


def profiles() -> dict[str, Scenario]:
    """Each profile's scenario, checked to differ from the first only in `name` and [network].

    Raises:
        SystemExit: a profile file changed more than its network (the sweep would
            silently run it with the first file's other settings).
    """
    loaded = {short: load_scenario(common.SCENARIOS / file) for short, file in PROFILES.items()}
    first, *_ = loaded.values()
    shared = _without_network(first)
    for short, scenario in loaded.items():
        if _without_network(scenario) != shared:
            raise SystemExit(
                f"scenarios/{PROFILES[short]}: differs from scenarios/"
                f"{PROFILES['exponential']} outside name and [network]; keep the rest equal"
            )
    return loaded


def _without_network(scenario: Scenario) -> dict[str, Any]:
    raw = scenario.to_dict()
    raw.pop("name", None)
    raw.pop("network", None)
    return raw


def points(loaded: dict[str, Scenario]) -> list[dict[str, Any]]:
    """Every profile's name and network with every (R, W) of N = 3."""
    return [
        {
            "name": scenario.name,
            "network": scenario.to_dict()["network"],
            "cluster.read_quorum": r,
            "cluster.write_quorum": w,
        }
        for scenario in loaded.values()
        for r in range(1, N + 1)
        for w in range(1, N + 1)
    ]


def base(loaded: dict[str, Scenario], quick: bool) -> Scenario:
    """The first profile; --quick runs fewer trials."""
    first = next(iter(loaded.values()))
    return first.with_overrides({"workload.probe.trials": QUICK_TRIALS}) if quick else first


def label(frame: pd.DataFrame, loaded: dict[str, Scenario]) -> pd.DataFrame:
    """Short `profile`, `R`, `W` columns."""
    short = {scenario.name: name for name, scenario in loaded.items()}
    return frame.assign(
        profile=frame["name"].map(lambda n: short.get(n, n)),
        R=frame["cluster.read_quorum"],
        W=frame["cluster.write_quorum"],
    )


def curves(frame: pd.DataFrame) -> pd.DataFrame:
    """The t-visibility curves, one row per (profile, R, W, offset), the seeds' reads pooled.

    Columns: profile, R, W, offset_ms, reads, consistent, p_consistent, ci_low,
    ci_high (a 95% Wilson interval, as the metric's own `ci95`).
    """
    ok = frame[frame["error"].isna()]
    rows = []
    for _, run in ok.iterrows():
        offsets = run["t_visibility_offsets_ms"]
        shares = run["t_visibility_p_consistent"]
        reads = run["t_visibility_reads"]
        for t, p, n in zip(offsets, shares, reads, strict=True):
            if p is not None and n:
                rows.append(
                    {
                        "profile": run["profile"],
                        "R": run["R"],
                        "W": run["W"],
                        "offset_ms": float(t),
                        "reads": n,
                        "consistent": round(p * n),
                    }
                )
    tidy = (
        pd.DataFrame(rows)
        .groupby(["profile", "R", "W", "offset_ms"], sort=False, as_index=False)[
            ["reads", "consistent"]
        ]
        .sum()
    )
    tidy["p_consistent"] = tidy["consistent"] / tidy["reads"]
    bounds = [
        wilson(int(c), int(n)) for c, n in zip(tidy["consistent"], tidy["reads"], strict=True)
    ]
    tidy["ci_low"] = [low for low, _ in bounds]
    tidy["ci_high"] = [high for _, high in bounds]
    return tidy


def table(frame: pd.DataFrame, tidy: pd.DataFrame) -> pd.DataFrame:
    """Per (profile, R, W): P(consistent) at t = 0, t_999_ms, read and write p99 (ms)."""
    latency = (
        frame[frame["error"].isna()]
        .groupby(["profile", "R", "W"], sort=False, as_index=False)[
            ["read_latency_ms_p99", "write_latency_ms_p99"]
        ]
        .mean()
    )
    rows = []
    for (profile, r, w), group in tidy.groupby(["profile", "R", "W"], sort=False):
        group = group.sort_values("offset_ms")
        offsets, shares = list(group["offset_ms"]), list(group["p_consistent"])
        rows.append(
            {
                "profile": profile,
                "R": r,
                "W": w,
                "p_consistent_0": shares[0] if offsets[0] == 0.0 else float("nan"),
                "t_999_ms": first_reaching(offsets, shares, LEVEL),
            }
        )
    return pd.DataFrame(rows).merge(latency, on=["profile", "R", "W"])


def _offset_axis(ax: Any) -> None:
    """Symlog x: linear from 0 to 1 ms (so t = 0 is drawn where it is), log beyond."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
    ax.set_xlim(left=0.0)
    ax.set_xticks([0, 1, 10, 100, 1000])
    ax.set_xticklabels(["0", "1", "10", "100", "1000"])


def plot(tidy: pd.DataFrame, args: Any) -> list[Path]:
    """P(consistent) (top) and P(stale) on a log scale (bottom) against t, a column per profile."""
    names = [p for p in PROFILES if p in set(tidy["profile"])]
    fig, axes = plt.subplots(2, len(names), figsize=(5.2 * len(names), 8), squeeze=False)
    colours = plt.get_cmap("tab10")
    quorums = sorted({(int(r), int(w)) for r, w in zip(tidy["R"], tidy["W"], strict=True)})
    for col, profile in enumerate(names):
        top, bottom = axes[0][col], axes[1][col]
        part = tidy[tidy["profile"] == profile]
        for i, (r, w) in enumerate(quorums):
            group = part[(part["R"] == r) & (part["W"] == w)].sort_values("offset_ms")
            if group.empty:
                continue
            strict = r + w > N
            style = {
                "color": colours(i),
                "linestyle": "--" if strict else "-",
                "marker": "." if strict else "o",
                "markersize": 3,
                "label": f"R={r} W={w}" + (" (R+W>N)" if strict else ""),
            }
            top.plot(group["offset_ms"], group["p_consistent"], **style)
            top.fill_between(
                group["offset_ms"], group["ci_low"], group["ci_high"], color=colours(i), alpha=0.2
            )
            stale = 1.0 - group["p_consistent"]
            # No stale read at all is 0, which a log axis cannot show: the line stops there.
            bottom.plot(group["offset_ms"], stale.where(stale > 0.0), **style)
        top.axhline(LEVEL, color="grey", linestyle=":", linewidth=1)
        bottom.axhline(1.0 - LEVEL, color="grey", linestyle=":", linewidth=1, label="0.001")
        top.set_ylim(0.0, 1.02)
        top.set_title(TITLES.get(profile, profile))
        top.set_ylabel("P(read sees the write)")
        bottom.set_yscale("log")
        bottom.set_ylim(5e-5, 1.0)
        bottom.set_ylabel("P(stale read), log scale (none: line ends)")
        for ax in (top, bottom):
            _offset_axis(ax)
            ax.set_xlabel("t after the commit (ms; linear below 1, log above)")
            ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[1][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    trials = int(tidy.groupby(["profile", "R", "W", "offset_ms"])["reads"].sum().max())
    fig.suptitle(
        f"t-visibility, N={N}, probe in eventual mode: {trials:,} reads per point "
        f"({args.seeds} seed{'s' if args.seeds > 1 else ''}), 95% Wilson bands"
    )
    return [common.save(fig, "staleness", args.quick, legend_below=True)]


def summary_lines(summary: pd.DataFrame) -> list[str]:
    """The t_999 table per (R, W) and profile, then read / write p99 per (R, W) and profile."""
    names = [p for p in PROFILES if p in set(summary["profile"])]
    cells = summary.set_index(["R", "W", "profile"])
    quorums = sorted({(int(r), int(w)) for r, w, _ in cells.index})

    def row(r: int, w: int, cell: Any) -> str:
        text = [cell(cells.loc[(r, w, p)]) if (r, w, p) in cells.index else "-" for p in names]
        return f"  {r} {w}  " + "".join(f"{t:>22}" for t in text)

    def visibility(c: pd.Series) -> str:
        t = c["t_999_ms"]
        return f"{'never' if t is None or pd.isna(t) else f'{t:.1f}'} ({c['p_consistent_0']:.3f})"

    def latency(c: pd.Series) -> str:
        return f"{c['read_latency_ms_p99']:.1f} / {c['write_latency_ms_p99']:.1f}"

    header = "  R W  " + "".join(f"{p:>22}" for p in names)
    return [
        f"t_999_ms (first t with P(consistent) >= {LEVEL}) and, in brackets, P(consistent) at t=0:",
        header,
        *(row(r, w, visibility) for r, w in quorums),
        "read p99 / write p99 of the probe (ms):",
        header,
        *(row(r, w, latency) for r, w in quorums),
    ]


def _shown(path: Path) -> str:
    return str(path.relative_to(common.ROOT)) if path.is_relative_to(common.ROOT) else str(path)


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Run the sweep, write the curves, plot, print the table; returns the labelled sweep."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = common.arguments(__doc__, argv)
    if not any(a == "--seeds" or a.startswith("--seeds=") for a in argv):
        args.seeds = 1  # the probe's trials are the sample; more seeds only multiply them
    loaded = profiles()
    frame = common.run_sweep("staleness", base(loaded, args.quick), args, overrides=points(loaded))
    path = frame.attrs["path"]
    frame = label(frame, loaded)
    tidy = curves(frame)
    out = common.RESULTS / f"staleness-curves{'-quick' if args.quick else ''}.csv"
    tidy.to_csv(out, index=False)
    summary = table(frame, tidy)
    common.report(path, plot(tidy, args), [f"curves: {_shown(out)}", *summary_lines(summary)])
    return frame


if __name__ == "__main__":
    main(sys.argv[1:])
