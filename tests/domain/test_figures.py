"""The median over a histogram and the percentage the program report shows."""

from __future__ import annotations

import statistics

import pytest

from harbour.domain.figures import median_of_counts, percent


@pytest.mark.parametrize(
    "values",
    [[5], [1, 2], [3, 1, 2], [4, 4, 4, 9], [0, 0, 7, 7, 7, 10], [2.5, 1.0, 1.0, 8.0, 9.5]],
)
def test_the_median_of_a_histogram_is_the_median_of_its_values(values: list[float]) -> None:
    histogram = {v: values.count(v) for v in values}
    assert median_of_counts(histogram.items()) == statistics.median(values)


def test_no_values_no_median() -> None:
    assert median_of_counts([]) is None
    assert median_of_counts([(3.0, 0)]) is None


def test_percent() -> None:
    assert percent(1, 3) == 33.3
    assert percent(2, 2) == 100.0
    assert percent(0, 0) is None
