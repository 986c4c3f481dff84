"""The model outside Keras: ONNX export, the ONNX Runtime engine, and bad ONNX files."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from retina_tutorial import cli, config, inference, model_files, onnx_model, provenance, scale
from retina_tutorial import model as unet
from retina_tutorial.synthetic import make_fundus

onnx = pytest.importorskip("onnx", reason="the [onnx] extra is not installed")
pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")

# Keras 3.15 calls np.array(variable, copy=False) while saving (see test_inference).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

#: A fundus photograph drawn small, whose FOV the small models are "trained" at.
SHAPE = (96, 104)


def _small_unet(**options):
    keras.utils.set_random_seed(0)
    model = unet.build_unet(base_filters=4, depth=2, name="small", **options)
    scale.attach(model, scale.Scale(80.0))
    provenance.attach(model, {"trained_on": ["synthetic:train:1"], "validated_on": []})
    return model


def _photograph(seed=0):
    return make_fundus(seed, SHAPE)[0]


@pytest.fixture(scope="module")
def small():
    return _small_unet(batch_norm=True)


@pytest.fixture(scope="module")
def exported(small, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    calibration = [_photograph(seed) for seed in (1, 2)]
    return {
        precision: onnx_model.export(
            small,
            folder / f"{precision}.onnx",
            precision=precision,
            calibration_images=calibration if precision == "int8" else None,
            calibrated_on=["synthetic train 1", "synthetic train 2"],
        )
        for precision in onnx_model.PRECISIONS
    }


def test_fp32_gives_kerass_probabilities(small, exported):
    engine = inference.load_model(exported["fp32"])
    assert isinstance(engine, onnx_model.OnnxModel)
    images = np.stack([_photograph(seed) for seed in (3, 4)])
    onnx_maps, keras_maps = inference.predict(engine, images), inference.predict(small, images)
    assert onnx_maps.dtype == np.float32
    assert onnx_maps.shape == keras_maps.shape == (2, *SHAPE)
    assert np.abs(onnx_maps - keras_maps).max() <= 1e-4


def test_the_file_has_named_open_ends_and_carries_the_models_facts(small, exported):
    graph = onnx.load(str(exported["fp32"]))
    assert [entry.version for entry in graph.opset_import if entry.domain == ""] == [17]
    (image,), (probability,) = graph.graph.input, graph.graph.output
    assert (image.name, probability.name) == ("image", "probability")
    dims = [d.dim_value or d.dim_param for d in image.type.tensor_type.shape.dim]
    assert dims[3] == 3 and all(isinstance(d, str) for d in dims[:3])  # open N, H, W
    info = json.loads({p.key: p.value for p in graph.metadata_props}["retina_tutorial"])
    assert info["training_scale"] == scale.Scale(80.0).to_dict()
    assert info["provenance"] == provenance.of_model(small)
    assert info["required_multiple"] == 4 and info["tile_overlap"] == inference.tile_overlap(small)
    assert info["parameters"] == small.count_params() and info["precision"] == "fp32"
    engine = onnx_model.load(exported["fp32"])
    assert scale.of_model(engine) == scale.Scale(80.0)
    assert provenance.of_model(engine) == provenance.of_model(small)
    assert engine.count_params() == small.count_params()


def test_fp16_halves_the_file_and_stays_close(small, exported):
    def weight_bytes(path, kind):
        graph = onnx.load(str(path)).graph
        return sum(len(w.raw_data) for w in graph.initializer if w.data_type == kind)

    fp32_weights = weight_bytes(exported["fp32"], onnx.TensorProto.FLOAT)
    assert weight_bytes(exported["fp16"], onnx.TensorProto.FLOAT16) == fp32_weights // 2
    assert weight_bytes(exported["fp16"], onnx.TensorProto.FLOAT) == 0
    image = _photograph(5)
    engine = onnx_model.load(exported["fp16"])
    difference = np.abs(inference.predict(engine, image) - inference.predict(small, image))
    assert 0 < difference.max() <= 1e-2  # rounded weights: close, not equal
    assert engine.predict_on_batch(image[None, :96, :104]).dtype == np.float32


def test_int8_is_calibrated_and_close(small, exported):
    engine = onnx_model.load(exported["int8"])
    assert engine.info["calibrated_on"] == ["synthetic train 1", "synthetic train 2"]
    graph = onnx.load(str(exported["int8"]))
    assert any(node.op_type == "QuantizeLinear" for node in graph.graph.node)
    image = _photograph(6)
    onnx_map, keras_map = inference.predict(engine, image), inference.predict(small, image)
    assert np.all((onnx_map >= 0) & (onnx_map <= 1))
    assert np.abs(onnx_map - keras_map).mean() <= 0.02
    assert np.corrcoef(onnx_map.ravel(), keras_map.ravel())[0, 1] >= 0.95


def test_int8_without_calibration_images_is_refused(small, tmp_path):
    with pytest.raises(ValueError, match="calibration_images"):
        onnx_model.export(small, tmp_path / "m.onnx", precision="int8")
    with pytest.raises(ValueError, match="precision must be one of"):
        onnx_model.export(small, tmp_path / "m.onnx", precision="int4")
    assert list(tmp_path.iterdir()) == []


def test_tiles_rescaling_and_the_fov_follow_the_keras_path(small, exported):
    engine = onnx_model.load(exported["fp32"])
    image = make_fundus(7, (260, 280))[0]
    tiled = inference.predict(engine, image, tile_size=128)
    np.testing.assert_allclose(tiled, inference.predict(small, image, tile_size=128), atol=1e-4)
    np.testing.assert_allclose(tiled, inference.predict(engine, image), atol=1e-4)
    from_onnx = inference.predict_photograph(engine, image)
    from_keras = inference.predict_photograph(small, image)
    assert from_onnx.factor == from_keras.factor != 1.0
    np.testing.assert_array_equal(from_onnx.fov, from_keras.fov)
    assert np.abs(from_onnx.probabilities - from_keras.probabilities).max() <= 1e-4


def test_contrast_normalisation_exports_too(tmp_path):
    model = _small_unet(contrast_sigma=3.0)
    path = onnx_model.export(model, tmp_path / "contrast.onnx")
    image = _photograph(8)
    difference = inference.predict(onnx_model.load(path), image) - inference.predict(model, image)
    assert np.abs(difference).max() <= 1e-4


def test_a_failed_export_leaves_the_old_file_and_nothing_else(small, tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the previous export")

    def broken(*_):
        raise RuntimeError("converter failed")

    monkeypatch.setattr(onnx_model, "_export_fp32", broken)
    with pytest.raises(RuntimeError, match="converter failed"):
        onnx_model.export(small, path)
    assert path.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


# --- bad files -------------------------------------------------------------------


def _graph_file(path, *, input_shape=("N", "H", "W", 3), outputs=1, opset=17, metadata=True):
    """A one-node ONNX model (a 1x1 convolution), saved to ``path``."""
    helper, tensor = onnx.helper, onnx.TensorProto
    channels = input_shape[-1]
    nodes, graph_outputs = [], []
    initializers = []
    for index in range(outputs):
        weights = np.ones((1, 1, 1, channels), np.float32)
        initializers.append(onnx.numpy_helper.from_array(weights, f"w{index}"))
        nodes.append(helper.make_node("Mul", ["image", f"w{index}"], [f"out{index}"]))
        name = "probability" if index == 0 else f"out{index}"
        if name != f"out{index}":
            nodes.append(helper.make_node("Identity", [f"out{index}"], [name]))
        graph_outputs.append(
            helper.make_tensor_value_info(name, tensor.FLOAT, [*input_shape[:3], channels])
        )
    graph = helper.make_graph(
        nodes,
        "stand-in",
        [helper.make_tensor_value_info("image", tensor.FLOAT, list(input_shape))],
        graph_outputs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if metadata:
        entry = model.metadata_props.add()
        entry.key = "retina_tutorial"
        entry.value = json.dumps({"required_multiple": 1, "tile_overlap": 0})
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "no such ONNX file"),
        ("text", "could not be read as an ONNX model"),
        ("truncated", "could not be read as an ONNX model"),
        ("one channel", "not float32 RGB"),
        ("two outputs", "gives outputs"),
        ("newer opset", "needs a newer ONNX Runtime"),
        ("no metadata", "carries no readable 'retina_tutorial' metadata"),
        ("bad scale", "carries no readable 'retina_tutorial' metadata"),
    ],
)
def test_bad_onnx_files_are_named_with_the_fix(exported, tmp_path, kind, message):
    path = tmp_path / "model.onnx"
    if kind == "text":
        path.write_text("not a network\n")
    elif kind == "truncated":
        content = exported["fp32"].read_bytes()
        path.write_bytes(content[: len(content) // 2])
    elif kind == "one channel":
        _graph_file(path, input_shape=("N", "H", "W", 1))
    elif kind == "two outputs":
        _graph_file(path, input_shape=("N", "H", "W", 3), outputs=2)
    elif kind == "newer opset":
        graph = onnx.load(str(exported["fp32"]))
        graph.opset_import[0].version = 99
        onnx.save(graph, str(path))
    elif kind == "no metadata":
        graph = onnx.load(str(exported["fp32"]))
        del graph.metadata_props[:]
        onnx.save(graph, str(path))
    elif kind == "bad scale":
        graph = onnx.load(str(exported["fp32"]))
        info = json.loads(graph.metadata_props[0].value)
        info["training_scale"]["fov_diameter"] = -1.0
        graph.metadata_props[0].value = json.dumps(info)
        onnx.save(graph, str(path))
    with pytest.raises(inference.ModelFileError, match=message) as error:
        inference.load_model(path)
    assert str(path) in str(error.value)


def test_without_onnx_runtime_the_error_names_the_extra(exported, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    with pytest.raises(onnx_model.MissingExtraError, match=r"retina-tutorial\[onnx\]"):
        onnx_model.load(exported["fp32"])


# --- the command line --------------------------------------------------------------


def test_export_then_predict_on_the_command_line(small, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(config.DATA_VARIABLE, raising=False)
    keras_file = model_files.save(small, tmp_path / "small.keras")
    photograph = tmp_path / "eye.png"
    Image.fromarray(np.round(_photograph(9) * 255).astype(np.uint8)).save(photograph)
    out = tmp_path / "small.onnx"
    assert cli.main(["export", "--model", str(keras_file), "--out", str(out)]) == 0
    assert "fp32 ONNX model" in capsys.readouterr().out
    for model_file, folder in ((keras_file, "keras"), (out, "onnx")):
        command = ["predict", str(photograph), "--model", str(model_file)]
        assert cli.main([*command, "--out", str(tmp_path / folder)]) == 0
    maps = [
        np.asarray(Image.open(tmp_path / folder / "eye_probability.png"), np.int32)
        for folder in ("keras", "onnx")
    ]
    assert np.abs(maps[0] - maps[1]).max() <= 7  # 1e-4 of 65535


def test_export_int8_calibrates_on_the_training_images_of_the_data(
    small, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv(config.DATA_VARIABLE, raising=False)
    keras_file = model_files.save(small, tmp_path / "small.keras")
    out = tmp_path / "small_int8.onnx"
    command = ["export", "--model", str(keras_file), "--out", str(out), "--precision", "int8"]
    assert cli.main(command) == 0
    printed = capsys.readouterr().out
    assert "Calibrating int8 on 4 training images of synthetic" in printed
    calibrated = onnx_model.load(out).info["calibrated_on"]
    assert len(calibrated) == 4 and all(" train " in name for name in calibrated)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--out", "model.txt"], "ends in .onnx"),
        (["--out", "again.onnx", "--model", "given.onnx"], "already an ONNX file"),
    ],
)
def test_export_refuses_wrong_file_names(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = ["export", "--model", "pretrained", *arguments]
    assert cli.main(command) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_evaluate_with_an_onnx_file_records_onnx_runtime(exported, tmp_path, monkeypatch):
    monkeypatch.delenv(config.DATA_VARIABLE, raising=False)
    out = tmp_path / "eval"
    assert cli.main(["evaluate", "--model", str(exported["fp32"]), "--out", str(out)]) == 0
    document = json.loads((out / "metrics.json").read_text())
    assert set(document["software"]) == {"onnxruntime", "numpy"}
    assert document["model"]["file"] == "fp32.onnx" and document["model"]["parameters"] > 0


@pytest.mark.drive
@pytest.mark.slow
def test_the_shipped_model_in_onnx_gives_kerass_drive_maps(drive_dataset, tmp_path):
    from retina_tutorial import pretrained

    keras_model = pretrained.load()
    engine = onnx_model.load(onnx_model.export(keras_model, tmp_path / "shipped.onnx"))
    test = drive_dataset.test.select(drive_dataset.test.ids[:2])
    onnx_maps = inference.predict_split(engine, test)[0]
    keras_maps = inference.predict_split(keras_model, test)[0]
    assert np.abs(onnx_maps - keras_maps)[test.fov].max() <= 1e-4
    np.testing.assert_array_equal(onnx_maps >= 0.5, keras_maps >= 0.5)
