"""The numbers behind the findings, in one place.

Each check function takes one of these frozen dataclasses as its
``thresholds`` keyword (the defaults below when left out), so a test or a
user passes other values instead of editing module globals::

    check_class_balance(y, thresholds=DataThresholds(imbalance_ratio=5.0))

Each class's Attributes section says what every field does and why.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DataThresholds:
    """What the data checks (no model) flag, and at what severity.

    Attributes
    ----------
    warn_fraction : float, default=0.01
        Share of the dataset from which an image-quality or duplicate finding
        is a warning rather than info: a few odd images do not hurt accuracy, a
        percent of them can.
    min_samples_per_class : int, default=20
        A class with fewer training images is a ``too_few_samples`` warning:
        too few for a CNN to learn it.
    imbalance_ratio : float, default=3.0
        Largest over smallest class count from which the classes are
        imbalanced; the classes under largest / ratio are the minority.
    max_abs_pixel : float, default=3.0
        Pixels within [-max_abs_pixel, max_abs_pixel], with the mean and
        spread below, are at a scale networks train on (no finding).
    max_abs_mean : float, default=2.0
        The largest absolute pixel mean at such a scale.
    std_range : tuple, default=(0.05, 3.0)
        The range of the pixels' standard deviation at such a scale.
    near_duplicate_ratio : float, default=0.2
        Near duplicates: thumbnails closer than this share of the dataset's
        median nearest-neighbour distance (relative, so any image scale works).
    leakage_sample : int, default=2000
        Training images sampled to set the leakage check's near-copy distance;
        bounds its cost on large datasets.
    photo_side : int, default=32
        Photos: colour images at least this many pixels a side, the smallest
        input keras.applications' backbones take. Small grey images are not what
        ImageNet features help most.
    few_per_class : int, default=1000
        Below this many photos in the median class, a CNN trained from scratch
        is usually beaten by a fine-tuned pretrained one, as
        benchmarks/bench_transfer.py shows at 20 and 50 per class.
    blank_correlation : float, default=0.25
        Blank: neighbouring pixels less correlated than this hold no structure,
        only noise (about 0 for noise, well above for real images).
    flat_std : float, default=0.002
        Blank: a standard deviation under this share of the dataset's grey
        range (half a level of an 8-bit image) is a constant image.
    lighting_ratio : float, default=0.55
        Bright: the image's headroom from its dark end (1st percentile) to
        white under this share of the median one. Low contrast: its grey range
        under this share of the median range. Chosen with
        benchmarks/bench_lighting.py.
    dark_ratio : float, default=0.4
        Dark: the image's bright end (99th percentile) under this share of the
        median bright end. Stricter than ``lighting_ratio``: the bright ends of
        clean images spread further down (a dark garment, a night scene) than
        their dark ends spread up. Chosen with benchmarks/bench_lighting.py
        and benchmarks/bench_cleanvision.py.
    other_end_share : float, default=0.1
        Dark (bright) only when the other end of the image's range moved at
        most this share of how far the bright (dark) end moved: an image squeezed
        from both ends has low contrast.
    blur_ratio : float, default=0.5
        Blurry: sharpness under this share of the dataset's median sharpness.
    size_outlier_z : float, default=3.0
        Files: an image is an outlier of the size distribution when its log
        area (or its elongation, ``|log(width / height)|``) lies this many
        robust standard deviations (1.4826 times the median absolute
        deviation) beyond the median, and by the factors below: a few percent
        of a normal mixed-size folder at most.
    odd_aspect : float, default=1.5
        Files: an elongation above the median one by more than this factor
        (as well) is stretched visibly when resized. Portrait and landscape
        photos have the same elongation, so a folder of both is normal.
    small_area : float, default=0.25
        Files: under this share of the median area (as well), an image is
        upsampled at least 2x a side when resized, blurrier than the rest.
    min_class_images : int, default=20
        Dark, bright and low contrast compare an image with the other images
        of its class when the class has at least this many non-blank ones (a
        class dark by nature is not "dark"), else with the whole dataset.
    """

    warn_fraction: float = 0.01
    min_samples_per_class: int = 20
    imbalance_ratio: float = 3.0
    max_abs_pixel: float = 3.0
    max_abs_mean: float = 2.0
    std_range: tuple = (0.05, 3.0)
    near_duplicate_ratio: float = 0.2
    leakage_sample: int = 2000
    photo_side: int = 32
    few_per_class: int = 1000
    blank_correlation: float = 0.25
    flat_std: float = 0.002
    lighting_ratio: float = 0.55
    dark_ratio: float = 0.4
    other_end_share: float = 0.1
    blur_ratio: float = 0.5
    size_outlier_z: float = 3.0
    odd_aspect: float = 1.5
    small_area: float = 0.25
    min_class_images: int = 20


#: The defaults every data check uses when given no ``thresholds``.
DATA_THRESHOLDS = DataThresholds()


@dataclass(frozen=True)
class ModelThresholds:
    """What the checks on the cross-validation fits flag.

    Attributes
    ----------
    noise_warn_fraction : float, default=0.05
        Share of suspected label errors from which label noise is a warning
        rather than info.
    overfit_gap : float, default=0.1
        Training minus held-out accuracy above which the model overfits.
    underfit_accuracy : float, default=0.8
        Training accuracy under which (with a small gap) the model underfits.
    min_loss_drop : float, default=0.05
        Relative fall of the training loss under which the learning rate is too
        low.
    max_swing : float, default=0.05
        Mean distance of the training loss from its smoothed curve, relative to
        its level, above which the loss oscillates rather than falls.
    exploded_loss : float, default=3.0
        A training loss peak above this many times the chance loss has blown
        up.
    calibration_bins : int, default=15
        Equal-width bins of the top probability for the calibration error.
    max_calibration_error : float, default=0.05
        Expected calibration error above which out-of-fold probabilities are
        overconfident: a default DropoutCNN stays under it on digits and small
        Fashion-MNIST sets, one trained long without regularisation does not.
    collapse_share : float, default=0.9
        A fit whose top predicted class takes at least this share of its
        predictions has collapsed onto that class ...
    collapse_true_share : float, default=0.75
        ... unless the class makes up more than this share of the data.
    """

    noise_warn_fraction: float = 0.05
    overfit_gap: float = 0.10
    underfit_accuracy: float = 0.80
    min_loss_drop: float = 0.05
    max_swing: float = 0.05
    exploded_loss: float = 3.0
    calibration_bins: int = 15
    max_calibration_error: float = 0.05
    collapse_share: float = 0.9
    collapse_true_share: float = 0.75


#: The defaults every model check uses when given no ``thresholds``.
MODEL_THRESHOLDS = ModelThresholds()
