"""``tarn.Client``: the lakehouse from Python, through tarn's C library.

Opens the lakehouse found from the current folder (or ``TARN_HOME``, or
``path=``) and offers what a script or an agent needs, with the keyword
names Bauplan users know::

    client = tarn.Client()
    client.create_branch("dev", from_ref="main")
    client.import_data("transactions", "data.csv", branch="dev")
    t = client.query("SELECT country, sum(usd) FROM transactions GROUP BY 1", ref="dev")
    state = client.run("examples/quickstart", ref="dev", parameters={"min_usd": 10})
    client.merge_branch("dev", into_branch="main")

Every failure raises a ``tarn.Error`` subclass carrying the C error's code
and message (``tarn.NotFoundError``, ``tarn.ConflictError`` with ``tables``,
...). Queries come back as ``tarn.Table`` mapped from shared memory.
"""

import json
import os

from . import _client
from .errors import from_code
from .table import Table

__all__ = ["Client", "RunState"]

_MODES = {"create": 0, "append": 1, "replace": 2}


class RunState:
    """The outcome of ``Client.run``: ``job_id``, ``job_status``
    ("success", "failed", "planned", "refused"), ``commit``, ``error``,
    ``tasks`` (dicts with name, outcome, rows, started, ended),
    ``expectations``, ``previews`` and ``duration`` in seconds."""

    def __init__(self, report, error=None):
        self.report = report
        self.job_id = report.get("job_id")
        self.job_status = report.get("outcome")
        self.commit = report.get("commit")
        self.branch = report.get("branch")
        self.tasks = report.get("tasks", [])
        self.expectations = report.get("expectations", [])
        self.previews = report.get("previews", {})
        self.error = error or report.get("error")
        self.duration = report.get("duration")

    @property
    def ok(self):
        return self.job_status in ("success", "planned")

    def __repr__(self):
        return "RunState(job_id=%r, job_status=%r, commit=%r)" % (
            self.job_id, self.job_status, self.commit and self.commit[:12])


class Client:
    """An open lakehouse. ``path`` names a folder holding ``.tarn`` (or the
    ``.tarn`` folder); by default it is found like git finds a repository."""

    def __init__(self, path=None):
        self._lake = _client.Lake(path)

    @classmethod
    def init(cls, path=".", storage=None, endpoint=None, region=None):
        """Creates a lakehouse in PATH/.tarn (like `tarn init`) and opens it.
        ``storage="s3://bucket/prefix"`` keeps its data files in a bucket
        (``endpoint`` for an S3-compatible server, ``region``); credentials
        come from the AWS environment variables or ~/.aws/credentials."""
        _client.init(os.fspath(path), storage, endpoint, region)
        return cls(os.fspath(path))

    @property
    def path(self):
        return self._lake.path()

    # -- branches and tags ------------------------------------------------------
    def get_branches(self):
        return self._lake.branches()

    def get_branch(self, branch):
        for b in self._lake.branches():
            if b["name"] == branch:
                return b
        raise from_code(-2, "branch '%s' does not exist" % branch)

    def create_branch(self, branch, from_ref=None):
        """Creates BRANCH at FROM_REF (default: the active branch); returns
        its commit hash. O(1): nothing is copied."""
        return self._lake.create_ref(0, branch, from_ref)

    def delete_branch(self, branch):
        self._lake.delete_ref(0, branch)

    def get_tags(self):
        return self._lake.tags()

    def create_tag(self, tag, from_ref=None):
        return self._lake.create_ref(1, tag, from_ref)

    def delete_tag(self, tag):
        self._lake.delete_ref(1, tag)

    def resolve(self, ref):
        """The commit hash a ref expression names (branch, tag, hash prefix,
        REF~N, REF@{time})."""
        return self._lake.resolve(ref)

    def merge_branch(self, source_ref, into_branch=None, commit_message=None):
        """Merges SOURCE_REF into INTO_BRANCH (default: the active branch);
        returns {"commit", "fast_forward", "up_to_date"}. A conflict raises
        tarn.ConflictError naming the tables and changes nothing."""
        return self._lake.merge(source_ref, into_branch, commit_message)

    def diff(self, from_ref, to_ref):
        return self._lake.diff(from_ref, to_ref)

    # -- tables -------------------------------------------------------------------
    def get_tables(self, ref=None):
        return self._lake.tables(ref)

    def get_table(self, table, ref=None):
        return self._lake.table(table, ref)

    def has_table(self, table, ref=None):
        try:
            self._lake.table(table, ref)
            return True
        except Exception as exc:  # NotFoundError
            if getattr(exc, "code", None) == -2:
                return False
            raise

    def delete_table(self, table, branch=None):
        return self._lake.delete_table(table, branch)

    def revert_table(self, table, source_ref, into_branch=None):
        """A new commit on INTO_BRANCH restoring TABLE to its state at
        SOURCE_REF; history is kept."""
        return self._lake.revert_table(table, source_ref, into_branch)

    def import_data(self, table, data, branch=None, mode="create", format=None, message=None):
        """Imports DATA into TABLE on BRANCH in one commit. DATA is a path
        (CSV, Parquet, JSON; or s3://bucket/key, a prefix ending in '/', or a
        glob such as s3://bucket/raw/*.parquet) or a table: tarn.Table, a pandas DataFrame, a
        dict of columns, or anything with __arrow_c_stream__. MODE is
        create, append or replace. Returns {"commit", "rows", "files"}."""
        if mode not in _MODES:
            raise from_code(-5, "mode must be create, append or replace, not %r" % (mode,))
        if isinstance(data, (str, os.PathLike)):
            return self._lake.import_path(table, os.fspath(data), branch, _MODES[mode], format, message)
        t = data if isinstance(data, Table) else Table(data)
        fd, _size = t._to_memfd("tarn-import")
        try:
            return self._lake.import_fd(table, fd, branch, _MODES[mode], message)
        finally:
            os.close(fd)

    def get_namespaces(self, ref=None):
        return self._lake.namespaces(ref)

    def create_namespace(self, namespace, branch=None):
        return self._lake.namespace_change(True, namespace, branch)

    def delete_namespace(self, namespace, branch=None):
        return self._lake.namespace_change(False, namespace, branch)

    # -- history ------------------------------------------------------------------
    def get_commits(self, ref=None, limit=None):
        """The log of REF, newest first: dicts with hash, parents, message,
        author, time_us, properties."""
        out = self._lake.commits(ref, limit or 0)
        for c in out:
            c["properties"] = json.loads(c["properties"] or "{}")
        return out

    def get_jobs(self, limit=20):
        return json.loads(self._lake.jobs(limit))

    # -- SQL and pipelines -----------------------------------------------------------
    def query(self, sql, ref=None, max_rows=None):
        """Runs a SELECT on REF (default: the active branch) and returns a
        tarn.Table (mapped from shared memory, no copy)."""
        fd = self._lake.query_fd(sql, ref)
        try:
            t = Table._from_fd(fd)
        finally:
            os.close(fd)
        if max_rows is not None and t.num_rows > max_rows:
            t = t.slice(0, max_rows)
        return t

    def run(self, project_dir=".", ref=None, parameters=None, strict=False, dry_run=False,
            transaction=True, preview=0):
        """Plans and runs a project on branch REF as one transaction and
        returns a RunState. A failed run does not raise: its RunState says
        what failed (``job_status == "failed"``, ``error``); a project that
        cannot be planned raises (InvalidError, NotFoundError)."""
        params = {str(k): (json.dumps(v) if isinstance(v, bool) else str(v))
                  for k, v in (parameters or {}).items()}
        rc, report, message = self._lake.run(os.fspath(project_dir), ref, params, bool(strict),
                                             bool(dry_run), not transaction, int(preview))
        rep = json.loads(report)
        if rc < 0 and not rep.get("job_id"):
            raise from_code(rc, message)
        return RunState(rep, message or None)
