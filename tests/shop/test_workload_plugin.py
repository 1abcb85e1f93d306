"""A workload is one module: a workload defined here is registered, loaded from TOML and run.

`WindowShopping` customers look at a few products and never buy. Nothing
outside this file knows it: registering its `WorkloadSpec` is enough for a
scenario to name it in `workload.kind`, give its `[workload.<kind>]` table
(or its keys flat), and run it with every mode.
"""

from __future__ import annotations

import pytest
from pydantic import Field

from sim import load_scenario, run
from sim.client import Proc, StoreClient
from sim.config.workload import WorkloadConfig, WorkloadSettings
from sim.history import INVOKE, Op
from sim.plugins import WORKLOADS
from sim.shop.model import product_key
from sim.shop.workloads.base import OUTCOME, Arrivals, Shop, WorkloadSpec


class WindowShoppingSettings(WorkloadSettings):
    """`[workload.window-shopping]`: how many product pages a customer looks at."""

    pages: int = Field(2, ge=1)


class WindowShopping(Arrivals):
    """Each customer reads `pages` products chosen uniformly, as `look` shop operations."""

    def __init__(self, shop: Shop, config: WorkloadConfig, settings: WindowShoppingSettings):
        super().__init__(shop, config, self._visit)
        self.pages = settings.pages
        self.choices = shop.streams.get("customers")

    def _visit(self, customer: int, client: StoreClient) -> None:
        self.shop.env.process(self._look(client))

    def _look(self, client: StoreClient) -> Proc:
        env, history = self.shop.env, self.shop.history
        for _ in range(self.pages):
            key = product_key(int(self.choices.integers(self.config.products)))
            history.append(Op(client.process, INVOKE, "browse", key, None, env.now))
            read = yield from client.read(key, env.now + self.config.timeout_ms)
            history.append(Op(client.process, OUTCOME[read.status], "browse", key, None, env.now))


WORKLOAD = WorkloadSpec(
    name="window-shopping", settings=WindowShoppingSettings, build=WindowShopping
)

SCENARIO = """
seed = 2
duration_ms = 2000
settle_ms = 1000

[cluster]
mode = "weak"

[workload]
kind = "window-shopping"
products = 4
customers = 30
arrival_mean_ms = 20

[workload.window-shopping]
pages = 3
"""


@pytest.mark.parametrize("mode", ["strong", "weak", "eventual"])
def test_a_workload_defined_in_one_file_runs_from_toml(plugin, toml_file, mode) -> None:
    plugin(WORKLOADS, WORKLOAD)
    path = toml_file(SCENARIO)
    scenario = load_scenario(path, [f"cluster.mode={mode}"])
    assert scenario.workload.settings.pages == 3
    assert load_scenario(path, ["workload.pages=3"]) == load_scenario(path)  # flat key too
    result = run(scenario)
    looks = [op for op in result.history if op.f == "browse" and op.type == INVOKE]
    assert len(looks) == 30 * 3 == result.metrics["requests"]
    assert result.metrics["orders_acknowledged"] == 0
    assert result.metrics["availability"] > 0.9
