"""RunConfig: one description of a run, checked, parsed, labelled, round-tripped."""

import dataclasses
import json

import numpy as np
import pytest

from course_lib.common.optimizer import SGD, Adam
from course_lib.config import (
    NETWORK_FIELDS,
    RunConfig,
    distinct_labels,
    parse_hidden_sizes,
    settings,
)
from course_lib.history import History
from course_lib.training import run, train
from course_lib.validation import SettingError


def test_defaults_are_the_seeds_relu_run():
    c = RunConfig()
    assert (c.activation, c.weight_init_std, c.hidden_size_list) == ("relu", 0.01, (40, 20))
    assert (c.learning_rate, c.iters_num, c.batch_size, c.eval_interval) == (0.1, 2000, 100, 10)
    assert c.label == "relu / 0.01 [40,20] lr=0.1"


def test_names_are_accepted_as_people_write_them():
    assert RunConfig(weight_init_std="he").weight_init_std == "He"
    assert RunConfig(weight_init_std="XAVIER").weight_init_std == "Xavier"
    assert RunConfig(weight_init_std="relu").weight_init_std == "He"  # the seed's alias
    assert RunConfig(activation="ReLU").activation == "relu"
    assert RunConfig(weight_init_std=np.float32(0.01)).weight_init_std == 0.01
    assert RunConfig(hidden_size_list=[60, 30]).hidden_size_list == (60, 30)


@pytest.mark.parametrize(
    "changes, name, words",
    [
        ({"iters_num": 0}, "iters_num", ">= 1"),
        ({"seed": -1}, "seed", ">= 0"),
        ({"learning_rate": 0}, "learning_rate", "positive"),
        ({"learning_rate": float("nan")}, "learning_rate", "finite"),
        ({"activation": "softplus"}, "activation", "'relu'"),
        ({"weight_init_std": "kaiming"}, "weight_init_std", "He"),
        ({"weight_init_std": -1}, "weight_init_std", "positive"),
        ({"hidden_size_list": {40, 20}}, "hidden_size_list", "list"),
        ({"hidden_size_list": (40, 0)}, "hidden_size_list[1]", ">= 1"),
        ({"optimizer": "rmsprop"}, "optimizer", "'adam'"),
        ({"dataset": "cifar"}, "dataset", "'fashion'"),
    ],
)
def test_bad_values_name_the_setting(changes, name, words):
    with pytest.raises(SettingError) as info:
        RunConfig(**changes)
    assert info.value.name.startswith(name.split("[")[0]) and words in str(info.value)
    assert info.value.named("--flag").startswith("--flag ")


def test_typed_text_is_parsed():
    c = RunConfig.from_text(
        hidden_size_list=" [60, 30] ", weight_init_std="xavier", learning_rate="0.05"
    )
    assert c.hidden_size_list == (60, 30) and c.weight_init_std == "Xavier"
    assert RunConfig.from_text(weight_init_std="0.02").weight_init_std == 0.02
    assert c.text("hidden_size_list") == "60,30"
    with pytest.raises(SettingError, match=r"must be a positive whole number \(>= 1\), got 'ten'"):
        RunConfig.from_text(iters_num="ten")
    with pytest.raises(SettingError, match="must be a positive number or one of"):
        RunConfig.from_text(weight_init_std="big")
    for bad in ("", "40,x", "0", "-5", "40,,20"):
        with pytest.raises(ValueError):
            parse_hidden_sizes(bad)
        with pytest.raises(SettingError) as info:
            RunConfig.from_text(hidden_size_list=bad)
        assert info.value.name == "hidden_size_list"


def test_round_trip_through_plain_json():
    c = RunConfig(activation="tanh", weight_init_std="Glorot", hidden_size_list=(5,), seed=None)
    assert RunConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(c)))) == c


def test_distinct_labels_show_what_differs():
    configs = [RunConfig(hidden_size_list=h) for h in ((30, 15), (40, 20), (60, 30))]
    assert distinct_labels(configs) == ["[30,15]", "[40,20]", "[60,30]"]
    pair = [RunConfig(weight_init_std=0.01), RunConfig(activation="sigmoid", learning_rate=0.5)]
    assert distinct_labels(pair) == ["relu / 0.01 lr=0.1", "sigmoid / 0.01 lr=0.5"]
    seeds = distinct_labels([RunConfig(seed=0), RunConfig(seed=1)])
    assert seeds == ["relu / 0.01 [40,20] lr=0.1 seed=0", "relu / 0.01 [40,20] lr=0.1 seed=1"]


def test_every_field_but_network_seed_has_a_setting_and_network_fields_are_network_arguments():
    import inspect

    from course_lib.multi_layer_net import MultiLayerNet

    parameters = inspect.signature(MultiLayerNet).parameters
    assert list(settings()) == [f.name for f in dataclasses.fields(RunConfig)][:-1]
    for setting in settings().values():
        assert setting.label and setting.flag.startswith("--") and setting.help
    assert set(NETWORK_FIELDS) <= set(parameters) & set(settings())
    network = RunConfig().build_network()
    assert RunConfig().network_matches(network)
    assert not RunConfig(activation="sigmoid").network_matches(network)


def test_history_carries_the_config_it_was_trained_with(sample_data):
    config = RunConfig(activation="sigmoid", weight_init_std="He", iters_num=20, seed=3)
    h = run(config, sample_data)
    assert h.config == config
    # train() on a network describes the same run by itself.
    h2 = train(config.build_network(), sample_data, iters_num=20, learning_rate=0.1, seed=3)
    unseeded = {"seed": None, "network_seed": None}
    assert h2.config.replace(dataset=config.dataset, **unseeded) == config.replace(**unseeded)
    assert h2.losses == h.losses
    back = History.from_dict(json.loads(json.dumps(h.to_dict())))
    assert back.config == config and back.test_acc == h.test_acc


def test_optimizer_object_and_learning_rate_give_the_same_run(sample_data):
    config = RunConfig(iters_num=50, seed=1)
    a = train(config.build_network(), sample_data, iters_num=50, learning_rate=0.1, seed=1)
    b = train(config.build_network(), sample_data, iters_num=50, optimizer=SGD(lr=0.1), seed=1)
    assert a.losses == b.losses and a.test_acc == b.test_acc and a.grad_norms == b.grad_norms
    with pytest.raises(ValueError, match="not both"):
        train(config.build_network(), sample_data, learning_rate=0.1, optimizer=SGD(lr=0.1))
    adam = run(config.replace(optimizer="adam", learning_rate=0.001, iters_num=200), sample_data)
    assert adam.config.optimizer == "adam" and "Adam" in adam.label
    assert adam.final_test_acc > 0.5
    assert isinstance(config.replace(optimizer="adam").build_optimizer(), Adam)
