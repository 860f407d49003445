"""Every default a public estimator's docstring states is its real default."""

import ast
import inspect
import re

import pytest

import cnnfix

ESTIMATORS = [
    getattr(cnnfix, name)
    for name in cnnfix.__all__
    if inspect.isclass(getattr(cnnfix, name))
    and hasattr(getattr(cnnfix, name), "get_params")
    and not inspect.isabstract(getattr(cnnfix, name))
]

#: "name : type, default=value" lines of a numpydoc Parameters section.
PARAMETER_LINE = re.compile(r"^    (\w+) : .*, default=(.+)$", re.MULTILINE)


def documented_defaults(cls):
    section = cls.__doc__.split("Parameters\n    ----------\n")[1]
    section = re.split(r"\n    \w[\w ]*\n    -+\n", section)[0]  # up to the next
    return dict(PARAMETER_LINE.findall(section))


def test_every_public_estimator_is_checked():
    names = {cls.__name__ for cls in ESTIMATORS}
    assert {"DropoutCNN", "TunedCNNClassifier", "TransferCNN", "ClassBalancer"} <= names


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_documented_defaults_are_the_real_ones(cls):
    documented = documented_defaults(cls)
    signature = inspect.signature(cls.__init__).parameters
    assert set(documented) == set(signature) - {"self"}, "undocumented parameters"
    for name, text in documented.items():
        real = signature[name].default
        value = text.strip()
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass  # an unquoted word, e.g. default=auto: compare as text
        assert value == real or str(value) == str(real), (
            f"{cls.__name__}({name}=...): the docstring says default={text}, "
            f"the signature has {real!r}"
        )
