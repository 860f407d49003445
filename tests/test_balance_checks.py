"""imbalanced-learn's sampler checks and scikit-learn's estimator checks on
ClassBalancer, for every strategy."""

from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.utils.estimator_checks import parametrize_with_checks as sklearn_checks

from cnnfix import ClassBalancer

BALANCERS = [
    ClassBalancer(strategy, random_state=0)
    for strategy in ("oversample", "undersample", "smote", "hybrid")
]


@imblearn_checks(BALANCERS)
def test_imblearn_sampler_checks(estimator, check):
    check(estimator)


@sklearn_checks(BALANCERS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
