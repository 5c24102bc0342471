import json

import pytest

from transfertune.ir.recipe import (
    ProgramRecipe,
    Recipe,
    RecipeError,
    Step,
    load_recipe,
)


def recipe(*steps):
    return {"format": "transfertune-recipe", "version": 1, "steps": list(steps)}


def test_round_trip_and_hash_are_stable():
    data = recipe({"op": "tile", "loop": [], "size": 32}, {"op": "parallelize", "loop": []},
                  {"op": "interchange", "loop": [0], "inner": [0, 0]},
                  {"op": "local_storage", "loop": [0], "container": "A", "direction": "in"})
    r = Recipe.from_json(data)
    assert r.steps[0] == Step("tile", (), {"size": 32})
    assert Recipe.from_json(r.to_json()) == r
    assert r.to_json() == data
    assert Recipe.from_json(json.loads(r.canonical())).recipe_hash == r.recipe_hash
    assert r.recipe_hash != Recipe(r.steps[:1]).recipe_hash


def test_program_recipe_round_trip(tmp_path):
    pr = ProgramRecipe({0: Recipe((Step("vectorize", (0,)),)), 2: Recipe()})
    path = tmp_path / "p.json"
    path.write_text(json.dumps(pr.to_json()))
    assert load_recipe(path) == pr


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (recipe({"op": "fuse", "loop": []}), "unknown op 'fuse'"),
        (recipe({"op": "tile", "loop": []}), "tile needs parameter 'size'"),
        (recipe({"op": "tile", "loop": [], "size": 1}), "tile size must be >= 2"),
        (recipe({"op": "tile", "loop": [], "size": "32"}), "size must be int"),
        (recipe({"op": "tile", "loop": [-1], "size": 4}), "loop path is a list of non-negative"),
        (recipe({"op": "parallelize", "loop": [], "threads": 4}), "takes no parameter"),
        (recipe({"op": "local_storage", "loop": [], "container": "A", "direction": "up"}),
         "direction must be"),
        (recipe("tile"), "steps[0]: expected an object"),
        ({"format": "transfertune-recipe", "version": 9, "steps": []}, "unsupported version 9"),
        ({"format": "something-else", "version": 1, "steps": []}, "format must be"),
        ({"format": "transfertune-recipe", "version": 1, "steps": {}}, "'steps' must be a list"),
        ({"format": "transfertune-program-recipe", "version": 1, "nests": {"x": recipe()}},
         "nest key 'x' is not an index"),
    ],
)
def test_malformed_recipes_name_the_problem(data, message):
    with pytest.raises(RecipeError) as err:
        load_recipe(data)
    assert message in str(err.value)


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RecipeError, match="invalid JSON"):
        load_recipe(bad)
