"""Installs microturn's five packages.

`pip install -e .[test,audio,eval]` (what `make test` and `make demo` run) gives
the full development setup. JAX is pinned to the version on the lent GPU
machines, so kernels tested here in interpret mode are the same code there.
"""

import setuptools

PACKAGES = ("interaction", "pallas_kernels", "experiments", "data_pipelines", "eval")

setuptools.setup(
    name="microturn",
    version="0.1.0",
    description="JAX research codebase for full-duplex interaction models in 200 ms micro-turns.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.12,<3.13",
    packages=setuptools.find_packages(include=[f"{p}*" for p in PACKAGES]),
    install_requires=[
        "jax==0.11.2",
        "jaxlib==0.11.2",
        "flax>=0.12",
        "optax>=0.2.5",
        "orbax-checkpoint>=0.11",
        "grain>=0.2.12",
        "ml_collections>=1.0",
        "absl-py>=2.1",
        "numpy>=2.0",
        "tensorboardX>=2.6",
        "tqdm>=4.66",
    ],
    extras_require={
        # Real speech, WAV files and plots for the stream format and demos.
        "audio": [
            "espeakng-loader>=0.2",
            "soundfile>=0.12",
            "matplotlib>=3.8",
            "pillow>=10.0",
            "scipy>=1.11",
        ],
        # The turn-based baseline's VAD runs Silero's ONNX model with onnxruntime.
        # The `silero-vad` wheel (which carries the model) is installed with
        # --no-deps by the Makefile: its declared torch dependency is not needed.
        "eval": [
            "onnxruntime>=1.17",
        ],
        "test": [
            "pytest>=8.0",
            "librosa>=0.11",
        ],
    },
)
