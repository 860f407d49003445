"""TunedCNNClassifier: a CNN whose architecture and training are searched
with keras-tuner inside ``fit``.

The search space samples the arguments of :func:`cnnfix.build_cnn`, the same
builder DropoutCNN uses, so there is one architecture definition (see
:mod:`cnnfix.search_space`). The search runs in a fresh worker process, so
the memory Keras and keras-tuner leave behind goes back when it ends, and in
a temporary directory that is removed when ``fit`` ends, also on error or
Ctrl-C; ``directory=`` keeps it for resuming.
"""

import contextlib
import copy
import dataclasses
import io
import os
import shutil
import sys
import tempfile
import time
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._convert import to_python
from ._docs import fill_doc
from ._keras import import_keras
from ._oracle import default_values, defaults_first, hyperband_trials
from ._progress import SearchProgress
from ._training import best_epoch, callbacks, deadline_callback
from ._worker import run_in_worker
from .architectures import average_models, precision_policy
from .base import BaseCNNClassifier, stratified_split
from .persistence import model_from_bytes, model_to_bytes
from .search_space import (
    DEFAULT_SEARCH_SPACE,
    check_search_space,
    make_hypermodel,
    plain_values,
)

__all__ = ["DEFAULT_SEARCH_SPACE", "TunedCNNClassifier"]

#: Epochs a finalist is assumed to train to converge, for ``time_budget``'s
#: estimate of the work after the search (DropoutCNN's defaults stop after
#: 33 to 46 epochs on digits, patience 10 included).
FINALIST_EPOCHS = 40

#: Of a ``time_budget``, the share the search keeps whatever the finalists'
#: estimate: the estimate counts at most the rest. On data where 40 epochs of
#: each finalist would take the whole budget, the uncapped estimate let the
#: search run one trial (measured: 60,000 Fashion-MNIST images, one hour on
#: 2 cores: one trial of 138 s, then the finalists until the deadline). Half
#: the hour (29 trials on all 54,000 training images) left the best
#: challenger 16 minutes, too few to converge at 73 s an epoch; with trials
#: on a sample (``max_search_samples``) a quarter runs more trials than half
#: did, and the finalists get three quarters.
SEARCH_SHARE = 0.25

#: Hyperband iterations a search with a ``time_budget`` may run: it repeats
#: its brackets, with new samples, until the deadline rule stops it (or a
#: small space runs out of new configurations), so it spends its share of
#: the budget. One iteration of the default search (6 trials) used 3 of
#: 20 minutes on 20,000 Fashion-MNIST images and left the rest unused.
BUDGET_ITERATIONS = 1000

#: Finalists stop on the objective (a tie going to the lower loss) and get
#: ``lr_schedule="auto"``'s schedule when the objective is scored on at
#: least this many images; on fewer, they train as DropoutCNN (stopping on
#: the loss, a constant rate). An accuracy on n images moves in steps of
#: 1/n, and on 135 validation digits (0.74% a step) neither rule helped:
#: over three splits, TunedCNNClassifier scored a mean test accuracy of
#: 0.9874 with finalists stopping on the accuracy with the schedule, and
#: 0.9896 stopping on the loss with it, against DropoutCNN's 0.9926. On
#: 6,000 Fashion-MNIST validation images the accuracy still climbed after
#: a drop of the learning rate (0.9315 -> 0.9388) while the loss rose.
#: The same floor gates ``ensemble``: weights chosen on fewer images would
#: fit their noise.
MIN_RESOLVED = 1000

#: Rounds of the greedy selection that weighs the finalists' average
#: (``ensemble=True``): each round adds one more copy of a finalist, and
#: the weights are the copies' shares at the best round m: multiples of
#: 1/m, m at most this.
ENSEMBLE_ROUNDS = 10

#: How much better than the best finalist alone an average must score to
#: be kept: above floating-point noise (an average of one finalist with
#: itself can differ from it in the last bits).
ENSEMBLE_MARGIN = 1e-9

#: With a ``time_budget``, ``lr_schedule="auto"`` also cools each finalist
#: down: its learning rate falls linearly to 0 over the last epochs that fit
#: in its share of the time, this share of all its epochs (at least one).
#: Where the finalists run out of time (Fashion-MNIST in an hour on 2
#: cores: the defaults' was still improving at its last epoch), the plateau
#: schedule never acts, and a rate still at its start leaves the weights
#: noisy. A cooldown over the last fifth is what "warmup-stable-decay"
#: schedules use to end a run of any length (Hägele et al., 2024, "Scaling
#: laws and compute-optimal training beyond fixed training durations").
COOLDOWN_SHARE = 0.2

#: A finalist after the first starts only when the time left holds this many
#: epochs as long as the previous finalist's (tracing included).
MIN_FINALIST_EPOCHS = 3


@fill_doc(
    epochs="""\
    Most epochs a finalist trains (with ``refit=True``): each is trained
    to convergence, with early stopping (``patience``) on the validation
    part, up to this many epochs. Each trial of the search trains up to
    ``max_epochs``.""",
    validation_split="""\
    Fraction of the training data held out by a stratified shuffle to score
    the trials and the finalists (and for their early stopping); the same
    default as DropoutCNN (as is ``patience``).
    0 scores them on the training data.""",
    lr_schedule=(
        'None, "plateau" or "auto"',
        """\
    The learning-rate schedule. "plateau" divides the learning rate by 5
    each time the validation loss has not improved for
    ``max(1, patience // 3)`` epochs (Keras's ``ReduceLROnPlateau``), in
    the trials and the finalists. "auto" (the default) gives it to the
    finalists only, and only when the validation part holds at least
    1,000 images: there they also stop on the
    objective (see above), so a finalist converges further (on
    Fashion-MNIST, a network's validation accuracy went from 0.9315 to
    0.9388 in the epoch after its first drop, while its validation loss
    rose); on smaller validation parts the finalists train as DropoutCNN
    does, so the defaults' finalist is DropoutCNN's model. With a
    ``time_budget``, "auto" also cools each such finalist down: its
    learning rate falls linearly to 0 over the last fifth of the epochs
    that fit in its share of the time (``COOLDOWN_SHARE``, at least one
    epoch), and it stops there (see ``time_budget``). None keeps the
    learning rate.""",
    ),
    verbose=(
        '"auto" or int',
        """\
    0 prints nothing; 1 shows the search's progress on
    stderr, one line updated after each trial (trials done of planned,
    best score so far, time elapsed and an estimate of the time left),
    then one line per finalist; 2 shows keras-tuner's own report of every
    trial and one line per epoch of the trials and the finalists. Levels
    above 2 act as 2. "auto" (Keras's convention) is 1,
    except inside scikit-learn's model selection: when ``fit`` is called
    from ``cross_val_score``, ``cross_validate``, ``GridSearchCV``,
    ``RandomizedSearchCV`` or any other tool of ``sklearn.model_selection``
    (it is on the call stack, in this process or in a joblib worker), it is
    0, so folds and candidates do not all print. It is resolved when
    ``fit`` runs, so a clone keeps "auto".""",
    ),
)
class TunedCNNClassifier(BaseCNNClassifier):
    """A CNN classifier whose architecture and training are searched in ``fit``.

    ``fit`` runs in two stages. The search: keras-tuner (Hyperband by
    default) samples the arguments of :func:`cnnfix.build_cnn` (the builder
    behind DropoutCNN) and scores each trial on the stratified validation
    split after a few epochs (``max_epochs``): cheap rounds that rank
    configurations by how fast they learn. The finalists (with
    ``refit=True``): the defaults' configuration and the best
    ``n_finalists - 1`` other ones are each trained to convergence, with
    early stopping on the same validation split (``patience``, best weights
    restored), up to ``epochs``, from the same seed. On a validation part
    of at least 1,000 images, early stopping watches the objective (a tie
    going to the lower loss) and the learning rate is divided by 5 each
    time the loss stalls (``lr_schedule="auto"``), falling to 0 over the
    last epochs that fit in a finalist's share of a ``time_budget``; on
    smaller ones, the loss, at a constant rate, as DropoutCNN trains. Then
    the one whose restored model scores best on the objective is kept (a
    tie keeps the earlier, the defaults first). Short trials favour
    configurations that learn fast over those that end best (the previous
    design, which refit the best trial for its short epoch count, scored
    0.936 on digits where DropoutCNN scores 0.993); comparing converged
    models removes that bias.
    With ``ensemble=True`` (the default) and a validation part of at least
    1,000 images, the finalists' probabilities are then averaged, with
    weights chosen on the validation part, when the average scores better
    there than the best finalist alone (see ``ensemble``).
    After ``fit`` it behaves like any fitted classifier.

    The first finalist is DropoutCNN's defaults (every searched name at its
    DropoutCNN value, ``learning_rate``, ``optimizer`` and
    ``augmentation`` at this estimator's; a name whose choices or range
    exclude that value takes its first choice or the low end of its range).
    It trains DropoutCNN's network on the same split from the same seed: on
    a validation part of fewer than 1,000 images (or with
    ``lr_schedule=None`` and ``objective="val_loss"``) it is the very model
    DropoutCNN trains. So the search replaces it
    only with a model that scores better on the same validation data. The
    defaults are also one of the search's trials, in place of one the tuner
    would sample (so it runs as many trials as keras-tuner alone): the
    first for "random" and "bayesian"; for Hyperband the first of its last
    bracket, which trains every trial for ``max_epochs``, so that with
    ``refit=False`` they are compared at the full budget. A callable or
    HyperModel space starts from the defaults of its own hyperparameters.

    The kept finalist is ``model_``: it was trained on the training part
    only, with its epochs chosen by early stopping on the validation part.
    Retraining it on all the data instead (for its best epoch, or that
    scaled by the larger data) scored lower on digits over three splits
    (``benchmarks/bench_tuned.py --refit-options 3``, see the user guide)
    and would cost one more training.

    Parameters
    ----------
    tuner : {"hyperband", "random", "bayesian"}, default="hyperband"
        keras-tuner's search algorithm.
    search_space : dict, callable, keras_tuner.HyperModel or None, default=None
        None searches :data:`DEFAULT_SEARCH_SPACE` (blocks, convolutions per
        block, filters, kernel size, batch norm, dense units, dropout, weight
        decay, augmentation preset, learning rate). A dict maps builder
        arguments (``n_blocks``, ``convs_per_block``, ``filters``,
        ``kernel_size``, ``pool_size``, ``batch_norm``, ``conv_dropout``,
        ``dense_units``, ``dropout``, ``weight_decay``, ``augmentation``,
        ``learning_rate``, ``optimizer``) to a list of choices, a
        ``(low, high)`` range (log scale for the learning rate) or a fixed
        value; unnamed arguments
        keep DropoutCNN's defaults (``learning_rate``, ``optimizer`` and
        ``augmentation``: this estimator's). ``augmentation`` choices are
        None or preset names; with Keras layers as this estimator's
        ``augmentation`` they are used as given and not searched. A
        callable ``build(hp) -> keras.Model`` or a ``HyperModel`` takes
        full control (it then handles input shape, classes and
        normalisation).

        A dict that names ``backbone`` searches TransferCNN's network
        instead (:func:`cnnfix.transfer.build_transfer_cnn`): its names are
        ``backbone`` (choices of :data:`cnnfix.transfer.BACKBONES` names, or
        one callable as a fixed value), ``weights``, ``input_size``,
        ``fine_tune_layers`` (for example ``[0, 20, "all"]``), ``dropout``,
        ``learning_rate``, ``optimizer`` and ``augmentation``; unnamed ones
        take :data:`cnnfix.search_space.TRANSFER_VALUES` (ImageNet
        weights, the head only). Each trial trains in one phase, with the
        top ``fine_tune_layers`` layers trainable from the start; a named
        backbone preprocesses 0-255 pixels itself, so ``normalize`` applies
        only to a callable one. See the :doc:`transfer guide
        </guide/transfer>`.
    time_budget : float or None, default=None
        Seconds the whole ``fit`` may take, search and finalists included.
        Once one trial has ended, no new trial starts when the mean trial
        duration so far plus the estimated finalists would end past it:
        for each of the ``n_finalists`` configurations the trials so far
        rank as finalists, 40 epochs (or ``epochs`` if fewer) as long as
        the median epoch of its own trials (the first without the first
        step's graph tracing; for the defaults before their trial, the
        median of every trial's later epochs), scaled to the finalists'
        training images (see ``max_search_samples``), plus its tracing
        (the trials' first epochs' extra time). That estimate counts at
        most three quarters of the budget, so the search always has at
        least a quarter of it (``SEARCH_SHARE``), however long the
        finalists would train (``search_results_["refit_estimate"]``
        records it for each trial). A trial that runs on past the search's
        share (the budget less that estimate) stops, its best epoch
        scored, when its next epoch would end past it (and once it has
        passed, no trial starts). Each finalist then gets an equal
        share of the time left when it starts, and stops (best weights
        restored) when its next epoch would end past its share; a finalist
        after the first starts only when the time left holds 3 of the
        previous one's epochs. With ``lr_schedule="auto"`` and a validation
        part of at least 1,000 images, a finalist's learning rate falls
        linearly to 0, batch by batch, over the last fifth of the epochs
        that fit in its share (predicted at each epoch's start from its
        epochs so far, at most ``epochs``), so a finalist that runs out of
        time ends annealed rather than at its starting rate. The fit
        overruns the budget by at most about one epoch. With Hyperband the
        search repeats its brackets (new samples each iteration, up to
        ``BUDGET_ITERATIONS``) until that rule stops it or the space has
        no new configuration, so it spends its share rather than ending
        after one iteration; "random" and
        "bayesian" still run at most ``max_trials``. None runs one
        Hyperband iteration. The progress line counts down to it.
    max_epochs : int, default=3
        Most epochs one trial trains (Hyperband's budget; the epochs of every
        trial for "random" and "bayesian"). Trials only rank configurations
        for the finalists, which train up to ``epochs``; 3 keeps the default
        search within a few times DropoutCNN's fit (6 Hyperband trials).
    factor : int, default=3
        Hyperband's reduction factor between rounds.
    max_trials : int, default=10
        Number of trials for "random" and "bayesian".
    n_finalists : int, default=2
        Configurations trained to convergence after the search (with
        ``refit=True``): the defaults and the best ``n_finalists - 1``
        other distinct ones. Each costs about one DropoutCNN fit.
    ensemble : bool, default=True
        Keep a weighted average of the finalists' probabilities when it
        scores strictly better on the validation part than the best
        finalist alone. The weights come from greedy ensemble selection
        (Caruana et al., 2004) on the validation part: start from the best
        finalist, add one more copy of whichever finalist improves the
        average most, 10 times, keep the best round. Only with at least two
        finalists, a validation part of at least 1,000 images (on fewer,
        the selection would fit noise) and an accuracy or loss objective.
        ``model_`` is then one Keras model holding the chosen finalists
        (``member0``, heaviest first; see
        :func:`cnnfix.architectures.average_models`): predictions cost the
        sum of theirs. On Fashion-MNIST with a one-hour ``time_budget`` the
        average of the two finalists scored validation accuracy 0.9367
        against 0.9345 for the better alone, and test accuracy 0.9350
        against 0.9325 (one run; in the run before, 0.9266 against 0.9264:
        see the user guide). False keeps the best finalist alone.
    executions_per_trial : int, default=1
        Models trained per trial, averaged to reduce noise.
    max_search_samples : int or None, default=10000
        Most training images a trial trains on. When the training part is
        larger, the trials (and ``cv``'s folds) train on a stratified sample
        of this many of its images, drawn once from ``random_state``, so
        every trial sees the same images; they are still scored on the
        whole validation part, and the finalists train on all of the
        training part. Trials only rank configurations, and on large data
        a sample ranks them at a fraction of the cost (a low-fidelity
        search): on 54,000 Fashion-MNIST training images with
        ``time_budget=3600``, trials on all of them ran 29 in half an hour
        and left the finalists too little time to converge; on a sample, 49
        ran in 15 minutes and both finalists converged. The finalists'
        time estimate (``time_budget``) scales the trials' epochs by the
        ratio of the finalists' images to the sample's. None trains every
        trial on the whole training part.
    cv : int, cross-validation splitter or None, default=None
        How each trial of the search is scored. None: on the stratified
        validation split (``validation_split``). An int k: by stratified
        k-fold cross-validation over the training part (``StratifiedKFold``
        with shuffling seeded by ``random_state``); a scikit-learn splitter
        (an object with ``split`` and ``get_n_splits``, such as
        ``RepeatedStratifiedKFold``) splits the training part its own way.
        Each fold trains a model from scratch for the trial's epochs (no
        Hyperband warm start from the previous round), and the trial's
        score is the mean over the folds of each fold's best-epoch
        objective on its held-out part, so on small data trials are ranked
        by signal rather than by the noise of one small validation split.
        Cost: the search trains one model per fold, about ``n_folds`` times
        the search without ``cv`` (measured on digits: 3.1x with ``cv=3``,
        5.5x with ``cv=5``; the whole fit 1.7x and 2.6x); the finalists are
        unchanged, compared on the validation split. The folds are drawn
        from the training part, whose rows are a shuffle of X's, so an
        iterable of index arrays is not accepted (its indices would not
        point at X's rows).
    objective : str, default="val_accuracy"
        Metric the search maximises (names ending in "loss" are
        minimised). Without validation data the training metric of the same
        name is used.
    directory : str, Path or None, default=None
        Where the search is kept. None uses a temporary directory removed
        when ``fit`` ends (also on error or Ctrl-C), so nothing is written to
        the working directory.
    overwrite : bool, default=True
        With ``directory``, False resumes the search found there.
    refit : bool, default=True
        Train the finalists to convergence and keep the best (see above).
        False skips them and keeps the best trial's own model, trained for
        at most ``max_epochs``.
    distribution_strategy : tf.distribute.Strategy or None, default=None
        Passed to keras-tuner for multi-device training of each trial.
    keep_checkpoints : bool, default=False
        Keep each trial's best weights (``trial_*/checkpoint.weights.h5``)
        in ``directory`` after the search; by default they are deleted once
        it ends, and the trial records (scores, values) stay. Hyperband
        needs them only while the search runs.
    isolate_search : "auto" or bool, default="auto"
        Run the search in a fresh worker process, which returns the memory
        Keras and keras-tuner leave behind (tens of MB per search) when it
        ends, so repeated fits (cross-validation, GridSearchCV) do not
        grow. The first worker of a process imports TensorFlow once
        (~6 s); later ones start at once. Callables in ``search_space``
        and ``callbacks`` are sent with cloudpickle. "auto" isolates
        unless a ``distribution_strategy`` is given (it holds this
        process's devices); False searches in this process.
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    best_params_ : dict
        Values of the kept finalist (with ``refit=False``, the best trial;
        with an average of finalists, its heaviest): plain Python values,
        keras-tuner's own ``tuner/...`` bookkeeping removed.
    best_score_ : float
        The objective value of ``model_`` on the validation part (a
        finalist's at its restored epoch; an average's from its
        probabilities). ``history_`` and ``n_epochs_`` are the kept (or
        heaviest) finalist's.
    search_results_ : dict of str to list
        One entry per trial, like ``cv_results_``: "trial_id", "status",
        "score", "best_epoch", "duration" (seconds, None for a trial of a
        resumed search that did not record it), "refit_estimate" (seconds:
        what the search estimated, when the trial started, that the
        finalists would take; 0 until a trial of this fit has ended, and
        on a distributed chief, whose workers keep theirs. With a
        ``time_budget``, the trial could run until ``time_budget`` less
        this, seconds into the fit) and one "param_<name>"
        column per searched argument. With ``cv``, "score" is the mean over
        the folds, "best_epoch" the mean of their best epochs, and
        "split<i>_score" columns hold each fold's score.
        ``pandas.DataFrame(search_results_)`` makes a table.
    n_trials_ : int
        Number of trials run.
    finalists_ : list of dict
        One record per finalist trained (with ``refit=True``), in training
        order, the defaults first: "trial_id" (None when no trial ran that
        configuration), "params", "score" (the objective on the validation
        part at the restored epoch), "best_epoch", "epochs" (trained),
        "duration" (seconds) and "weight" (its share of ``model_``'s
        probabilities: 1 for the kept finalist and 0 for the others, or the
        ensemble's weights). The kept one is the best score (the earlier
        on a tie). Empty with ``refit=False``.

    See Also
    --------
    DropoutCNN : The same CNN with fixed settings.

    Examples
    --------
    >>> from cnnfix import TunedCNNClassifier
    >>> from cnnfix.datasets import load_digit_images
    >>> X, y = load_digit_images()
    >>> clf = TunedCNNClassifier(tuner="random", max_trials=2, max_epochs=2,
    ...                          search_space={"filters": [8, 16]}, epochs=5,
    ...                          verbose=0, random_state=0)
    >>> clf.fit(X[:300], y[:300]).n_trials_
    2
    >>> sorted(clf.best_params_)
    ['filters']
    >>> clf.n_epochs_ <= 5  # the kept finalist's epochs
    True
    """

    _parameter_constraints: dict = {
        **BaseCNNClassifier._parameter_constraints,
        "tuner": [StrOptions({"hyperband", "random", "bayesian"})],
        "lr_schedule": [None, StrOptions({"plateau", "auto"})],
        "search_space": [None, dict, callable, HasMethods(["build"])],
        "time_budget": [None, Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "factor": [Interval(Integral, 2, None, closed="left")],
        "max_trials": [Interval(Integral, 1, None, closed="left")],
        "n_finalists": [Interval(Integral, 1, None, closed="left")],
        "ensemble": ["boolean"],
        "executions_per_trial": [Interval(Integral, 1, None, closed="left")],
        "max_search_samples": [None, Interval(Integral, 1, None, closed="left")],
        "cv": [
            None,
            Interval(Integral, 2, None, closed="left"),
            HasMethods(["split", "get_n_splits"]),
        ],
        "objective": [str],
        "directory": [None, str, Path],
        "overwrite": ["boolean"],
        "refit": ["boolean"],
        "distribution_strategy": [None, HasMethods(["scope"])],
        "isolate_search": [StrOptions({"auto"}), "boolean"],
        "keep_checkpoints": ["boolean"],
        "verbose": [StrOptions({"auto"}), "verbose"],
    }

    def __init__(
        self,
        *,
        tuner="hyperband",
        search_space=None,
        time_budget=None,
        max_epochs=3,
        factor=3,
        max_trials=10,
        n_finalists=2,
        ensemble=True,
        executions_per_trial=1,
        max_search_samples=10_000,
        cv=None,
        objective="val_accuracy",
        directory=None,
        overwrite=True,
        refit=True,
        distribution_strategy=None,
        isolate_search="auto",
        keep_checkpoints=False,
        epochs=100,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-3,
        validation_split=0.1,
        early_stopping=True,
        patience=10,
        lr_schedule="auto",
        normalize=True,
        augmentation=None,
        class_weight=None,
        image_shape=None,
        image_size=None,
        cache=False,
        precision="float32",
        random_state=None,
        verbose="auto",
        callbacks=None,
        balancer=None,
    ):
        self.tuner = tuner
        self.search_space = search_space
        self.time_budget = time_budget
        self.max_epochs = max_epochs
        self.factor = factor
        self.max_trials = max_trials
        self.n_finalists = n_finalists
        self.ensemble = ensemble
        self.executions_per_trial = executions_per_trial
        self.max_search_samples = max_search_samples
        self.cv = cv
        self.objective = objective
        self.directory = directory
        self.overwrite = overwrite
        self.refit = refit
        self.distribution_strategy = distribution_strategy
        self.isolate_search = isolate_search
        self.keep_checkpoints = keep_checkpoints
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.normalize = normalize
        self.augmentation = augmentation
        self.class_weight = class_weight
        self.image_shape = image_shape
        self.image_size = image_size
        self.cache = cache
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.balancer = balancer

    def _verbosity(self):
        # "auto" is resolved at fit time, so that clones keep it.
        if self.verbose == "auto":
            return 0 if _called_by_model_selection() else 1
        return super()._verbosity()

    def _defaults(self):
        """The defaults' values of the names this estimator sets too."""
        return {
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "augmentation": self.augmentation,
        }

    def _space(self):
        space = DEFAULT_SEARCH_SPACE if self.search_space is None else self.search_space
        if isinstance(space, dict):
            check_search_space(space)
            if not (self.augmentation is None or isinstance(self.augmentation, str)):
                # Keras layers: kept as given, not searched.
                space = {k: v for k, v in space.items() if k != "augmentation"}
        return space

    def _hypermodel(self, normalization):
        """What keras-tuner builds: the dict space sampled into build_cnn, or
        the user's callable or HyperModel; every model built under the dtype
        policy of ``precision``."""
        space = self._space()
        if isinstance(space, dict):
            space = make_hypermodel(
                space,
                self.image_shape_,
                self.n_classes_,
                normalization,
                defaults=self._defaults(),
            )
        return _in_precision(space, self.precision)

    def _isolated(self):
        if self.isolate_search == "auto":
            return self.distribution_strategy is None
        if self.isolate_search and self.distribution_strategy is not None:
            raise ValueError(
                "isolate_search=True cannot run a search with a "
                "distribution_strategy: the strategy holds this process's "
                "devices and cannot be sent to a worker process. Use "
                "isolate_search='auto' or False."
            )
        return self.isolate_search

    def _n_trials_planned(self):
        """Trials the search plans; None when the ``time_budget`` decides."""
        if self.tuner == "hyperband":  # the brackets; the defaults are one trial
            if self.time_budget is not None:  # iterations until the deadline
                return None
            return hyperband_trials(self.max_epochs, self.factor)
        return self.max_trials

    def _search_part(self, run):
        """``run`` with the trials' training part: at most
        ``max_search_samples`` images of its training part, a stratified
        sample drawn from the fit's seed (the same for every trial)."""
        y = run.train[1]
        if self.max_search_samples is None or len(y) <= self.max_search_samples:
            return run
        rng = check_random_state(run.seed)
        _, sample = stratified_split(y, self.max_search_samples / len(y), rng)
        return dataclasses.replace(
            run, train=tuple(None if a is None else a[sample] for a in run.train)
        )

    def _folds(self, run):
        """The trials' cross-validation folds (``cv``) over the run's
        training part: one ``(fit arguments, validation data)`` pair per
        fold, made by the same machinery as the training part's (balancing,
        file paths decoded batch by batch)."""
        X, y, _ = run.train
        if isinstance(self.cv, Integral):
            # Shuffled from the fit's one seed, like every random choice.
            splitter = StratifiedKFold(self.cv, shuffle=True, random_state=run.seed)
        else:
            splitter = check_cv(self.cv, y, classifier=True)
        folds = []
        for train, held_out in splitter.split(X, y):
            fold = dataclasses.replace(
                run,
                train=tuple(None if a is None else a[train] for a in run.train),
                validation=tuple(None if a is None else a[held_out] for a in run.train),
            )
            folds.append(
                (self._fit_arguments(fold.train, fold), self._validation_data(fold))
            )
        return folds

    def _make_tuner(
        self, hypermodel, directory, run, emit, deadline, folds=None, scale=1.0
    ):
        """keras-tuner's tuner for this search; ``scale`` is the ratio of
        the finalists' training images to a trial's (``max_search_samples``),
        by which the finalists' epochs are longer than the trials'."""
        import keras_tuner as kt

        # The work after the search: the finalists, each trained to converge.
        finalist_epochs = min(FINALIST_EPOCHS, self.epochs)
        n_finalists = self.n_finalists if self.refit else 0
        time_budget = self.time_budget

        searchers = {
            "hyperband": (kt.Hyperband, kt.oracles.HyperbandOracle),
            "random": (kt.RandomSearch, kt.oracles.RandomSearchOracle),
            "bayesian": (
                kt.BayesianOptimization,
                kt.oracles.BayesianOptimizationOracle,
            ),
        }
        tuner_class, oracle_class = searchers[self.tuner]

        class Tuner(tuner_class):
            """keras-tuner's tuner with an oracle that runs the defaults as
            one of its trials; reports each finished trial (for the progress bar)."""

            def __init__(self, oracle, hypermodel, **kwargs):
                # The searcher's own __init__ only makes its oracle.
                kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
                # Over all trials so far: seconds of each model's first
                # epoch (graph tracing included), the same without the first
                # step's extra time, and of the later epochs; and the
                # latter two by configuration.
                self.first, self.traced, self.later = [], [], []
                self.by_configuration = {}
                self.model = None

            def on_trial_begin(self, trial):
                super().on_trial_begin(trial)
                self.started = time.time()

            def on_epoch_begin(self, trial, model, epoch, logs=None):
                super().on_epoch_begin(trial, model, epoch, logs=logs)
                self.epoch_started = self.step_started = time.time()
                self.steps = []

            def on_batch_end(self, trial, model, batch, logs=None):
                super().on_batch_end(trial, model, batch, logs)
                now = time.time()
                self.steps.append(now - self.step_started)
                self.step_started = now

            def on_epoch_end(self, trial, model, epoch, logs=None):
                super().on_epoch_end(trial, model, epoch, logs=logs)
                seconds = time.time() - self.epoch_started
                mine = self.by_configuration.setdefault(_key(trial), [])
                if model is self.model:
                    self.later.append(seconds)
                    mine.append(seconds)
                    return
                self.model = model
                self.first.append(seconds)
                if len(self.steps) > 1:  # the first step traces the graph
                    seconds -= self.steps[0] - _median(self.steps[1:])
                self.traced.append(seconds)
                mine.append(seconds)

            def finalists_seconds(self):
                """What the finalists (as the trials so far rank them) will
                take: each traces its graph once (a first epoch's extra
                time) and trains ``finalist_epochs`` epochs as long as its
                own trials' epochs (their median, the first without the
                first step's tracing; for the defaults before their trial,
                the median of every trial's later epochs, or first ones
                when every trial trained one), times ``scale``."""
                if not self.first:
                    return 0.0
                overall = _median(self.later or self.traced)
                first = sum(self.first) / len(self.first)
                tracing = max(first - overall, 0.0)
                if _distributed_worker():
                    # Its oracle client cannot list the trials, and the
                    # chief's oracle keeps the deadline: every finalist
                    # counts the median epoch.
                    keys = [None] * n_finalists
                else:
                    keys = [_key(t) for t in _finalists(self.oracle, n_finalists)]
                return sum(
                    tracing
                    + scale
                    * _median(self.by_configuration.get(key) or [overall])
                    * finalist_epochs
                    for key in keys
                )

            def on_trial_end(self, trial):
                duration = time.time() - self.started
                super().on_trial_end(trial)
                best = self.oracle.get_best_trials(1)
                best = best[0] if best and best[0].score is not None else None
                refit = self.finalists_seconds()
                if time_budget is not None:  # the search keeps its share
                    refit = min(refit, (1 - SEARCH_SHARE) * time_budget)
                self.oracle.refit_seconds = refit  # what the deadline needs
                emit(
                    {
                        "best": None if best is None else float(best.score),
                        "duration": duration,
                        "refit": refit,
                    }
                )

            def _build_and_fit_model(self, trial, *args, **kwargs):
                """One model per fold with ``cv``, each built and trained
                from scratch for the trial's epochs (keras-tuner's own
                method builds, fits and records each). keras-tuner averages
                the folds' best-epoch metrics, as it does executions; each
                fold's objective is kept as a metric of its own.

                With a deadline, a model stops (its best epoch scored) when
                its next epoch would end past the search's share: the
                deadline less the finalists' estimate. A trial unlike the
                ones before it (augmentation, a wider network) cannot take
                the finalists' time."""
                if deadline is not None:
                    share = deadline - getattr(self.oracle, "refit_seconds", 0.0)
                    kwargs["callbacks"] = [
                        *kwargs.get("callbacks", []),
                        deadline_callback(share),
                    ]
                if folds is None:
                    return super()._build_and_fit_model(trial, *args, **kwargs)
                fresh = copy.copy(trial)  # no Hyperband warm start
                fresh.hyperparameters = trial.hyperparameters.copy()
                fresh.hyperparameters.values.pop("tuner/trial_id", None)
                kwargs["initial_epoch"] = 0
                callbacks = kwargs.pop("callbacks", [])
                name = self.oracle.objective.name
                results = []
                for number, (arguments, validation) in enumerate(folds):
                    # Fresh copies of the user's callbacks (and early
                    # stopping) for each model, as keras-tuner gives each
                    # execution; its own (progress, best-epoch checkpoint)
                    # are shared by the trial's models.
                    result = super()._build_and_fit_model(
                        fresh,
                        *args,
                        **kwargs,
                        **arguments,
                        validation_data=validation,
                        callbacks=[
                            c
                            if type(c).__module__.startswith("keras_tuner.")
                            else copy.deepcopy(c)
                            for c in callbacks
                        ],
                    )
                    if name in getattr(result, "history", {}):
                        result.history[_split_metric(number)] = list(
                            result.history[name]
                        )
                    results.append(result)
                return results

        budget = (
            dict(
                max_epochs=self.max_epochs,
                factor=self.factor,
                hyperband_iterations=1 if time_budget is None else BUDGET_ITERATIONS,
            )
            if self.tuner == "hyperband"
            else dict(max_trials=self.max_trials)
        )
        oracle = defaults_first(oracle_class)(
            deadline=deadline,
            # With cv every trial has held-out data (its folds').
            objective=self._objective(folds is not None or run.validation is not None),
            seed=run.seed,
            max_consecutive_failed_trials=1,
            **budget,
        )
        return Tuner(
            oracle,
            hypermodel,
            directory=str(directory),
            project_name="search",
            overwrite=self.overwrite,
            executions_per_trial=self.executions_per_trial,
            distribution_strategy=self.distribution_strategy,
        )

    def _objective(self, has_validation):
        import keras_tuner as kt

        name = self.objective
        if not has_validation and name.startswith("val_"):
            name = name[len("val_") :]
        return kt.Objective(name, direction="min" if name.endswith("loss") else "max")

    def _fit_keras(self, run):
        started = time.time()
        deadline = None if self.time_budget is None else started + self.time_budget
        temporary = self.directory is None
        directory = (
            Path(tempfile.mkdtemp(prefix="cnnfix-tuner-"))
            if temporary
            else Path(self.directory).resolve()
        )
        if run.verbose and not self.overwrite and (directory / "search").exists():
            print(f"Resuming the keras-tuner search in {directory / 'search'}.")
        progress = (
            SearchProgress(
                self._n_trials_planned(), self.objective, started, self.time_budget
            )
            if run.verbose == 1
            else None
        )
        report = progress.update if progress else None
        try:
            if self._isolated():
                # A fresh copy travels: not the previous fit's model.
                searcher = type(self)(**self.get_params(deep=False))
                for name in ("image_shape_", "n_classes_", "classes_"):
                    setattr(searcher, name, getattr(self, name))
                outcome = run_in_worker(
                    searcher._search,
                    run,
                    directory,
                    deadline,
                    on_event=report,
                    quiet=run.verbose < 2,
                )
            else:
                outcome = self._search(
                    run, directory, deadline, emit=report or (lambda event: None)
                )
        finally:
            if temporary:
                shutil.rmtree(directory, ignore_errors=True)
        if outcome is None:  # a distributed worker: the chief keeps the model
            return None, {}
        if progress:
            progress.finish(
                outcome["stopped"],
                outcome.get("finalist", {}).get("score"),
                averaged=sum(f["weight"] > 0 for f in outcome.get("finalists", [])),
            )
        self._record_search(
            outcome["trials"],
            outcome["best"],
            outcome.get("finalist"),
            outcome.get("finalists", []),
        )
        if outcome["balancer"] is not None:
            self.balancer_ = outcome["balancer"]
        with _no_optimizer_state_warning():
            return model_from_bytes(outcome["model"]), outcome["history"]

    def _search(self, run, directory, deadline, emit):
        """Run the keras-tuner search; return plain records of its trials.

        Runs in the worker process (or in this one with
        ``isolate_search=False``): everything it returns is picklable, and
        the best trial's model travels as ``.keras`` bytes.
        """
        keras = import_keras()
        keras.utils.set_random_seed(run.seed)
        hypermodel = self._hypermodel(run.normalization)
        search = self._search_part(run)  # what the trials train on
        folds = None if self.cv is None else self._folds(search)
        if folds is None:  # the trials train on (a sample of) the training part
            data = {
                **self._fit_arguments(search.train, search),
                "validation_data": self._validation_data(run),
            }
        else:  # each trial trains one model per fold (see _make_tuner)
            data = {}
        stdout = sys.stdout

        def report(event):  # the progress bar prints past the silencing below
            with contextlib.redirect_stdout(stdout):
                emit(event)

        # verbose=2 shows keras-tuner's own report of each trial; below that
        # it is silenced (verbose=1 has the progress bar over trials).
        quiet = (
            contextlib.redirect_stdout(io.StringIO())
            if run.verbose < 2
            else contextlib.nullcontext()
        )
        with quiet, _no_optimizer_state_warning():
            tuner = self._make_tuner(
                hypermodel,
                directory,
                run,
                report,
                deadline,
                folds,
                scale=len(run.train[1]) / len(search.train[1]),
            )
            tuner.search(
                **data,
                epochs=self.max_epochs,
                callbacks=callbacks(
                    self._plan(run, lr_schedule=_trial_schedule(self.lr_schedule)),
                    folds is not None or run.validation is not None,
                ),
                verbose=2 if run.verbose == 2 else 0,
            )
            if _distributed_worker():
                return None
            trials = _in_creation_order(tuner.oracle)
            best = tuner.oracle.get_best_trials(1)[0]
            outcome = {
                "trials": [_trial_record(t, tuner.oracle) for t in trials],
                "best": _trial_record(best, tuner.oracle),
                "stopped": tuner.oracle.stopped_by_deadline,
            }
            if self.refit:
                finalists = _finalists(tuner.oracle, self.n_finalists)
                model, history, best, records = self._train_finalists(
                    finalists, hypermodel, run, deadline, report
                )
                outcome["finalist"], outcome["finalists"] = best, records
            else:
                model, history = tuner.load_model(best), _trial_history(best)
            outcome["model"] = model_to_bytes(model)
            outcome["history"] = history
            outcome["balancer"] = getattr(self, "balancer_", None)
        if not self.keep_checkpoints:  # the search is over: only its record stays
            for path in Path(tuner.project_dir).glob("trial_*/checkpoint*"):
                path.unlink()
        return outcome

    def _train_finalists(self, finalists, hypermodel, run, deadline, emit):
        """Train each finalist to convergence on the training part, with early
        stopping on the validation part (``patience``, best weights
        restored), up to ``epochs``; keep the one whose restored model
        scores best on the objective (ties go to the earlier finalist: the
        defaults first). Return its model, history and record.

        Each finalist starts from the same seed. When the objective is
        scored on at least :data:`MIN_RESOLVED` images, early stopping
        watches it (a tie going to the lower loss) and ``lr_schedule="auto"``
        drops the learning rate on plateaus of the loss; on fewer, they
        train as DropoutCNN. With a ``deadline``, each
        finalist gets an equal share of the time left when it starts (what
        an earlier one leaves by stopping early goes to the later ones) and
        stops, best weights restored, when its next epoch would end past its
        share; a finalist after the first starts only when the time left
        holds :data:`MIN_FINALIST_EPOCHS` epochs as long as the previous
        one's. With ``ensemble`` (see :func:`_ensemble_weights`), the
        returned model may be their weighted average instead, its record
        the heaviest finalist's with the average's score. Also return every
        finalist's record, with its "weight" in the returned model, in
        training order.
        """
        keras = import_keras()
        build = getattr(hypermodel, "build", hypermodel)  # HyperModel or callable
        has_validation = run.validation is not None
        objective = self._objective(has_validation)
        name = ("val_" if has_validation else "") + objective.name.removeprefix("val_")
        better = (
            (lambda a, b: a < b)
            if objective.direction == "min"
            else (lambda a, b: a > b)
        )
        # A part too small to resolve the objective: train as DropoutCNN.
        scored = run.validation if has_validation else run.train
        resolved = len(scored[1]) >= MIN_RESOLVED
        watched = (name, objective.direction)
        if not resolved and not name.endswith("loss"):
            watched = ("val_" if has_validation else "") + "loss", "min"
        schedule = self.lr_schedule
        cooldown = schedule == "auto" and resolved  # before each one's deadline
        if schedule == "auto":
            schedule = "plateau" if resolved else None
        chosen = record = None
        records, models, histories = [], [], []
        for number, trial in enumerate(finalists, 1):
            started = time.time()
            if record and deadline:
                epoch = record["duration"] / record["epochs"]  # tracing included
                if started + MIN_FINALIST_EPOCHS * epoch > deadline:
                    break  # too little time left to train another
            share = (
                None
                if deadline is None
                else started + (deadline - started) / (len(finalists) - number + 1)
            )
            keras.backend.clear_session()
            keras.utils.set_random_seed(run.seed)
            model = build(trial.hyperparameters.copy())
            history = self._train(
                model,
                run,
                # Fresh copies of the user's callbacks for each model, as
                # keras-tuner gives each trial.
                callbacks=tuple(copy.deepcopy(list(self.callbacks or []))),
                lr_schedule="cooldown" if cooldown and share else schedule,
                objective=watched,
                deadline=share,
                verbose=2 if run.verbose == 2 else 0,
            )
            epoch = len(history[name]) - 1
            if self.early_stopping:
                epoch = best_epoch(history, watched)
            record = {
                "trial_id": trial.trial_id,
                "params": _values(trial),
                "score": float(history[name][epoch]),
                "best_epoch": epoch + 1,
                "epochs": len(history[name]),
                "duration": time.time() - started,
            }
            records.append(record)
            models.append(model)
            histories.append(history)
            emit({"finalist": number, "of": len(finalists), **record})
            if chosen is None or better(record["score"], chosen["score"]):
                chosen, kept = record, (model, history)
        for record in records:
            record["weight"] = float(record is chosen)
        metric = name.removeprefix("val_")
        if (
            self.ensemble
            and has_validation
            and resolved
            and len(models) > 1
            and metric in _ENSEMBLE_SCORES
        ):
            X, y, sample_weight = run.validation
            weights, score = _ensemble_weights(
                self._probabilities(models, X), y, sample_weight, metric
            )
            if weights is not None:
                for record, weight in zip(records, weights, strict=True):
                    record["weight"] = float(weight)
                heaviest = max(range(len(records)), key=lambda i: weights[i])
                chosen = {**records[heaviest], "score": score}
                kept = (average_models(models, weights), histories[heaviest])
        return (*kept, chosen, records)

    def _record_search(self, trials, best, finalist=None, finalists=()):
        self.finalists_ = [dict(f) for f in finalists]
        best = finalist or best
        self.best_params_ = best["params"]
        self.best_score_ = best["score"]
        names = sorted({k for t in trials for k in t["params"]})
        self.search_results_ = {
            "trial_id": [t["trial_id"] for t in trials],
            "status": [t["status"] for t in trials],
            "score": [t["score"] for t in trials],
            "best_epoch": [t["best_epoch"] for t in trials],
            "duration": [t["duration"] for t in trials],
            "refit_estimate": [t["refit_estimate"] for t in trials],
            **{
                f"split{i}_score": [
                    t["splits"][i] if i < len(t["splits"]) else None for t in trials
                ]
                for i in range(max((len(t["splits"]) for t in trials), default=0))
            },
            **{f"param_{n}": [t["params"].get(n) for t in trials] for n in names},
        }
        self.n_trials_ = len(trials)


def _in_precision(hypermodel, precision):
    """``hypermodel`` (a HyperModel or build function) whose models are built
    under ``precision``'s dtype policy. The policy set by ``fit`` is not
    enough: keras-tuner clears the Keras session before each build, which
    resets the policy, and a worker process starts with the default."""
    import keras_tuner as kt

    class InPrecision(kt.HyperModel):
        def build(self, hp):
            with precision_policy(precision):
                return getattr(hypermodel, "build", hypermodel)(hp)

        def fit(self, hp, model, *args, **kwargs):
            if isinstance(hypermodel, kt.HyperModel):  # its own fit, if any
                return hypermodel.fit(hp, model, *args, **kwargs)
            return model.fit(*args, **kwargs)

    return InPrecision()


def _accuracy(proba, y, sample_weight):
    return float(np.average(proba.argmax(axis=1) == y, weights=sample_weight))


def _negative_loss(proba, y, sample_weight):
    picked = np.clip(proba[np.arange(len(y)), y], 1e-7, 1.0)
    return float(np.average(np.log(picked), weights=sample_weight))


#: What ``ensemble=True`` maximises on the validation part, by the objective's
#: metric: the accuracy, or minus the cross-entropy for the loss.
_ENSEMBLE_SCORES = {"accuracy": _accuracy, "loss": _negative_loss}


def _ensemble_weights(probabilities, y, sample_weight, metric):
    """Weights of the finalists' average, by greedy forward selection with
    replacement (Caruana et al., 2004, "Ensemble selection from libraries of
    models"): start from the finalist whose ``probabilities`` score best on
    the validation labels ``y`` (the earlier on a tie), then for
    :data:`ENSEMBLE_ROUNDS` - 1 rounds add one more copy of the finalist
    that makes the average score best; the weights are the copies' shares
    at the best-scoring round. Return ``(weights, score)`` when that
    average holds more than one finalist and scores better than the best
    finalist alone (by more than :data:`ENSEMBLE_MARGIN`), else
    ``(None, None)``: the single finalist is kept."""
    scored = _ENSEMBLE_SCORES[metric]
    singles = [scored(p, y, sample_weight) for p in probabilities]
    first = int(np.argmax(singles))
    counts = np.zeros(len(probabilities))
    counts[first] = 1
    total = probabilities[first].copy()
    best, best_counts = singles[first], None
    for _ in range(ENSEMBLE_ROUNDS - 1):
        n = counts.sum() + 1
        scores = [scored((total + p) / n, y, sample_weight) for p in probabilities]
        added = int(np.argmax(scores))
        counts[added] += 1
        total += probabilities[added]
        mixed = np.count_nonzero(counts) > 1
        if mixed and scores[added] > best + ENSEMBLE_MARGIN:
            best, best_counts = scores[added], counts.copy()
    if best_counts is None:
        return None, None
    return best_counts / best_counts.sum(), -best if metric == "loss" else best


def _trial_schedule(lr_schedule):
    """The trials' schedule: "plateau" when asked for; "auto" is the
    finalists' alone."""
    return "plateau" if lr_schedule == "plateau" else None


def _median(values):
    return sorted(values)[len(values) // 2]


def _values(trial):
    """A trial's searched values as plain Python (keras-tuner's own
    ``tuner/...`` bookkeeping removed)."""
    values = {
        k: to_python(v)
        for k, v in trial.hyperparameters.values.items()
        if not k.startswith("tuner/")
    }
    return plain_values(values)


class _Configuration:
    """The defaults as a finalist when no trial ran them (a ``time_budget``
    ended the search first): a trial's ``trial_id`` (None) and
    ``hyperparameters``."""

    def __init__(self, hyperparameters):
        self.trial_id, self.hyperparameters = None, hyperparameters


def _defaults_trial(oracle, trials):
    """The first trial (in creation order) that ran the defaults (see
    :func:`cnnfix._oracle.defaults_first`), or them as a
    :class:`_Configuration` when none did."""
    hyperparameters = oracle.hyperparameters.copy()
    hyperparameters.values = default_values(oracle.hyperparameters)
    defaults = _Configuration(hyperparameters)
    return next((t for t in trials if _values(t) == _values(defaults)), defaults)


def _finalists(oracle, n):
    """The ``n`` configurations trained to convergence after the search: the
    defaults' (see :func:`_defaults_trial`), then the best other distinct
    ones by score."""
    trials = _in_creation_order(oracle)
    defaults = _defaults_trial(oracle, trials)
    others = [
        t
        for t in _distinct(oracle.get_best_trials(len(trials)))
        if _key(t) != _key(defaults)
    ]
    return [defaults, *others][:n]


def _in_creation_order(oracle):
    """The oracle's trials in creation order (ids are numbers as strings;
    a reloaded search lists them shuffled)."""
    return sorted(oracle.trials.values(), key=lambda t: (len(t.trial_id), t.trial_id))


def _key(trial):
    """A hashable key of a trial's configuration (its searched values)."""
    return repr(sorted(_values(trial).items()))


def _distinct(trials):
    """The trials with a score, each configuration once (Hyperband continues
    a configuration in a new trial), in the order given."""
    seen, kept = set(), []
    for trial in trials:
        key = _key(trial)
        if trial.score is not None and key not in seen:
            seen.add(key)
            kept.append(trial)
    return kept


def _distributed_worker():
    """Whether this process is a worker of keras-tuner's distributed search
    (``KERASTUNER_TUNER_ID`` set to anything but "chief...")."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
        "KERASTUNER_TUNER_ID", ""
    )


@contextlib.contextmanager
def _no_optimizer_state_warning():
    """Hyperband resumes trials from checkpoints without their optimizer
    state, and a trial's model is kept without it (keras-tuner's design);
    Keras warns each time."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Skipping variable loading for optimizer"
        )
        yield


def _called_by_model_selection():
    """Whether a function of ``sklearn.model_selection`` is on the call stack
    (cross_val_score, GridSearchCV, ...; their fits run through
    ``_fit_and_score``, in this process or in a joblib worker)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("sklearn.model_selection"):
            return True
        frame = frame.f_back
    return False


def _trial_record(trial, oracle):
    """A trial's plain record; ``oracle`` (see :mod:`cnnfix._oracle`) keeps
    its duration and the finalists' estimate it started under."""
    duration = oracle.durations.get(trial.trial_id)
    estimate = oracle.refit_estimates.get(trial.trial_id)
    return {
        "trial_id": trial.trial_id,
        "status": str(trial.status),
        "score": None if trial.score is None else float(trial.score),
        "best_epoch": int(trial.best_step) + 1,
        "duration": None if duration is None else float(duration),
        "refit_estimate": None if estimate is None else float(estimate),
        "splits": [
            float(trial.metrics.get_last_value(_split_metric(i)))
            for i in range(len(trial.metrics.metrics))
            if trial.metrics.exists(_split_metric(i))
        ],
        "params": _values(trial),
    }


def _split_metric(number):
    """The name under which a trial records fold ``number``'s objective."""
    return f"cnnfix_split{number}"


def _trial_history(trial):
    return {
        name: [float(o.value[0]) for o in trial.metrics.get_history(name)]
        for name in trial.metrics.metrics
        if not name.startswith(_split_metric(""))
    }
