"""TransferCNN: a pretrained backbone with a new head, fine-tuned inside fit.

The network is :func:`cnnfix._backbones.build_transfer_cnn`'s; this module
trains it in two phases by the one training loop.
"""

import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._backbones import (
    BACKBONE_NAME,
    BACKBONES,
    build_transfer_cnn,
    resized_size,
    unfreeze_top,
)
from ._docs import fill_doc
from ._input import INPUT_POLICY, is_path_array
from ._warnings import warn
from .architectures import compile_cnn
from .base import BaseCNNClassifier

__all__ = ["TransferCNN"]


@fill_doc(
    epochs="""\
    Maximum number of epochs of the fine-tuning phase (phase two); the
    head-only phase has ``head_epochs``. With ``early_stopping=True`` each
    phase usually stops sooner.""",
    batch_size="""\
    Number of images per gradient step: 32, half DropoutCNN's 64, as a
    backbone sees larger images (up to its native side), so each batch
    takes more memory.""",
    patience=(
        'int or "auto"',
        """\
    Epochs without improvement before early stopping, in each phase.
    "auto" is 5, half DropoutCNN's, for pretrained weights (a pretrained
    network starts near a solution and converges sooner), and 10,
    DropoutCNN's, for a named backbone with ``weights=None``: its
    validation loss, in inference mode, is erratic until batch
    normalisation's moving statistics settle.""",
    ),
    image_size=(
        "None, int or (int, int)",
        """\
    The (height, width) the backbone sees. Image files are decoded at
    this size; arrays are resized to it inside the model, so ``predict``
    takes images at their own size. None keeps the images' size (for
    files of mixed sizes, one working size: their median aspect with the
    longer side at most the backbone's native side and 64 pixels, see
    ``working_size_``), each side raised to the backbone's minimum (32
    pixels for the named ones). Larger
    sizes cost more time: ImageNet weights work best near the size they
    were trained at (224).""",
    ),
    learning_rate="""\
    Learning rate of a named optimizer while the head is trained (phase
    one). Phase two uses ``fine_tune_learning_rate``.""",
    normalize="""\
    Learn per-channel mean and variance of the training images in ``fit``
    and standardise inputs inside the model. Only for a callable
    ``backbone`` without preprocessing of its own: a named backbone
    applies its own preprocessing to 0-255 pixels, and ``normalize=True``
    with one is an error. Hence the default differs from DropoutCNN's.""",
)
class TransferCNN(BaseCNNClassifier):
    """A pretrained network with a new head, fine-tuned on your images.

    The backbone (a ``keras.applications`` network or your own) is followed
    by global average pooling, dropout and a softmax layer. ``fit`` trains in
    two phases, as in Keras's transfer-learning guide:

    1. the backbone is frozen and the new head is trained for up to
       ``head_epochs`` epochs with ``learning_rate``;
    2. the top ``fine_tune_layers`` layers of the backbone are unfrozen
       (batch normalisation layers stay frozen) and the whole model is
       trained for up to ``epochs`` epochs with the lower
       ``fine_tune_learning_rate``.

    A pretrained backbone always runs in inference mode (``training=False``),
    so its batch normalisation statistics are never overwritten by a few
    small batches. A named backbone with ``weights=None`` has nothing to
    protect: it trains whole in one phase of up to ``epochs`` epochs with
    ``learning_rate``, batch normalisation included and in training mode
    (``head_epochs``, ``fine_tune_layers`` and ``fine_tune_learning_rate``
    are ignored). Everything the backbone needs is inside the model: images are
    resized to ``image_size``, grey images are repeated to three channels and
    the backbone's own preprocessing is applied, so ``predict`` takes the same
    raw images as ``fit``. Named backbones expect pixels in 0-255 (what
    :func:`cnnfix.datasets.load_image_folder` returns).

    Read more in the :doc:`user guide </guide/transfer>`.

    Parameters
    ----------
    backbone : str or callable, default="MobileNetV3Small"
        "MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0" or
        "ResNet50" (``keras.applications`` networks without their top), or a
        callable ``backbone(input_shape) -> keras.Model`` that returns a new
        network without a top on each call (your own, pretrained or not). A
        callable receives ``(height, width, channels)`` after resizing and
        grey-to-RGB, and sees the pixels as given (standardised with
        ``normalize=True``): put its preprocessing inside it.
    weights : "imagenet", str, path-like or None, default="imagenet"
        "imagenet": Keras downloads the backbone's ImageNet weights the first
        time and caches them in ``~/.keras/models/`` (``$KERAS_HOME/models``);
        without a network connection ``fit`` raises a FileNotFoundError that
        names the file and where to get it. A path: a weights file of the same
        backbone without its top (``keras.Model.save_weights`` writes one;
        the downloaded ``.h5`` files work too). None: random initialisation,
        trained in one phase (see above). A callable backbone takes a path or
        None, and keeps the two phases.
    fine_tune_layers : int or "all", default="all"
        How many layers of the backbone phase two trains, counted from the
        top among the layers with weights, batch normalisation layers not
        counted (they stay frozen). "all" unfreezes every one; 0 skips phase
        two (only the head is trained).
    head_epochs : int, default=50
        Maximum number of epochs of phase one (0 skips it: all at once).
        With early stopping (the default) each phase stops once the
        validation loss has not improved for ``patience`` epochs; on a few
        images an epoch is a few steps, so the cap is as high as
        ``epochs``'s (see the user guide).
    fine_tune_learning_rate : float or None, default=None
        Learning rate of phase two. None uses ``learning_rate / 10`` (the
        optimizer instance's own learning rate / 10 when ``optimizer`` is an
        instance).
    dropout : float, default=0.2
        Dropout rate before the output layer.
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    phase_epochs_ : tuple of int
        Epochs run in (phase one, phase two); ``history_`` holds phase one's
        epochs first. ``(0, n)`` for a named backbone with ``weights=None``.
    image_size_ : tuple of int
        (height, width) the backbone sees.

    See Also
    --------
    DropoutCNN : A small CNN trained from scratch.

    Examples
    --------
    ``TransferCNN()`` fine-tunes MobileNetV3Small with ImageNet weights
    (downloaded once). Offline, and small enough for a doctest, the same with
    a network of your own:

    >>> import keras
    >>> import numpy as np
    >>> from cnnfix.transfer import TransferCNN
    >>> def small_backbone(input_shape):
    ...     inputs = keras.Input(shape=input_shape)
    ...     x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    ...     return keras.Model(inputs, x)
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 255, size=(40, 12, 12))  # grey: repeated to RGB
    >>> y = np.repeat(["bolt", "nut"], 20)
    >>> clf = TransferCNN(
    ...     backbone=small_backbone, weights=None, image_size=16, head_epochs=2,
    ...     epochs=2, early_stopping=False, random_state=0,
    ... ).fit(X, y)
    >>> clf.phase_epochs_, clf.image_size_
    ((2, 2), (16, 16))
    >>> clf.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **BaseCNNClassifier._parameter_constraints,
        "backbone": [StrOptions(set(BACKBONES)), callable],
        "weights": [None, str, os.PathLike],
        "fine_tune_layers": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"all"}),
        ],
        "patience": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "head_epochs": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [None, Interval(Real, 0, None, closed="neither")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        *,
        backbone="MobileNetV3Small",
        weights="imagenet",
        fine_tune_layers="all",
        head_epochs=50,
        fine_tune_learning_rate=None,
        dropout=0.2,
        epochs=50,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-3,
        validation_split=0.1,
        early_stopping=True,
        patience="auto",
        lr_schedule=None,
        normalize=False,
        augmentation=None,
        class_weight=None,
        image_shape=None,
        image_size=None,
        cache=False,
        precision="float32",
        distribution=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        balancer=None,
    ):
        self._store(locals())

    # -- fit ---------------------------------------------------------------

    def _fit_keras(self, run):
        self._check_settings(run.train[0])
        self.image_size_ = resized_size(
            self.image_size, self.image_shape_[:2], self.backbone
        )
        model = build_transfer_cnn(
            tuple(self.image_shape_),
            self.n_classes_,
            backbone=self.backbone,
            weights=self.weights,
            image_size=self.image_size_,
            fine_tune_layers=0,  # the backbone frozen; phase two unfreezes it
            dropout=self.dropout,
            normalization=run.normalization,
            augmentation=self.augmentation,
        )
        scratch = self._from_scratch()
        loss = "val_loss" if run.validation else "loss"  # what early stopping saw
        histories, best = [{}, {}], None  # of phase one and phase two
        if self.head_epochs > 0 and not scratch:  # phase one: the head only
            histories[0] = self._phase(model, run, self.head_epochs, fine_tune=False)
            if self.early_stopping:  # else the last weights are kept
                best = (float(np.min(histories[0][loss])), model.get_weights())
        # Phase two: the top of the backbone too; from scratch, the one
        # phase: every layer, as built.
        if self.fine_tune_layers != 0 or scratch:
            if not scratch:
                unfreeze_top(model.get_layer(BACKBONE_NAME), self.fine_tune_layers)
            histories[1] = self._phase(model, run, self.epochs, fine_tune=not scratch)
            # Early stopping restores each phase's best epoch; keep phase
            # one's weights when fine-tuning never did better.
            if best is not None and float(np.min(histories[1][loss])) > best[0]:
                model.set_weights(best[1])
        self.phase_epochs_ = tuple(len(next(iter(h.values()), [])) for h in histories)
        history = {
            key: [value for h in histories for value in h.get(key, [])]
            for key in histories[0] or histories[1]
        }
        return model, history

    def _patience(self):
        """``patience``, with "auto" resolved (see the parameter)."""
        if self.patience != "auto":
            return self.patience
        return 10 if self._from_scratch() else 5

    def _from_scratch(self):
        """Whether a named backbone starts from random weights: then it trains
        whole from the start, batch normalisation in training mode."""
        return isinstance(self.backbone, str) and self.weights is None

    def _working_side(self):
        """Longest side of the working size for files of mixed sizes: the
        backbone's native side, capped as DropoutCNN's."""
        named = BACKBONES.get(self.backbone) if isinstance(self.backbone, str) else None
        cap = INPUT_POLICY.working_side
        return cap if named is None else min(named.default_side, cap)

    def _check_settings(self, X):
        """Errors and warnings about parameters that depend on each other or
        on the data, before anything is built."""
        scratch = self._from_scratch()
        if self.head_epochs == 0 and self.fine_tune_layers == 0 and not scratch:
            raise ValueError(
                "head_epochs=0 and fine_tune_layers=0 leave nothing to train. "
                "Use head_epochs >= 1 to train the head, fine_tune_layers >= 1 "
                'or "all" to fine-tune the backbone, or both.'
            )
        if isinstance(self.backbone, str):
            if self.normalize:
                raise ValueError(
                    f"normalize=True standardises the images, but backbone="
                    f"{self.backbone!r} applies its own preprocessing to 0-255 "
                    "pixels. Use normalize=False (the default) with a named "
                    "backbone, and pass pixels in 0-255."
                )
            # (Files decode to 0-255 pixels: only arrays can be in [0, 1].)
            if not is_path_array(X) and X.size and float(np.max(X)) <= 1.0:
                warn(
                    f"The training images' pixels are all in [0, 1], but "
                    f"backbone={self.backbone!r} expects 0-255 pixels (it "
                    "rescales them itself). Multiply the images by 255."
                )
        elif str(self.weights) == "imagenet":
            raise ValueError(
                'weights="imagenet" needs a named backbone (one of '
                f"{sorted(BACKBONES)}); got a callable backbone. Pass "
                "weights=<path to a weights file> or weights=None."
            )
        if self.weights is not None and str(self.weights) != "imagenet":
            if not Path(self.weights).is_file():
                raise FileNotFoundError(
                    f"weights={str(self.weights)!r}: no such file. Expected "
                    '"imagenet", None or the path of a weights file of the '
                    "backbone without its top (keras.Model.save_weights "
                    "writes one)."
                )

    def _phase(self, model, run, epochs, *, fine_tune):
        """Compile ``model`` for one phase with a fresh optimizer (a changed
        ``trainable`` takes effect only when the model is compiled), then
        train it for up to ``epochs``; return the phase's history."""
        optimizer, rate = self.optimizer, self.learning_rate
        if fine_tune:
            named = isinstance(optimizer, str)
            config = {"learning_rate": rate} if named else optimizer.get_config()
            own, rate = config.get("learning_rate"), self.fine_tune_learning_rate
            if rate is None and isinstance(own, Real):
                rate = own / 10
            if rate is not None and not named:  # else a schedule, kept as configured
                config["learning_rate"] = rate
                optimizer = type(optimizer).from_config(config)
        compile_cnn(model, optimizer=optimizer, learning_rate=rate)
        return self._train(model, run, epochs=epochs, patience=self._patience())
