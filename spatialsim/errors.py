"""The one exception type for user mistakes, so the CLI can print it without a traceback."""


class UserError(ValueError):
    """A mistake in what the user asked for: bad name, bad value, bad file.

    The message must name what was wrong (file, field, value) and what would be valid.
    """


def choices_message(what: str, value: object, valid: object) -> str:
    """Format the standard 'unknown X' message listing the valid options."""
    if isinstance(valid, (list, tuple, set, frozenset, dict)):
        listed = ", ".join(sorted(str(v) for v in valid))
    else:
        listed = str(valid)
    return f"unknown {what} {value!r}; valid: {listed}"
