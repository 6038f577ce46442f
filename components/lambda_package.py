"""The code every WikiRoam function runs: the `functions/` package, and a layer with its third-party packages."""

from __future__ import annotations

import hashlib
import shlex
import typing
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_command as command

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
# pip's names for the Lambda runtime above: Amazon Linux 2023 on Graviton, CPython 3.12.
PIP_PLATFORM = "manylinux2014_aarch64"
PIP_PYTHON_VERSION = "3.12"


@dataclass(frozen=True)
class LambdaPackageArgs:
    """Where the code and the pinned requirements are, relative to the project directory."""

    functions_dir: Path
    layer_requirements: Path
    build_dir: Path


def code_archive(functions_dir: Path) -> pulumi.AssetArchive:
    """The function zip: `functions/` at the root (handlers import `functions.…`), Python sources only."""
    files = sorted(p for p in functions_dir.rglob("*.py") if "__pycache__" not in p.parts)
    return pulumi.AssetArchive(
        {(Path(functions_dir.name) / p.relative_to(functions_dir)).as_posix(): pulumi.FileAsset(str(p)) for p in files}
    )


def layer_install_command(requirements: Path, target: str) -> str:
    """The pip command that installs the pinned requirements for the Lambda runtime, whatever the host is."""
    return shlex.join(
        [
            "python3",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",  # the lock file already lists every transitive dependency
            "--platform",
            PIP_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            PIP_PYTHON_VERSION,
            "--only-binary=:all:",
            "--target",
            target,
            "--requirement",
            requirements.as_posix(),
        ]
    )


class LambdaPackage(pulumi.ComponentResource):
    """The functions' code archive and their dependency layer.

    The layer is built at deploy time by `pulumi_command.local.Command` resources: one makes the build folder,
    the next pip-installs `requirements/layer.txt` into `<build>/python` for the Lambda runtime and returns
    that folder as the layer's archive. A Command runs only when the Pulumi engine deploys it, so running the
    program under `pulumi.runtime.set_mocks` (the infra tests, the local deployer) never installs anything;
    there the layer's archive is simply absent. The build reruns only when the lock file's hash (or the target
    runtime) changes. boto3 is not in the layer: the Lambda runtime provides it.
    """

    code: pulumi.AssetArchive
    layer_arn: pulumi.Output[str]

    def __init__(self, name: str, args: LambdaPackageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:LambdaPackage", name, None, opts)
        self.code = code_archive(args.functions_dir)
        layer = self._create_layer(name, args)
        self.layer_arn = layer.arn
        self.register_outputs({"layer_arn": self.layer_arn})

    def _create_layer(self, name: str, args: LambdaPackageArgs) -> aws.lambda_.LayerVersion:
        lock_hash = hashlib.sha256(args.layer_requirements.read_bytes()).hexdigest()
        triggers = [lock_hash, RUNTIME, ARCHITECTURE, PIP_PLATFORM]
        build_dir = args.build_dir.as_posix()
        # The install step runs inside the build folder (so the archive's paths start at `python/`): make it first.
        make_dir = command.local.Command(
            f"{name}-layer-dir",
            create=shlex.join(["mkdir", "-p", build_dir]),
            triggers=triggers,
            opts=pulumi.ResourceOptions(parent=self),
        )
        requirements = Path("../" * len(args.build_dir.parts)) / args.layer_requirements
        build = command.local.Command(
            f"{name}-layer-build",
            create=f"rm -rf python && {layer_install_command(requirements, 'python')}",
            dir=build_dir,
            triggers=triggers,
            archive_paths=["python/**"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[make_dir]),
        )
        return aws.lambda_.LayerVersion(
            f"{name}-layer",
            layer_name=f"{pulumi.get_project()}-{pulumi.get_stack()}-dependencies",
            description="Third-party packages of the WikiRoam functions (requirements/layer.txt)",
            # The archive exists once the build has run; it is absent only where no deployment runs (mocks).
            code=typing.cast("pulumi.Output[pulumi.Archive]", build.archive),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            opts=pulumi.ResourceOptions(parent=self),
        )
