"""``tarn.Client``: the lakehouse from Python, through tarn's C library.

Opens the lakehouse found from the current folder (or ``TARN_HOME``, or
``path=``) and offers what a script or an agent needs, with the method and
keyword names Bauplan users know (a script written for ``bauplan.Client``
runs after replacing ``bauplan`` with ``tarn``)::

    client = tarn.Client()
    client.create_branch("dev", from_ref="main")
    client.import_data("transactions", "data.csv", branch="dev")
    t = client.query("SELECT country, sum(usd) FROM transactions GROUP BY 1", ref="dev")
    state = client.run("examples/quickstart", ref="dev", parameters={"min_usd": 10})
    client.merge_branch("dev", into_branch="main")

Results are objects (``Branch``, ``Tag``, ``Commit``, ``Table``, ``Job``,
``RunState``... in tarn.results) with timezone-aware datetimes; a ``Ref``
is accepted wherever a ref is. Every failure raises a ``tarn.Error``
subclass carrying the C error's code and message (``tarn.NotFoundError``,
``tarn.ConflictError`` with ``tables``, ...). Queries come back as
``tarn.Table`` mapped from shared memory.
"""

import datetime as _dt
import fnmatch
import json
import os
import pathlib

from . import _client
from .errors import from_code
from .results import (Branch, Commit, InfoState, Job, Namespace, Ref, RunState, Table as TableInfo,
                      Tag, TableCreatePlanApplyState, TableCreatePlanState, TableDataImportState,
                      status_name)
from .table import Table

__all__ = ["Client", "RunState"]

_MODES = {"create": 0, "append": 1, "replace": 2}
_NOT_FOUND, _EXISTS = -2, -3


def _ref(ref):
    """A ref argument as text: a Branch or Tag by name, a commit by hash."""
    if ref is None or isinstance(ref, str):
        return ref
    if isinstance(ref, Ref):
        return ref.name or ref.hash
    if hasattr(ref, "ref") and isinstance(ref.ref, Ref):  # a Commit
        return ref.ref.hash
    if hasattr(ref, "hash"):
        return ref.hash
    return str(ref)


def _table_name(table, namespace=None):
    """TABLE (text or a Table) qualified with NAMESPACE when given."""
    name = table.fqn if isinstance(table, TableInfo) else str(table)
    ns = str(namespace) if namespace is not None else None
    if ns and "." not in name:
        return "%s.%s" % (ns, name)
    return name


def _on_off(value, name, default):
    """Bauplan's "on"/"off" (or a bool) as a bool."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in ("on", "off"):
        return value == "on"
    raise from_code(-5, "%s must be 'on' or 'off', not %r" % (name, value))


def _commit(message=None, body=None, properties=None):
    """What a write says in its commit, for the C extension: None, or
    (message, body, properties as JSON text). Properties are text values;
    a key tarn sets on the commit itself is refused by the library."""
    if properties is not None and not isinstance(properties, dict):
        raise from_code(-5, "commit_properties must be a dict of text, such as {'ticket': 'DATA-42'}, "
                            "not %s" % type(properties).__name__)
    if message is None and body is None and not properties:
        return None
    props = json.dumps({str(k): str(v) for k, v in properties.items()}) if properties else None
    return (None if message is None else str(message), None if body is None else str(body), props)


def _when(value):
    if value is None or isinstance(value, _dt.datetime):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value
    return _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class _Merged(Branch):
    """merge_branch's result: the branch, and how the merge went."""

    _legacy = ("commit", "fast_forward", "up_to_date")


class Client:
    """An open lakehouse. ``path`` names a folder holding ``.tarn`` (or the
    ``.tarn`` folder); by default it is found like git finds a repository,
    or, with TARN_REMOTE set, is that server. ``path`` may also be the URL
    of a ``tarn serve`` ("https://lake.example:8181"), with ``token`` (else
    TARN_TOKEN): every method then runs on the server, the same as here;
    ``run`` uploads the project folder and follows the run."""

    def __init__(self, path=None, token=None):
        if path is not None and not isinstance(path, str):
            path = os.fspath(path)
        self._lake = _client.Lake(path, token)

    @classmethod
    def init(cls, path=".", storage=None, endpoint=None, region=None, catalog=None, attach=False):
        """Creates a lakehouse in PATH/.tarn (like `tarn init`) and opens it.
        ``storage="s3://bucket/prefix"`` keeps its data files in a bucket
        (``endpoint`` for an S3-compatible server, ``region``; credentials
        come from the AWS environment variables or ~/.aws/credentials), a
        folder path in a folder shared by many hosts. ``catalog=
        "postgresql://..."`` keeps the catalog in PostgreSQL; ``attach=True``
        joins the lakehouse it already holds."""
        _client.init(os.fspath(path), storage, endpoint, region, catalog, bool(attach))
        return cls(os.fspath(path))

    @property
    def path(self):
        return self._lake.path()

    def info(self):
        """Who you are (``user.username``) and what this lakehouse is."""
        return InfoState(json.loads(self._lake.info()))

    # -- branches and tags ------------------------------------------------------
    def _refs(self, kind):
        active = self._lake.active_branch() if kind == 0 else None
        cls = Branch if kind == 0 else Tag
        rows = self._lake.branches() if kind == 0 else self._lake.tags()
        return [cls(r["name"], r["commit"], r["aborted"], _utc_us(r.get("updated_us")), r["name"] == active)
                for r in rows]

    def get_branches(self, name=None, *, limit=None):
        """Branches (sorted by name), those whose name contains NAME if given."""
        out = [b for b in self._refs(0) if name is None or name in b.name]
        return out[:limit] if limit else out

    def _get_ref(self, kind, ref):
        name = _ref(ref)
        for r in self._refs(kind):
            if r.name == name:
                return r
        raise from_code(_NOT_FOUND, "%s '%s' does not exist" % ("branch" if kind == 0 else "tag", name))

    def _create_ref(self, kind, ref, from_ref, if_not_exists):
        name = _ref(ref)
        try:
            self._lake.create_ref(kind, name, _ref(from_ref))
        except Exception as exc:
            exists = getattr(exc, "code", None) == _EXISTS
            if not (if_not_exists and exists and any(r.name == name for r in self._refs(kind))):
                raise
        return self._get_ref(kind, name)

    def get_branch(self, branch):
        return self._get_ref(0, branch)

    def has_branch(self, branch):
        return any(b.name == _ref(branch) for b in self._refs(0))

    def create_branch(self, branch, from_ref=None, *, if_not_exists=False):
        """Creates BRANCH at FROM_REF (default: the active branch) and returns
        it. O(1): nothing is copied."""
        return self._create_ref(0, branch, from_ref, if_not_exists)

    def delete_branch(self, branch, *, if_exists=False):
        """Deletes BRANCH; returns True, or False when it did not exist and
        IF_EXISTS."""
        return self._delete_ref(0, _ref(branch), if_exists)

    def rename_branch(self, branch, new_branch):
        self._lake.rename_ref(0, _ref(branch), _ref(new_branch))
        return self.get_branch(_ref(new_branch))

    def prune_aborted_branches(self, older_than=None, dry_run=False):
        """Deletes the run branches failed runs left behind (not moved for
        OLDER_THAN seconds or timedelta); returns their names."""
        if isinstance(older_than, _dt.timedelta):
            older_than = older_than.total_seconds()
        return self._lake.prune_aborted(int(older_than or 0), bool(dry_run))

    def get_tags(self, name=None, *, limit=None):
        out = [t for t in self._refs(1) if name is None or name in t.name]
        return out[:limit] if limit else out

    def get_tag(self, tag):
        return self._get_ref(1, tag)

    def has_tag(self, tag):
        return any(t.name == _ref(tag) for t in self._refs(1))

    def create_tag(self, tag, from_ref=None, *, if_not_exists=False):
        return self._create_ref(1, tag, from_ref, if_not_exists)

    def delete_tag(self, tag, *, if_exists=False):
        return self._delete_ref(1, _ref(tag), if_exists)

    def rename_tag(self, tag, new_tag):
        self._lake.rename_ref(1, _ref(tag), _ref(new_tag))
        return self.get_tag(_ref(new_tag))

    def _delete_ref(self, kind, name, if_exists):
        try:
            self._lake.delete_ref(kind, name)
        except Exception as exc:
            if if_exists and getattr(exc, "code", None) == _NOT_FOUND:
                return False
            raise
        return True

    def resolve(self, ref):
        """The commit hash a ref expression names (branch, tag, hash prefix,
        REF~N, REF@{time})."""
        return self._lake.resolve(_ref(ref))

    def merge_branch(self, source_ref, into_branch=None, commit_message=None, *, commit_body=None,
                     commit_properties=None):
        """Merges SOURCE_REF into INTO_BRANCH (default: the active branch) and
        returns the branch (with ``fast_forward`` and ``up_to_date``). With a
        message, a body or properties, a merge commit carrying them is made
        even where a fast-forward would do.
        A conflict raises tarn.ConflictError naming the tables and changes
        nothing."""
        into = _ref(into_branch) or self._lake.active_branch()
        m = self._lake.merge(_ref(source_ref), into, _commit(commit_message, commit_body, commit_properties))
        b = self.get_branch(into)
        out = _Merged(b.name, m["commit"], b.aborted, b.updated_at, b.active)
        out.fast_forward, out.up_to_date = m["fast_forward"], m["up_to_date"]
        return out

    def diff(self, from_ref, to_ref):
        return self._lake.diff(_ref(from_ref), _ref(to_ref))

    # -- namespaces ---------------------------------------------------------------
    def get_namespaces(self, ref=None, *, filter_by_name=None, limit=None):
        out = [Namespace(n) for n in self._lake.namespaces(_ref(ref))
               if filter_by_name is None or filter_by_name in n]
        return out[:limit] if limit else out

    def get_namespace(self, namespace, ref=None):
        for n in self.get_namespaces(ref):
            if n.name == str(namespace):
                return n
        raise from_code(_NOT_FOUND, "namespace '%s' does not exist at '%s'" % (namespace, _ref(ref) or "HEAD"))

    def has_namespace(self, namespace, ref=None):
        return any(n.name == str(namespace) for n in self.get_namespaces(ref))

    def create_namespace(self, namespace, branch=None, *, if_not_exists=False, commit_body=None,
                         commit_properties=None):
        try:
            self._lake.namespace_change(True, str(namespace), _ref(branch),
                                        _commit(None, commit_body, commit_properties))
        except Exception as exc:
            if not (if_not_exists and getattr(exc, "code", None) == _EXISTS):
                raise
        return Namespace(str(namespace))

    def delete_namespace(self, namespace, branch=None, *, if_exists=False, commit_body=None,
                         commit_properties=None):
        try:
            self._lake.namespace_change(False, str(namespace), _ref(branch),
                                        _commit(None, commit_body, commit_properties))
        except Exception as exc:
            if if_exists and getattr(exc, "code", None) == _NOT_FOUND:
                return False
            raise
        return True

    # -- tables -------------------------------------------------------------------
    def get_tables(self, ref=None, *, filter_by_name=None, filter_by_namespace=None, limit=None):
        """The tables at REF; FILTER_BY_NAME matches part of the name (or a
        glob pattern), FILTER_BY_NAMESPACE the namespace."""
        out = []
        for d in self._lake.tables(_ref(ref)):
            t = TableInfo(d)
            if filter_by_namespace is not None and t.namespace != str(filter_by_namespace):
                continue
            if filter_by_name is not None and not (filter_by_name in t.name or
                                                   fnmatch.fnmatchcase(t.name, filter_by_name)):
                continue
            out.append(t)
        return out[:limit] if limit else out

    def get_table(self, table, ref=None, *, namespace=None):
        return TableInfo(self._lake.table(_table_name(table, namespace), _ref(ref)))

    def has_table(self, table, ref=None, *, namespace=None):
        try:
            self._lake.table(_table_name(table, namespace), _ref(ref))
            return True
        except Exception as exc:  # NotFoundError
            if getattr(exc, "code", None) == _NOT_FOUND:
                return False
            raise

    def delete_table(self, table, branch=None, *, namespace=None, if_exists=False, commit_body=None,
                     commit_properties=None):
        """Removes TABLE from BRANCH in a new commit; returns True, or False
        when it was not there and IF_EXISTS."""
        try:
            self._lake.delete_table(_table_name(table, namespace), _ref(branch),
                                    _commit(None, commit_body, commit_properties))
        except Exception as exc:
            if if_exists and getattr(exc, "code", None) == _NOT_FOUND:
                return False
            raise
        return True

    def revert_table(self, table, source_ref=None, into_branch=None, *, namespace=None, replace=None,
                     commit_body=None, commit_properties=None):
        """A new commit on INTO_BRANCH restoring TABLE to its state at
        SOURCE_REF; history is kept. A table that does not exist at
        SOURCE_REF raises NotFoundError. With ``replace=False``, an existing
        table on INTO_BRANCH is an error (ExistsError)."""
        if source_ref is None:
            raise from_code(-5, "revert_table needs source_ref")
        name = _table_name(table, namespace)
        if replace is False and self.has_table(name, into_branch):
            raise from_code(_EXISTS, "table '%s' exists on '%s' (pass replace=True to replace it)"
                            % (name, _ref(into_branch) or self._lake.active_branch()))
        return self._lake.revert_table(name, _ref(source_ref), _ref(into_branch),
                                       _commit(None, commit_body, commit_properties))

    def import_data(self, table, data=None, branch=None, mode=None, format=None, message=None, *,
                    namespace=None, search_uri=None, delimiter=None, header=None, null=None,
                    column_types=None, skip=0, encoding=None, quote=None, escape=None,
                    commit_body=None, commit_properties=None):
        """Imports DATA into TABLE on BRANCH in one commit. DATA (or
        SEARCH_URI) is a path — a file (CSV, Parquet, JSON; plain or gzip), a
        glob (``data/*.parquet``) or a folder; or ``s3://bucket/key``, a
        prefix ending in '/', or a glob such as ``s3://bucket/raw/*.parquet``
        — or a table: tarn.Table, a
        pandas DataFrame, a dict of columns, a list of dicts, or anything with
        __arrow_c_stream__. MODE is create, append or replace; by default the
        table is created when missing and appended to when it exists (as
        Bauplan's import_data into a table made by create_table).
        MESSAGE, COMMIT_BODY and COMMIT_PROPERTIES (a dict of text) go into
        the commit. Returns a TableDataImportState (``["commit"]``,
        ``["rows"]``).

        A CSV file is read strictly: a line whose fields do not match the
        header, or a value that does not fit its column, raises InvalidError
        naming the line, and nothing is imported. What tarn cannot decide
        from the file is given as `delimiter`, `header` (True/False; None:
        detected), `null` (text meaning NULL), `column_types` ({column:
        type}), `skip` (lines before the header), `encoding` ("utf-8" or
        "latin-1"), `quote` and `escape`."""
        data = search_uri if data is None else data
        name = _table_name(table, namespace)
        commit = _commit(message, commit_body, commit_properties)
        if mode is None:
            mode = "append" if self.has_table(name, branch) else "create"
        if mode not in _MODES:
            raise from_code(-5, "mode must be create, append or replace, not %r" % (mode,))
        csv = {"delimiter": delimiter, "header": header, "null": null, "column_types": column_types,
               "skip": skip, "encoding": encoding, "quote": quote, "escape": escape}
        if isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            if os.path.isdir(path):
                path = _folder_glob(path)
            _check_csv_options(header, skip)
            types = column_types.items() if isinstance(column_types, dict) else column_types
            r = self._lake.import_path(name, path, _ref(branch), _MODES[mode], format, commit,
                                       delimiter, 0 if header is None else 1 if header else 2,
                                       null, None if types is None else [tuple(p) for p in types],
                                       skip, encoding, quote, escape)
        else:
            given = [k for k, v in csv.items() if v not in (None, 0)]
            if given:
                raise from_code(-5, "%s applies to CSV files, not to a table" % given[0])
            t = data if isinstance(data, Table) else Table(data)
            fd, _size = t._to_memfd("tarn-import")
            try:
                r = self._lake.import_fd(name, fd, _ref(branch), _MODES[mode], commit)
            finally:
                os.close(fd)
        state = TableDataImportState("SUCCESS", None, commit=r["commit"], rows=r["rows"], files=r["files"])
        state._legacy = ("commit", "rows", "files")
        return state

    # -- creating a table from files (Bauplan's two steps) -------------------------
    def plan_table_creation(self, table, search_uri, branch=None, *, namespace=None,
                            partitioned_by=None, replace=None, auto_apply=True, format=None,
                            delimiter=None, header=None, null=None, column_types=None, skip=0,
                            encoding=None, quote=None, escape=None, commit_body=None,
                            commit_properties=None, **_ignored):
        """The schema tarn would give TABLE from the files SEARCH_URI names (a
        file, a glob or a folder), read as import_data reads them, nothing
        written. ``plan`` is YAML to read or edit (``schema``: each column's
        name and DuckDB type), ``files_to_be_imported`` the files. Where
        files disagree on a column's type beyond what widens safely, the
        plan lists the conflict (``can_auto_apply`` False) and the column's
        type is empty: settle it in the YAML, then apply_table_creation_plan.
        Otherwise (and AUTO_APPLY, as Bauplan does) the empty table is made
        at once. ``partitioned_by`` is accepted and changes nothing."""
        path = os.fspath(search_uri)
        if os.path.isdir(path):
            path = _folder_glob(path)
        _check_csv_options(header, skip)
        types = column_types.items() if isinstance(column_types, dict) else column_types
        found = json.loads(self._lake.table_plan(
            path, format, delimiter, 0 if header is None else 1 if header else 2, null,
            None if types is None else [tuple(p) for p in types], skip, encoding, quote, escape))
        name = _table_name(table, namespace)
        doc = {"table": name, "branch": _ref(branch) or self._lake.active_branch(),
               "replace": bool(replace),
               "schema": [{"name": c["name"], "type": c["type"]} for c in found["columns"]],
               "conflicts": [{"name": c["name"], "types": sorted({t["type"] for t in c["types"]})}
                             for c in found["conflicts"]],
               "files": found["files"]}
        state = TableCreatePlanState("SUCCESS", None, plan=_plan_yaml(doc),
                                     files_to_be_imported=found["files"],
                                     can_auto_apply=not found["conflicts"], table=name)
        if state.can_auto_apply and auto_apply:
            self.apply_table_creation_plan(state, commit_body=commit_body,
                                           commit_properties=commit_properties)
        return state

    def apply_table_creation_plan(self, plan, *, commit_body=None, commit_properties=None,
                                  **_ignored):
        """Makes the empty table a plan (a TableCreatePlanState, or its YAML,
        edited or not) describes, in one commit; import_data then appends
        to it. A column left without a type is an error naming it."""
        import yaml
        text = plan.plan if isinstance(plan, TableCreatePlanState) else plan
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise from_code(-5, "the plan is not valid YAML: %s" % e) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("schema"), list) or \
                not isinstance(doc.get("table"), str):
            raise from_code(-5, "a table creation plan holds 'table' and 'schema' (a list of "
                                "{name, type}): see plan_table_creation")
        cols = []
        for i, c in enumerate(doc["schema"]):
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise from_code(-5, "schema entry %d of the plan needs a name and a type" % (i + 1))
            if not isinstance(c.get("type"), str) or not c["type"].strip():
                raise from_code(-5, "column '%s' has no type in the plan: its files disagree (%s); "
                                    "write the one to use" % (c["name"], ", ".join(
                                        next((x["types"] for x in doc.get("conflicts") or []
                                              if x.get("name") == c["name"]), []))))
            cols.append((c["name"], c["type"].strip()))
        r = self._lake.table_create(doc["table"], cols, doc.get("branch"), bool(doc.get("replace")),
                                    _commit(None, commit_body, commit_properties))
        state = TableCreatePlanApplyState("SUCCESS", None, table=doc["table"], commit=r["commit"])
        return state

    def create_table(self, table, search_uri, branch=None, *, namespace=None, partitioned_by=None,
                     replace=None, commit_body=None, commit_properties=None, **kwargs):
        """Creates TABLE, empty, with the schema of the files SEARCH_URI
        names (plan_table_creation, then apply); import_data then appends
        their rows. Files that disagree on a column's type raise
        InvalidError naming it: settle it with plan_table_creation."""
        state = self.plan_table_creation(table, search_uri, branch, namespace=namespace,
                                         replace=replace, commit_body=commit_body,
                                         commit_properties=commit_properties, **kwargs)
        if not state.can_auto_apply:
            raise from_code(-5, "the files disagree on column types; nothing was created:\n%s\n"
                                "edit plan_table_creation(...).plan and apply it"
                                % state.plan)
        return self.get_table(state.table, branch)

    # -- history ------------------------------------------------------------------
    def get_commits(self, ref=None, *, filter_by_message=None, filter_by_author_username=None,
                    filter_by_author_name=None, filter_by_author_email=None, filter_by_authored_date=None,
                    filter_by_authored_date_start_at=None, filter_by_authored_date_end_at=None,
                    filter_by_parent_hash=None, filter_by_properties=None, filter=None, limit=None):
        """The log of REF, newest first, as Commit objects; filters combine
        (message: a substring; dates: datetimes or ISO texts; properties:
        every given key with that value)."""
        if filter is not None:
            raise from_code(-5, "the free-form 'filter' expression is not supported: use the filter_by_* keywords")
        filtering = any(v is not None for v in (
            filter_by_message, filter_by_author_username, filter_by_author_name, filter_by_author_email,
            filter_by_authored_date, filter_by_authored_date_start_at, filter_by_authored_date_end_at,
            filter_by_parent_hash, filter_by_properties))
        rows = self._lake.commits(_ref(ref), 0 if filtering else (limit or 0))
        start, end = _when(filter_by_authored_date_start_at), _when(filter_by_authored_date_end_at)
        day = _when(filter_by_authored_date)
        out = []
        for d in rows:
            d["properties"] = json.loads(d["properties"] or "{}")
            c = Commit(d)
            author = str(c.author)
            if filter_by_message is not None and filter_by_message not in c.message:
                continue
            if filter_by_author_username is not None and author != filter_by_author_username:
                continue
            if filter_by_author_name is not None and author != filter_by_author_name:
                continue
            if filter_by_author_email is not None and c.author.email != filter_by_author_email:
                continue
            if start is not None and c.authored_date < start:
                continue
            if end is not None and c.authored_date > end:
                continue
            if day is not None and c.authored_date.date() != day.date():
                continue
            if filter_by_parent_hash is not None and filter_by_parent_hash not in c.parent_hashes:
                continue
            if filter_by_properties and any(str(c.properties.get(k)) != str(v)
                                            for k, v in filter_by_properties.items()):
                continue
            out.append(c)
            if limit and len(out) >= limit:
                break
        return out

    # -- jobs -----------------------------------------------------------------------
    def get_jobs(self, *, filter_by_current_user=None, filter_by_ids=None, filter_by_users=None,
                 filter_by_kinds=None, filter_by_statuses=None, filter_by_created_after=None,
                 filter_by_created_before=None, limit=None, all_users=None):
        """Runs, newest first, as Job objects; statuses in Bauplan's spelling
        ("SUCCESS", "FAILED", "RUNNING") or tarn's ("success", ...)."""
        ids = _as_set(filter_by_ids, lambda j: j.id if isinstance(j, Job) else str(j))
        kinds = _as_set(filter_by_kinds, lambda k: str(k).upper())
        statuses = _as_set(filter_by_statuses, lambda s: status_name(str(s).lower()))
        after, before = _when(filter_by_created_after), _when(filter_by_created_before)
        filtering = ids or kinds or statuses or after or before
        out = []
        for d in json.loads(self._lake.jobs(0 if filtering else (limit or 0))):
            j = Job(d)
            if ids and not any(j.id.startswith(i) for i in ids):
                continue
            if kinds and j.kind not in kinds:
                continue
            if statuses and j.status not in statuses:
                continue
            if after and (j.created_at is None or j.created_at < after):
                continue
            if before and (j.created_at is None or j.created_at > before):
                continue
            out.append(j)
            if limit and len(out) >= limit:
                break
        return out

    def get_job(self, job_id):
        """One job (ID may be a unique prefix, or a Job)."""
        return Job(json.loads(self._lake.job(job_id.id if isinstance(job_id, Job) else str(job_id))))

    def get_job_logs(self, job):
        """The job's log lines: model prints as ``model @ file:line | text``,
        task outcomes, the run's end."""
        text = self._lake.job_logs(job.id if isinstance(job, Job) else str(job))
        return [LogEvent(line) for line in text.splitlines()]

    # -- SQL ---------------------------------------------------------------------------
    def query(self, query, ref=None, max_rows=None, **_ignored):
        """Runs a SELECT (or EXPLAIN of one) on REF (default: the active
        branch) and returns a tarn.Table (mapped from shared memory, no
        copy). With MAX_ROWS, DuckDB stops once it has that many rows."""
        fd = self._lake.query_fd(query, _ref(ref), _max_rows(max_rows))
        try:
            return Table._from_fd(fd)
        finally:
            os.close(fd)

    def query_to_generator(self, query, ref=None, max_rows=None, **_ignored):
        """Yields the result's rows as dicts."""
        yield from self.query(query, ref=ref, max_rows=max_rows).to_pylist()

    def query_to_parquet_file(self, path, query, ref=None, max_rows=None, **_ignored):
        return self._query_to_file(path, query, ref, max_rows, "parquet")

    def query_to_csv_file(self, path, query, ref=None, max_rows=None, **_ignored):
        return self._query_to_file(path, query, ref, max_rows, "csv")

    def query_to_json_file(self, path, query, *, file_format="json", ref=None, max_rows=None, **_ignored):
        """Writes the result as one JSON array (``json``) or one object per
        line (``jsonl``)."""
        if file_format not in ("json", "jsonl"):
            raise from_code(-5, "file_format must be 'json' or 'jsonl', not %r" % (file_format,))
        rows = self.query(query, ref=ref, max_rows=max_rows).to_pylist()
        path = pathlib.Path(path)
        with open(path, "w", encoding="utf-8") as f:
            if file_format == "json":
                json.dump(rows, f, default=str)
            else:
                for r in rows:
                    f.write(json.dumps(r, default=str) + "\n")
        return path

    def _query_to_file(self, path, query, ref, max_rows, fmt):
        path = pathlib.Path(path)
        if max_rows is not None:
            query = "SELECT * FROM (%s\n) LIMIT %d" % (query.rstrip().rstrip(";"), int(max_rows))
        self._lake.query_to_file(query, _ref(ref), str(path), fmt)
        return path

    def scan(self, table, ref=None, *, columns=None, filters=None, limit=None, namespace=None, **_ignored):
        """Reads TABLE at REF: COLUMNS (default all), rows matching FILTERS
        (one SQL expression on the table's columns, checked as a model's
        filter is: no second statement, clause or subquery), at most LIMIT
        rows."""
        if isinstance(columns, str):
            columns = [columns]
        fd = self._lake.scan_fd(_table_name(table, namespace), _ref(ref),
                                None if columns is None else [str(c) for c in columns],
                                filters or None, _max_rows(limit))
        try:
            return Table._from_fd(fd)
        finally:
            os.close(fd)

    # -- pipelines --------------------------------------------------------------------
    def run(self, project_dir=".", ref=None, parameters=None, strict=None, dry_run=False,
            transaction=None, preview=0, namespace=None, detach=False, cache=None, **_ignored):
        """Plans and runs a project on branch REF as one transaction and
        returns a RunState. A failed run does not raise: its RunState says
        what failed (``job_status == "FAILED"``, ``error``); a project that
        cannot be planned raises (InvalidError, NotFoundError). STRICT and
        TRANSACTION take "on"/"off" (or a bool). NAMESPACE: where models
        without a namespace of their own are materialized. CACHE "off"
        runs every model and reads every source scan from its data files;
        "on" (the default) lets a model that nothing changed for take its
        earlier output (``RunState.reused`` names them) and a scan reuse a
        kept result (``RunState.scans`` says how each was served).

        With ``detach=True`` it returns as soon as the job is recorded
        (``job_status`` "RUNNING"): the run goes on in a process of its own
        session; follow it with get_job / get_job_logs, stop it with
        cancel_job."""
        params = {str(k): (json.dumps(v) if isinstance(v, bool) else str(v))
                  for k, v in (parameters or {}).items()}
        strict_on = _on_off(strict, "strict", False)
        tx_on = _on_off(transaction, "transaction", True)
        cache_on = _on_off(cache, "cache", True)
        if isinstance(preview, str):
            preview = 0 if preview in ("off", "") else 10
        ns = None if namespace is None else str(namespace)
        if detach:
            if dry_run:
                raise from_code(-5, "detach=True runs a job: it cannot be a dry run")
            return self._run_detached(os.fspath(project_dir), _ref(ref), params, strict_on,
                                      not tx_on, int(preview or 0), ns, not cache_on)
        rc, report, message = self._lake.run(os.fspath(project_dir), _ref(ref), params, strict_on,
                                             bool(dry_run), not tx_on, int(preview or 0), ns, -1,
                                             not cache_on)
        rep = json.loads(report)
        if rc < 0 and not rep.get("job_id"):
            raise from_code(rc, message)
        return RunState(rep, message or None)

    def _run_detached(self, project_dir, ref, params, strict, no_transaction, preview, namespace,
                      no_cache=False):
        import subprocess
        import sys
        if self.path.startswith(("http://", "https://")):
            # On a server the run goes on without its client: the call
            # returns once its job is recorded.
            rd, wr = os.pipe()
            try:
                rc, report, message = self._lake.run(project_dir, ref, params, strict, False,
                                                     no_transaction, preview, namespace, wr, no_cache)
            finally:
                os.close(wr)
            with os.fdopen(rd, "rb") as f:
                line = f.readline().decode("utf-8", "replace").rstrip("\n")
            if rc < 0 or not line:
                raise from_code(rc if rc < 0 else -1,
                                message or "the detached run stopped before its job started")
            return RunState({"job_id": line, "outcome": "running", "branch": ref, "detached": True})
        rd, wr = os.pipe()
        args = {"lake": self.path, "dir": os.path.abspath(project_dir), "branch": ref,
                "params": params, "strict": strict, "no_transaction": no_transaction,
                "preview": preview, "namespace": namespace, "no_cache": no_cache, "fd": wr}
        env = dict(os.environ)
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            proc = subprocess.Popen([sys.executable, "-m", "tarn.detach"], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    pass_fds=(wr,), env=env, cwd=os.getcwd())
        finally:
            os.close(wr)
        try:
            proc.communicate(json.dumps(args).encode())  # its parent half exits at once
            with os.fdopen(rd, "rb") as f:
                line = f.readline().decode("utf-8", "replace").rstrip("\n")
        except BaseException:
            proc.kill()
            raise
        if not line or line.startswith("!"):
            code, _, message = line[1:].partition("\t")
            raise from_code(int(code) if code.lstrip("-").isdigit() else -1,
                            message or "the detached run stopped before its job started")
        return RunState({"job_id": line, "outcome": "running", "branch": ref, "detached": True})

    def cancel_job(self, job_id):
        """Asks running job JOB_ID (a Job, an id or a unique prefix) to stop
        and returns at once: within a second its tasks are killed, nothing
        of it is committed, and it ends "CANCELLED" (see get_job)."""
        self._lake.cancel_job(job_id.id if isinstance(job_id, Job) else str(job_id))


class LogEvent:
    """One line of a job's log: ``message``, ``level`` ("INFO"; "ERROR" for
    failures), ``stream`` ("STDOUT")."""

    def __init__(self, line):
        self.message = line
        self.level = "ERROR" if line.startswith("x ") or " failed" in line else "INFO"
        self.stream = "STDOUT"

    def __repr__(self):
        return "LogEvent(%r)" % self.message

    def __str__(self):
        return self.message


def _utc_us(us):
    from .results import to_datetime
    return to_datetime(us) if us else None


def _as_set(value, key):
    if value is None:
        return set()
    if isinstance(value, (str, Job)) or not hasattr(value, "__iter__"):
        value = [value]
    return {key(v) for v in value}


def _check_csv_options(header, skip):
    if header not in (None, True, False):
        raise from_code(-5, "header must be True, False or None, not %r" % (header,))
    if skip is None or isinstance(skip, bool) or not isinstance(skip, int):
        raise from_code(-5, "skip must be a number of lines, not %r" % (skip,))


def _plan_yaml(doc):
    """A table creation plan as YAML, with a comment on how to edit it."""
    import yaml
    return ("# The table tarn will create: edit a column's type (a DuckDB type name such as\n"
            "# BIGINT, DOUBLE, VARCHAR, TIMESTAMP, DECIMAL(18,2)), then apply the plan.\n" +
            yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))


def _max_rows(n):
    """MAX_ROWS for the C extension: -1 for all."""
    if n is None:
        return -1
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise from_code(-5, "max_rows must be a whole number >= 0, not %r" % (n,))
    return n


def _folder_glob(path):
    """A folder's data files as one glob, by the kind most of them are."""
    exts = {}
    for f in os.listdir(path):
        ext = os.path.splitext(f)[1].lower()
        if ext in (".csv", ".parquet", ".json", ".jsonl", ".ndjson"):
            exts[ext] = exts.get(ext, 0) + 1
    if not exts:
        raise from_code(_NOT_FOUND, "folder '%s' holds no .csv, .parquet or .json files" % path)
    if len(exts) > 1:
        raise from_code(-5, "folder '%s' mixes file kinds (%s): name a glob such as '%s/*.parquet'"
                        % (path, ", ".join(sorted(exts)), path))
    return os.path.join(path, "*" + next(iter(exts)))
