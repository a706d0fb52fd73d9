"""The Python client in the trust issue's small cases: a lakehouse that is
not there is named, and an open client notices its lakehouse being
deleted instead of writing into nothing."""
import os
import shutil

import pytest

import tarn


def test_missing_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_HOME", raising=False)
    missing = str(tmp_path / "nonexistent")
    with pytest.raises(tarn.NotFoundError) as e:
        tarn.Client(missing)
    assert "nonexistent" in str(e.value) and "does not exist" in str(e.value)
    assert "current folder" not in str(e.value)


@pytest.mark.local_only("only the lakehouse's host can delete its folder from under an open client")
def test_deleted_lakehouse_refuses_writes(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_HOME", raising=False)
    lake = tmp_path / "lake"
    client = tarn.Client.init(lake)
    csv = tmp_path / "t.csv"
    csv.write_text("id\n1\n2\n")
    client.import_data("t", str(csv))
    shutil.rmtree(lake / ".tarn")
    with pytest.raises(tarn.Error) as e:
        client.import_data("u", str(csv))
    assert "deleted or replaced" in str(e.value)
    assert not os.path.exists(lake / ".tarn")
