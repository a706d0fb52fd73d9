"""What tarn.Client returns: small objects with attributes, as Bauplan's
client returns them (``Branch``, ``Tag``, ``Commit`` with ``.ref.hash``,
``Table``, ``Namespace``, ``Job``, ``RunState``...), with timezone-aware
datetimes. Each also answers ``obj["key"]`` with the plain value tarn's
earlier releases returned in dicts, so scripts written against those keep
working. A ``Ref`` (``Branch``, ``Tag``, a commit's ``.ref``) is accepted
wherever a ref is.
"""
import datetime as _dt

__all__ = ["Ref", "Branch", "Tag", "DetachedRef", "Actor", "Commit", "Table", "TableField",
           "Namespace", "Job", "RunState", "InfoState", "User", "TableCreatePlanState",
           "TableCreatePlanApplyState", "TableDataImportState"]


def to_datetime(us):
    """Microseconds since the epoch (or an ISO 8601 text) as an aware UTC datetime."""
    if us is None or us == "":
        return None
    if isinstance(us, str):
        return _dt.datetime.fromisoformat(us.replace("Z", "+00:00"))
    return _dt.datetime.fromtimestamp(us / 1e6, tz=_dt.timezone.utc)


class _Result:
    """Attributes for reading; ``["key"]`` for the legacy dict view."""

    _legacy = ()  # names answered by __getitem__ (attribute of the same name unless mapped)
    _legacy_map = {}

    def __getitem__(self, key):
        if key not in self._legacy:
            raise KeyError(key)
        return getattr(self, self._legacy_map.get(key, key))

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self):
        return list(self._legacy)

    def to_dict(self):
        return {k: self[k] for k in self._legacy}

    def __eq__(self, other):
        if isinstance(other, dict):
            return self.to_dict() == other
        if type(other) is type(self):
            return self.to_dict() == other.to_dict()
        return NotImplemented

    __hash__ = object.__hash__

    def __repr__(self):
        shown = ", ".join("%s=%r" % (k, getattr(self, k)) for k in self._repr)
        return "%s(%s)" % (type(self).__name__, shown)

    _repr = ()


class Ref(_Result):
    """A branch, a tag or a commit (``type``: "BRANCH", "TAG", "DETACHED")."""

    type = "DETACHED"
    _repr = ("name", "hash")

    def __init__(self, name, hash):
        self.name = name
        self.hash = hash

    def __str__(self):
        return self.name or self.hash


class Branch(Ref):
    type = "BRANCH"
    _legacy = ("name", "commit", "aborted")
    _legacy_map = {"commit": "hash"}

    def __init__(self, name, hash, aborted=False, updated_at=None, active=False):
        super().__init__(name, hash)
        self.aborted = aborted
        self.updated_at = updated_at
        self.active = active

    @property
    def commit(self):
        return self.hash


class Tag(Branch):
    type = "TAG"


class DetachedRef(Ref):
    type = "DETACHED"

    def __init__(self, hash):
        super().__init__(None, hash)


class Actor(str):
    """An author: compares and prints as its name; ``.name``, ``.email``."""

    def __new__(cls, name, email=None):
        obj = super().__new__(cls, name or "")
        obj.name = name or ""
        obj.email = email
        return obj


class Commit(_Result):
    _legacy = ("hash", "parents", "message", "author", "time_us", "properties")
    _legacy_map = {"parents": "parent_hashes"}
    _repr = ("hash", "message")

    def __init__(self, d):
        self.hash = d["hash"]
        self.ref = DetachedRef(self.hash)
        self.parent_hashes = list(d.get("parents") or [])
        self.parent_ref = DetachedRef(self.parent_hashes[0]) if self.parent_hashes else None
        self.message = d.get("message") or ""
        self.subject, _, body = self.message.partition("\n\n")
        self.body = body or None
        self.author = Actor(d.get("author"))
        self.authors = [self.author]
        self.committer = self.author
        self.time_us = d.get("time_us")
        self.authored_date = self.committed_date = to_datetime(self.time_us)
        self.properties = d.get("properties") or {}


class TableField(_Result):
    _legacy = ("name", "type")
    _repr = ("name", "type")

    def __init__(self, id, name, type):
        self.id = id
        self.name = name
        self.type = type
        self.required = False


class Table(_Result):
    """A table at a ref. ``name`` is the bare name, ``namespace`` its
    namespace, ``fqn`` both; ``t["name"]`` is the qualified name, as tarn's
    dicts had it."""

    _legacy = ("name", "namespace", "columns", "row_count", "file_count", "size_bytes", "version")
    _legacy_map = {"name": "fqn"}
    _repr = ("fqn", "records")

    def __init__(self, d):
        self.fqn = d["name"]
        self.namespace = d.get("namespace") or self.fqn.partition(".")[0]
        self.name = self.fqn.partition(".")[2] or self.fqn
        self.columns = d.get("columns") or []
        self.fields = [TableField(i + 1, c["name"], c["type"]) for i, c in enumerate(self.columns)]
        self.records = self.row_count = d.get("row_count")
        self.size = self.size_bytes = d.get("size_bytes")
        self.file_count = d.get("file_count")
        self.version = d.get("version")
        self.kind = "Table"

    def is_managed(self):
        return True

    def is_external(self):
        return False


class Namespace(_Result):
    _repr = ("name",)

    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name

    def __eq__(self, other):
        if isinstance(other, str):
            return self.name == other
        return isinstance(other, Namespace) and other.name == self.name

    __hash__ = object.__hash__


_STATUS = {"success": "SUCCESS", "failed": "FAILED", "running": "RUNNING", "planned": "PLANNED",
           "refused": "FAILED", "cancelled": "CANCELLED"}


def status_name(status):
    """tarn's job status ("success") in Bauplan's spelling ("SUCCESS")."""
    return _STATUS.get(status, (status or "").upper() or None)


class Job(_Result):
    _legacy = ("id", "status", "branch", "started", "ended", "commit", "input_commit", "project_hash")
    _legacy_map = {"status": "raw_status", "started": "_started", "ended": "_ended"}
    _repr = ("id", "status")

    def __init__(self, d):
        self.id = d["id"]
        self.raw_status = d.get("status")
        self.status = status_name(self.raw_status)
        self.human_readable_status = self.raw_status
        self.kind = "RUN"
        self.branch = d.get("branch")
        self._started, self._ended = d.get("started"), d.get("ended")
        self.created_at = self.started_at = to_datetime(self._started)
        self.finished_at = to_datetime(self._ended)
        self.commit = d.get("commit")
        self.input_commit = d.get("input_commit")
        self.project_hash = d.get("project_hash")
        self.user = d.get("user")
        self.error = d.get("error")
        self.tasks = d.get("tasks") or []
        self.params = d.get("params") or {}
        self.scans = d.get("scans") or []
        self.reused = d.get("reused") or []  # models that took an earlier run's output


class RunState(_Result):
    """What a run did: ``job_id``, ``job_status`` ("SUCCESS", "FAILED",
    "PLANNED"), ``error``, ``duration`` (seconds), ``commit``, ``tasks``,
    ``scans`` (how each source scan was served: ``cache`` is "exact",
    "subset", "append", "miss", "uncached" or "off") and ``reused`` (the
    models that took an earlier run's output)."""

    _repr = ("job_id", "job_status")

    def __init__(self, report, error=None):
        self.report = report
        self.job_id = report.get("job_id")
        self.job_status = status_name(report.get("outcome"))
        self.commit = report.get("commit")
        self.branch = report.get("branch")
        self.tasks = report.get("tasks", [])
        self.expectations = report.get("expectations", [])
        self.previews = report.get("previews", {})
        self.scans = report.get("scans", [])
        self.reused = report.get("reused", [])
        self.error = error or report.get("error")
        self.duration = report.get("duration")
        self.tasks_started = {t["name"]: to_datetime(t.get("started")) for t in self.tasks}
        self.tasks_stopped = {t["name"]: to_datetime(t.get("ended")) for t in self.tasks}

    @property
    def ok(self):
        return self.job_status in ("SUCCESS", "PLANNED")


class User(_Result):
    _repr = ("username",)

    def __init__(self, username, full_name=None):
        self.username = username
        self.full_name = full_name or username
        self.first_name, _, self.last_name = self.full_name.partition(" ")


class InfoState(_Result):
    """``user`` (username, full_name), ``client_version``, and where the
    lakehouse lives: ``path``, ``branch``, ``catalog``, ``storage``."""

    _legacy = ("version", "path", "branch", "user", "catalog", "storage")
    _legacy_map = {"version": "client_version", "user": "_user"}
    _repr = ("path", "client_version")

    def __init__(self, d, full_name=None):
        self.client_version = d.get("version")
        self.path = d.get("path")
        self.branch = d.get("branch")
        self._user = d.get("user")
        self.user = User(self._user, full_name)
        self.catalog = d.get("catalog") or {}
        self.storage = d.get("storage") or {}
        self.organization = None


class _State(_Result):
    _repr = ("job_status", "error")

    def __init__(self, job_status="SUCCESS", error=None, **extra):
        self.job_id = None
        self.job_status = job_status
        self.error = error
        for k, v in extra.items():
            setattr(self, k, v)


class TableCreatePlanState(_State):
    """A table creation plan: ``plan`` is editable YAML (the schema tarn
    will give the table), ``files_to_be_imported`` the source files."""


class TableCreatePlanApplyState(_State):
    pass


class TableDataImportState(_State):
    pass
