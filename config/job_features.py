"""Issue 12's job features that need more than a flag: reservation affinity, the Private
Service Connect interface, and the checks that put them (and experiments, and the persistent
resource a job runs on) where the stack is. `config.jobs` holds the job keys themselves; README:
"Vertex job features".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import model_validator
from pydantic.alias_generators import to_camel

from config import catalogue
from config.base import ConfigSection

if TYPE_CHECKING:
    from config.jobs import Job
    from config.persistent_resource import PersistentResourceSettings


class ReservationAffinity(ConfigSection):
    """MachineSpec.reservation_affinity: which Compute Engine reservations a pool may use."""

    type: Literal["ANY", "SPECIFIC", "NONE"]
    key: str | None = None
    values: list[str] = []

    @model_validator(mode="after")
    def _key_and_values(self) -> ReservationAffinity:
        if self.type != "SPECIFIC":
            if self.key is not None or self.values:
                raise ValueError(
                    f"reservationAffinity type {self.type} takes no key or values "
                    "(only SPECIFIC names reservations)"
                )
            return self
        if not self.key or not self.values:
            raise ValueError(
                "reservationAffinity type SPECIFIC needs key and values, e.g. key "
                f"{catalogue.RESERVATION_NAME_KEY!r}, values "
                "['projects/<p>/zones/<zone>/reservations/<name>']"
            )
        if self.key == catalogue.RESERVATION_NAME_KEY:
            for value in self.values:
                if not catalogue.RESERVATION_PATTERN.match(value):
                    raise ValueError(
                        f"reservationAffinity value {value!r} is not a reservation's full "
                        "resource name (projects/<p>/zones/<zone>/reservations/<name>)"
                    )
        return self

    @property
    def zones(self) -> list[str]:
        """The zones of the reservations it names by resource name."""
        matches = [catalogue.RESERVATION_PATTERN.match(value) for value in self.values]
        return [match["zone"] for match in matches if match]


class PscInterfaceConfig(ConfigSection):
    """CustomJobSpec.psc_interface_config: egress through a Private Service Connect interface."""

    network_attachment: str

    @model_validator(mode="after")
    def _attachment_name(self) -> PscInterfaceConfig:
        if not catalogue.NETWORK_ATTACHMENT_PATTERN.match(self.network_attachment):
            raise ValueError(
                f"networkAttachment {self.network_attachment!r} must be a network attachment "
                "name or projects/<p>/regions/<region>/networkAttachments/<name>"
            )
        return self

    @property
    def region(self) -> str | None:
        match = catalogue.NETWORK_ATTACHMENT_PATTERN.match(self.network_attachment)
        return match["region"] if match else None


def placement_problems(
    jobs: list[Job], region: str, resource: PersistentResourceSettings | None
) -> list[tuple[str, str]]:
    """`[(key path, problem)]`: a network attachment, reservation or experiment outside the
    stack's region, and a job on a persistent resource that does not fit it."""
    from config.persistent_resource import job_fit_problems

    problems: list[tuple[str, str]] = []

    def outside(key: str, where: str | None, what: str | None = None) -> None:
        if where is not None and where != region:
            what = what or f"region {where!r}"
            problems.append((key, f"{what} is not in the stack's region {region!r}"))

    if resource and resource.psc_interface_config:
        key = "persistentResource.pscInterfaceConfig.networkAttachment"
        outside(key, resource.psc_interface_config.region)
    for index, job in enumerate(jobs):
        key = f"jobs[{index}]"
        if job.psc_interface_config:
            outside(f"{key}.pscInterfaceConfig.networkAttachment", job.psc_interface_config.region)
        for pool_index, pool in enumerate(job.worker_pools):
            affinity = pool.reservation_affinity
            for zone in affinity.zones if affinity else []:
                where = f"{key}.workerPools[{pool_index}].reservationAffinity.values"
                outside(where, zone.rsplit("-", 1)[0], f"reservation zone {zone!r}")
        for name in ("experiment", "experiment_run"):
            match = catalogue.EXPERIMENT_CONTEXT_PATTERN.match(getattr(job, name) or "")
            if match:
                outside(f"{key}.{to_camel(name)}", match["location"])
        if not job.persistent_resource:
            continue
        if resource is None:
            problems.append(
                (
                    f"{key}.persistentResource",
                    "true, but the stack has no vertex-training:persistentResource; declare one "
                    "or remove the key",
                )
            )
            continue
        for where, problem in job_fit_problems(job, resource):
            problems.append((f"{key}.{where}", f"job {job.name!r}: {problem}"))
    return problems
