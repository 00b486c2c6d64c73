import os

import pytest
import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(1)

settings.register_profile(
    "course",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=int(os.environ.get("HNM_EXAMPLES", "100")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
settings.load_profile("course")

_DEVICES = [pytest.param("cpu", id="cpu")]
_DEVICES.append(
    pytest.param(
        "cuda",
        id="cuda",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")],
    )
)


@pytest.fixture(params=_DEVICES)
def device(request) -> str:
    """Every property runs on the CPU; with ``-m gpu`` (and a GPU) on CUDA as well."""
    return request.param
