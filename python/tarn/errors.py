"""tarn's exceptions, one class per tarn error code (include/tarn/common.h).

Every failure the C library reports reaches Python as a subclass of
``tarn.Error`` carrying ``code`` (the negative tarn_code) and ``code_name``
(the stable name also used in JSON: "not_found", "conflict", ...).
"""

__all__ = [
    "Error", "NotFoundError", "ExistsError", "ConflictError", "InvalidError",
    "TarnIOError", "AmbiguousError", "OutOfMemoryError", "UserFunctionError",
    "AbortedError", "RetryError", "DeniedError", "from_code",
]


class Error(Exception):
    """Base class of every tarn error."""

    code = -1
    code_name = "error"

    def __init__(self, message="", code=None):
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFoundError(Error):
    """A ref, table, namespace or file does not exist."""
    code, code_name = -2, "not_found"


class ExistsError(Error):
    """The thing to create already exists."""
    code, code_name = -3, "exists"


class ConflictError(Error):
    """A merge or a concurrent update conflicts; ``tables`` names what."""
    code, code_name = -4, "conflict"

    def __init__(self, message="", code=None, tables=()):
        super().__init__(message, code)
        self.tables = list(tables)


class InvalidError(Error, ValueError):
    """Bad input: a name, a ref, SQL, a schema, malformed Arrow data."""
    code, code_name = -5, "invalid"


class TarnIOError(Error, OSError):
    """The file system, the object store or the catalog failed."""
    code, code_name = -6, "io"


class AmbiguousError(Error):
    """A short commit hash names several commits."""
    code, code_name = -7, "ambiguous"


class OutOfMemoryError(Error, MemoryError):
    code, code_name = -8, "nomem"


class UserFunctionError(Error):
    """A user function failed (raised, exited, crashed or returned a non-table).

    ``kind`` is "exception", "memory" (over its memory limit), "timeout"
    (over its time limit), "exit", "signal", "bad_return", "refused" (the
    kernel cannot confine it as asked) or "protocol";
    ``traceback`` the function's formatted traceback (when it raised),
    ``exitcode`` / ``signal`` how its process ended, ``function`` what ran.
    """
    code, code_name = -9, "user"

    def __init__(self, message="", code=None, kind="exception", traceback=None,
                 exitcode=None, signal=None, function=None):
        super().__init__(message, code)
        self.kind = kind
        self.traceback = traceback
        self.exitcode = exitcode
        self.signal = signal
        self.function = function


class AbortedError(Error):
    """Interrupted, or refused because a ref is marked aborted."""
    code, code_name = -10, "aborted"


class RetryError(Error):
    """A transient failure (a lost connection, a full server queue): nothing
    changed, and trying again may succeed."""
    code, code_name = -11, "retry"


class DeniedError(Error, PermissionError):
    """Not allowed: a protected branch, or a server token without the right
    (or no valid token at all)."""
    code, code_name = -12, "denied"


_BY_CODE = {c.code: c for c in (NotFoundError, ExistsError, ConflictError, InvalidError,
                                TarnIOError, AmbiguousError, OutOfMemoryError,
                                UserFunctionError, AbortedError, RetryError, DeniedError)}


def from_code(code, message, tables=()):
    """The exception instance for tarn code CODE (unknown codes give Error);
    TABLES names the conflicting tables of a ConflictError."""
    cls = _BY_CODE.get(code, Error)
    if cls is ConflictError:
        return cls(message, code, tables)
    return cls(message, code)
