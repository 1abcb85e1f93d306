"""Latency distributions: statistics, TOML round trips, validation messages, buffered sampler."""

from __future__ import annotations

import json
import math
import pickle
import tomllib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.distributions import (
    KINDS,
    MAX_SAMPLE_MS,
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Lognormal,
    Mixture,
    Pareto,
    Sampler,
    Uniform,
    parse_distribution,
)
from sim.errors import ScenarioError
from tests.strategies import dists

N = 200_000  # draws per statistical check
Z = 5.0  # tolerance in standard errors: a false alarm about once in 3.5 million runs


def draw(dist: Distribution, seed: int = 1, size: int = N) -> np.ndarray:
    return dist.sample(np.random.default_rng(seed), size)


# --------------------------------------------------------------------------- statistics

FINITE_VARIANCE = [
    Constant(3.0),
    Uniform(1.0, 9.0),
    Exponential(5.0),
    Lognormal(1.0, 0.5),
    Pareto(2.0, 5.0),  # alpha > 4: the sample variance itself is stable
    Mixture(((0.9, Constant(1.0)), (0.1, Exponential(50.0)))),
    Empirical((1.0, 2.0, 2.0, 10.0)),
]


@pytest.mark.parametrize("dist", FINITE_VARIANCE, ids=lambda d: d.kind)
def test_sample_mean_matches_mean_within_standard_error(dist: Distribution) -> None:
    x = draw(dist)
    assert x.dtype == np.float64 and x.shape == (N,)
    se = x.std(ddof=1) / math.sqrt(N)
    assert abs(x.mean() - dist.mean) <= Z * se + 1e-12, (x.mean(), dist.mean, se)


def test_pareto_support_starts_at_xm_and_tail_follows_power_law() -> None:
    xm, alpha = 10.0, 1.5
    x = draw(Pareto(xm, alpha))
    assert x.min() >= xm
    for multiple in (1.5, 2.0, 5.0, 20.0):
        p = (1 / multiple) ** alpha  # P(X > x) = (xm / x)^alpha
        se = math.sqrt(p * (1 - p) / N)
        assert abs(np.mean(x > xm * multiple) - p) <= Z * se, multiple


def test_pareto_without_finite_mean_reports_inf() -> None:
    assert Pareto(1.0, 1.0).mean == math.inf
    assert Pareto(1.0, 0.5).mean == math.inf
    assert Pareto(1.0, 2.0).mean == 2.0
    assert Mixture(((0.5, Constant(1.0)), (0.5, Pareto(1.0, 0.9)))).mean == math.inf


def test_lognormal_median_is_e_to_mu() -> None:
    mu, sigma = 2.0, 0.75
    x = draw(Lognormal(mu, sigma))
    median = math.exp(mu)
    # Standard error of a sample median: 1 / (2 f(m) sqrt(N)), f(m) = 1 / (m sigma sqrt(2 pi)).
    se = median * sigma * math.sqrt(2 * math.pi) / (2 * math.sqrt(N))
    assert abs(np.median(x) - median) <= Z * se


def test_mixture_respects_normalised_weights() -> None:
    dist = Mixture(((3.0, Constant(1.0)), (1.0, Constant(2.0)), (4.0, Constant(3.0))))
    x = draw(dist)
    for value, p in ((1.0, 3 / 8), (2.0, 1 / 8), (3.0, 4 / 8)):
        se = math.sqrt(p * (1 - p) / N)
        assert abs(np.mean(x == value) - p) <= Z * se, value
    assert dist.mean == pytest.approx(3 / 8 + 2 / 8 + 12 / 8)


def test_empirical_draws_only_given_values_uniformly() -> None:
    samples = (0.5, 1.0, 4.0, 4.0, 9.25)
    x = draw(Empirical(samples))
    assert set(np.unique(x)) == set(samples)
    for value in set(samples):
        p = samples.count(value) / len(samples)
        se = math.sqrt(p * (1 - p) / N)
        assert abs(np.mean(x == value) - p) <= Z * se, value


def test_same_seed_same_draws() -> None:
    for dist in FINITE_VARIANCE:
        assert np.array_equal(draw(dist, seed=9, size=1000), draw(dist, seed=9, size=1000))


def test_heavy_tails_are_capped_not_infinite() -> None:
    for dist in (Pareto(1.0, 0.01), Lognormal(700.0, 50.0), Exponential(1e307)):
        x = draw(dist, size=10_000)
        assert np.isfinite(x).all() and x.max() == MAX_SAMPLE_MS


# --------------------------------------------------------------------------- round trips

ROUND_TRIP = [
    *FINITE_VARIANCE,
    Pareto(10.0, 1.5),
    Uniform(2.0, 2.0),
    Mixture(
        (
            (0.9, Constant(1.0)),
            (0.1, Mixture(((1.0, Pareto(10.0, 1.5)), (2.0, Empirical((3.0, 4.0)))))),
        )
    ),
]


@pytest.mark.parametrize("dist", ROUND_TRIP, ids=lambda d: d.kind)
def test_parse_of_to_dict_gives_back_the_distribution(dist: Distribution) -> None:
    assert parse_distribution(dist.to_dict(), "network.latency") == dist
    via_json = json.loads(json.dumps(dist.to_dict()))
    assert parse_distribution(via_json, "network.latency") == dist
    assert pickle.loads(pickle.dumps(dist)) == dist
    assert isinstance(dist, Distribution)
    hash(dist)


def test_toml_tables_from_design_parse() -> None:
    doc = tomllib.loads(
        """
        a = { dist = "exponential", mean = 5 }
        b = { dist = "mixture", parts = [{weight = 0.9, dist = "constant", value = 1},
                                         {weight = 0.1, dist = "pareto", xm = 10, alpha = 1.5}] }
        c = { dist = "empirical", samples = [1, 2, 3] }
        d = { dist = "lognormal", mu = 0, sigma = 1 }
        e = { dist = "uniform", low = 1, high = 2 }
        """
    )
    assert parse_distribution(doc["a"], "a") == Exponential(5.0)
    assert parse_distribution(doc["b"], "b") == Mixture(
        ((0.9, Constant(1.0)), (0.1, Pareto(10.0, 1.5)))
    )
    assert parse_distribution(doc["c"], "c") == Empirical((1.0, 2.0, 3.0))
    assert parse_distribution(doc["d"], "d") == Lognormal(0.0, 1.0)
    assert parse_distribution(doc["e"], "e") == Uniform(1.0, 2.0)
    assert isinstance(parse_distribution(doc["a"], "a").mean, float)  # ints become floats


# --------------------------------------------------------------------------- validation

P = "network.latency"
ALLOWED = "constant, empirical, exponential, lognormal, mixture, pareto, uniform"
BAD = [
    (5, f'{P}: must be a table like {{dist = "exponential", mean = 5.0}} (got 5)'),
    ({"mean": 5.0}, f"{P}.dist: missing (allowed: {ALLOWED})"),
    ({"dist": 5}, f"{P}.dist: must be a string (allowed: {ALLOWED}; got 5)"),
    ({"dist": "gauss"}, f"{P}.dist: unknown 'gauss' (allowed: {ALLOWED})"),
    ({"dist": "exponential", "meen": 5}, f"{P}: unknown key 'meen' (allowed: dist, mean)"),
    ({"dist": "exponential"}, f"{P}.mean: missing (dist 'exponential' needs: mean)"),
    ({"dist": "exponential", "mean": -1}, f"{P}.mean: must be > 0 (got -1.0)"),
    ({"dist": "exponential", "mean": 0}, f"{P}.mean: must be > 0 (got 0.0)"),
    ({"dist": "exponential", "mean": True}, f"{P}.mean: must be a number (got True)"),
    ({"dist": "exponential", "mean": "5"}, f"{P}.mean: must be a number (got '5')"),
    ({"dist": "exponential", "mean": math.inf}, f"{P}.mean: must be finite (got inf)"),
    ({"dist": "exponential", "mean": math.nan}, f"{P}.mean: must be finite (got nan)"),
    ({"dist": "exponential", "mean": 10**400}, f"{P}.mean: must be finite (got {10**400!r})"),
    ({"dist": "constant", "value": -0.5}, f"{P}.value: must be >= 0 (got -0.5)"),
    ({"dist": "uniform", "low": 2, "high": 1}, f"{P}.high: must be >= {P}.low (got 1.0 < 2.0)"),
    ({"dist": "uniform", "low": -1, "high": 1}, f"{P}.low: must be >= 0 (got -1.0)"),
    ({"dist": "uniform", "low": 1}, f"{P}.high: missing (dist 'uniform' needs: low, high)"),
    (
        {"dist": "uniform", "low": 1, "high": 2, "mean": 1},
        f"{P}: unknown key 'mean' (allowed: dist, high, low)",
    ),
    ({"dist": "lognormal", "mu": "a", "sigma": 1}, f"{P}.mu: must be a number (got 'a')"),
    ({"dist": "lognormal", "mu": 0, "sigma": -0.5}, f"{P}.sigma: must be >= 0 (got -0.5)"),
    ({"dist": "pareto", "xm": 0, "alpha": 1}, f"{P}.xm: must be > 0 (got 0.0)"),
    ({"dist": "pareto", "xm": 1, "alpha": -1}, f"{P}.alpha: must be > 0 (got -1.0)"),
    ({"dist": "pareto", "alpha": 1}, f"{P}.xm: missing (dist 'pareto' needs: xm, alpha)"),
    (
        {"dist": "empirical", "samples": []},
        f"{P}.samples: must not be empty (a list of numbers >= 0)",
    ),
    (
        {"dist": "empirical", "samples": "1,2"},
        f"{P}.samples: must be a list of numbers >= 0 (got '1,2')",
    ),
    ({"dist": "empirical", "samples": [1, -2]}, f"{P}.samples[1]: must be >= 0 (got -2.0)"),
    ({"dist": "empirical", "samples": [1, True]}, f"{P}.samples[1]: must be a number (got True)"),
    (
        {"dist": "mixture", "parts": []},
        f"{P}.parts: must not be empty (a list of tables with a weight)",
    ),
    (
        {"dist": "mixture", "parts": [{"weight": 1, "dist": "constant", "value": 1}, 3]},
        f'{P}.parts[1]: must be a table like {{dist = "exponential", mean = 5.0}} (got 3)',
    ),
    (
        {"dist": "mixture", "parts": [{"dist": "constant", "value": 1}]},
        f"{P}.parts[0].weight: missing (each part needs a weight > 0)",
    ),
    (
        {"dist": "mixture", "parts": [{"weight": 0, "dist": "constant", "value": 1}]},
        f"{P}.parts[0].weight: must be > 0 (got 0.0)",
    ),
    (
        {"dist": "mixture", "parts": [{"weight": 1, "dist": "constant", "value": 1, "mean": 2}]},
        f"{P}.parts[0]: unknown key 'mean' (allowed: dist, value, weight)",
    ),
    (
        {
            "dist": "mixture",
            "parts": [
                {"weight": 0.9, "dist": "constant", "value": 1},
                {"weight": 0.1, "dist": "pareto", "xm": 10, "alpha": -1.5},
            ],
        },
        f"{P}.parts[1].alpha: must be > 0 (got -1.5)",
    ),
    (
        {"dist": "mixture", "parts": [{"weight": 1, "dist": "gauss"}]},
        f"{P}.parts[0].dist: unknown 'gauss' (allowed: {ALLOWED})",
    ),
    (
        {"dist": "mixture", "parts": [{"weight": 1, "dist": "exponential", "mean": 1}], "x": 1},
        f"{P}: unknown key 'x' (allowed: dist, parts)",
    ),
]


@pytest.mark.parametrize(("spec", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_tables_raise_one_line_naming_path_and_allowed_values(spec: object, message: str):
    with pytest.raises(ScenarioError) as info:
        parse_distribution(spec, P)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Exponential(-1), "exponential.mean: must be > 0 (got -1.0)"),
        (lambda: Uniform(3, 1), "uniform.high: must be >= uniform.low (got 1.0 < 3.0)"),
        (lambda: Empirical(()), "empirical.samples: must not be empty (a list of numbers >= 0)"),
        (lambda: Mixture(((1.0, 5.0),)), "mixture.parts[0]: must hold a distribution (got 5.0)"),
        (lambda: Mixture(((0, Constant(1)),)), "mixture.parts[0].weight: must be > 0 (got 0.0)"),
    ],
)
def test_constructors_validate_too(build, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        build()
    assert str(info.value) == message


def test_kinds_are_the_documented_ones() -> None:
    assert ", ".join(KINDS) == ALLOWED


# --------------------------------------------------------------------------- Sampler


def test_sampler_is_deterministic_and_equals_blocks_of_draws() -> None:
    dist = Exponential(5.0)
    a = Sampler(dist, np.random.default_rng(42), block=100)
    b = Sampler(dist, np.random.default_rng(42), block=100)
    got = [a() for _ in range(1050)]
    assert got == [b.next() for _ in range(1050)]
    rng = np.random.default_rng(42)
    expected = np.concatenate([dist.sample(rng, 100) for _ in range(11)])[:1050]
    assert got == expected.tolist()
    assert all(type(v) is float for v in got)


def test_sampler_call_and_next_share_one_stream() -> None:
    s = Sampler(Uniform(0.0, 1.0), np.random.default_rng(3), block=8)
    t = Sampler(Uniform(0.0, 1.0), np.random.default_rng(3), block=8)
    mixed = [s() if i % 2 else s.next() for i in range(20)]
    assert mixed == [t() for _ in range(20)]


def test_sampler_of_constant_draws_nothing() -> None:
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    s = Sampler(Constant(2.5), rng)
    assert [s() for _ in range(5)] == [2.5] * 5
    assert rng.bit_generator.state == state


def test_sampler_rejects_bad_block_and_pickling() -> None:
    with pytest.raises(ValueError, match="block"):
        Sampler(Exponential(1.0), np.random.default_rng(0), block=0)
    s = Sampler(Exponential(1.0), np.random.default_rng(0))
    assert "Exponential" in repr(s)
    with pytest.raises(TypeError):
        pickle.dumps(s)


# --------------------------------------------------------------------------- properties


@given(dist=dists, seed=st.integers(0, 2**32 - 1))
def test_samples_are_finite_and_nonnegative_for_any_valid_parameters(dist, seed) -> None:
    x = draw(dist, seed=seed, size=500)
    assert x.shape == (500,) and x.dtype == np.float64
    assert np.isfinite(x).all() and (x >= 0).all()
    assert parse_distribution(dist.to_dict(), P) == dist
    assert dist.mean >= 0 and not math.isnan(dist.mean)
