"""One error hierarchy for aecodec.

Every error a user can cause is an :class:`AecError`. The CLI turns each into a one-line
message on stderr and the exit code named by its ``exit_code`` attribute (documented in
README.md):

====  ==========================================================
code  meaning
====  ==========================================================
1     generic failure (:class:`AecError`)
2     bad command-line usage (click's ``UsageError``, :class:`OptionError`)
3     input file missing, unreadable or not audio (:class:`InputError`)
4     ``.aec`` file corrupt, truncated, foreign or unsupported (:class:`FormatError`)
5     output cannot be written / would be clobbered (:class:`OutputError`)
6     model weights missing, tampered or mismatched (:class:`ModelError`)
7     an optional dependency is not installed: torch, for training; dask, for
      ``--scheduler`` (:class:`DependencyError`)
130   interrupted (Ctrl-C); no partial output is left
====  ==========================================================
"""

from __future__ import annotations


class AecError(Exception):
    """Base class of every error aecodec raises on purpose."""

    exit_code = 1


class OptionError(AecError):
    """An option value a caller passed is out of range (NaN, infinite, negative); exit 2 like
    click's own usage errors."""

    exit_code = 2


class InputError(AecError):
    """An input file is missing, unreadable, empty, not audio or holds non-finite samples."""

    exit_code = 3


class FormatError(AecError):
    """A ``.aec`` file is foreign, truncated, corrupted or of an unsupported version."""

    exit_code = 4


class UnsupportedVersionError(FormatError):
    """A ``.aec`` file of a format version this build cannot read."""


class CorruptChunkError(FormatError):
    """A payload chunk failed its CRC check.

    Attributes
    ----------
    index : int
        Zero-based index of the damaged chunk.
    count : int
        Number of chunks in the file.
    """

    def __init__(self, message: str, *, index: int, count: int) -> None:
        super().__init__(message)
        self.index = index
        self.count = count


class OutputError(AecError):
    """An output cannot be written, or exists and ``force`` was not given."""

    exit_code = 5


class ModelError(AecError):
    """Model weights are missing, fail their hash check, or do not match the file."""

    exit_code = 6


class DependencyError(AecError):
    """An optional dependency is not installed (torch: training and the reference nets;
    dask.distributed: ``--scheduler``, :mod:`aecodec.files.cluster`)."""

    exit_code = 7


TRAIN_HINT = "pip install 'aecodec[train]' (see README, Install)"


def require_torch(what: str) -> None:
    """Raise :class:`DependencyError` naming ``what`` if torch cannot be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise DependencyError(f"{what} needs torch, which is not installed: {TRAIN_HINT}"
                              ) from None
