import os

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test (deselected by make test)")
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU")
