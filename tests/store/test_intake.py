from __future__ import annotations

from harbour.app import App
from tests.support import invoke, referral


def test_refer_prints_reference_and_show_unseals(seeded: App, tmp_path) -> None:
    path = tmp_path / "r.json"
    import json

    path.write_text(json.dumps(referral("ZQ")))
    result = invoke(seeded, "refer", "--file", str(path), "--as", "coord", "--json")
    assert result.exit_code == 0, result.stderr
    ref = result.json()["case"]
    assert ref.startswith("HB-") and len(ref) == 37
    shown = invoke(seeded, "case", "show", ref, "--as", "cw1", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["people"][0]["name"] == "ZQyouthname"
    other = invoke(seeded, "case", "show", ref, "--as", "cw3")
    missing = invoke(seeded, "case", "show", "HB-0000-0000-0000", "--as", "cw3")
    assert (other.exit_code, other.stderr) == (missing.exit_code, missing.stderr)
