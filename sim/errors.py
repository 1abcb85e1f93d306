"""The exceptions capsim raises: bad input is a CapsimError subclass, a bug an InvariantError."""


class CapsimError(Exception):
    """Base of every error caused by bad input; the CLI prints it in one line and exits 2."""


class ScenarioError(CapsimError):
    """A scenario field is missing, unknown or out of range; the message names the dotted path."""


class HistoryError(CapsimError):
    """A history file cannot be read or is malformed; the message names the line."""


class RunError(CapsimError):
    """A run failed for a reason of the user's making (a user resolver raised); names the run."""


class InvariantError(AssertionError):
    """A simulator invariant broke: always a bug, never caught broadly."""
