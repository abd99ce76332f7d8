"""The project's error types: the CLI turns them into a one-line message and exit code 2."""


class AsruError(Exception):
    """Base class for every user-facing error (bad input, bad config, missing file)."""


class DataError(AsruError):
    """A dataset file, record, field or image is wrong; the message names which."""


class ConfigError(AsruError):
    """A config file or option is wrong; the message names the file and field."""


class ModelError(AsruError):
    """A model folder is missing files or has an unsupported architecture."""
