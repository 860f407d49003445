"""The search, as it runs in the worker process: keras-tuner's trials, then
the finalists, for a TunedCNNClassifier.

:func:`search` takes the estimator (its parameters and its training
machinery: the fit arguments, the plan, the training loop) and returns
plain records and the kept model as ``.keras`` bytes, so the result can
travel back from a worker process.
"""

import copy
import functools
import io
import warnings
from contextlib import contextmanager, nullcontext, redirect_stdout
from pathlib import Path

from .._archive import model_to_bytes
from .._distribute import one_device, strategy_scope
from .._keras import import_keras
from .._training import callbacks
from ..architectures import average_models
from .data import cv_folds, search_sample
from .finalists import (
    average_finalists,
    choose_finalists,
    finalist_setup,
    in_creation_order,
    train_finalists,
)
from .records import trial_history, trial_record
from .space import build_sampled


def search(estimator, run, directory, deadline, emit):
    """Run the keras-tuner search, then the finalists; return plain
    records, the kept model as ``.keras`` bytes.

    Runs in the worker process (or in this one with
    ``isolate_search=False``): everything it returns is picklable.
    """
    # keras-tuner (and TensorFlow) load with the search, in the worker.
    from . import adapter

    import_keras().utils.set_random_seed(run.seed)
    hypermodel = _hypermodel(estimator, adapter, run.normalization)
    sample = search_sample(run, estimator.max_search_samples)
    # With cv, each trial trains one model per fold (see the adapter); else
    # the trials train on (a sample of) the training part.
    if estimator.cv is not None:
        folds, data = cv_folds(estimator.cv, sample, estimator._fold_arguments), {}
    else:
        arguments, validation = estimator._fold_arguments(sample)
        folds, data = None, {**arguments, "validation_data": validation}
    # verbose=2 shows keras-tuner's own report of each trial; below that
    # it is silenced (verbose=1 has the progress line over trials).
    quiet = redirect_stdout(io.StringIO()) if run.verbose < 2 else nullcontext()
    held_out = folds is not None or run.validation is not None
    with quiet, no_optimizer_state_warning():
        tuner = _tuner(
            estimator,
            adapter,
            hypermodel,
            run,
            held_out,
            directory=str(directory),
            deadline=deadline,
            folds=folds,
            emit=emit,
            scale=len(run.train[1]) / len(sample.train[1]),
        )
        trial_schedule = "plateau" if estimator.lr_schedule == "plateau" else None
        plan = estimator._plan(run, lr_schedule=trial_schedule)
        tuner.search(
            **data,
            epochs=estimator.max_epochs,
            callbacks=callbacks(plan, held_out),
            verbose=2 if run.verbose == 2 else 0,
        )
        if adapter.distributed_worker():
            return None
        oracle = tuner.oracle
        best = oracle.get_best_trials(1)[0]
        outcome = {
            "trials": [trial_record(t, oracle) for t in in_creation_order(oracle)],
            "best": trial_record(best, oracle),
            "stopped": oracle.stopped_by_deadline,
            "defaults_only": oracle.defaults_only,
        }
        if oracle.defaults_only:
            line = (
                f"Search: time_budget={estimator.time_budget:g} s leaves room for "
                "the defaults alone; they train to convergence."
            )
            emit({"note": line})
            if run.verbose == 2:  # no progress line to carry it
                print(line)
        if estimator.train_finalists or oracle.defaults_only:
            model, history = _finalists(
                estimator, oracle, hypermodel, run, deadline, emit, outcome
            )
        else:
            model, history = tuner.load_model(best), trial_history(best)
        outcome["model"] = model_to_bytes(model)
        outcome["history"] = history
        outcome["balancer"] = estimator.__dict__.get("balancer_")
    if not estimator.keep_checkpoints:  # the search is over: only its record stays
        for path in Path(tuner.project_dir).glob("trial_*/checkpoint*"):
            path.unlink()
    return outcome


def _hypermodel(estimator, adapter, normalization):
    """What keras-tuner builds: a dict space sampled into the builders
    (names it does not sample at their defaults), or the user's callable
    or HyperModel; every model built under ``precision``."""
    space = estimator._space()
    if isinstance(space, dict):
        own = ("optimizer", "learning_rate", "augmentation")
        space = functools.partial(
            build_sampled,
            space,
            {n: getattr(estimator, n) for n in own},
            estimator.image_shape_,
            estimator.n_classes_,
            normalization,
        )
    return adapter.InPrecision(space, estimator.precision)


def _tuner(estimator, adapter, hypermodel, run, held_out, *, deadline, **options):
    """keras-tuner's tuner and oracle for this search; ``options`` are
    :class:`~cnnfix.tuning.adapter.SearchTuner`'s. With a ``time_budget``,
    Hyperband repeats its brackets until the deadline (see
    :meth:`~cnnfix.tuning.policy.BudgetPolicy.hyperband_iterations`)."""
    hyperband = estimator.tuner == "hyperband"
    policy = estimator._policy
    budget = dict(max_trials=estimator.max_trials)
    if hyperband:
        budget = dict(
            max_epochs=estimator.max_epochs,
            factor=estimator.factor,
            hyperband_iterations=policy.hyperband_iterations(estimator.time_budget),
        )
    oracle = adapter.ORACLES[estimator.tuner](
        objective=adapter.search_objective(estimator.objective, held_out),
        seed=run.seed,
        max_consecutive_failed_trials=1,
        deadline=deadline,
        time_budget=estimator.time_budget,
        policy=policy,
        clock=estimator._clock,
        **budget,
    )
    # Hyperband's own tuner trains its trials' epochs and warm starts.
    tuner = adapter.HyperbandSearchTuner if hyperband else adapter.SearchTuner
    return tuner(
        oracle,
        hypermodel,
        n_finalists=estimator.n_finalists if estimator.train_finalists else 0,
        epochs=estimator.epochs,
        project_name="search",
        overwrite=estimator.overwrite,
        executions_per_trial=estimator.executions_per_trial,
        distribution_strategy=estimator.distribution_strategy,
        **options,
    )


def _finalists(estimator, oracle, hypermodel, run, deadline, emit, outcome):
    """Train the finalists (:func:`cnnfix.tuning.finalists.train_finalists`)
    and average them when ``ensemble`` gains; record them in
    ``outcome``; return the kept model and its history."""
    keras = import_keras()
    has_validation = run.validation is not None
    scored = run.validation if has_validation else run.train
    # The defaults alone train as unresolved finalists do (see
    # finalist_setup): stopping on the loss, at a constant rate.
    alone = outcome["defaults_only"]
    setup = finalist_setup(
        estimator.objective,
        estimator.lr_schedule,
        has_validation=has_validation,
        resolved=not alone and estimator._policy.resolves(len(scored[1])),
        early_stopping=estimator.early_stopping,
    )

    strategy = estimator._strategy()  # the estimator's distribution

    def fit(trial, share, lr_schedule):
        keras.backend.clear_session()
        keras.utils.set_random_seed(run.seed)
        with strategy_scope(strategy):
            model = hypermodel.build(trial.hyperparameters.copy())
            history = estimator._train(
                model,
                run,
                # Fresh copies of the user's callbacks, as each trial gets.
                callbacks=tuple(copy.deepcopy(estimator.callbacks or [])),
                lr_schedule=lr_schedule,
                objective=setup.watched,
                deadline=share,
                verbose=2 if run.verbose == 2 else 0,
            )
        return one_device(model, strategy), history

    models, histories, records, kept = train_finalists(
        choose_finalists(oracle, estimator.n_finalists),
        fit,
        setup,
        estimator._policy,
        deadline=deadline,
        clock=estimator._clock,
        emit=emit,
    )
    model, history, chosen = models[kept], histories[kept], records[kept]
    if estimator.ensemble and has_validation:
        averaged = average_finalists(
            records,
            lambda: estimator._probabilities(models, run.validation[0]),
            run.validation[1:],
            setup,
            estimator._policy,
        )
        if averaged is not None:
            heaviest, score = averaged
            chosen = {**records[heaviest], "score": score}
            model = average_models(models, [r["weight"] for r in records])
            history = histories[heaviest]
    outcome["finalist"], outcome["finalists"] = chosen, records
    return model, history


@contextmanager
def no_optimizer_state_warning():
    """Hyperband resumes trials from checkpoints without their optimizer
    state, and a trial's model is kept without it (keras-tuner's design);
    Keras warns each time."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Skipping variable loading for optimizer"
        )
        yield
