"""The exceptions marlin_rs raises; their message is the `marlin` command's error line."""


class MarlinError(Exception):
    """An error of the marlin-rs library (bad checkpoint, undecodable video, ...)."""


class MarlinFileNotFoundError(MarlinError, FileNotFoundError):
    """A file that does not exist: a checkpoint, a video, the face detector."""


class MarlinValueError(MarlinError, ValueError):
    """A bad argument or setting: an unknown name, a number out of its range."""


for _class in (MarlinError, MarlinFileNotFoundError, MarlinValueError):
    _class.__module__ = "marlin_rs"
