"""User-facing errors: the CLI prints these as one line and exits non-zero, with no traceback."""


class HanddetError(Exception):
    """A problem with the user's input or environment, stated in one line that names the file."""


class HanddetWarning(UserWarning):
    """Something a user should know that does not stop the command; the CLI prints it as one line."""


class ConfigError(HanddetError):
    """A config file or override has an unknown key, a wrong type or a bad value."""


class DataError(HanddetError):
    """A dataset, image or annotation file cannot be used."""


class WeightsError(HanddetError):
    """Model weights are missing, truncated or not a detection model."""


class SourceError(HanddetError):
    """A camera, video, image or stream cannot be opened."""


def one_line(text: object, limit: int = 200, tail: bool = False) -> str:
    """`text` (an exception, a tool's output) with its whitespace collapsed, cut to its first (or, with
    `tail`, last) `limit` characters: the reason part of a one-line error."""
    flat = " ".join(str(text).split())
    return flat[-limit:] if tail else flat[:limit]


def check_fractions(options: dict[str, float | None]) -> None:
    """Raise ConfigError naming the first option (e.g. `--conf`) given outside [0, 1]; None means not given."""
    for name, v in options.items():
        if v is not None and not 0.0 <= v <= 1.0:
            raise ConfigError(f"{name} must be between 0 and 1, got {v}")
