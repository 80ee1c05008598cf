"""Training wrappers (LSM, NALSM, Diehl & Cook STDP, DCLS delays, AKOrN) and the task
registry that `brainsim train` runs."""

from ._tasks import (
    Task as Task,
    TrainConfig as TrainConfig,
    TrainRun as TrainRun,
    known_tasks as known_tasks,
    load_train_config as load_train_config,
    register_task as register_task,
    run_task as run_task,
)
