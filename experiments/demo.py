"""make demo: a flash sale under a 2|3 partition in every consistency mode, side by side.

Runs scenarios/flash_sale_partition.toml once per mode with the same seed,
prints a table of the headline metrics and writes a figure of units
acknowledged against stock over time (figures/demo.png).

    python experiments/demo.py [--seed N] [--out figures/demo.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sim import Result, load_scenario, run
from sim.cli import progress_bar
from sim.plugins import MODES

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "flash_sale_partition.toml"

MINORITY = "side:0"
"""A column: availability during the fault of clients homed on the side holding node 0."""
MAJORITY = "side:-0"
"""A column: the same for the other side."""

COLUMNS = [
    ("availability", "avail", "{:.3f}"),
    ("availability_during_faults", "avail@fault", "{:.3f}"),
    (MINORITY, "minority", "{:.3f}"),
    ("orders_acknowledged", "orders ok", "{}"),
    ("oversell_units", "oversell", "{}"),
    ("lost_orders", "lost", "{}"),
    ("apologies", "apologies", "{}"),
    ("held_units", "held", "{}"),
    ("stale_reads", "stale", "{:.3f}"),
    ("convergence_ms", "conv ms", "{:.0f}"),
    ("latency_ms.p99", "p99 ms", "{:.1f}"),
    ("latency_ms_all.p99", "p99 all", "{:.1f}"),
    ("messages.per_request", "msgs/req", "{:.1f}"),
]

ROUTING_COLUMNS = [
    ("availability_during_faults", "avail@fault", "{:.3f}"),
    (MINORITY, "minority side", "{:.3f}"),
    (MAJORITY, "majority side", "{:.3f}"),
    ("orders_acknowledged", "orders ok", "{}"),
    ("latency_ms.p99", "p99 ms", "{:.1f}"),
]


def side(metrics: dict, with_node_0: bool) -> float | None:
    """Availability during the first split of the clients homed with (or without) node 0."""
    for entry in metrics.get("availability_by_side") or []:
        if entry["fault"] == 0 and (0 in entry["side"]) == with_node_0:
            return entry["availability"]
    return None


def cell(metrics: dict, name: str, fmt: str) -> str:
    """One table cell: the metric at a dotted name, formatted, or 'null'."""
    value: Any = metrics
    if name in (MINORITY, MAJORITY):
        value = side(metrics, name == MINORITY)
    for part in () if name in (MINORITY, MAJORITY) else name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return fmt.format(value)


CONTENTION_COLUMNS = [
    ("requests", "requests", "{}"),
    ("orders_acknowledged", "orders ok", "{}"),
    ("throughput_per_s", "ok/s", "{:.1f}"),
    ("latency_ms.p50", "p50 ms", "{:.1f}"),
    ("latency_ms.p99", "p99 ms", "{:.1f}"),
    ("retries", "retries", "{}"),
    ("aborts", "aborts", "{}"),
    ("lock_waits", "lock waits", "{}"),
    ("lock_expiries", "expiries", "{}"),
    ("oversell_units", "oversell", "{}"),
]


def table(rows: list[tuple[str, dict]], columns: list = COLUMNS, first: str = "mode") -> str:
    """A fixed-width text table: one row per run."""
    header = [first] + [label for _, label, _ in columns]
    body = [[name] + [cell(m, metric, fmt) for metric, _, fmt in columns] for name, m in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def acknowledged_over_time(result: Result) -> tuple[list[float], list[int]]:
    """Cumulative units the customers were told they bought, at each acknowledgement."""
    times, units, total = [0.0], [0], 0
    for op in result.history:
        if op.f == "order" and op.type == "ok" and op.value.get("outcome") == "confirmed":
            total += op.value["units"]
            times.append(op.time / 1000.0)
            units.append(total)
    return times, units


def figure(results: list[tuple[str, Result]], out: Path) -> None:
    """Units acknowledged vs stock over time, one line per mode, faults shaded."""
    scenario = results[0][1].scenario
    stock = scenario.workload.stock * scenario.workload.products
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for fault in scenario.faults:
        end = fault.end_ms if fault.end_ms is not None else scenario.end_ms
        ax.axvspan(fault.start_ms / 1000, end / 1000, color="0.9", zorder=0)
        ax.text(fault.start_ms / 1000 + 0.2, stock * 0.05, fault.kind, color="0.4")
    for mode, result in results:
        times, units = acknowledged_over_time(result)
        (line,) = ax.step(times, units, where="post", label=f"{mode}")
        apologies = result.metrics["apologies"]
        if apologies:
            # What the customers keep once the merge has cancelled the oversold orders.
            kept = units[-1] - apologies * scenario.workload.units_per_order
            ax.annotate(
                f"{mode} after the merge: {kept} kept, {apologies} apologies",
                xy=(times[-1], kept),
                xytext=(times[-1] * 0.5, kept * 0.25),
                color=line.get_color(),
                arrowprops={"arrowstyle": "->", "color": line.get_color()},
            )
    ax.axhline(stock, color="black", linestyle="--", linewidth=1, label=f"stock ({stock})")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("units acknowledged to customers")
    ax.set_title(
        f"{scenario.name or SCENARIO.stem}: seed {scenario.seed}, "
        f"{scenario.cluster.nodes} nodes, N={scenario.cluster.replication}"
    )
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def with_bar(label: str, scenario) -> Result:
    """Run one scenario with a progress bar over simulated time."""
    with progress_bar(label) as bar:

        def advance(done: float, total: float) -> None:
            bar.n = round(100 * done / total)
            bar.refresh()

        return run(scenario, progress=advance)


def contention(base, seed: int | None) -> list[tuple[str, dict]]:
    """Strong mode, no faults, 20 units: occ and lock under low and high contention."""
    rows = []
    for name, customers, gap in (("low", 20, 500.0), ("high", 200, 10.0)):
        for concurrency in ("occ", "lock"):
            scenario = base.with_overrides(
                {
                    "cluster.mode": "strong",
                    "shop.concurrency": concurrency,
                    "faults": [],
                    "workload.stock": 20,
                    "workload.customers": customers,
                    "workload.arrival_mean_ms": gap,
                }
            )
            label = f"{concurrency}, {name}"
            rows.append((label, with_bar(f"{label:>10}", scenario).metrics))
    return rows


def routings(base, modes: list[str]) -> list[tuple[str, dict]]:
    """Each mode under the partition with each way for clients to reach the cluster."""
    rows = []
    for mode in modes:
        for routing in ("home", "side", "any"):
            scenario = base.with_overrides({"cluster.mode": mode, "workload.routing": routing})
            label = f"{mode}, {routing}"
            rows.append((label, with_bar(f"{label:>14}", scenario).metrics))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "figures" / "demo.png")
    args = parser.parse_args(argv)
    base = load_scenario(SCENARIO, seed=args.seed)
    modes = list(MODES.names())
    results: list[tuple[str, Result]] = []
    for mode in modes:
        results.append((mode, with_bar(f"{mode:>10}", base.with_overrides({"cluster.mode": mode}))))
    routed = routings(base, modes)
    races = contention(base, args.seed) if "strong" in MODES else []
    w = base.workload
    print(
        f"\nFlash sale: {w.customers} customers, {w.products} product x {w.stock} units; "
        f"partition {[list(g) for g in base.faults[0].groups]} from "
        f"{base.faults[0].start_ms / 1000:g}s to {base.faults[0].end_ms / 1000:g}s; "
        f"seed {base.seed}\n"
    )
    print(table([(mode, r.metrics) for mode, r in results]))
    print(
        "\nThe same partition, by how clients reach the cluster: home (tied to their node), "
        "side (any node on their side of the cut), any (a load balancer; the default)\n"
    )
    print(table(routed, ROUTING_COLUMNS, "mode, routing"))
    if races:
        print(
            "\nocc vs lock in strong mode, 20 units, no faults: low contention (20 buyers, "
            "2/s) and high (200 buyers, 100/s)\n"
        )
        print(table(races, CONTENTION_COLUMNS, "control"))
    figure(results, args.out)
    print(f"\nfigure: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
