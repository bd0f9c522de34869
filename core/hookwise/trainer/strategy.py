"""Strategies: how a fit runs across processes (the process group, model wrapping, sharding).

:class:`SingleProcess` is one process: nothing is wrapped or sharded and every collective call
is answered locally. :class:`DDPStrategy` runs one process per device under ``torchrun``: the
model is wrapped in ``DistributedDataParallel``, the loaders get per-rank samplers, and the
collective calls go through :mod:`hookwise.distributed`. ``FSDPStrategy``
(``strategy="fsdp"``, :mod:`hookwise.trainer.fsdp`) shards the model in place and checkpoints
it in shards.

The process group itself is owned by a :class:`ProcessGroupOwner`: the trainer joins torchrun's
group once and destroys it in ``close`` if it created it; a failure tears it down without any
collective call, so the other ranks fail fast instead of waiting.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from typing_extensions import Self

from hookwise import distributed
from hookwise.errors import ConfigError
from hookwise.plugins import PluginManager
from hookwise.trainer.failures import report_failure
from hookwise.watchdog import DEFAULT_STALL_TIMEOUT_S

logger = logging.getLogger("hookwise")
T = TypeVar("T")


class Strategy:
    """One process: the base every strategy refines."""

    name: ClassVar[str] = "single"

    @property
    def world_size(self) -> int:
        """The number of processes taking part."""
        return 1

    @property
    def rank(self) -> int:
        """This process's rank."""
        return 0

    @property
    def sharded_checkpoints(self) -> bool:
        """Whether every rank writes its own part of a checkpoint (a collective save)."""
        return False

    def prepare_plugins(self, pm: PluginManager) -> None:
        """Fit the enabled plugins to this rank (nothing to do in one process)."""

    def wrap_model(self, model: nn.Module) -> nn.Module:
        """The model as training runs it."""
        return model

    def bind_optimizers(
        self, model: nn.Module, optimizers: Sequence[torch.optim.Optimizer]
    ) -> None:
        """Fit optimizers built on the user's model to the model :meth:`wrap_model` made."""

    @contextlib.contextmanager
    def evaluating(self, model: nn.Module) -> Iterator[None]:
        """Around an evaluation pass (in which ranks may run different numbers of batches)."""
        yield

    def eval_model(self, model: nn.Module) -> nn.Module:
        """The model evaluation passes call (ranks may run different numbers of batches)."""
        return model

    def shard_train_loader(self, loader: DataLoader[Any], *, seed: int) -> DataLoader[Any]:
        """The train loader as this rank iterates it."""
        return loader

    def shard_eval_loaders(self, loaders: list[DataLoader[Any]]) -> list[DataLoader[Any]]:
        """The evaluation loaders as this rank iterates them."""
        return loaders

    def all_reduce_max(self, values: Sequence[int]) -> list[int]:
        """The element-wise maximum of ``values`` over the ranks."""
        return list(values)

    def all_gather_object(self, obj: T) -> list[T]:
        """``obj`` of every rank, in rank order."""
        return [obj]

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank."""
        return obj


class DistributedStrategy(Strategy):
    """Several processes in torch.distributed's default group (``torchrun``)."""

    name: ClassVar[str] = "distributed"

    def __init__(self, world_size: int) -> None:
        self._world = world_size

    @property
    def world_size(self) -> int:
        return self._world

    @property
    def rank(self) -> int:
        return distributed.get_rank()

    def prepare_plugins(self, pm: PluginManager) -> None:
        """Unregister rank-zero-only plugins on the other ranks; refuse error policies that
        would let the ranks drift apart (DESIGN decision 9)."""
        rank = self.rank
        for name in pm.plugin_names():
            plugin = pm.get_plugin(name)
            if rank != 0 and distributed.is_rank_zero_only(plugin):
                pm.unregister(name=name)
                logger.debug("plugin %r is rank_zero_only: not registered on rank %d", name, rank)
                continue
            policy = pm.error_policy(name)
            if policy == "raise":
                continue
            functions = [
                impl.function
                for caller in pm.get_hookcallers(plugin) or []
                for impl in caller.get_hookimpls()
                if impl.plugin is plugin
            ]
            if not distributed.is_collective_free(plugin, functions):
                raise ConfigError(
                    f"plugin {name!r} has on_error={policy!r}, which a distributed run "
                    f"({self._world} processes) allows only for plugins that make no collective "
                    f"call: a failure tolerated on one rank would leave the ranks out of step. "
                    f"Use on_error='raise', or, if the plugin never calls all_gather_object, "
                    f"broadcast, synchronize or another collective, mark its class "
                    f"`collective_free = True` (or `rank_zero_only = True` when it acts on rank "
                    f"0 only)."
                )

    def all_reduce_max(self, values: Sequence[int]) -> list[int]:
        return distributed.all_reduce_max(values)

    def all_gather_object(self, obj: T) -> list[T]:
        return distributed.all_gather_object(obj)

    def broadcast(self, obj: T) -> T:
        return distributed.broadcast(obj)


#: A plugin's (class) attribute saying whether it works with sharded checkpoints (a save
#: every rank makes together): ``True``, or the reason it does not (a string), which the
#: refusal at fit start quotes.
SUPPORTS_SHARDED = "supports_sharded_checkpoints"


def refuse_plugins(pm: PluginManager, attribute: str, setting: str, alternative: str) -> None:
    """Refuse (a :class:`ConfigError`) the first enabled plugin whose ``attribute`` is not
    ``True``: it is the reason the plugin does not work with ``setting``."""
    for name in pm.plugin_names():
        reason = getattr(pm.get_plugin(name), attribute, True)
        if reason is not True:
            raise ConfigError(
                f"plugin {name!r} does not work with {setting}: {reason}. Disable it "
                f"(-p no:{name}, or leave it out of the config) or use {alternative}."
            )


class DDPStrategy(DistributedStrategy):
    """Data parallel: every rank holds the whole model, wrapped in
    ``DistributedDataParallel``; loaders are sharded unless ``use_distributed_sampler`` is
    off."""

    name: ClassVar[str] = "ddp"

    def __init__(
        self,
        world_size: int,
        device: torch.device,
        *,
        use_distributed_sampler: bool = True,
        ddp_kwargs: dict[str, Any] | None = None,
        sharded_checkpoints: bool = False,
    ) -> None:
        super().__init__(world_size)
        self.device = device
        self.use_distributed_sampler = use_distributed_sampler
        self.ddp_kwargs = dict(ddp_kwargs or {})
        self._sharded_saves = sharded_checkpoints

    @property
    def sharded_checkpoints(self) -> bool:
        return self._sharded_saves

    def plugin_rules(self) -> list[tuple[str, str, str]]:
        """``(attribute, setting, alternative)`` of each declaration plugins must pass
        (:func:`refuse_plugins`): with sharded checkpoints (a collective save), plugins that
        say they cannot take part in one are refused."""
        if not self.sharded_checkpoints:
            return []
        return [(SUPPORTS_SHARDED, "checkpoint_format='sharded'", "checkpoint_format='full'")]

    def prepare_plugins(self, pm: PluginManager) -> None:
        """The rules of every distributed run, then :meth:`plugin_rules`."""
        super().prepare_plugins(pm)
        for rule in self.plugin_rules():
            refuse_plugins(pm, *rule)

    def wrap_model(self, model: nn.Module) -> nn.Module:
        if isinstance(model, DistributedDataParallel):
            return model
        device_ids = [self.device] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids, **self.ddp_kwargs)

    def eval_model(self, model: nn.Module) -> nn.Module:
        # evaluation forward passes bypass DDP: ranks may run different numbers of batches
        return model.module if isinstance(model, DistributedDataParallel) else model

    def shard_train_loader(self, loader: DataLoader[Any], *, seed: int) -> DataLoader[Any]:
        if not self.use_distributed_sampler:
            return loader
        return distributed.shard_train_loader(
            loader, seed=seed, num_replicas=self._world, rank=self.rank
        )

    def shard_eval_loaders(self, loaders: list[DataLoader[Any]]) -> list[DataLoader[Any]]:
        if not self.use_distributed_sampler:
            return loaders
        rank = self.rank
        sharded = [
            distributed.shard_eval_loader(loader, num_replicas=self._world, rank=rank)
            for loader in loaders
        ]
        changed = any(new is not old for new, old in zip(sharded, loaders, strict=True))
        return sharded if changed else loaders


class ProcessGroupOwner:
    """Joins torchrun's process group and, if it created it, destroys it again."""

    def __init__(self) -> None:
        self.owned = False

    def join(
        self,
        device: torch.device,
        timeout_s: float,
        stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    ) -> int:
        """Join the group (creating it under torchrun if none exists, for ``device``, with
        collective calls that wait ``timeout_s`` and a watchdog that ends this rank when
        another is silent for ``stall_timeout_s``); return the world size (1 without one)."""
        if distributed.init_process_group(device, timeout_s, stall_timeout_s):
            self.owned = True
            atexit.register(self.close)
        return distributed.get_world_size() if distributed.is_distributed() else 1

    def close(self) -> None:
        """Destroy the group if this owner created it; a no-op otherwise."""
        if self.owned:
            self.owned = False
            atexit.unregister(self.close)
            distributed.destroy_process_group()

    def abort(self) -> None:
        """Tear the group down without any collective call, if this owner created it."""
        if self.owned:
            self.owned = False
            atexit.unregister(self.close)
            distributed.abort_process_group()


def select_strategy(
    world_size: int,
    device: torch.device,
    *,
    use_distributed_sampler: bool,
    ddp_kwargs: dict[str, Any],
    name: str = "ddp",
    fsdp_wrap: Any = None,
    checkpoint_format: str = "full",
) -> Strategy:
    """The strategy for a run of ``world_size`` processes: one process, DDP (with full or
    sharded checkpoints) or FSDP (always sharded)."""
    if world_size == 1:
        return Strategy()
    if name == "fsdp":
        from hookwise.trainer.fsdp import FSDPStrategy

        return FSDPStrategy(
            world_size, device, use_distributed_sampler=use_distributed_sampler, wrap=fsdp_wrap
        )
    return DDPStrategy(
        world_size,
        device,
        use_distributed_sampler=use_distributed_sampler,
        ddp_kwargs=ddp_kwargs,
        sharded_checkpoints=checkpoint_format == "sharded",
    )


class DistributedControl:
    """The trainer's process-group methods: joining torchrun's group, closing it, failing."""

    device: torch.device
    dist_timeout: float
    dist_stall_timeout: float
    output_dir: Path
    pm: PluginManager
    use_distributed_sampler: bool
    ddp_kwargs: dict[str, Any]
    _settings: dict[str, Any]
    _group: ProcessGroupOwner
    _strategy: Strategy

    @property
    def rank(self) -> int:
        """This process's global rank (0 when not distributed; ``RANK`` under torchrun)."""
        return distributed.get_rank()

    @property
    def world_size(self) -> int:
        """The number of processes (1 when not distributed; ``WORLD_SIZE`` under torchrun)."""
        return distributed.get_world_size()

    @property
    def owns_process_group(self) -> bool:
        """Whether this trainer initialised the process group (:meth:`close` destroys it)."""
        return self._group.owned

    def close(self) -> None:
        """Destroy the process group if this trainer created it; a no-op otherwise.

        Also runs at interpreter exit. Call it (or use the trainer as a context manager) to
        release the group earlier; a later ``fit`` or ``test`` initialises a new one.
        """
        self._group.close()
        self._strategy = Strategy()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _setup_distributed(self) -> None:
        """Join torchrun's process group (once) and fit the strategy and plugins to it."""
        world = self._group.join(self.device, self.dist_timeout, self.dist_stall_timeout)
        if world > 1 and self._strategy.world_size == 1:
            # the first run of this trainer in this group: every rank uses rank 0's run folder
            self.output_dir = Path(distributed.broadcast(str(self.output_dir)))
        self._strategy = select_strategy(
            world,
            self.device,
            use_distributed_sampler=self.use_distributed_sampler,
            ddp_kwargs=self.ddp_kwargs,
            name=self._settings["strategy"],
            fsdp_wrap=self._settings["fsdp_wrap"],
            checkpoint_format=self._settings["checkpoint_format"],
        )
        self._strategy.prepare_plugins(self.pm)

    def _abort_distributed(self, exc: BaseException) -> None:
        """On a fatal error in a distributed run: name this rank, record the error for
        torchrun's summary, and tear the process group down without any collective call, so
        that the other ranks fail fast (or torchrun ends them) instead of waiting."""
        if self._strategy.world_size == 1 and not self._group.owned:
            return
        report_failure(exc)
        self._group.abort()
        self._strategy = Strategy()
