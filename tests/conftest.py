import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param
