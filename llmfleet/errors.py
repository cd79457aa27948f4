"""Errors the CLI turns into one clear line and a non-zero exit."""


class LlmfleetError(Exception):
    """A problem the operator can act on; the message says what to do."""

    exit_code = 2
