"""Problem packages as they are: the ICPC/Kattis problem package format and Codeforces
Polygon packages, judged by the engine.

``source`` opens a package (a directory or a .zip) and reads its YAML;
``metadata`` reads problem.yaml (legacy, 2023-07, 2025-09); ``testdata`` the
tests and groups under data/; ``programs`` a submission or validator;
``expectations`` what each submission's folder expects; ``package`` puts them
together; ``judging`` sends the work to the engine over NATS and adds it up;
``commands`` are ``code-engine judge`` and ``code-engine verify``. Polygon
packages (problem.xml): ``polygon`` reads one into the same :class:`Package`,
``polygon_tests`` its testset, ``polygon_xml`` the XML without DTDs or
entities; ``generation`` makes in the sandbox the tests a package does not
carry, ``replay`` has an interactive problem's checker judge what its
interactor wrote. Errors:
``errors`` (one root, :class:`PackageError`).
"""

from .errors import MalformedPackage, PackageError
from .package import Package, read_package

__all__ = ["MalformedPackage", "Package", "PackageError", "read_package"]
