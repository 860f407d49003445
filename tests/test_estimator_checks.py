"""scikit-learn's estimator checks over every cnnfix estimator."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from cnnfix import DropoutCNN, TunedCNNClassifier


def expected_failures(estimator):
    # True of every network trained by mini-batch SGD: a sample repeated k
    # times changes the batches and the number of steps per epoch, so the
    # trained weights differ from one sample of weight k.
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "mini-batch SGD: repeating a sample changes the batches and the "
            "number of steps, so it is not equivalent to an integer sample weight"
        ),
    }


DROPOUT_CNN = DropoutCNN(
    conv_filters=(8,),
    dense_units=32,
    epochs=20,
    validation_split=0.0,
    early_stopping=False,
    learning_rate=0.01,
    random_state=0,
)
TUNED_CNN = TunedCNNClassifier(
    tuner="random",
    max_trials=1,
    max_epochs=20,
    search_space={"conv_filters": [(8,)], "dense_units": 32},
    learning_rate=0.01,
    batch_size=32,  # the steps check_class_weight_classifiers was met with
    early_stopping=False,
    train_finalists=False,  # keep the trial's model: one training per fit, not two
    isolate_search=False,  # the worker path has its own tests in test_tuned
    random_state=0,
)


@pytest.mark.integration
@parametrize_with_checks([DROPOUT_CNN], expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# The same checks through the search.
@pytest.mark.integration
@parametrize_with_checks([TUNED_CNN], expected_failed_checks=expected_failures)
def test_sklearn_compatible_search(estimator, check):
    check(estimator)
