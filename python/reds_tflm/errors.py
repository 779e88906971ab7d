"""Exceptions of reds_tflm. The CLI turns every RedsError into a one-line message and exit status 2."""

from __future__ import annotations


class RedsError(Exception):
    """Base class: something the user can fix (bad file, bad option, unsupported model)."""


class ModelFormatError(RedsError):
    """The file is not a readable TFLite flatbuffer (missing, truncated, wrong identifier, corrupt)."""


class UnsupportedModelError(RedsError):
    """A readable model uses something reds_tflm cannot handle (tensor type, control flow, resource variables)."""


class WidthsError(RedsError):
    """A widths file or width table does not fit the model's width graph."""


class BudgetError(RedsError):
    """A budget index or budget fraction is out of range or inconsistent."""


class BudgetTableError(ModelFormatError, BudgetError):
    """A malformed budget entry of a REDS model's `reds` metadata: a format error of the file and a budget error."""


class OptionsError(RedsError):
    """A REDS custom operator carries custom options that do not follow docs/format.md."""
