"""The exceptions netlab raises for anything a user can cause; the CLI turns them into one line."""

from __future__ import annotations


class NetlabError(Exception):
    """Base class: a problem the user can fix. `exit_code` is what the CLI exits with."""

    exit_code = 1


class ConfigError(NetlabError):
    """A config file or override has an unknown key or a bad value."""

    exit_code = 2


class DataError(NetlabError):
    """A dataset file is missing, corrupt, truncated or inconsistent."""


class ModelFileError(NetlabError):
    """A model file is not a valid netlab model."""


class BackendError(NetlabError):
    """The requested device cannot be used."""

    exit_code = 2


class GradcheckError(NetlabError):
    """A gradient check was asked for something it cannot do (e.g. float32)."""

    exit_code = 2


class OutputExistsError(NetlabError):
    """An output path exists and --force was not given."""


class TrainingDiverged(NetlabError):
    """The loss or the parameters became NaN or infinite."""

    exit_code = 3


class Interrupted(NetlabError):
    """The user interrupted a command (Ctrl-C); the message says what was kept."""

    exit_code = 130
