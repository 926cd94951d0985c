"""Errors a Kinema user can meet. Each message says what was wrong and what to do about it."""

from __future__ import annotations


class KinemaError(Exception):
    """Base class for every error Kinema raises on purpose."""


class InvalidInputError(KinemaError, ValueError):
    """A user-supplied value (size, prompt, image, option) cannot be used."""


class ModelNotFoundError(KinemaError, FileNotFoundError):
    """A model folder or a component inside it is missing."""


class MissingDependencyError(KinemaError, ImportError):
    """An optional package is needed for this feature; the message names the pip command."""


class Interrupted(KinemaError):
    """Generation was stopped on request (a cancel, a callback that returned False)."""
