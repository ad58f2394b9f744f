"""The one exception type the trainer raises for problems a user can fix."""


class TrainerError(Exception):
    """An expected, user-fixable failure (bad flag, missing file, malformed CSV).

    ``trainer.task.main`` prints its message as a single stderr line and exits non-zero,
    so expected failures never show a traceback.
    """
