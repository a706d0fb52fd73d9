"""``bauplan``: Bauplan's Python names on tarn — a compatibility layer.

tarn's own API is ``import tarn``; this package lets a Bauplan project or
client script run unchanged: ``import bauplan`` inside a ``tarn run``
(and anywhere tarn is installed) gives tarn's SDK under Bauplan's names::

    import bauplan
    from bauplan.standard_expectations import expect_column_no_nulls

    @bauplan.model(materialization_strategy="REPLACE")
    @bauplan.python("3.11")
    def trips(data=bauplan.Model("taxi_fhvhv", columns=["PULocationID"])):
        return data

    client = bauplan.Client()          # tarn.Client: the lakehouse found from here

Everything here is tarn's (the same objects): ``Client``, ``Model``,
``Parameter``, ``model``, ``python``, ``expectation``, ``resources``,
``standard_expectations``; ``extras`` is accepted and changes nothing;
``exceptions`` maps Bauplan's exception names onto tarn's. See
docs/bauplan.md for what is the same, what differs and what is not
supported.
"""
from tarn import Client, Model, Parameter, expectation, model, python, resources  # noqa: F401
from tarn.results import (Branch, Commit, InfoState, Job, Namespace, Ref,  # noqa: F401
                          RunState, Tag, DetachedRef)
from tarn.results import Table as TableInfo  # noqa: F401
from tarn.table import Table  # noqa: F401  (what models receive without pyarrow)

from . import exceptions, standard_expectations  # noqa: F401

__version__ = "0.1.0"

ModelMaterializationStrategy = str  # "NONE", "REPLACE" or "APPEND"
ModelCacheStrategy = str  # "NONE" (always run) or "DEFAULT" (reuse an unchanged output)


def extras(*names):
    """Bauplan's request for optional parts of its package (``"ai"``, ...):
    tarn's package has none, so this changes nothing."""
    for n in names:
        if not isinstance(n, str):
            raise TypeError("extras takes names such as 'ai', not %r" % (n,))

    def wrap(fn):
        return fn
    return wrap


__all__ = ["Client", "Model", "Parameter", "model", "python", "expectation", "resources",
           "extras", "exceptions", "standard_expectations", "ModelMaterializationStrategy",
           "ModelCacheStrategy", "Branch", "Tag", "Commit", "Namespace", "Job", "RunState",
           "InfoState", "Ref", "DetachedRef", "Table", "TableInfo"]
