"""scikit-learn's own estimator checks on `ComposedClassifier()`, which infers its schema from the arrays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from compose.estimator import EXPECTED_FAILED_CHECKS, ComposedClassifier


def _expected(estimator: Any) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks([ComposedClassifier(n_jobs=1)], expected_failed_checks=_expected)
def test_scikit_learn_estimator_checks(estimator: ComposedClassifier, check: Callable[[Any], None]) -> None:
    check(estimator)
