"""Packaging that pyproject.toml cannot say: the repository's ``templates/`` ship in the wheel.

``templates/`` stays at the top of the repository (the channel's own design, which editors
restyle); a wheel carries it as ``pipeline/_templates/``, the packaged defaults a build falls
back to (``pipeline.build.contract.packaged_templates``). One folder in git, copied into the
wheel when it is built, so there is no second copy to keep in step. An editable install needs
no copy: it runs from the checkout, where ``packaged_templates`` finds ``templates/`` beside
the package.

``package_dir={"": "."}`` says the packages sit at the top of the repository. Without it
setuptools cannot make an editable install a plain ``.pth`` entry and prints a block of
warnings on every ``make build`` (a flat layout with no declared package folder).
"""

import os

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py


class BuildWithTemplates(build_py):  # type: ignore[misc]
    """``build_py`` that also copies ``templates/`` into the built package (not for an
    editable install, which reads the checkout's own folder)."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            target = os.path.join(self.build_lib, "pipeline", "_templates")
            self.copy_tree("templates", target)


setup(
    packages=find_namespace_packages(include=["pipeline*"]),
    package_dir={"": "."},
    cmdclass={"build_py": BuildWithTemplates},
)
