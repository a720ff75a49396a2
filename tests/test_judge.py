"""The blind judge: balanced, shuffled sheets with the key kept apart, and a tally that follows the key."""
import json
from pathlib import Path

import pytest
from PIL import Image

from style_app.cli import main
from style_app.tools import judge


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), colour).save(path)
    return path


@pytest.fixture
def programs(tmp_path: Path) -> dict:
    """Two programs' pictures of 3 photos x 2 paintings: the first paints red, the second blue."""
    photos = [picture(tmp_path / "photos" / f"p{i}.png", (9, 9, 9)) for i in range(3)]
    paintings = [picture(tmp_path / "paintings" / f"{name}.jpg", (200, 200, 0)) for name in ("wave", "night")]
    for painting in paintings:
        for photo in photos:
            picture(tmp_path / "first" / painting.stem / f"{photo.stem}.png", (255, 0, 0))
            picture(tmp_path / "second" / painting.stem / f"{photo.stem}.jpg", (0, 0, 255))
    return {"photos": photos, "paintings": paintings, "first": tmp_path / "first", "second": tmp_path / "second",
            "out": tmp_path / "sheets", "key": tmp_path / "key.json"}


def make(programs: dict, seed: int = 0) -> list[dict]:
    return judge.make_sheets(programs["first"], programs["second"], programs["photos"], programs["paintings"],
                             programs["out"], programs["key"], seed)


def side_colour(sheet: Path, side: str) -> tuple[int, int, int]:
    """The colour in the middle of picture A or B on a sheet."""
    image = Image.open(sheet).convert("RGB")
    x = image.width // 4 if side == "A" else 3 * image.width // 4
    return image.getpixel((x, image.height - 20))


def test_sheets_balance_the_sides_and_the_key_says_which_is_which(programs):
    rows = make(programs)
    assert len(rows) == 6 and sorted(p.name for p in programs["out"].iterdir()) == [
        f"sheet_0{i}.png" for i in range(1, 7)]
    assert sum(row["A"] == "first" for row in rows) == 3  # exactly half each way
    assert json.loads(programs["key"].read_text()) == rows
    for row in rows:  # the picture on side A is the program the key names
        a = side_colour(programs["out"] / f"{row['sheet']}.png", "A")
        assert (a[0] > 200) == (row["A"] == "first")
    assert {(r["painting"], r["photo"]) for r in rows} == {(pt.stem, ph.stem) for pt in programs["paintings"]
                                                           for ph in programs["photos"]}


def test_the_order_is_shuffled_by_the_seed(programs):
    orders = set()
    for seed in range(4):
        orders.add(tuple((r["painting"], r["photo"], r["A"]) for r in make(programs, seed)))
    assert len(orders) > 1


def test_the_key_may_not_lie_among_the_sheets(programs):
    programs["key"] = programs["out"] / "key.json"
    with pytest.raises(judge.JudgeError, match="outside the sheet folder"):
        make(programs)


def test_a_missing_picture_is_named(programs):
    (programs["second"] / "wave" / "p1.jpg").unlink()
    with pytest.raises(judge.JudgeError, match="no picture named p1"):
        make(programs)


def write_verdicts(path: Path, rows: list[dict], prefer: dict[str, str]) -> Path:
    """Verdicts that pick, per painting, the side holding program prefer[painting] (or 'tie')."""
    lines = []
    for row in rows:
        wanted = prefer[row["painting"]]
        verdict = "tie" if wanted == "tie" else ("A" if row["A"] == wanted else "B")
        lines.append(f"{row['sheet']} {verdict}  because")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tally_counts_each_judge_the_majority_and_agreement(programs, tmp_path):
    rows = make(programs)
    files = [write_verdicts(tmp_path / "j1.txt", rows, {"wave": "first", "night": "second"}),
             write_verdicts(tmp_path / "j2.txt", rows, {"wave": "first", "night": "first"}),
             write_verdicts(tmp_path / "j3.txt", rows, {"wave": "first", "night": "second"})]
    result = judge.tally(programs["key"], files, programs["out"])
    assert result["judges"][0]["wave"]["first"] == 3 and result["judges"][0]["night"]["second"] == 3
    assert result["judges"][1]["all"]["first"] == 6
    assert result["majority"]["all"]["first"] == 3 and result["majority"]["all"]["second"] == 3
    assert result["all_agree"] == 3  # the three agree on the wave sheets only


def test_a_tie_of_votes_is_a_tie(programs, tmp_path):
    rows = make(programs)
    files = [write_verdicts(tmp_path / "j1.txt", rows, {"wave": "first", "night": "tie"}),
             write_verdicts(tmp_path / "j2.txt", rows, {"wave": "second", "night": "tie"})]
    assert judge.tally(programs["key"], files)["majority"]["all"]["tie"] == 6


def test_bad_verdict_files_are_one_line_errors(programs, tmp_path, capsys):
    rows = make(programs)
    good = write_verdicts(tmp_path / "v.txt", rows, {"wave": "first", "night": "first"})
    lines = good.read_text().splitlines()
    cases = {"missing": lines[1:], "twice": lines + lines[:1], "garbled": ["sheet_01 maybe"] + lines[1:]}
    for name, text in cases.items():
        path = tmp_path / f"{name}.txt"
        path.write_text("\n".join(text) + "\n")
        assert main(["judge", "tally", str(programs["out"]), str(programs["key"]), str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err, (name, err)
    picture = programs["photos"][0]  # not text at all: a verdicts file or a key that is a PNG
    for argv in ([str(programs["key"]), str(picture)], [str(picture), str(good)]):
        assert main(["judge", "tally", str(programs["out"]), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("style-app: error: ") and "Traceback" not in err, err
    assert main(["judge", "tally", str(programs["out"]), str(programs["key"]), str(good)]) == 0
    assert "6-0-0" in capsys.readouterr().out


def test_cli_make_writes_the_key_beside_the_sheets(programs, capsys):
    argv = ["judge", "make", str(programs["first"]), str(programs["second"]), "--photos",
            *map(str, programs["photos"]), "--paintings", *map(str, programs["paintings"]), "--out",
            str(programs["out"])]
    assert main(argv) == 0
    key = Path(f"{programs['out']}.key.json")
    assert len(json.loads(key.read_text())) == 6 and not list(programs["out"].glob("*.json"))
    assert main(argv[:3] + ["nowhere"] + argv[4:]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err
