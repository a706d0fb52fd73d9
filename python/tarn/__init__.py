"""tarn — a data lakehouse that is also a function runtime (Python SDK).

``tarn.Table`` is an Arrow table held by tarn's C library: columns come out
as numpy arrays that view the Arrow memory (a shared-memory mapping when
the table came from another process), ``to_pandas()`` converts, and the
Arrow PyCapsule interface (``__arrow_c_stream__``) hands it to pyarrow,
polars or DuckDB without a copy. ``tarn.worker`` runs user functions in
forked worker processes and passes tables to them as sealed memfds.
"""
from .errors import (Error, NotFoundError, ExistsError, ConflictError, InvalidError,
                     TarnIOError, AmbiguousError, OutOfMemoryError, UserFunctionError,
                     AbortedError, RetryError, DeniedError)
from .table import Table, Schema, Field

__all__ = ["Table", "Schema", "Field", "Error", "NotFoundError", "ExistsError",
           "ConflictError", "InvalidError", "TarnIOError", "AmbiguousError",
           "OutOfMemoryError", "UserFunctionError", "AbortedError", "RetryError", "DeniedError"]
__version__ = "0.1.0"

from .sdk import Model, Parameter, model, python, expectation, resources  # noqa: E402
from .client import Client, RunState  # noqa: E402  (the lakehouse, through libtarn)
from .results import (Ref, Branch, Tag, DetachedRef, Commit, Namespace, Job,  # noqa: E402
                      InfoState)
from .results import Table as TableInfo  # noqa: E402  (a table's description; tarn.Table holds data)
