"""Exception types raised on purpose by replay_core.

Every error about a bad value (a file, a name, a setting) is a ``ValueError`` (or
``KeyError``) too, so callers that only know the builtin types still catch them;
``replay_core.render.export.ExportError`` (a missing video encoder) is a ``RuntimeError``
instead. Messages are one sentence a user can act on.
"""


class ReplayError(Exception):
    """Base of every error replay_core raises on purpose."""


class RunFileError(ReplayError, ValueError):
    """A file that is not HDF5, a group that is not a run, or a run with a bad layout."""


class RunExistsError(RunFileError):
    """A run with that name is already in the file (runs are never overwritten)."""


class RunNotFoundError(RunFileError, KeyError):
    """No run with that name in the file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NoFeatureLayerError(ReplayError, ValueError):
    """The feature space was asked for but the run has no hidden layer of 2 or more units,
    no such layer, or a projection that cannot be drawn."""


class TrainingLimitError(ReplayError, ValueError):
    """A training request (a run, or a sweep in all) is over its budget of optimizer steps
    x parameters, plus the evaluation of every epoch."""


class ServerBusyError(ReplayError, ValueError):
    """The server already runs as many trainings (or sweep workers) as it can hold; the
    message says how many and to try again."""


class ViewUnavailableError(ReplayError, ValueError):
    """A prediction or view this run cannot give (inputs not 2-D, output not a probability)."""


class RenderError(ReplayError, ValueError):
    """A render setting out of bounds: a size, dpi, panel name, theme, curve setting,
    epoch or frame-rate a frame, strip or export cannot be drawn with."""
