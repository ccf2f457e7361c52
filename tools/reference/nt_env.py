"""Imports neural-tangents 0.6.5 in float64 without TensorFlow.

neural_tangents/__init__.py imports its experimental TF bridge, which needs tensorflow and tf2jax
at import time; nothing we call uses them, so they are replaced by stand-ins before the import.
"""
import os
import sys
from unittest import mock

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
for name in ("tensorflow", "tf2jax", "jax.experimental.jax2tf"):
    sys.modules.setdefault(name, mock.MagicMock())

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import neural_tangents as nt  # noqa: E402,F401
from neural_tangents import stax  # noqa: E402,F401

VERSIONS = {"neural_tangents": nt.__version__, "jax": jax.__version__}
