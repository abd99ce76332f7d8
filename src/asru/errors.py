"""The project's error types: the CLI turns them into a one-line message and exit code 2."""


class AsruError(Exception):
    """Base class for every user-facing error (bad input, bad config, missing file)."""


class DataError(AsruError):
    """A dataset file, record, field or image is wrong; the message names which."""


class ConfigError(AsruError):
    """A config file or option is wrong; the message names the file and field."""


class ModelError(AsruError):
    """A model folder is missing files or has an unsupported architecture."""


class Interrupted(BaseException):
    """A run stopped by SIGINT/SIGTERM after saving a checkpoint; the CLI exits with 128 + signal.

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception`` swallows it.
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
