"""The ``fsdp`` strategy: FSDP2 (``torch.distributed.fsdp.fully_shard``) over all ranks.

Every parameter, gradient and optimizer state is split over the ranks; a unit's full
parameters exist only while its forward or backward runs. ``fully_shard`` changes the user's
module in place (its class becomes an ``FSDPModule`` subclass and its parameters become
``DTensor`` shards), so hooks receive the user's own module object, and evaluation calls the
same object: every forward involves every rank, which the evaluation loop's even batch counts
(``DistributedEvalSampler`` gives ranks at most one batch more) must respect, see
:meth:`FSDPStrategy.eval_model`.

The wrapping policy (``fsdp_wrap``) says which submodules become units of their own, gathered
one at a time: class names, or a parameter-count threshold (counted bottom-up, so a unit's
parameters are not counted again in its parents). The root module is always a unit.

Optimizers built before ``fit`` hold the unsharded parameters, which ``fully_shard`` replaced:
:meth:`FSDPStrategy.bind_optimizers` points them at the sharded ones by parameter name.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from hookwise.errors import ConfigError
from hookwise.trainer.strategy import SUPPORTS_SHARDED, DDPStrategy

logger = logging.getLogger("hookwise")

#: A plugin's (class) attribute saying whether it works under ``strategy="fsdp"``: ``True``,
#: or the reason it does not (a string), which the refusal at fit start quotes.
SUPPORTS_FSDP = "supports_fsdp"

WrapSetting = tuple[str, ...] | int | None


def wrap_units(model: nn.Module, policy: WrapSetting) -> list[nn.Module]:
    """The submodules of ``model`` (never ``model`` itself) that ``policy`` makes units of
    their own, children before their parents (the order ``fully_shard`` needs)."""
    if policy is None:
        return []
    if isinstance(policy, int):
        return _units_by_size(model, policy)
    wanted = set(policy)
    present = {type(m).__name__ for m in model.modules()}
    missing = sorted(wanted - present)
    if missing:
        raise ConfigError(
            f"fsdp_wrap names module classes the model does not have: {', '.join(missing)}; "
            f"its classes are: {', '.join(sorted(present))}"
        )
    units = [m for name, m in model.named_modules() if name and type(m).__name__ in wanted]
    return list(reversed(units))  # named_modules lists parents first


def _units_by_size(model: nn.Module, threshold: int) -> list[nn.Module]:
    units: list[nn.Module] = []

    def visit(module: nn.Module) -> int:
        """Parameters of ``module`` not yet in a unit (children first)."""
        count = sum(visit(child) for child in module.children())
        count += sum(p.numel() for p in module.parameters(recurse=False))
        if module is not model and count >= threshold:
            units.append(module)
            return 0
        return count

    visit(model)
    return units


class FSDPStrategy(DDPStrategy):
    """Fully sharded data parallel: the model is ``fully_shard``-ed in place over a device
    mesh of all ranks; loaders are sharded as under DDP."""

    name: ClassVar[str] = "fsdp"

    def __init__(
        self,
        world_size: int,
        device: torch.device,
        *,
        use_distributed_sampler: bool = True,
        wrap: WrapSetting = None,
    ) -> None:
        super().__init__(world_size, device, use_distributed_sampler=use_distributed_sampler)
        self.wrap = wrap
        self._names: dict[int, str] = {}

    @property
    def sharded_checkpoints(self) -> bool:
        return True

    def plugin_rules(self) -> list[tuple[str, str, str]]:
        """Plugins must work under FSDP, and with its sharded checkpoints."""
        return [
            (SUPPORTS_FSDP, "strategy='fsdp'", "strategy='ddp'"),
            (SUPPORTS_SHARDED, "strategy='fsdp' (its checkpoints are sharded)", "strategy='ddp'"),
        ]

    def wrap_model(self, model: nn.Module) -> nn.Module:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import FSDPModule, fully_shard

        if isinstance(model, FSDPModule):  # a second fit of the same model
            return model
        self._names = {id(p): name for name, p in model.named_parameters()}
        mesh = init_device_mesh(self.device.type, (self._world,))
        units = wrap_units(model, self.wrap)
        for unit in units:
            fully_shard(unit, mesh=mesh)
        fully_shard(model, mesh=mesh)
        logger.info(
            "fsdp: the model is sharded over %d ranks in %d units (fsdp_wrap=%r)",
            self._world,
            len(units) + 1,
            self.wrap,
        )
        return model

    def bind_optimizers(
        self, model: nn.Module, optimizers: Sequence[torch.optim.Optimizer]
    ) -> None:
        """Point ``optimizers`` (built on the unsharded parameters) at the sharded ones."""
        sharded = dict(model.named_parameters())
        for index, optimizer in enumerate(optimizers):
            if optimizer.state:
                raise ConfigError(
                    f"optimizer {index} already has state (it stepped before fit); under "
                    f"strategy='fsdp' build the optimizers fresh for fit"
                )
            for group in optimizer.param_groups:
                group["params"] = [self._sharded(p, sharded, index) for p in group["params"]]

    def _sharded(self, param: Any, sharded: dict[str, nn.Parameter], index: int) -> Any:
        if any(param is p for p in sharded.values()):
            return param
        name = self._names.get(id(param))
        if name is None or name not in sharded:
            raise ConfigError(
                f"optimizer {index} holds a parameter that is not the model's; under "
                f"strategy='fsdp' an optimizer may hold only the model's parameters"
            )
        return sharded[name]

    def eval_model(self, model: nn.Module) -> nn.Module:
        # the sharded module itself (see evaluating)
        return model

    @contextlib.contextmanager
    def evaluating(self, model: nn.Module) -> Iterator[None]:
        """Gather every unit's parameters once, for the whole pass.

        A sharded forward is a collective call, and the evaluation samplers give ranks
        different numbers of batches (no padding): so the pass runs on gathered parameters
        (the full model's memory on every rank while it runs, as under DDP), and the
        forwards call no collective. Resharded after the pass, error or not."""
        from torch.distributed.fsdp import FSDPModule

        units = [m for m in model.modules() if isinstance(m, FSDPModule)]
        for unit in units:
            unit.unshard()
            unit.set_reshard_after_forward(False, recurse=False)
        try:
            yield
        finally:
            for unit in units:
                unit.reshard()
                # fully_shard's default for the units; the root keeps its parameters after
                # forward (torch sets that at the root's first forward)
                unit.set_reshard_after_forward(unit is not model, recurse=False)
