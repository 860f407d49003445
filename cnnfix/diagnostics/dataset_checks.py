"""Checks of the dataset as a whole: the class balance, and its size for a
CNN trained from scratch. Each returns a list of
:class:`~cnnfix.diagnostics.report.Finding` (empty when it finds nothing).
"""

import numpy as np

from .report import Finding, counted
from .thresholds import DATA_THRESHOLDS


def check_class_balance(y, *, thresholds=DATA_THRESHOLDS):
    """Imbalanced classes and classes with too few samples (the rules'
    numbers: ``thresholds``)."""
    classes, counts = np.unique(y, return_counts=True)
    findings = []
    ratio = counts.max() / counts.min()
    per_class = {str(c): int(n) for c, n in zip(classes, counts, strict=True)}
    least = thresholds.min_samples_per_class
    if ratio >= thresholds.imbalance_ratio:
        minority = classes[counts < counts.max() / thresholds.imbalance_ratio]
        findings.append(
            Finding(
                "class_imbalance",
                "warning",
                f"The largest class has {ratio:.1f}x the images of the smallest; "
                f"{counted(len(minority), 'class is', 'classes are')} "
                "under-represented.",
                {
                    "imbalance_ratio": float(ratio),
                    "class_counts": per_class,
                    "minority_classes": [str(c) for c in minority],
                },
                "Balance the training data: make_pipeline(ClassBalancer(), "
                "DropoutCNN()), or DropoutCNN(class_weight='balanced'); score "
                "with balanced_accuracy.",
            )
        )
    few = classes[counts < least]
    if len(few):
        findings.append(
            Finding(
                "too_few_samples",
                "warning",
                f"{counted(len(few), 'class has', 'classes have')} fewer than "
                f"{least} images, too few for a CNN to learn.",
                {
                    "classes": {str(c): per_class[str(c)] for c in few},
                    "minimum": least,
                },
                "Collect more images of these classes, or augment and "
                "oversample: DropoutCNN(augmentation='standard', "
                "balancer=ClassBalancer())",
                np.flatnonzero(np.isin(y, few)),
            )
        )
    return findings


def check_dataset_size(image_shape, y, from_scratch, *, thresholds=DATA_THRESHOLDS):
    """``small_dataset_from_scratch``: few photos per class of
    ``image_shape`` (height, width, channels), and a CNN that starts from
    random weights (``from_scratch``); "few" and "photos" as ``thresholds``
    define them."""
    height, width, channels = image_shape
    per_class = float(np.median(np.unique(y, return_counts=True)[1]))
    photos = channels == 3 and min(height, width) >= thresholds.photo_side
    if not (from_scratch and photos and per_class < thresholds.few_per_class):
        return []
    return [
        Finding(
            "small_dataset_from_scratch",
            "warning",
            f"{per_class:.0f} colour images per class (median) is few for a CNN "
            "trained from scratch; a pretrained backbone already knows edges, "
            "textures and shapes.",
            {
                "median_per_class": per_class,
                "image_size": [int(height), int(width)],
                "threshold_per_class": thresholds.few_per_class,
            },
            "Fine-tune a pretrained network: TransferCNN() (ImageNet "
            "weights, downloaded once; offline, pass weights=<path to the "
            "file>), in place of the CNN trained from scratch.",
        )
    ]
