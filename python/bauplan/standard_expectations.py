"""``bauplan.standard_expectations``: tarn.standard_expectations under
Bauplan's module name (the same functions)."""
from tarn.standard_expectations import *  # noqa: F401,F403
from tarn.standard_expectations import __all__  # noqa: F401
