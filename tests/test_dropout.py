"""DropoutCNN's defaults on real data (slow: full-size training)."""

import pytest
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from cnnfix import DropoutCNN


@pytest.mark.slow
def test_defaults_reach_98_5_percent_on_digits(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    clf = DropoutCNN(random_state=0).fit(X_train, y_train)
    assert accuracy_score(y_test, clf.predict(X_test)) >= 0.985
    assert clf.n_epochs_ < clf.epochs  # early stopping ended it


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_defaults_are_robust_to_the_seed(digits, seed):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    clf = DropoutCNN(random_state=seed).fit(X_train * 16, y_train)  # raw 0-255 scale
    assert accuracy_score(y_test, clf.predict(X_test * 16)) >= 0.98
