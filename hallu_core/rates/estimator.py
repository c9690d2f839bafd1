"""A hallucination rate over a set of stored outputs, from a few labels and a detector's scores.

The estimand is the share of *these* outputs (a group: a checkpoint's generations, a task's rows)
that a person would call hallucinated. Three kinds of information:

- labels on a random sample (drawn at random by the Label queue, or imported gold, assumed random);
- labels on items chosen otherwise (score order, a deep link): their outcome is known exactly,
  but they are no sample of anything, so they form a *census stratum*: counted as they are, never
  used to learn about the rest;
- the detector's calibrated response score f on every output.

The rest of the group (outputs not in the census stratum) is estimated by the regression estimator
of survey sampling (Cochran, Sampling Techniques, ch. 7): ȳ_reg = ȳ + b (F̄ - f̄), with b the
least-squares slope of the random labels on the scores, F̄ the mean score over the rest and ȳ, f̄
the sample means. It is prediction-powered inference (PPI++, Angelopoulos et al. 2023) for a mean,
with a finite-population correction because the population is the stored outputs themselves:
Var = (1 - n/M) S²_e / n with e the regression residuals, so the detector narrows the interval by
the share of label variance its scores explain (a useless detector gets b ~ 0: labels alone). A
normal 95% interval needs enough labels: under MIN_LABELS random labels, or when they carry no
variance, the rest is estimated from the labels alone with a Wilson interval (finite-population
corrected through the effective sample size).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

MIN_LABELS = 20  # random labels below which the regression estimator's normal interval is not trusted
LABELS_AND_DETECTOR = "labels + detector (regression estimator)"
LABELS_ONLY = "labels only (Wilson)"
DETECTOR_ONLY = "detector only (no interval)"
CENSUS = "labels (every output)"
NONE = "none"


@dataclass(frozen=True)
class Estimate:
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    method: str


def z_of(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(positives: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score interval for a proportion (n may be an effective, non-integer size)."""
    p = positives / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Sample:
    """A random sample of labeled outputs as sums: n, Σy, and with a detector Σf, Σyf, Σf² (else zeros)."""
    n: int
    sum_y: float
    sum_f: float = 0.0
    sum_yf: float = 0.0
    sum_ff: float = 0.0

    @classmethod
    def of(cls, y, f=None) -> "Sample":
        y = np.asarray(y, dtype=float)
        f = np.zeros(len(y)) if f is None else np.asarray(f, dtype=float)
        return cls(len(y), float(y.sum()), float(f.sum()), float(y @ f), float(f @ f))


def _rest_estimate(s: Sample, f_rest_mean: float | None, rest: int, z: float) -> tuple[float, float, float, str]:
    """Mean outcome of the `rest` outputs from a random sample of them: (estimate, low, high, method)."""
    n, y_bar = s.n, s.sum_y / s.n
    fpc = max(0.0, 1.0 - n / rest)
    f_bar = s.sum_f / n
    s_ff = s.sum_ff - n * f_bar ** 2  # centred sums of squares and products
    s_yf = s.sum_yf - n * y_bar * f_bar
    s_yy = s.sum_y - n * y_bar ** 2  # y is 0/1: Σy² = Σy
    if fpc == 0.0:  # every output of the rest was labeled
        return y_bar, y_bar, y_bar, CENSUS
    if f_rest_mean is not None and n >= MIN_LABELS and 0.0 < y_bar < 1.0 and s_ff > 1e-12 * n:
        slope = s_yf / s_ff
        estimate = y_bar + slope * (f_rest_mean - f_bar)
        residual_var = max(0.0, s_yy - 2 * slope * s_yf + slope ** 2 * s_ff) / (n - 2)
        half = z * math.sqrt(fpc * residual_var / n)
        return estimate, estimate - half, estimate + half, LABELS_AND_DETECTOR
    effective_n = n / fpc
    return (y_bar, *wilson(y_bar * effective_n, effective_n, z), LABELS_ONLY)


def estimate_rate(size: int, sampled: list[bool], census: list[bool], sampled_scores: list[float] | None = None,
                  rest_score_mean: float | None = None, confidence: float = 0.95) -> Estimate:
    """The rate over `size` outputs.

    sampled: outcomes of the random labels; census: outcomes of labels chosen otherwise;
    sampled_scores: the detector's score of each random label's output (None: no detector);
    rest_score_mean: the detector's mean score over the outputs outside the census (None: no detector).
    """
    scores = sampled_scores if rest_score_mean is not None else None
    return estimate_from_sums(size, Sample.of(sampled, scores), len(census), sum(census), rest_score_mean,
                              confidence)


def estimate_from_sums(size: int, sample: Sample, census_n: int, census_positive: float,
                       rest_score_mean: float | None = None, confidence: float = 0.95) -> Estimate:
    """`estimate_rate` from sums: the random sample's, and the census stratum's size and positives."""
    if size <= 0:
        return Estimate(None, None, None, NONE)
    if sample.n + census_n > size:
        raise ValueError(f"{sample.n + census_n} labels for {size} outputs")
    z = z_of(confidence)
    rest, known = size - census_n, census_positive
    if rest == 0:
        return Estimate(known / size, known / size, known / size, CENSUS)
    if not sample.n:
        if rest_score_mean is None:
            return Estimate(None, None, None, NONE)
        return Estimate((known + rest * rest_score_mean) / size, None, None, DETECTOR_ONLY)
    mean, low, high, method = _rest_estimate(sample, rest_score_mean, rest, z)
    low, high = max(0.0, low), min(1.0, high)
    return Estimate(min(1.0, max(0.0, (known + rest * mean) / size)), (known + rest * low) / size,
                    (known + rest * high) / size, method)


def _by_index(scores, sampled: dict[int, bool], census: dict[int, bool], confidence: float) -> Estimate:
    """estimate_rate for one side of a per-prompt comparison (index -> outcome; NaN: no score)."""
    sampled = {i: y for i, y in sampled.items() if i not in census}
    f = np.asarray(scores, dtype=float)
    rest = np.delete(f, list(census))
    rest_mean = None if np.isnan(rest).all() else float(np.nanmean(rest))
    f = np.where(np.isnan(f), rest_mean if rest_mean is not None else 0.0, f)
    return estimate_rate(len(f), list(sampled.values()), list(census.values()),
                         [f[i] for i in sampled], rest_mean, confidence)


def paired_difference(scores_a, scores_b, sampled_a: dict[int, bool], sampled_b: dict[int, bool],
                      census_a: dict[int, bool], census_b: dict[int, bool],
                      confidence: float = 0.95) -> tuple[Estimate, Estimate, Estimate]:
    """Rate B minus rate A over the same prompts: index i is one prompt on both sides; scores_a/b hold
    each side's detector score per prompt (NaN: none), the dicts index -> outcome. Returns (B - A, A, B).

    Both rates are over the same prompts, so what the prompts share cancels out of the difference; the
    interval adds the two estimates' variances less twice their covariance, which comes from prompts
    labeled at random on both sides (labeling both answers of a prompt narrows the difference most).
    """
    a = _by_index(scores_a, sampled_a, census_a, confidence)
    b = _by_index(scores_b, sampled_b, census_b, confidence)
    if a.estimate is None or b.estimate is None:
        return Estimate(None, None, None, NONE), a, b
    method = a.method if a.method == b.method else f"{a.method} / {b.method}"
    delta = b.estimate - a.estimate
    if a.ci_low is None or b.ci_low is None:
        return Estimate(delta, None, None, method), a, b
    z = z_of(confidence)
    var_a, var_b = (((e.ci_high - e.ci_low) / (2 * z)) ** 2 for e in (a, b))
    cov = _shared_covariance(scores_a, scores_b, sampled_a, sampled_b, census_a, census_b, a, b)
    half = z * math.sqrt(max(0.0, var_a + var_b - 2 * cov))
    return Estimate(delta, max(-1.0, delta - half), min(1.0, delta + half), method), a, b


def _residuals(scores, sampled: dict[int, bool], census: dict[int, bool], regression: bool) -> dict[int, float]:
    """Each random label's residual from its side's regression on the scores (its outcome if no regression)."""
    keys = [i for i in sampled if i not in census]
    y = np.array([float(sampled[i]) for i in keys])
    if not regression:
        return dict(zip(keys, y))
    f = np.asarray(scores, dtype=float)[keys]
    f = np.where(np.isnan(f), np.nanmean(f) if not np.isnan(f).all() else 0.0, f)
    f_c = f - f.mean()
    slope = float(f_c @ (y - y.mean()) / (f_c @ f_c)) if f_c @ f_c > 0 else 0.0
    return dict(zip(keys, y - slope * f))


def _shared_covariance(scores_a, scores_b, sampled_a, sampled_b, census_a, census_b, a: Estimate,
                       b: Estimate) -> float:
    """Covariance of the two estimates through prompts labeled at random on both sides (0 with under 3)."""
    size = len(scores_a)
    e_a = _residuals(scores_a, sampled_a, census_a, a.method == LABELS_AND_DETECTOR)
    e_b = _residuals(scores_b, sampled_b, census_b, b.method == LABELS_AND_DETECTOR)
    common = sorted(set(e_a) & set(e_b))
    if len(common) < 3:
        return 0.0
    s_ab = float(np.cov([e_a[i] for i in common], [e_b[i] for i in common])[0, 1])
    share_a, share_b = (size - len(census_a)) / size, (size - len(census_b)) / size
    # n_C / (n_A n_B): the whole covariance when both sides labeled the same prompts, ~0 for independent draws
    return share_a * share_b * (1 - len(common) / size) * s_ab * len(common) / (len(e_a) * len(e_b))


def pool(parts: list[dict], confidence: float = 0.95) -> Estimate:
    """Estimates over disjoint groups (rows with n, estimate, ci_low, ci_high, method) as one: the
    n-weighted mean; its interval adds the parts' variances (each read back from its half-width), so
    it is a normal approximation even where a part's own interval is not. No interval if a part has none."""
    parts = [p for p in parts if p["n"] and p.get("estimate") is not None]
    total = sum(p["n"] for p in parts)
    if not total:
        return Estimate(None, None, None, NONE)
    estimate = sum(p["n"] * p["estimate"] for p in parts) / total
    methods = sorted({p["method"] for p in parts})
    method = methods[0] if len(methods) == 1 else "pooled: " + ", ".join(methods)
    if any(p.get("ci_low") is None for p in parts):
        return Estimate(estimate, None, None, method)
    half = math.sqrt(sum((p["n"] / total * (p["ci_high"] - p["ci_low"]) / 2) ** 2 for p in parts))
    return Estimate(estimate, max(0.0, estimate - half), min(1.0, estimate + half), method)
