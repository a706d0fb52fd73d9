"""check_avro.py METADATA_JSON — reads an Iceberg table's manifest list and
manifests with Debian's python3-avro (a reader no one here wrote) and
prints what they say as JSON: the header keys Iceberg needs, the data
files with their record counts and sizes, and each column's bounds decoded
from Iceberg's single-value form (by the type the table schema gives)."""
import json
import struct
import sys
import warnings
from datetime import date, datetime, timedelta, timezone
from urllib.parse import unquote, urlparse

from avro.datafile import DataFileReader
from avro.io import DatumReader

# python3-avro reads Iceberg's maps (arrays of key-value records tagged
# logicalType map) as the arrays they are, and says so.
warnings.simplefilter("ignore")


def local(location):
    u = urlparse(location)
    if u.scheme != "file":
        sys.exit(f"check_avro: {location} is not a file:// location")
    return unquote(u.path)


def read(location):
    with open(local(location), "rb") as f:
        reader = DataFileReader(f, DatumReader())
        meta = {k: v.decode() for k, v in reader.meta.items() if not k.startswith("avro.")}
        records = list(reader)
        reader.close()
    return meta, records


def decode(kind, raw):
    if kind in ("int", "date"):
        v = struct.unpack("<i", raw)[0]
        return (date(1970, 1, 1) + timedelta(days=v)).isoformat() if kind == "date" else v
    if kind in ("long", "timestamp", "timestamptz"):
        v = struct.unpack("<q", raw)[0]
        if kind == "long":
            return v
        t = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=v)
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")
    if kind == "double":
        return struct.unpack("<d", raw)[0]
    if kind == "float":
        return struct.unpack("<f", raw)[0]
    if kind == "boolean":
        return raw != b"\x00"
    if kind == "string":
        return raw.decode()
    if kind.startswith("decimal"):
        scale = int(kind.split(",")[1].rstrip(")"))
        return str(int.from_bytes(raw, "big", signed=True) / 10**scale)
    return raw.hex()


md = json.load(open(local(sys.argv[1])))
types = {f["id"]: (f["name"], f["type"]) for f in md["schemas"][0]["fields"] if isinstance(f["type"], str)}
snap = next(s for s in md["snapshots"] if s["snapshot-id"] == md["current-snapshot-id"])
list_meta, manifests = read(snap["manifest-list"])
out = {"list_meta": list_meta, "manifests": [], "files": [], "bounds": {}}
for m in manifests:
    meta, entries = read(m["manifest_path"])
    out["manifests"].append({"meta": sorted(meta), "files": m["added_files_count"], "rows": m["added_rows_count"],
                             "length_ok": m["manifest_length"] == len(open(local(m["manifest_path"]), "rb").read())})
    for e in entries:
        df = e["data_file"]
        out["files"].append({"path": df["file_path"], "records": df["record_count"], "size": df["file_size_in_bytes"],
                             "status": e["status"], "snapshot": e["snapshot_id"]})
        for key in ("lower_bounds", "upper_bounds"):
            for b in df[key] or []:
                name, kind = types[b["key"]]
                slot = out["bounds"].setdefault(name, {"lower": [], "upper": []})
                slot[key.split("_")[0]].append(decode(kind, b["value"]))
for name, b in out["bounds"].items():
    out["bounds"][name] = {"min": min(b["lower"]), "max": max(b["upper"])}
print(json.dumps(out, default=str))
