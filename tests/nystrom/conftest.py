import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The test matrices are at most a few hundred square: BLAS threads only add synchronisation,
    # which on a shared 2-core CI machine costs more than the work.
    with threadpool_limits(limits=1, user_api="blas"):
        yield
