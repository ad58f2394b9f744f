"""config/trainer.py states what the stack knows about the training app; the app agrees."""

from __future__ import annotations

from config import trainer
from tests.harness.trainer import SAMPLE_TRAIN, SAMPLE_VAL


def test_trainer_flags_match_what_the_config_allows():
    from trainer.config import DEFAULT_METRIC_TAG, build_parser

    groups = {group.title: group for group in build_parser({})._action_groups}

    def flags(title: str) -> set[str]:
        actions = groups[title]._group_actions
        return {action.option_strings[0].removeprefix("--") for action in actions}

    assert flags("hyperparameters") == set(trainer.HYPERPARAMETERS)
    assert set(trainer.DATA_FLAGS) <= flags("data")
    assert DEFAULT_METRIC_TAG == trainer.DEFAULT_METRIC_TAG


def test_every_image_flavour_has_a_dockerfile_and_the_sample_data_is_where_config_says():
    for flavour in trainer.IMAGE_FLAVOURS:
        assert (trainer.TRAINER_APP_DIR / f"{flavour}.Dockerfile").is_file(), flavour
    assert set(trainer.GPU_FLAVOURS) <= set(trainer.IMAGE_FLAVOURS)
    assert {SAMPLE_TRAIN.parent, SAMPLE_VAL.parent} == {trainer.SAMPLE_DATA_DIR}
