"""One error root: every exception class pilegate defines derives from PilegateError (sessions/,
which imports nothing of ours, from its own root SessionError), and a class that used to be a
built-in error still is one, so callers' except clauses keep working."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from billing.tariff import TariffError
from gateway.config import ConfigError
from gateway.storage.writer import StorageClosed
from protocol.pilegate import EncodeError, PilegateError
from protocol.ykc.errors import YkcEncodeError
from sessions.errors import SessionError

ROOTS = {
    "protocol": PilegateError,
    "billing": PilegateError,
    "gateway": PilegateError,
    "sessions": SessionError,  # the core that imports nothing of ours has a root of its own
}


def _modules(package: str) -> list[str]:
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if ".migrations" not in info.name:  # Alembic scripts import alembic's `op` context
            names.append(info.name)
    return names


def _exception_classes(package: str) -> list[type[BaseException]]:
    """The exception classes defined (not imported) in the package's modules."""
    found = []
    for name in _modules(package):
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException):
                found.append(cls)
    return found


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_class_has_its_layers_root(package: str) -> None:
    root = ROOTS[package]
    classes = _exception_classes(package)
    assert classes  # the walk found the layer's errors
    orphans = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, root)]
    assert orphans == []


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (TariffError, ValueError),
        (ConfigError, ValueError),
        (EncodeError, ValueError),
        (YkcEncodeError, ValueError),
        (StorageClosed, RuntimeError),
    ],
)
def test_builtin_bases_are_kept(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, PilegateError)
    assert issubclass(cls, builtin)
