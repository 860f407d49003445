"""The one input path: arrays or file paths -> what Keras trains on.

This package owns the stratified validation split and the per-sample
weights (:mod:`.split`), reading image files (:mod:`.folder`,
:mod:`.headers`, :mod:`.pixels`, :mod:`.decode`, :mod:`.pool`), batches
of files decoded on the fly and their cache (:mod:`.files`), the
``tf.data`` pipelines handed to Keras (:mod:`.datasets`), balanced
``model.fit`` arguments (:mod:`.batches`), and the estimators' entry points
(:mod:`.pipeline`): training arguments, validation data, normalisation
statistics and prediction chunks. Its constants are one
:class:`~.policy.InputPolicy`. Checks of what users pass live in
:mod:`cnnfix._validation`, which calls this package, never the reverse.

The user-facing readers are public through :mod:`cnnfix.datasets`. The
estimators import their entry points from :mod:`.pipeline` and
:mod:`.split`; the package itself exports the names that several modules
share.
"""

from .files import is_path_array
from .headers import check_image_size, working_size
from .policy import INPUT_POLICY, InputPolicy
from .split import stratified_split

__all__ = [
    "INPUT_POLICY",
    "InputPolicy",
    "check_image_size",
    "is_path_array",
    "stratified_split",
    "working_size",
]
