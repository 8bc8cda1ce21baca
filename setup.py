"""Package metadata comes from settings.ini, the single source (nbdev 2 convention)."""
from configparser import ConfigParser

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini")
c = cfg["DEFAULT"]

requirements = c.get("requirements", "").split()
dev_requirements = c.get("dev_requirements", "").split()
gpu_requirements = ["cupy-cuda12x"]

setuptools.setup(
    name=c["lib_name"],
    version=c["version"],
    description=c["description"],
    long_description=open("README.md", encoding="utf8").read(),
    long_description_content_type="text/markdown",
    keywords=c["keywords"],
    author=c["author"],
    author_email=c["author_email"],
    license="Apache-2.0",
    python_requires=">=" + c["min_python"],
    packages=setuptools.find_packages(include=["smoothgrad", "smoothgrad.*"]) + ["smoothgrad.assets"],
    include_package_data=True,
    package_data={"smoothgrad": ["*.mplstyle"], "smoothgrad.assets": ["*"]},
    install_requires=requirements,
    extras_require={"dev": dev_requirements, "gpu": gpu_requirements},
    zip_safe=False,
)
