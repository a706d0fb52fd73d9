"""pytest setup for tarn's Python SDK: import tarn from the build tree.

Run from the repository root after a build:
    PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python
(TARN_PYTHONPATH or PYTHONPATH names another build's python/ folder.)"""
import os
import sys

_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_build = os.environ.get("TARN_PYTHONPATH")
if _build:
    sys.path.insert(0, _build)
elif not any(os.path.isdir(os.path.join(p, "tarn")) and
             os.path.exists(os.path.join(p, "tarn", "__init__.py")) for p in sys.path if p):
    sys.path.insert(0, os.path.join(_root, "build", "python"))
