"""``fit``'s callbacks: one idea per file, all re-exported here."""

from jtoolkit._src.train.callbacks.base import (
    Callback,
    Run,
    state_from_json,
    state_to_json,
)
from jtoolkit._src.train.callbacks.checkpoint import ModelCheckpoint
from jtoolkit._src.train.callbacks.csv_logger import CSVLogger
from jtoolkit._src.train.callbacks.ema import EMA
from jtoolkit._src.train.callbacks.history import History
from jtoolkit._src.train.callbacks.lambda_callback import LambdaCallback
from jtoolkit._src.train.callbacks.monitor import (
    EarlyStopping,
    EarlyStoppingState,
    Monitor,
    ReduceLROnPlateau,
)
from jtoolkit._src.train.callbacks.progress import ProgressBar
from jtoolkit._src.train.callbacks.tensorboard import TensorBoard
from jtoolkit._src.train.callbacks.terminate import TerminateOnNaN

__all__ = [
    "EMA",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "EarlyStoppingState",
    "History",
    "LambdaCallback",
    "ModelCheckpoint",
    "Monitor",
    "ProgressBar",
    "ReduceLROnPlateau",
    "Run",
    "TensorBoard",
    "TerminateOnNaN",
    "state_from_json",
    "state_to_json",
]
