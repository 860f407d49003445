"""Parameter and attribute text shared by the CNN estimators' docstrings.

Written once here and substituted into each class docstring with
:func:`fill_doc`, so the estimators never drift apart. Each parameter's
default is read from the class's own signature, so the text can never state
a wrong one; a class can replace a parameter's description where its meaning
differs (``fill_doc(epochs="...")``).
"""

import inspect
import re
import textwrap

#: Shared parameters, in docstring order, as numpydoc writes them (each
#: ``name : type`` line without its default, which comes from the class).
_PARAMETER_TEXT = """\
epochs : int
    Maximum number of passes over the training data. With
    ``early_stopping=True`` training usually stops sooner.
batch_size : int
    Number of images per gradient step.
optimizer : str or keras.optimizers.Optimizer
    A Keras optimizer name ("adam", "adamw", "sgd", "rmsprop", ...) or an
    instance, which is copied for every fit.
learning_rate : float
    Learning rate of a named optimizer (an instance keeps its own).
validation_split : float
    Fraction of the training data held out for early stopping, drawn by a
    stratified shuffle (never Keras's unshuffled tail). 0 uses no
    validation data.
early_stopping : bool
    Stop when the validation loss (the training loss when there is no
    validation data) has not improved for ``patience`` epochs, and
    restore the weights of the best epoch.
patience : int
    Epochs without improvement before early stopping.
lr_schedule : None, "plateau" or "cooldown"
    None keeps the learning rate. "plateau" divides it by 5 each time the
    validation loss (the training loss without validation data) has not
    improved for ``max(1, patience // 3)`` epochs (Keras's
    ``ReduceLROnPlateau``), so early stopping sees a few smaller steps
    before it ends training. "cooldown" does the same and, in the last
    fifth of the planned epochs (``epochs``, at least one), lowers the rate
    linearly, batch by batch, to 0, and training stops there; early
    stopping may end it sooner. Models that have stalled usually gain from
    the smaller steps, at the cost of more epochs.
normalize : bool
    Learn per-channel mean and variance of the training images in ``fit``
    and normalise inputs with a ``keras.layers.Normalization`` layer inside
    the model, so raw 0-255 pixels work. For file paths, the statistics
    come from up to 1,000 training files drawn at random (all of them
    when fewer) and decoded once.
augmentation : None, {"light", "standard"} or list of keras layers
    Random image transformations applied only while training. "light"
    shifts images by up to 10%; "standard" also rotates and zooms. A list
    of Keras preprocessing layers (e.g. ``keras.layers.RandomFlip``) is
    copied for every fit.
class_weight : None, "balanced" or dict
    Weights of the classes in the loss. "balanced" weights each class by
    ``n_samples / (n_classes * count)``; a dict maps original labels to
    weights (classes it does not name get 1).
image_shape : tuple of int or None
    (height, width[, channels]) used to reshape flat (n, d) input. None
    reads a perfect square d = s*s as (s, s, 1) and any other d as a
    (d, 1, 1) column. Ignored for input that is already 3-D or 4-D, and
    for file paths (see ``image_size``).
image_size : None, int or (int, int)
    Only for X given as image file paths: the ``(height, width)`` every
    file is resized to (bilinear, as :func:`cnnfix.datasets.read_images`),
    or one int for squares. None reads the headers of up to 1,000 files
    spread evenly over X and keeps their size when they share one; when
    they differ, one working size serves the whole fit (the same in every
    fold of the same data): their median aspect, with the longer side
    their median longer side, at most 64 pixels (``working_size_``
    records it, and ``verbose >= 1`` states it). The files decode to 1
    channel when all of those files are grey, else to RGB;
    ``image_shape_`` records the result. Arrays are used at their own
    size: resize them yourself.
cache : bool
    Only for X given as image file paths: decode each file once and keep
    its pixels in memory (uint8, by path) for the rest of ``fit``, so the
    epochs after the first read no file. Costs height x width x channels
    bytes per file, plus about 200 bytes of bookkeeping (70 MB for 70,000
    28x28 grey files, 1.5 GB for 10,000 224x224 RGB ones), freed when
    ``fit`` returns. Worth it when the
    decoded files fit in memory and many epochs run; the default decodes
    every batch anew, so memory stays bounded by a few batches.
random_state : int, RandomState instance or None
    Seeds weight initialisation, dropout, augmentation, shuffling and the
    validation split. An int makes two fits give identical predictions.
    Seeding is scoped to ``fit``: the global NumPy and Python random
    states are restored afterwards.
verbose : int
    0 prints nothing; 1 shows a progress bar per epoch; 2 one line per
    epoch. Levels above 2 act as 2.
callbacks : list of keras.callbacks.Callback or None
    Extra Keras callbacks run during training.
balancer : ClassBalancer, imbalanced-learn sampler or None
    Resamples the training part (never the validation data) inside
    ``fit``, so balancing works in a plain scikit-learn Pipeline and is
    tunable as ``<step>__balancer__strategy``. A ``ClassBalancer`` with
    ``stream=True`` draws balanced batches by index instead of copying
    the data. Sample and class weights follow the resampled rows.
precision : {"float32", "mixed"}
    Numeric precision of the Keras model. "mixed" builds it under Keras's
    "mixed_float16" dtype policy: weights stay float32 but the layers
    compute in float16 (the softmax output, normalisation and augmentation
    stay float32) and the optimizer scales the loss. It speeds up training
    and halves activation memory on GPUs with tensor cores (NVIDIA compute
    capability 7.0 or newer); on CPUs it is usually slower, so keep
    "float32" there. The policy is set for ``fit`` only and restored after;
    the fitted model keeps it through ``predict``, pickling and ``save``.
distribution : None, "mirrored", list of str or tf.distribute.Strategy
    Spread one fit over several devices of this machine with
    ``tf.distribute``. None trains on one device. "mirrored" copies the
    model onto every GPU (every logical CPU device where there is no GPU)
    with ``MirroredStrategy``; a list of device names (``["/gpu:0",
    "/gpu:1"]``) takes those; a strategy built by you is used as it is.
    The model is built, compiled and trained in its scope. ``batch_size``
    is the global batch, split evenly over the replicas (it must divide by
    them), so ``learning_rate`` needs no change; scale both by the same
    factor to give each device more. The fitted model predicts on one
    device, and pickles and saved files hold no strategy.
    TunedCNNClassifier trains its finalists under it (its trials take
    ``distribution_strategy``). Not inside a parallel joblib call
    (``n_jobs > 1``); several machines are not supported by Keras 3's
    ``fit`` yet. See :doc:`/parallel`.
"""


def _entry(block):
    """One parameter of the text above -> ``(name, (type, description))``."""
    head, description = block.split("\n", 1)
    name, kind = head.split(" : ", 1)
    return name, (kind, description)


#: Shared parameters: name -> (type, description).
_PARAMETERS = dict(map(_entry, re.split(r"\n(?=\S)", _PARAMETER_TEXT.strip())))


#: The fitted attributes the estimators share.
_FITTED_ATTRIBUTES = """\
    model_ : keras.Model
        The trained Keras model (normalisation included).
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``, in the order of ``predict_proba``'s
        columns.
    n_classes_ : int
        Number of classes.
    n_features_in_ : int
        Values per image (height * width * channels).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, only when X was a DataFrame with string column names.
    image_shape_ : tuple of int
        (height, width, channels) of the training images; for file paths,
        the size they are resized to and their channels (see
        ``image_size``). Files given to ``predict`` are decoded to it.
    working_size_ : tuple of int or None
        (height, width) chosen for image files of mixed sizes when
        ``image_size`` is None (see ``image_size``); None otherwise.
    history_ : dict of str to list of float
        Per-epoch training metrics ("loss", "accuracy", "val_loss", ...).
    n_epochs_ : int
        Number of epochs actually run.
    balancer_ : ClassBalancer or sampler
        The fitted clone of ``balancer`` (only when one was given)."""


def _default(value):
    """A default as numpydoc shows it: strings in double quotes."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _parameters(cls, descriptions):
    """The shared parameters' text for ``cls``, defaults from its signature."""
    signature = inspect.signature(cls.__init__).parameters
    blocks = []
    for name, (kind, text) in _PARAMETERS.items():
        if name in signature:  # else a shared parameter this class lacks (yet)
            override = descriptions.get(name, text)
            if isinstance(override, tuple):  # (type, description)
                kind, override = override
            blocks.append(
                f"    {name} : {kind}, default={_default(signature[name].default)}\n"
                + textwrap.indent(textwrap.dedent(override).strip(), " " * 8)
            )
    return "\n".join(blocks)


def fill_doc(**descriptions):
    """Class decorator: substitute ``%(name)s`` fields of the shared text.

    ``%(training_parameters)s`` becomes the shared parameters with the
    class's own defaults; keyword arguments replace the description of the
    parameters they name for this class, or with a ``(type, description)``
    tuple, both. A field stands indented in the
    docstring, so its first line comes without the text's own indentation.
    """
    if unknown := set(descriptions) - set(_PARAMETERS):
        raise ValueError(f"fill_doc: no shared parameters {sorted(unknown)}.")

    def fill(cls):
        cls.__doc__ %= {
            "training_parameters": _parameters(cls, descriptions).lstrip(),
            "fitted_attributes": _FITTED_ATTRIBUTES.lstrip(),
        }
        return cls

    return fill
